// The hosts page's data on the server: filter, sort and page the inventory, so a browser gets
// one page of rows (not the whole fleet as JSON) and a filter is one small request. Used by
// GET / (the first page, server-rendered, works without JavaScript) and GET /hosts.json.
import type { ConfigHolder } from '../config/holder.js';
import type { RunStore } from '../store/runs.js';
import type { DB } from '../store/db.js';
import { hostRows, type HostRow } from '../install/view.js';

export const SORT_KEYS = ['name', 'macs', 'roles', 'address', 'state', 'stage', 'progress', 'lastDurationMs', 'updatedAt', 'stateSince'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export const PAGE_SIZES = [50, 100, 200, 500] as const;
export const DEFAULT_PAGE = 100;

export interface HostQuery {
  /** substring of the name, a MAC or the address (case-insensitive) */
  name?: string;
  role?: string;
  state?: string;
  label?: string;
  sort: SortKey;
  dir: 1 | -1;
  offset: number;
  limit: number;
}

const one = (v: unknown): string | undefined => {
  const s = Array.isArray(v) ? v[0] : v;
  // filter values are short words: cap what a crafted URL can make us compare
  return typeof s === 'string' && s !== '' ? s.slice(0, 200) : undefined;
};

/** Query-string values -> a valid query: unknown sort keys and bad numbers fall back to defaults. */
export function parseHostQuery(q: Record<string, unknown>): HostQuery {
  const sort = one(q.sort);
  const limit = Number(one(q.limit));
  const offset = Number(one(q.offset));
  return {
    name: one(q.name)?.trim() || undefined,
    role: one(q.role),
    state: one(q.state),
    label: one(q.label),
    sort: (SORT_KEYS as readonly string[]).includes(sort ?? '') ? (sort as SortKey) : 'name',
    dir: one(q.dir) === 'desc' ? -1 : 1,
    offset: Number.isInteger(offset) && offset >= 0 ? offset : 0,
    limit: (PAGE_SIZES as readonly number[]).includes(limit) ? limit : DEFAULT_PAGE,
  };
}

/** The URL query of a host query (defaults left out), for links and history. */
export function hostQueryString(q: Partial<HostQuery>): string {
  const p = new URLSearchParams();
  for (const k of ['name', 'role', 'state', 'label'] as const) if (q[k]) p.set(k, q[k]!);
  if (q.sort && q.sort !== 'name') p.set('sort', q.sort);
  if (q.dir === -1) p.set('dir', 'desc');
  if (q.offset) p.set('offset', String(q.offset));
  if (q.limit && q.limit !== DEFAULT_PAGE) p.set('limit', String(q.limit));
  return p.toString();
}

const collator = new Intl.Collator(undefined, { numeric: true });

function sortValue(h: HostRow, k: SortKey): string | number {
  const v = h[k];
  if (Array.isArray(v)) return v.join(',');
  return v ?? '';
}

export interface HostPage {
  /** hosts in the inventory */
  all: number;
  /** hosts matching the filter */
  total: number;
  /** hosts per state over the whole inventory (the state chips) */
  counts: Record<string, number>;
  roles: string[];
  labels: string[];
  rows: HostRow[];
  query: HostQuery;
}

/**
 * The inventory's rows, recomputed only when the install state changed: a fingerprint of the
 * tables the rows are made of (newest event, run and mark counts, newest run update: every
 * mark, boot, progress report, state change or cancel moves one of them, whichever process
 * wrote it) or a config reload (a new holder.current). Typing a filter then costs a filter and
 * a sort over the cached rows, not the queries over every run. (Not total_changes(): session
 * and audit writes on the same connection would invalidate it on every request.)
 */
export class HostRowsCache {
  private key = '';
  private rows: HostRow[] = [];

  constructor(
    private readonly holder: ConfigHolder,
    private readonly store: RunStore,
    private readonly db: DB,
  ) {}

  all(): HostRow[] {
    const f = this.db
      .prepare(`SELECT (SELECT COALESCE(MAX(id), 0) FROM events) e, (SELECT COUNT(*) FROM install_runs) r,
                       (SELECT COALESCE(MAX(updated_at), 0) FROM install_runs) u, (SELECT COUNT(*) FROM reinstall_marks) m`)
      .get() as { e: number; r: number; u: number; m: number };
    const key = `${f.e}:${f.r}:${f.u}:${f.m}`;
    if (key !== this.key || this.holder.current !== this.loadedFrom) {
      this.rows = hostRows(this.holder, this.store, {});
      this.key = key;
      this.loadedFrom = this.holder.current;
    }
    return this.rows;
  }

  private loadedFrom: unknown;
}

export function queryHosts(holder: ConfigHolder, store: RunStore, q: HostQuery, cache?: HostRowsCache): HostPage {
  const all = cache ? cache.all() : hostRows(holder, store, {});
  const counts: Record<string, number> = {};
  const roles = new Set<string>();
  const labels = new Set<string>();
  for (const h of all) {
    counts[h.state] = (counts[h.state] ?? 0) + 1;
    for (const r of h.roles) roles.add(r);
    for (const l of h.labels) labels.add(l);
  }
  const needle = q.name?.toLowerCase();
  const list = all.filter(
    (h) =>
      (!needle || h.name.toLowerCase().includes(needle) || h.macs.some((m) => m.includes(needle)) || (h.address ?? '').includes(needle)) &&
      (!q.role || h.roles.includes(q.role)) &&
      (!q.state || h.state === q.state) &&
      (!q.label || h.labels.includes(q.label)),
  );
  list.sort((a, b) => {
    const x = sortValue(a, q.sort);
    const y = sortValue(b, q.sort);
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : collator.compare(String(x), String(y));
    return c * q.dir || collator.compare(a.name, b.name);
  });
  const offset = q.offset < list.length ? q.offset : Math.max(0, list.length - (list.length % q.limit || q.limit));
  return {
    all: all.length,
    total: list.length,
    counts,
    roles: [...roles].sort(),
    labels: [...labels].sort(),
    rows: list.slice(offset, offset + q.limit),
    query: { ...q, offset },
  };
}
