// The admin pages. Everything renders on the server and works without JavaScript (forms post
// back, confirm steps are pages); static/app.js layers sorting, instant filtering, a confirm
// dialog and live SSE updates on top.
import express, { type Request, type Response, type Router } from 'express';
import type { WebContext } from './index.js';
import { render, requireUser, webDir } from './render.js';
import { actorName, type Principal } from './sessions.js';
import { hostRows, hostDetail } from '../install/view.js';
import { reinstallHosts, inventorySnippet } from '../http/api.js';
import { STATES } from './states.js';

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
const list = (v: unknown): string[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((x): x is string => typeof x === 'string' && x !== '');

// notices after a redirect are fixed strings chosen by code, so a crafted link cannot make the
// UI say something we did not
const NOTICES: Record<string, (n: number) => string> = {
  marked: (n) => `${n} host${n === 1 ? '' : 's'} marked for reinstall. They install on their next network boot.`,
  cancelled: (n) => `Reinstall cancelled for ${n} host${n === 1 ? '' : 's'}.`,
  none: () => 'Nothing selected.',
  revoked: () => 'Token revoked.',
  useradded: () => 'Admin saved.',
};

export function uiRouter(ctx: WebContext): Router {
  const r = express.Router();
  r.use('/static', express.static(webDir('static'), { maxAge: '5m', index: false }));
  const guard = requireUser(ctx);
  const form = express.urlencoded({ extended: false, limit: '256kb' });
  const me = (res: Response) => res.locals.principal as Principal;
  const audit = (req: Request, res: Response) => (action: string, target: string | null, detail?: string) =>
    ctx.auth.audit({ actor: actorName(me(res)), action, target, detail, ip: req.ip });
  const notice = (req: Request) => {
    const f = NOTICES[String(req.query.n ?? '')];
    return f ? f(Number(req.query.c ?? 0)) : undefined;
  };

  r.get('/', guard, (req, res) => {
    const all = hostRows(ctx.holder, ctx.store, {});
    const f = { name: str(req.query.name), role: str(req.query.role), state: str(req.query.state), label: str(req.query.label) };
    const rows = hostRows(ctx.holder, ctx.store, f);
    const roles = [...new Set(all.flatMap((h) => h.roles))].sort();
    const labels = [...new Set(all.flatMap((h) => h.labels))].sort();
    const counts: Record<string, number> = {};
    for (const h of all) counts[h.state] = (counts[h.state] ?? 0) + 1;
    render(req, res, 'hosts.njk', { title: 'Hosts', rows, all, roles, labels, states: STATES, filter: f, counts, notice: notice(req), discovered: ctx.store.discovered().length });
  });

  // no-JS path: the first post shows a confirmation page, the second (confirm=yes) acts
  r.post('/reinstall', form, guard, (req, res) => {
    const body = req.body as Record<string, unknown>;
    const cancel = body.action === 'cancel';
    const names = list(body.hosts).filter((h) => ctx.holder.index.byName(h));
    const back = typeof body.back === 'string' && body.back.startsWith('/?') ? body.back : '/?';
    if (!names.length) return void res.redirect(303, `${back}&n=none`);
    if (body.confirm !== 'yes') return render(req, res, 'confirm.njk', { title: 'Confirm', names, cancel, back });
    const results = reinstallHosts(ctx.installs, names, actorName(me(res)), cancel, audit(req, res), 'web UI');
    res.redirect(303, `${back}&n=${cancel ? 'cancelled' : 'marked'}&c=${results.filter((x) => x.ok).length}`);
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
      notice: notice(req),
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
    const more = rows.length === 100 ? rows[rows.length - 1].id : undefined;
    render(req, res, 'audit.njk', { title: 'Audit log', rows, q, more });
  });

  r.get('/account', guard, (req, res) => {
    const p = me(res);
    render(req, res, 'account.njk', { title: 'Account', tokens: ctx.auth.tokens(p.user.id), users: ctx.auth.users(), notice: notice(req) });
  });

  r.post('/account/tokens', form, guard, (req, res) => {
    const p = me(res);
    const name = String((req.body as Record<string, unknown>).name ?? '').trim().slice(0, 64) || 'script';
    const t = ctx.auth.createToken(p.user.id, name);
    audit(req, res)('token.create', p.user.name, `token "${name}" (${t.row.hint}…)`);
    // shown exactly once: only its hash is kept
    render(req, res, 'account.njk', { title: 'Account', tokens: ctx.auth.tokens(p.user.id), users: ctx.auth.users(), newToken: t.token, newTokenName: name });
  });

  r.post('/account/tokens/:id/revoke', form, guard, (req, res) => {
    const p = me(res);
    if (ctx.auth.revokeToken(p.user.id, Number(req.params.id))) audit(req, res)('token.revoke', p.user.name, `token id ${req.params.id}`);
    res.redirect(303, '/account?n=revoked');
  });

  r.post('/account/users', form, guard, (req, res) => {
    const b = req.body as Record<string, string>;
    const name = String(b.username ?? '').trim();
    try {
      if (b.password !== b.password2) throw new Error('the two passwords differ');
      const out = ctx.auth.setUser(name, String(b.password ?? ''), actorName(me(res)));
      audit(req, res)(out.created ? 'user.add' : 'user.password', name);
      res.redirect(303, '/account?n=useradded');
    } catch (e) {
      render(req, res, 'account.njk', { title: 'Account', tokens: ctx.auth.tokens(me(res).user.id), users: ctx.auth.users(), userError: (e as Error).message, username: name }, 400);
    }
  });

  r.get('/events/stream', guard, (req, res) => {
    const p = me(res);
    // ends when the session does (expiry or logout), checked on each heartbeat
    const valid = p.kind === 'session' ? () => ctx.sessions.lookupById(p.session.id_hash) : () => true;
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
