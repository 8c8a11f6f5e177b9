// /api/v1: JSON API over the same services the CLI uses. Errors use the registry in errors.ts.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { ConfigHolder } from '../config/holder.js';
import type { RunStore } from '../store/runs.js';
import type { InstallService } from '../install/service.js';
import type { DiscoveredRow } from '../store/runs.js';
import { hostRows, hostDetail, publicRun } from '../install/view.js';
import { FleetbootError, errorBody, type ErrorCode } from '../errors.js';
import { reinstallHosts, selectHosts, type AuditSink } from '../web/reinstall.js';
import type { CacheApi } from './cache-api.js';
import type { PowerService } from '../power/service.js';
import { powerApi } from './power-api.js';

/**
 * What the auth layer in front (web/index.ts apiGuard) hands the API per request, in
 * res.locals[API_CONTEXT]: who is calling and the audit trail. The API refuses every request
 * that arrives without it, so mounting this router without the guard fails closed.
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
  /** the caller as recorded on runs and in the audit log ("admin", "admin (token ci)") */
  actor: string;
  /** records one audit row for this request's caller */
  audit: AuditSink;
  auditLog(q: AuditQueryParams): unknown[];
}
const ctxOf = (res: Response) => res.locals[API_CONTEXT] as ApiContext;

export interface ApiDeps {
  holder: ConfigHolder;
  store: RunStore;
  installs: InstallService;
  cacheStats?: () => unknown;
  /** /api/v1/cache/* routes of the package cache (http/cache-api.ts) */
  cacheApi?: CacheApi;
  /** /api/v1/rollouts (http/rollouts-api.ts) */
  rollouts?: Router;
  /** /hosts/:name/power, /power, reinstall with power (http/power-api.ts) */
  power?: PowerService;
  /** /api/v1/images/* (http/images.ts) */
  imagesApi?: Router;
}

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** ?run=N: absent -> undefined; anything but one positive integer -> 400. */
function runParam(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^[1-9]\d{0,15}$/.test(v)) throw new FleetbootError('FB_BAD_REQUEST', 'run must be a run id (a positive integer)');
  return Number(v);
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
  r.use((_req, res, next) => {
    if (!res.locals[API_CONTEXT]) throw new FleetbootError('FB_UNAUTHENTICATED');
    next();
  });
  // bodies are JSON only: a form-encoded or text body would otherwise arrive as "no body"
  r.use((req, _res, next) => {
    if (req.is('application/json') === false) throw new FleetbootError('FB_UNSUPPORTED_MEDIA_TYPE');
    next();
  });
  r.use(express.json({ limit: '256kb' }));
  if (deps.power) r.use(powerApi({ ...deps, power: deps.power }));
  const body = (req: Request): Record<string, unknown> => {
    if (req.body === undefined) return {};
    if (!isObject(req.body)) throw new FleetbootError('FB_BAD_REQUEST', 'the body must be a JSON object');
    return req.body;
  };
  const hostOr404 = (name: string) => {
    const d = hostDetail(deps.holder, deps.store, name);
    if (!d) throw new FleetbootError('FB_UNKNOWN_HOST', `unknown host "${name}"`);
    return d;
  };
  const runOf = (host: string, runId: number) => {
    const run = deps.store.run(runId);
    if (!run || run.host !== host) throw new FleetbootError('FB_NOT_FOUND', `host "${host}" has no run ${runId}`);
    return run;
  };
  const act = (req: Request, res: Response, cancel: boolean) => {
    const ctx = ctxOf(res);
    const sel = selectHosts(deps.holder, deps.store, body(req));
    return reinstallHosts(deps.installs, sel.names, ctx.actor, cancel, ctx.audit, sel.how);
  };

  r.get('/hosts', (req, res) => {
    const q = req.query;
    res.json({ hosts: hostRows(deps.holder, deps.store, { name: str(q.name), role: str(q.role), state: str(q.state), label: str(q.label) }) });
  });
  r.get('/hosts/:name', (req, res) => {
    const d = hostOr404(String(req.params.name));
    // ?run=N: that run's events instead of the latest run's
    const runId = runParam(req.query.run);
    if (runId !== undefined) {
      const run = runOf(d.host.name, runId);
      res.json({ ...d, run: publicRun(run), events: deps.store.events({ runId, limit: 5000 }) });
      return;
    }
    res.json(d);
  });
  r.get('/hosts/:name/events', (req, res) => {
    const name = String(req.params.name);
    if (!deps.holder.index.byName(name)) throw new FleetbootError('FB_UNKNOWN_HOST', `unknown host "${name}"`);
    const asked = runParam(req.query.run);
    const runId = asked !== undefined ? runOf(name, asked).id : deps.store.latestRun(name)?.id;
    res.json({ host: name, runId: runId ?? null, events: runId === undefined ? [] : deps.store.events({ runId, limit: 10000 }) });
  });
  r.post('/hosts/:name/reinstall', (req, res) => {
    const ctx = ctxOf(res);
    const out = reinstallHosts(deps.installs, [String(req.params.name)], ctx.actor, false, ctx.audit)[0];
    if (!out.ok) throw new FleetbootError('FB_UNKNOWN_HOST', out.error);
    res.status(out.already ? 200 : 201).json(out);
  });
  r.delete('/hosts/:name/reinstall', (req, res) => {
    const ctx = ctxOf(res);
    const out = reinstallHosts(deps.installs, [String(req.params.name)], ctx.actor, true, ctx.audit)[0];
    if (!out.ok) throw new FleetbootError(out.error.startsWith('unknown') ? 'FB_UNKNOWN_HOST' : 'FB_CONFLICT', out.error);
    res.json(out);
  });
  r.post('/reinstall', (req, res) => {
    res.json({ results: act(req, res, false) });
  });
  r.post('/reinstall/cancel', (req, res) => {
    res.json({ results: act(req, res, true) });
  });
  r.get('/discovered', (_req, res) => {
    const role = Object.keys(deps.holder.config.roles)[0];
    const discovered = deps.store.discovered().map((d) => ({ ...d, snippet: inventorySnippet(d, role) }));
    // one block to paste under `hosts:` for all of them at once
    res.json({ discovered, snippet: discovered.map((d) => d.snippet).join('') });
  });
  r.get('/audit', (req, res) => {
    const q = req.query;
    const num = (v: unknown) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined);
    res.json({ audit: ctxOf(res).auditLog({ limit: num(q.limit), before: num(q.before), actor: str(q.actor), action: str(q.action), target: str(q.target) }) });
  });
  if (deps.cacheApi) r.use('/cache', deps.cacheApi);
  if (deps.rollouts) r.use('/rollouts', deps.rollouts);
  if (deps.imagesApi) r.use('/images', deps.imagesApi);
  r.get('/cache/stats', (_req, res) => {
    if (!deps.cacheStats) throw new FleetbootError('FB_NOT_FOUND', 'package cache is disabled');
    res.json(deps.cacheStats());
  });
  // further /cache routes (cache-api.ts) mount here: behind the same guard, JSON and errors
  r.use((_req, _res) => {
    throw new FleetbootError('FB_NOT_FOUND');
  });
  return r;
}

// body-parser's error types -> our codes (anything else it raises is the client's fault: 400)
const BODY_ERRORS: Record<string, ErrorCode> = {
  'entity.too.large': 'FB_PAYLOAD_TOO_LARGE',
  'parameters.too.many': 'FB_PAYLOAD_TOO_LARGE',
  'charset.unsupported': 'FB_UNSUPPORTED_MEDIA_TYPE',
  'encoding.unsupported': 'FB_UNSUPPORTED_MEDIA_TYPE',
  'entity.parse.failed': 'FB_BAD_REQUEST',
  'entity.verify.failed': 'FB_BAD_REQUEST',
  'request.aborted': 'FB_BAD_REQUEST',
  'request.size.invalid': 'FB_BAD_REQUEST',
};

/** Error handler for JSON routes: FleetbootError -> its code; body errors -> theirs; else FB_INTERNAL. */
export function apiErrorHandler(log: { error: (o: object, m: string) => void }) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof FleetbootError) {
      res.status(err.status).json(errorBody(err.code, err.message, err.details));
      return;
    }
    const e = err as { type?: string; status?: number; message?: string; limit?: number };
    const code = (e.type && BODY_ERRORS[e.type]) || (e.status && e.status >= 400 && e.status < 500 ? 'FB_BAD_REQUEST' : undefined);
    if (code) {
      const fe = new FleetbootError(code, code === 'FB_BAD_REQUEST' ? e.message : undefined, e.type === 'entity.too.large' ? { limitBytes: e.limit } : undefined);
      res.status(fe.status).json(errorBody(fe.code, fe.message, fe.details));
      return;
    }
    log.error({ err, path: req.path }, 'API error');
    res.status(500).json(errorBody('FB_INTERNAL'));
  };
}
