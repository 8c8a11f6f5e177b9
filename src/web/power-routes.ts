// Power in the admin UI: the host page's power panel (last known state, buttons), the power
// column of the hosts table, and "also boot them now" in the reinstall confirmation. Every
// action goes through powerHosts / reinstallWithPower: audited like reinstall, as the user.
import express, { type Request, type Response, type Router } from 'express';
import type { WebContext } from './index.js';
import { requireUser } from './render.js';
import { actorName, type Principal } from './sessions.js';
import { auditAs } from './reinstall.js';
import { powerHosts, reinstallWithPower, describeResult } from '../power/audited.js';
import { POWER_ACTIONS, type PowerAction } from '../power/types.js';

const list = (v: unknown): string[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((x): x is string => typeof x === 'string' && x !== '');

/** What the host page shows: driver, address, the last state this daemon saw (no BMC call). */
export function powerView(ctx: Pick<WebContext, 'holder' | 'power'>, name: string) {
  const p = ctx.holder.index.byName(name)?.host.power;
  if (!p || !ctx.power) return undefined;
  const k = ctx.power.lastKnown(name);
  return { driver: p.driver, address: p.address ?? '', state: k?.state ?? 'unknown', at: k?.at ?? null, ok: k?.ok ?? true, error: k?.error ?? '', action: k?.action ?? '', manual: p.driver === 'manual' };
}

/** The hosts table's power column: "on" / "off" / "?" (not read yet) / "" (no power: entry). */
export function withPower<T extends { name: string }>(ctx: Pick<WebContext, 'holder' | 'power'>, rows: T[]): (T & { power: string })[] {
  return rows.map((h) => {
    const v = powerView(ctx, h.name);
    return { ...h, power: v ? (v.state === 'unknown' ? '?' : v.state) : '' };
  });
}

export function powerUiRouter(ctx: WebContext): Router {
  const r = express.Router();
  const guard = requireUser(ctx);
  const form = express.urlencoded({ extended: false, limit: '256kb' });
  const me = (res: Response) => res.locals.principal as Principal;
  const audit = (req: Request, res: Response) => auditAs(ctx.auth, actorName(me(res)), req.ip);
  const say = (res: Response, text: string) => {
    const p = me(res);
    if (p.kind === 'session') ctx.flash.set(p.session.id_hash, text);
  };

  r.post('/hosts/:name/power', form, guard, async (req, res) => {
    const name = String(req.params.name);
    const action = String((req.body as Record<string, unknown>).action ?? '') as PowerAction;
    if (!ctx.power || !ctx.holder.index.byName(name) || !POWER_ACTIONS.includes(action)) return void res.status(400).type('text/plain').send('bad power request\n');
    const [out] = await powerHosts(ctx.power, [name], action, audit(req, res), 'web UI');
    say(res, `${name}: ${action} ${describeResult(out)}`);
    res.redirect(303, `/hosts/${encodeURIComponent(name)}`);
  });

  // the confirmed reinstall with "also boot them now" ticked; anything else: the plain route
  r.post('/reinstall', form, guard, async (req, res, next) => {
    const b = req.body as Record<string, unknown>;
    if (b.confirm !== 'yes' || b.power !== 'yes' || b.action === 'cancel' || !ctx.power) return next();
    const names = list(b.hosts).filter((h) => ctx.holder.index.byName(h));
    const back = typeof b.back === 'string' && b.back.startsWith('/?') ? b.back : '/?';
    const results = await reinstallWithPower({ installs: ctx.installs, store: ctx.store, power: ctx.power }, names, actorName(me(res)), audit(req, res), 'web UI');
    const marked = results.filter((x) => x.ok).length;
    const booted = results.filter((x) => x.power?.ok && !x.power.instruction).length;
    const trouble = results.filter((x) => x.power && (!x.power.ok || x.power.instruction)).map((x) => `${x.host}: ${describeResult(x.power!)}`);
    say(res, `${marked} host${marked === 1 ? '' : 's'} marked for reinstall, ${booted} network-booting now.${trouble.length ? ` ${trouble.join('; ')}` : ''}`);
    res.redirect(303, back);
  });
  return r;
}
