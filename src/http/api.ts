// /api/v1: JSON API over the same services the CLI uses. Errors use the registry in errors.ts.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { ConfigHolder } from '../config/holder.js';
import type { RunStore } from '../store/runs.js';
import type { InstallService } from '../install/service.js';
import type { DiscoveredRow } from '../store/runs.js';
import type { MarkResult } from '../install/service.js';
import { hostRows, hostDetail, publicRun } from '../install/view.js';
import { FleetbootError, errorBody } from '../errors.js';
import type { CacheApi } from './cache-api.js';

/**
 * What the auth layer in front (web/index.ts apiGuard) hands the API per request, in
 * res.locals[API_CONTEXT]: the audit trail. Absent when no auth layer is mounted.
 */
export const API_CONTEXT = 'fleetbootApi';
export interface AuditQueryParams {
  limit?: number;
  before?: number;
  actor?: string;
  action?: string;
  target?: string;
}
export interface ApiContext {
  /** records one audit row for this request's caller */
  audit(action: string, target: string | null, detail?: string): void;
  auditLog(q: AuditQueryParams): unknown[];
}
const ctxOf = (res: Response) => res.locals[API_CONTEXT] as ApiContext | undefined;

export interface ApiDeps {
  holder: ConfigHolder;
  store: RunStore;
  installs: InstallService;
  /** who is acting (set by the auth layer); 'api' when auth is not in front */
  actor?: (req: Request) => string;
  cacheStats?: () => unknown;
  /** /api/v1/cache/* routes of the package cache (http/cache-api.ts) */
  cacheApi?: CacheApi;
}

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

function describeSelection(body: Record<string, unknown>): string | undefined {
  const parts = [str(body.role) && `role=${body.role}`, str(body.label) && `label=${body.label}`].filter(Boolean);
  return parts.length ? `selection ${parts.join(' ')}` : undefined;
}

/** Hosts named in a body: { hosts: [..] } and/or a selection { role, label }. */
function selection(deps: ApiDeps, body: Record<string, unknown>): string[] {
  const names = new Set<string>();
  if (Array.isArray(body.hosts)) for (const h of body.hosts) if (typeof h === 'string') names.add(h);
  const role = str(body.role);
  const label = str(body.label);
  if (role || label) for (const h of hostRows(deps.holder, deps.store, { role, label })) names.add(h.name);
  if (!names.size) throw new FleetbootError('FB_BAD_REQUEST', 'name hosts ({"hosts": [...]}) or a selection ({"role": ..} / {"label": ..})');
  return [...names];
}

/**
 * Marks or cancels, and writes one audit row per host with the outcome: the API and the UI
 * forms both come through here so the audit log cannot miss a path.
 */
export function reinstallHosts(installs: InstallService, names: string[], by: string, cancel: boolean, audit?: ApiContext['audit'], how?: string): MarkResult[] {
  const results = cancel ? installs.cancel(names, by) : installs.mark(names, by);
  for (const r of results) {
    const outcome = r.ok ? (cancel ? `cancelled run ${r.runId}` : r.already ? `already marked (run ${r.runId})` : `marked (run ${r.runId})`) : `refused: ${r.error}`;
    audit?.(cancel ? 'reinstall.cancel' : 'reinstall.mark', r.host, how ? `${outcome}; ${how}` : outcome);
  }
  return results;
}

/** A ready-to-paste inventory entry for an unknown MAC (the operator picks name and role). */
export function inventorySnippet(d: Pick<DiscoveredRow, 'mac' | 'ip' | 'arch' | 'client'>, role = 'CHANGE-ME'): string {
  const seen = [d.ip && `seen at ${d.ip}`, d.arch && `arch ${d.arch}`, d.client && `client ${d.client}`].filter(Boolean).join(', ');
  return [
    `  - name: host-${d.mac.replace(/:/g, '')}${seen ? `   # ${seen}` : ''}`,
    `    macs: ["${d.mac}"]`,
    `    roles: [${role}]`,
    '',
  ].join('\n');
}

export function apiRouter(deps: ApiDeps): Router {
  const r = express.Router();
  const actor = deps.actor ?? (() => 'api');
  r.use(express.json({ limit: '256kb' }));

  r.get('/hosts', (req, res) => {
    const q = req.query;
    res.json({ hosts: hostRows(deps.holder, deps.store, { name: str(q.name), role: str(q.role), state: str(q.state), label: str(q.label) }) });
  });
  r.get('/hosts/:name', (req, res) => {
    const d = hostDetail(deps.holder, deps.store, String(req.params.name));
    if (!d) throw new FleetbootError('FB_UNKNOWN_HOST', `unknown host "${req.params.name}"`);
    // ?run=N: that run's events instead of the latest run's
    const runId = typeof req.query.run === 'string' ? Number(req.query.run) : undefined;
    if (runId !== undefined) {
      const run = deps.store.run(runId);
      if (!run || run.host !== d.host.name) throw new FleetbootError('FB_NOT_FOUND', `host "${d.host.name}" has no run ${req.query.run}`);
      res.json({ ...d, run: publicRun(run), events: deps.store.events({ runId, limit: 5000 }) });
      return;
    }
    res.json(d);
  });
  r.get('/hosts/:name/events', (req, res) => {
    const name = String(req.params.name);
    if (!deps.holder.index.byName(name)) throw new FleetbootError('FB_UNKNOWN_HOST', `unknown host "${name}"`);
    const runId = req.query.run ? Number(req.query.run) : deps.store.latestRun(name)?.id;
    res.json({ host: name, runId: runId ?? null, events: runId === undefined ? [] : deps.store.events({ runId, limit: 10000 }) });
  });
  r.post('/hosts/:name/reinstall', (req, res) => {
    const out = reinstallHosts(deps.installs, [String(req.params.name)], actor(req), false, ctxOf(res)?.audit)[0];
    if (!out.ok) throw new FleetbootError('FB_UNKNOWN_HOST', out.error);
    res.status(out.already ? 200 : 201).json(out);
  });
  r.delete('/hosts/:name/reinstall', (req, res) => {
    const out = reinstallHosts(deps.installs, [String(req.params.name)], actor(req), true, ctxOf(res)?.audit)[0];
    if (!out.ok) throw new FleetbootError(out.error.startsWith('unknown') ? 'FB_UNKNOWN_HOST' : 'FB_CONFLICT', out.error);
    res.json(out);
  });
  r.post('/reinstall', (req, res) => {
    const body = req.body ?? {};
    res.json({ results: reinstallHosts(deps.installs, selection(deps, body), actor(req), false, ctxOf(res)?.audit, describeSelection(body)) });
  });
  r.post('/reinstall/cancel', (req, res) => {
    const body = req.body ?? {};
    res.json({ results: reinstallHosts(deps.installs, selection(deps, body), actor(req), true, ctxOf(res)?.audit, describeSelection(body)) });
  });
  r.get('/discovered', (_req, res) => {
    const role = Object.keys(deps.holder.config.roles)[0];
    const discovered = deps.store.discovered().map((d) => ({ ...d, snippet: inventorySnippet(d, role) }));
    // one block to paste under `hosts:` for all of them at once
    res.json({ discovered, snippet: discovered.map((d) => d.snippet).join('') });
  });
  r.get('/audit', (req, res) => {
    const ctx = ctxOf(res);
    if (!ctx) throw new FleetbootError('FB_NOT_FOUND', 'the audit log needs the admin web layer (web.enabled)');
    const q = req.query;
    const num = (v: unknown) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined);
    res.json({ audit: ctx.auditLog({ limit: num(q.limit), before: num(q.before), actor: str(q.actor), action: str(q.action), target: str(q.target) }) });
  });
  if (deps.cacheApi) r.use('/cache', deps.cacheApi({ actor }));
  r.get('/cache/stats', (_req, res) => {
    if (!deps.cacheStats) throw new FleetbootError('FB_NOT_FOUND', 'package cache is disabled');
    res.json(deps.cacheStats());
  });
  r.use((_req, _res) => {
    throw new FleetbootError('FB_NOT_FOUND');
  });
  return r;
}

/** Error handler for JSON routes: FleetbootError -> its code; anything else -> FB_INTERNAL. */
export function apiErrorHandler(log: { error: (o: object, m: string) => void }) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof FleetbootError) {
      res.status(err.status).json(errorBody(err.code, err.message, err.details));
      return;
    }
    const status = (err as { status?: number }).status;
    if (status === 400 || (err as { type?: string }).type === 'entity.parse.failed') {
      res.status(400).json(errorBody('FB_BAD_REQUEST', (err as Error).message));
      return;
    }
    log.error({ err, path: req.path }, 'API error');
    res.status(500).json(errorBody('FB_INTERNAL'));
  };
}
