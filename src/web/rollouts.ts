// The rollout pages: a list, and one page per rollout with its waves, hosts per state, elapsed
// and estimated time left, failures with reasons, and pause/resume/abort (forms with the CSRF
// field like every other form; abort asks for a confirmation first, without JavaScript).
import express, { type Request, type Response, type Router } from 'express';
import type { WebContext } from './index.js';
import { render, requireUser } from './render.js';
import { actorName, type Principal } from './sessions.js';
import { auditAs } from './reinstall.js';
import { RolloutStore } from '../rollout/store.js';
import { controlRollout, describeOptions, type Control } from '../rollout/plan.js';
import { summary, detail } from '../rollout/view.js';
import { FleetbootError } from '../errors.js';
import { HOST_STATES } from '../rollout/types.js';

/** badge classes of the hosts table, reused: a rollout host state -> the nearest run state */
const BADGE: Record<string, string> = {
  pending: 'idle', power: 'marked', booting: 'booting', installing: 'installing', 'up-wait': 'rebooting', health: 'rebooting', retry: 'stalled', done: 'done', failed: 'failed', cancelled: 'cancelled',
  scheduled: 'marked', running: 'installing', paused: 'stalled', completed: 'done', 'stopped-budget': 'failed', 'stopped-canary': 'failed', aborted: 'cancelled',
};

export function rolloutUiRouter(ctx: WebContext): Router {
  const r = express.Router();
  const store = new RolloutStore(ctx.db);
  const guard = requireUser(ctx);
  const form = express.urlencoded({ extended: false, limit: '16kb' });
  const me = (res: Response) => res.locals.principal as Principal;
  const find = (v: unknown) => (typeof v === 'string' && /^[1-9]\d{0,9}$/.test(v) ? store.get(Number(v)) : undefined);
  const notFound = (req: Request, res: Response) => render(req, res, 'error.njk', { title: 'Not found', message: 'There is no such rollout.' }, 404);

  r.get('/rollouts', guard, (req, res) => {
    const now = ctx.now();
    render(req, res, 'rollouts.njk', { title: 'Rollouts', rows: store.list(200).map((x) => summary(store, x, now)), badge: BADGE, states: HOST_STATES });
  });

  r.get('/rollouts/:id', guard, (req, res) => {
    const row = find(req.params.id);
    if (!row) return notFound(req, res);
    const d = detail(store, row, ctx.now());
    render(req, res, 'rollout.njk', { title: `Rollout ${d.id}`, r: d, options: describeOptions(d.options), badge: BADGE, states: HOST_STATES, steps: d.steps.slice(-200).reverse(), error: undefined });
  });

  r.post('/rollouts/:id/:action', form, guard, (req, res) => {
    const row = find(req.params.id);
    if (!row) return notFound(req, res);
    const action = String(req.params.action) as Control;
    if (!['pause', 'resume', 'abort'].includes(action)) return notFound(req, res);
    const body = req.body as Record<string, unknown>;
    if (action === 'abort' && body.confirm !== 'yes') return render(req, res, 'rollout-abort.njk', { title: `Abort rollout ${row.id}`, id: row.id });
    try {
      const p = me(res);
      controlRollout(store, row.id, action, actorName(p), ctx.now(), auditAs(ctx.auth, actorName(p), req.ip), ctx.installs, ctx.store);
      res.redirect(303, `/rollouts/${row.id}`);
    } catch (e) {
      if (!(e instanceof FleetbootError)) throw e;
      const d = detail(store, row, ctx.now());
      render(req, res, 'rollout.njk', { title: `Rollout ${d.id}`, r: d, options: describeOptions(d.options), badge: BADGE, states: HOST_STATES, steps: d.steps.slice(-200).reverse(), error: e.message }, 409);
    }
  });
  return r;
}
