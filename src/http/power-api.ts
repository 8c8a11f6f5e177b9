// /api/v1 power routes (mounted inside apiRouter, behind its auth guard and JSON body parser):
//   GET  /hosts/:name/power              the power state, read from the BMC now
//   POST /hosts/:name/power {action}     on | off | cycle | pxe | status (audited except status)
//   POST /power {action, hosts|role|label}   the same for many hosts: a result per host
//   POST /hosts/:name/reinstall {power: true} and POST /reinstall {..., power: true}:
//        mark, then one-time network boot + cycle (reinstall --power); without power: the
//        plain reinstall routes answer
import express, { type Request, type Response, type Router } from 'express';
import type { ConfigHolder } from '../config/holder.js';
import type { RunStore } from '../store/runs.js';
import type { InstallService } from '../install/service.js';
import type { PowerService } from '../power/service.js';
import { POWER_ACTIONS, type PowerAction, type PowerResult } from '../power/types.js';
import { powerHosts, reinstallWithPower } from '../power/audited.js';
import { selectHosts } from '../web/reinstall.js';
import { FleetbootError } from '../errors.js';
import { API_CONTEXT, type ApiContext } from './api.js';

export interface PowerApiDeps {
  holder: ConfigHolder;
  store: RunStore;
  installs: InstallService;
  power: PowerService;
}

const ctxOf = (res: Response) => res.locals[API_CONTEXT] as ApiContext;
const bodyOf = (req: Request): Record<string, unknown> => (req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {});

function actionOf(v: unknown): PowerAction {
  if (typeof v !== 'string' || !POWER_ACTIONS.includes(v as PowerAction)) throw new FleetbootError('FB_BAD_REQUEST', `"action" must be one of ${POWER_ACTIONS.join(', ')}`);
  return v as PowerAction;
}

/** One host's result as an HTTP answer: 200 ok; 409 no power config; 502 the BMC failed. */
function answer(res: Response, r: PowerResult): void {
  if (r.ok) return void res.json(r);
  if (r.errorKind === 'unknown-host') throw new FleetbootError('FB_UNKNOWN_HOST', r.error);
  if (r.errorKind === 'busy') throw new FleetbootError('FB_RATE_LIMITED', r.error);
  if (r.errorKind === 'no-power-config' || r.errorKind === 'config') throw new FleetbootError('FB_CONFLICT', r.error, r);
  throw new FleetbootError('FB_UPSTREAM', r.error, r);
}

export function powerApi(deps: PowerApiDeps): Router {
  const r = express.Router();
  const known = (name: string) => {
    if (!deps.holder.index.byName(name)) throw new FleetbootError('FB_UNKNOWN_HOST', `unknown host "${name}"`);
    return name;
  };

  r.get('/hosts/:name/power', async (req, res) => {
    answer(res, (await deps.power.run([known(String(req.params.name))], 'status'))[0]);
  });
  r.post('/hosts/:name/power', async (req, res) => {
    const action = actionOf(bodyOf(req).action);
    const ctx = ctxOf(res);
    answer(res, (await powerHosts(deps.power, [known(String(req.params.name))], action, ctx.audit, 'api'))[0]);
  });
  r.post('/power', async (req, res) => {
    const b = bodyOf(req);
    const action = actionOf(b.action);
    const sel = selectHosts(deps.holder, deps.store, b);
    const ctx = ctxOf(res);
    res.json({ results: await powerHosts(deps.power, sel.names, action, ctx.audit, sel.how ? `api; ${sel.how}` : 'api') });
  });
  // reinstall + power; a body without power: true falls through to the plain reinstall routes
  r.post('/hosts/:name/reinstall', async (req, res, next) => {
    if (bodyOf(req).power !== true) return next();
    const ctx = ctxOf(res);
    const out = (await reinstallWithPower({ ...deps }, [String(req.params.name)], ctx.actor, ctx.audit, 'api'))[0];
    if (!out.ok) throw new FleetbootError('FB_UNKNOWN_HOST', out.error);
    res.status(out.power?.ok === false ? 502 : out.already ? 200 : 201).json(out);
  });
  r.post('/reinstall', async (req, res, next) => {
    const b = bodyOf(req);
    if (b.power !== true) return next();
    const ctx = ctxOf(res);
    const sel = selectHosts(deps.holder, deps.store, b);
    res.json({ results: await reinstallWithPower({ ...deps }, sel.names, ctx.actor, ctx.audit, sel.how ? `api; ${sel.how}` : 'api') });
  });
  return r;
}
