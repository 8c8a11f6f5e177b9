// /api/v1/rollouts: list, create (or plan with dryRun), show, pause, resume, abort. Mounted by
// api.ts behind the same guard (credentials, CSRF for cookie writes), JSON body and error codes.
import express, { type Request, type Response, type Router } from 'express';
import type { ConfigHolder } from '../config/holder.js';
import type { RunStore } from '../store/runs.js';
import type { InstallService, Clock } from '../install/service.js';
import { FleetbootError } from '../errors.js';
import { API_CONTEXT, type ApiContext } from './api.js';
import type { RolloutStore } from '../rollout/store.js';
import { planRollout, createRollout, controlRollout, type Control, type RolloutRequest } from '../rollout/plan.js';
import { summary, detail } from '../rollout/view.js';

export interface RolloutApiDeps {
  holder: ConfigHolder;
  runs: RunStore;
  installs: InstallService;
  store: RolloutStore;
  clock: Clock;
}

const FIELDS = ['hosts', 'role', 'label', 'canary', 'wave', 'parallel', 'maxFailures', 'retries', 'deadlineBoot', 'deadlineInstall', 'deadlineUp', 'health', 'at', 'dryRun'];

export function rolloutsApi(d: RolloutApiDeps): Router {
  const r = express.Router();
  const ctx = (res: Response) => res.locals[API_CONTEXT] as ApiContext;
  const idOf = (req: Request) => {
    const v = String(req.params.id);
    if (!/^[1-9]\d{0,9}$/.test(v)) throw new FleetbootError('FB_BAD_REQUEST', 'a rollout id is a positive integer');
    const row = d.store.get(Number(v));
    if (!row) throw new FleetbootError('FB_NOT_FOUND', `no rollout ${v}`);
    return row;
  };

  r.get('/', (req, res) => {
    const limit = typeof req.query.limit === 'string' && /^\d{1,4}$/.test(req.query.limit) ? Math.max(1, Number(req.query.limit)) : 100;
    const now = d.clock.now();
    res.json({ rollouts: d.store.list(limit).map((x) => summary(d.store, x, now)) });
  });

  r.post('/', (req, res) => {
    const body = req.body === undefined ? {} : req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new FleetbootError('FB_BAD_REQUEST', 'the body must be a JSON object');
    const unknown = Object.keys(body).filter((k) => !FIELDS.includes(k));
    if (unknown.length) throw new FleetbootError('FB_BAD_REQUEST', `unknown field(s): ${unknown.slice(0, 5).join(', ')} (known: ${FIELDS.join(', ')})`);
    const now = d.clock.now();
    const plan = planRollout(d.holder, d.runs, d.store, body as RolloutRequest, now);
    if ((body as { dryRun?: unknown }).dryRun === true) {
      res.json({ dryRun: true, selector: plan.selector, options: plan.options, startAt: plan.startAt, waves: plan.waves });
      return;
    }
    const c = ctx(res);
    const row = createRollout(d.store, plan, c.actor, now, c.audit);
    res.status(201).json(detail(d.store, row, now));
  });

  r.get('/:id', (req, res) => {
    res.json(detail(d.store, idOf(req), d.clock.now()));
  });

  for (const action of ['pause', 'resume', 'abort'] as Control[]) {
    r.post(`/:id/${action}`, (req, res) => {
      const row = idOf(req);
      const c = ctx(res);
      const out = controlRollout(d.store, row.id, action, c.actor, d.clock.now(), c.audit, d.installs, d.runs);
      res.json(summary(d.store, out, d.clock.now()));
    });
  }
  return r;
}
