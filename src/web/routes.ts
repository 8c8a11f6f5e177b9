// The admin pages. Everything renders on the server and works without JavaScript (forms post
// back, confirm steps are pages); static/app.js layers sorting, instant filtering, a confirm
// dialog and live SSE updates on top.
import express, { type Request, type Response, type Router } from 'express';
import type { WebContext } from './index.js';
import { render, requireUser, webDir } from './render.js';
import { actorName, type Principal } from './sessions.js';
import { hostRows, hostDetail } from '../install/view.js';
import { inventorySnippet } from '../http/api.js';
import { reinstallHosts, auditAs } from './reinstall.js';
import { STATES } from './states.js';
import { powerUiRouter, powerView, withPower } from './power-routes.js';

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
const list = (v: unknown): string[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((x): x is string => typeof x === 'string' && x !== '');

const plural = (n: number) => `${n} host${n === 1 ? '' : 's'}`;

export function uiRouter(ctx: WebContext): Router {
  const r = express.Router();
  r.use('/static', express.static(webDir('static'), { maxAge: '5m', index: false }));
  r.use(powerUiRouter(ctx));
  const guard = requireUser(ctx);
  const form = express.urlencoded({ extended: false, limit: '256kb' });
  const me = (res: Response) => res.locals.principal as Principal;
  const audit = (req: Request, res: Response) => auditAs(ctx.auth, actorName(me(res)), req.ip);
  // one-shot notices live server-side per session (flash.ts): no URL can put words in the UI
  const flashKey = (res: Response) => {
    const p = me(res);
    return p.kind === 'session' ? p.session.id_hash : undefined;
  };
  const say = (res: Response, text: string) => {
    const k = flashKey(res);
    if (k) ctx.flash.set(k, text);
  };
  const notice = (res: Response) => {
    const k = flashKey(res);
    return k ? ctx.flash.take(k) : undefined;
  };
  const accountPage = (req: Request, res: Response, vars: Record<string, unknown> = {}, status = 200) =>
    render(req, res, 'account.njk', { title: 'Account', tokens: ctx.auth.allTokens(), users: ctx.auth.users(), notice: notice(res), ...vars }, status);

  r.get('/', guard, (req, res) => {
    const all = hostRows(ctx.holder, ctx.store, {});
    const f = { name: str(req.query.name), role: str(req.query.role), state: str(req.query.state), label: str(req.query.label) };
    const rows = hostRows(ctx.holder, ctx.store, f);
    const roles = [...new Set(all.flatMap((h) => h.roles))].sort();
    const labels = [...new Set(all.flatMap((h) => h.labels))].sort();
    const counts: Record<string, number> = {};
    for (const h of all) counts[h.state] = (counts[h.state] ?? 0) + 1;
    render(req, res, 'hosts.njk', { title: 'Hosts', rows: withPower(ctx, rows), all: withPower(ctx, all), roles, labels, states: STATES, filter: f, counts, notice: notice(res), discovered: ctx.store.discovered().length });
  });

  // no-JS path: the first post shows a confirmation page, the second (confirm=yes) acts
  r.post('/reinstall', form, guard, (req, res) => {
    const body = req.body as Record<string, unknown>;
    const cancel = body.action === 'cancel';
    const names = list(body.hosts).filter((h) => ctx.holder.index.byName(h));
    const back = typeof body.back === 'string' && body.back.startsWith('/?') ? body.back : '/?';
    if (!names.length) {
      say(res, 'Nothing selected.');
      return void res.redirect(303, back);
    }
    if (body.confirm !== 'yes') return render(req, res, 'confirm.njk', { title: 'Confirm', names, cancel, back, powerOn: names.some((n) => powerView(ctx, n)) });
    const results = reinstallHosts(ctx.installs, names, actorName(me(res)), cancel, audit(req, res), 'web UI');
    const ok = results.filter((x) => x.ok).length;
    say(res, cancel ? `Reinstall cancelled for ${plural(ok)}.` : `${plural(ok)} marked for reinstall. They install on their next network boot.`);
    res.redirect(303, back);
  });

  r.get('/hosts/:name', guard, (req, res) => {
    const d = hostDetail(ctx.holder, ctx.store, String(req.params.name));
    if (!d) return render(req, res, 'error.njk', { title: 'Not found', message: `There is no host "${req.params.name}" in the inventory.` }, 404);
    const runId = Number(req.query.run);
    const run = Number.isInteger(runId) ? d.runs.find((x) => x.id === runId) : d.runs[0];
    const events = run ? (run === d.runs[0] ? d.events : ctx.store.events({ runId: run.id, limit: 5000 })) : [];
    const rh = ctx.holder.index.byName(d.host.name)!;
    render(req, res, 'host.njk', {
      title: d.host.name,
      h: d.host,
      role: rh.roleName,
      runs: d.runs,
      run: run ?? null,
      latest: run ? run.id === d.runs[0]?.id : true,
      timeline: events.filter((e) => e.kind !== 'log'),
      logs: events.filter((e) => e.kind === 'log'),
      t0: events[0]?.at ?? 0,
      power: powerView(ctx, d.host.name),
      notice: notice(res),
    });
  });

  r.get('/discovered', guard, (req, res) => {
    const role = Object.keys(ctx.holder.config.roles)[0];
    const rows = ctx.store.discovered().map((d) => ({ ...d, snippet: inventorySnippet(d, role) }));
    render(req, res, 'discovered.njk', { title: 'Discovered', rows, all: rows.map((d) => d.snippet).join('') });
  });

  r.get('/audit', guard, (req, res) => {
    const q = { actor: str(req.query.actor), action: str(req.query.action), target: str(req.query.target), before: Number(req.query.before) || undefined, limit: 100 };
    const rows = ctx.auth.auditLog(q);
    // the filter values are user text: encoded, or "a&b" would split into two parameters
    const older = new URLSearchParams({ before: String(rows.at(-1)?.id ?? 0), actor: q.actor ?? '', action: q.action ?? '', target: q.target ?? '' });
    const more = rows.length === 100 ? `/audit?${older}` : undefined;
    render(req, res, 'audit.njk', { title: 'Audit log', rows, q, more });
  });

  r.get('/account', guard, (req, res) => accountPage(req, res));

  r.post('/account/tokens', form, guard, (req, res) => {
    const p = me(res);
    const name = String((req.body as Record<string, unknown>).name ?? '').trim().slice(0, 64) || 'script';
    const t = ctx.auth.createToken(p.user.id, name);
    audit(req, res)('token.create', p.user.name, `token "${name}" (${t.row.hint}…)`);
    // shown exactly once: only its hash is kept
    accountPage(req, res, { newToken: t.token, newTokenName: name });
  });

  // any admin may revoke any user's token (one admin role; a leaked token must die fast)
  r.post('/account/tokens/:id/revoke', form, guard, (req, res) => {
    const gone = ctx.auth.revokeToken(Number(req.params.id));
    if (gone) {
      audit(req, res)('token.revoke', gone.user, `token "${gone.name}" (${gone.hint}…, id ${gone.id})`);
      ctx.hub.recheck(); // its open event streams end now, not at the next heartbeat
      say(res, `Token "${gone.name}" of ${gone.user} revoked.`);
    } else say(res, 'That token no longer exists.');
    res.redirect(303, '/account');
  });

  r.post('/account/users', form, guard, async (req, res) => {
    const b = req.body as Record<string, string>;
    const name = String(b.username ?? '').trim();
    try {
      if (b.password !== b.password2) throw new Error('the two passwords differ');
      const out = await ctx.auth.setUser(name, String(b.password ?? ''), actorName(me(res)));
      audit(req, res)(out.created ? 'user.add' : 'user.password', name);
      ctx.hub.recheck();
      say(res, out.created ? `Admin ${name} added.` : `Password of ${name} changed; their sessions were ended${out.tokensKept ? ` (${out.tokensKept} API token(s) kept: revoke them below if the old password leaked)` : ''}.`);
      res.redirect(303, '/account');
    } catch (e) {
      accountPage(req, res, { userError: (e as Error).message, username: name }, 400);
    }
  });

  r.get('/events/stream', guard, (req, res) => {
    const p = me(res);
    // re-checked on each heartbeat and whenever credentials change: a stream ends with its
    // session (expiry, logout, password change) or its API token (revoked, user deleted)
    const valid = p.kind === 'session' ? () => ctx.sessions.lookupById(p.session.id_hash) : () => ctx.auth.tokenAlive(p.tokenId);
    ctx.hub.attach(req, res, valid);
  });

  // JSON for the host page's live refresh (the API has the same, behind the API guard)
  r.get('/hosts/:name/run.json', guard, (req, res) => {
    const d = hostDetail(ctx.holder, ctx.store, String(req.params.name));
    if (!d) return void res.status(404).json({});
    res.json({ host: d.host, run: d.runs[0] ?? null, events: d.events });
  });
  return r;
}
