// /api/v1: JSON API over the same services the CLI uses. Errors use the registry in errors.ts.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { ConfigHolder } from '../config/holder.js';
import type { RunStore } from '../store/runs.js';
import type { InstallService } from '../install/service.js';
import { hostRows, hostDetail } from '../install/view.js';
import { FleetbootError, errorBody } from '../errors.js';

export interface ApiDeps {
  holder: ConfigHolder;
  store: RunStore;
  installs: InstallService;
  /** who is acting (set by the auth layer); 'api' when auth is not in front */
  actor?: (req: Request) => string;
  cacheStats?: () => unknown;
}

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

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
    res.json(d);
  });
  r.get('/hosts/:name/events', (req, res) => {
    const name = String(req.params.name);
    if (!deps.holder.index.byName(name)) throw new FleetbootError('FB_UNKNOWN_HOST', `unknown host "${name}"`);
    const runId = req.query.run ? Number(req.query.run) : deps.store.latestRun(name)?.id;
    res.json({ host: name, runId: runId ?? null, events: runId === undefined ? [] : deps.store.events({ runId, limit: 10000 }) });
  });
  r.post('/hosts/:name/reinstall', (req, res) => {
    const out = deps.installs.mark([String(req.params.name)], actor(req))[0];
    if (!out.ok) throw new FleetbootError('FB_UNKNOWN_HOST', out.error);
    res.status(out.already ? 200 : 201).json(out);
  });
  r.delete('/hosts/:name/reinstall', (req, res) => {
    const out = deps.installs.cancel([String(req.params.name)], actor(req))[0];
    if (!out.ok) throw new FleetbootError(out.error.startsWith('unknown') ? 'FB_UNKNOWN_HOST' : 'FB_CONFLICT', out.error);
    res.json(out);
  });
  r.post('/reinstall', (req, res) => {
    res.json({ results: deps.installs.mark(selection(deps, req.body ?? {}), actor(req)) });
  });
  r.post('/reinstall/cancel', (req, res) => {
    res.json({ results: deps.installs.cancel(selection(deps, req.body ?? {}), actor(req)) });
  });
  r.get('/discovered', (_req, res) => {
    res.json({ discovered: deps.store.discovered() });
  });
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
