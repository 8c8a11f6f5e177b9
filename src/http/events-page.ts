// Paging for /api/v1/hosts/:name/events. A run's timeline can be long (installer syslog, up to
// install.maxEventsPerRun client events): the API returns one page in id order with a `next`
// link to the rest (null on the last page), instead of stopping silently at a fixed row count.
import { FleetbootError } from '../errors.js';
import type { EventRow, RunStore } from '../store/runs.js';

export const DEFAULT_PAGE = 1000;
export const MAX_PAGE = 10_000;

function intParam(v: unknown, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d{1,16}$/.test(v) || Number(v) < min || Number(v) > max) throw new FleetbootError('FB_BAD_REQUEST', `${name} must be an integer from ${min} to ${max}`);
  return Number(v);
}

export interface EventsPage {
  events: EventRow[];
  /** URL of the next page, or null when this page is the last */
  next: string | null;
}

/** `?limit=` (1..10000, default 1000) and `?after=` (the last event id of the previous page). */
export function eventsPage(store: RunStore, basePath: string, runId: number, query: Record<string, unknown>): EventsPage {
  const limit = intParam(query.limit, 'limit', 1, MAX_PAGE) ?? DEFAULT_PAGE;
  const after = intParam(query.after, 'after', 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const rows = store.events({ runId, afterId: after, limit: limit + 1 });
  const events = rows.slice(0, limit);
  const next = rows.length > limit ? `${basePath}?run=${runId}&after=${events[events.length - 1].id}&limit=${limit}` : null;
  return { events, next };
}
