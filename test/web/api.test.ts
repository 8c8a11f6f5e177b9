// The admin API behind auth: who gets in (sessions, API tokens), CSRF on cookie writes,
// session expiry, the login rate limit, audit rows, and that a mark reaches the boot path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWeb, login, loginForm, FakeClock, ADMIN, type WebEnv } from './helper.js';
import { userCommand } from '../../src/cli/user.js';
import { silentLogger } from '../../src/log.js';
import { pino } from 'pino';

const clock = new FakeClock();
let w: WebEnv;
let s: { cookie: string; csrf: string };

before(async () => {
  w = await startWeb({ clock, web: { sessionTtlSeconds: 3600 } });
  s = await login(w.base);
});
after(async () => {
  await w.stop();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${w.base}${path}`, { headers, redirect: 'manual' });
const send = (method: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${w.base}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), redirect: 'manual' });
const errorOf = async (r: Response) => ((await r.json()) as { error: { code: string; message: string } }).error;

test('without credentials: API 401 with an error code, UI redirects to the login page', async () => {
  const r = await get('/api/v1/hosts');
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="fleetboot"');
  assert.deepEqual(await errorOf(r), { code: 'FB_UNAUTHENTICATED', message: 'authentication required' });
  const ui = await get('/hosts/alpha', { accept: 'text/html' });
  assert.equal(ui.status, 303);
  assert.equal(ui.headers.get('location'), '/login?next=%2Fhosts%2Falpha');
  const bad = await get('/api/v1/hosts', { authorization: 'Bearer fb_nope' });
  assert.equal(bad.status, 401);
  assert.equal((await errorOf(bad)).message, 'invalid API token');
  // boot-facing routes stay open
  assert.equal((await get('/boot.ipxe?mac=52:54:00:aa:00:01')).status, 200);
});

const formPost = (base: string, path: string, pre: { cookie: string; field: string }, fields: Record<string, string>) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(pre.cookie ? { cookie: pre.cookie } : {}) },
    body: new URLSearchParams({ ...(pre.field ? { _csrf: pre.field } : {}), ...fields }).toString(),
    redirect: 'manual',
  });

test('login sets a strict HttpOnly session cookie; wrong password is 401', async () => {
  const pre = await loginForm(w.base);
  assert.match(pre.cookie, /^fb_precsrf=[A-Za-z0-9_-]{32}$/);
  assert.equal(pre.cookie.slice('fb_precsrf='.length), pre.field, 'double-submit: the form carries the cookie value');
  const r = await formPost(w.base, '/login', pre, { username: ADMIN.name, password: ADMIN.password, next: '/audit' });
  assert.equal(r.status, 303);
  assert.equal(r.headers.get('location'), '/audit');
  const c = r.headers.getSetCookie().find((x) => x.startsWith('fb_session='))!;
  assert.match(c, /^fb_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=3600$/);
  const offsite = await formPost(w.base, '/login', pre, { username: ADMIN.name, password: ADMIN.password, next: '//evil.example/' });
  assert.equal(offsite.headers.get('location'), '/', 'never redirects off-site after login');
  const bad = await login(w.base, ADMIN.name, 'wrong password!');
  assert.equal(bad.status, 401);
  assert.equal(bad.cookie, '');
});

test('login CSRF: a sign-in form post without the pre-session token pair creates no session', async () => {
  const pre = await loginForm(w.base);
  const other = await loginForm(w.base);
  const right = { username: ADMIN.name, password: ADMIN.password };
  // what a cross-site page can do: post the form, but without our cookie (SameSite) or value
  for (const [why, p] of [
    ['no cookie, no field', { cookie: '', field: '' }],
    ['field but no cookie', { cookie: '', field: pre.field }],
    ['cookie but no field', { cookie: pre.cookie, field: '' }],
    ['field of another form', { cookie: pre.cookie, field: other.field }],
  ] as const) {
    const r = await formPost(w.base, '/login', p, right);
    assert.equal(r.status, 403, why);
    assert.equal(r.headers.getSetCookie().filter((c) => c.startsWith('fb_session=')).length, 0, why);
    assert.match(await r.text(), /This form expired or did not come from this site/);
  }
  assert.equal((await formPost(w.base, '/login', pre, right)).status, 303);
  // scripts' JSON logins need no pair: no cross-site page can send application/json unpreflighted
  assert.equal((await login(w.base)).status, 200);
});

test('hosts filter by role, state, name and label; detail has runs and events', async () => {
  const names = async (q: string) => ((await (await get(`/api/v1/hosts${q}`, { cookie: s.cookie })).json()) as { hosts: { name: string }[] }).hosts.map((h) => h.name);
  assert.deepEqual(await names(''), ['alpha', 'beta', 'gamma']);
  assert.deepEqual(await names('?role=tiny'), ['alpha', 'gamma']);
  assert.deepEqual(await names('?label=rack1'), ['alpha', 'beta']);
  assert.deepEqual(await names('?name=amm'), ['gamma']);
  assert.deepEqual(await names('?state=idle&label=rack1'), ['alpha', 'beta']);
  const r = await get('/api/v1/hosts/nosuch', { cookie: s.cookie });
  assert.equal(r.status, 404);
  assert.equal((await errorOf(r)).code, 'FB_UNKNOWN_HOST');
});

test('cookie-authenticated writes need the CSRF token: none or wrong -> 403, right -> marked', async () => {
  let r = await send('POST', '/api/v1/reinstall', { hosts: ['alpha'] }, { cookie: s.cookie });
  assert.equal(r.status, 403);
  assert.deepEqual(await errorOf(r), { code: 'FB_CSRF', message: 'missing or wrong CSRF token' });
  r = await send('POST', '/api/v1/reinstall', { hosts: ['alpha'] }, { cookie: s.cookie, 'x-csrf-token': s.csrf.slice(0, -2) + 'xx' });
  assert.equal(r.status, 403);
  assert.equal(w.d.store.isMarked('alpha'), false);
  r = await send('POST', '/api/v1/reinstall', { hosts: ['alpha'] }, { cookie: s.cookie, 'x-csrf-token': s.csrf });
  assert.equal(r.status, 200);
  const out = (await r.json()) as { results: { host: string; ok: boolean; runId: number }[] };
  assert.equal(out.results[0].ok, true);
  assert.equal(w.d.store.run(out.results[0].runId)!.marked_by, 'admin');
  // a UI form without the hidden field is refused the same way
  const f = await fetch(`${w.base}/reinstall`, { method: 'POST', headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: 'hosts=gamma&confirm=yes', redirect: 'manual' });
  assert.equal(f.status, 403);
  assert.equal(w.d.store.isMarked('gamma'), false);
});

test("a marked host's next /boot.ipxe is the installer, and the detail shows the run", async () => {
  const script = await (await get('/boot.ipxe?mac=52:54:00:aa:00:01')).text();
  assert.match(script, /^echo fleetboot: installing tiny on alpha \(run \d+\)$/m);
  assert.match(script, new RegExp(`^kernel ${w.base}/assets/tiny/vmlinuz `, 'm'));
  const d = (await (await get('/api/v1/hosts/alpha', { cookie: s.cookie })).json()) as { host: { state: string }; runs: { marked_by: string; token?: string }[]; events: { kind: string }[] };
  assert.equal(d.host.state, 'booting');
  assert.equal(d.runs[0].marked_by, 'admin');
  assert.equal(d.runs[0].token, undefined, 'install tokens never leave through the API');
  assert.deepEqual(d.events.map((e) => e.kind).slice(0, 3), ['state', 'boot', 'state']);
});

test('API tokens: created by `fleetboot user token`, work without CSRF, audited as the token', async () => {
  const lines: string[] = [];
  const orig = console.log;
  console.log = (x: string) => lines.push(String(x));
  const origErr = console.error;
  console.error = () => {};
  let code: number;
  try {
    code = await userCommand(['token', 'admin'], new Map([['name', 'ci']]), { db: w.d.db, log: silentLogger() });
  } finally {
    console.log = orig;
    console.error = origErr;
  }
  assert.equal(code, 0);
  const token = lines[0];
  assert.match(token, /^fb_[A-Za-z0-9_-]{32}$/);
  const row = w.d.db.prepare('SELECT token_hash FROM api_tokens').get() as { token_hash: string };
  assert.notEqual(row.token_hash, token, 'stored hashed');
  const r = await send('POST', '/api/v1/reinstall', { label: 'rack1' }, { authorization: `Bearer ${token}` });
  assert.equal(r.status, 200);
  const res = ((await r.json()) as { results: { host: string; already: boolean }[] }).results;
  assert.deepEqual(res.map((x) => [x.host, x.already]), [['alpha', true], ['beta', false]]);
  const del = await fetch(`${w.base}/api/v1/hosts/beta/reinstall`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  assert.equal(del.status, 200);
  const audit = ((await (await get('/api/v1/audit?action=reinstall', { authorization: `Bearer ${token}` })).json()) as { audit: { actor: string; action: string; target: string; detail: string }[] }).audit;
  assert.deepEqual(
    audit.map((a) => [a.actor, a.action, a.target]),
    [
      ['admin (token ci)', 'reinstall.cancel', 'beta'],
      ['admin (token ci)', 'reinstall.mark', 'beta'],
      ['admin (token ci)', 'reinstall.mark', 'alpha'],
      ['admin', 'reinstall.mark', 'alpha'],
    ],
  );
  assert.match(audit[1].detail, /^marked \(run \d+\); selection label=rack1$/);
});

test('discovered MACs come with an inventory snippet', async () => {
  await get('/boot.ipxe?mac=52-54-00-FF-00-09');
  const d = (await (await get('/api/v1/discovered', { cookie: s.cookie })).json()) as { discovered: { mac: string; snippet: string }[]; snippet: string };
  assert.equal(d.discovered[0].mac, '52:54:00:ff:00:09');
  assert.match(d.discovered[0].snippet, /^ {2}- name: host-525400ff0009.*\n {4}macs: \["52:54:00:ff:00:09"\]\n {4}roles: \[tiny\]\n$/);
  assert.equal(d.snippet, d.discovered[0].snippet);
});

test('sessions expire after sessionTtlSeconds (fake clock)', async () => {
  const fresh = await login(w.base);
  assert.equal((await get('/api/v1/hosts', { cookie: fresh.cookie })).status, 200);
  clock.advance(3599_000);
  assert.equal((await get('/api/v1/hosts', { cookie: fresh.cookie })).status, 200);
  clock.advance(2_000);
  const r = await get('/api/v1/hosts', { cookie: fresh.cookie });
  assert.equal(r.status, 401);
  assert.equal((await errorOf(r)).code, 'FB_UNAUTHENTICATED');
  assert.equal((await get('/', { cookie: fresh.cookie, accept: 'text/html' })).status, 303);
});

test('logout ends the session', async () => {
  const x = await login(w.base);
  const r = await fetch(`${w.base}/logout`, { method: 'POST', headers: { cookie: x.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: `_csrf=${x.csrf}`, redirect: 'manual' });
  assert.equal(r.status, 303);
  assert.equal((await get('/api/v1/hosts', { cookie: x.cookie })).status, 401);
});

test('login rate limit per address: 429 after loginMaxAttempts failures, even for the right password', async () => {
  const c = new FakeClock();
  const e = await startWeb({ clock: c, web: { loginMaxAttempts: 3, loginWindowSeconds: 60 } });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await login(e.base, 'admin', 'guess number ' + i)).status, 401);
    const r = await fetch(`${e.base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN.password }) });
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '60');
    assert.deepEqual(await errorOf(r), { code: 'FB_RATE_LIMITED', message: 'too many attempts, try again later' });
    const form = await formPost(e.base, '/login', await loginForm(e.base), { username: 'admin', password: 'x' });
    assert.equal(form.status, 429);
    assert.match(await form.text(), /Too many failed sign-ins/);
    c.advance(61_000);
    assert.equal((await login(e.base)).status, 200);
    const failed = e.d.db.prepare("SELECT COUNT(*) n FROM audit_log WHERE action = 'login.failed'").get() as { n: number };
    assert.equal(failed.n, 3);
  } finally {
    await e.stop();
  }
});

test('first admin via the one-time setup token; then the token stops working', async () => {
  const lines: { level: number; msg: string; url?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  const e = await startWeb({ withAdmin: false, log });
  try {
    const token = e.web.setupToken()!;
    assert.ok(token);
    const warned = lines.filter((l) => l.url?.includes('/setup?token='));
    assert.equal(warned.length, 1, 'printed once');
    assert.equal(warned[0].level, 40, 'at warn level');
    assert.equal(warned[0].url, `${e.base}/setup?token=${token}`);
    assert.equal((await fetch(`${e.base}/login`)).status, 200);
    const pre = await loginForm(e.base, `/setup?token=${token}`);
    assert.ok(pre.field);
    const post = (t: string, name: string, p = pre) => formPost(e.base, '/setup', p, { token: t, username: name, password: 'a long password', password2: 'a long password' });
    assert.equal((await post('wrong', 'root')).status, 403);
    const csrf = await post(token, 'root', { cookie: '', field: pre.field });
    assert.equal(csrf.status, 403, 'the setup form needs the pre-session pair too');
    assert.match(await csrf.text(), /This form expired or did not come from this site/);
    assert.deepEqual(e.d.db.prepare('SELECT COUNT(*) n FROM users').get(), { n: 0 });
    const ok = await post(token, 'root');
    assert.equal(ok.status, 303);
    assert.match(ok.headers.getSetCookie()[0], /^fb_session=/);
    const again = await post(token, 'second');
    assert.equal(again.status, 303);
    assert.equal(again.headers.get('location'), '/login');
    assert.deepEqual(e.d.db.prepare('SELECT name FROM users').all(), [{ name: 'root' }]);
    assert.equal((await login(e.base, 'root', 'a long password')).status, 200);
  } finally {
    await e.stop();
  }
});

test('the setup token expires after setupTokenTtlSeconds (fake clock)', async () => {
  const c = new FakeClock();
  const e = await startWeb({ withAdmin: false, clock: c, web: { setupTokenTtlSeconds: 600 } });
  try {
    const token = e.web.setupToken()!;
    const pre = await loginForm(e.base, `/setup?token=${token}`);
    const post = () => formPost(e.base, '/setup', pre, { token, username: 'root', password: 'a long password', password2: 'a long password' });
    c.advance(600_000);
    const r = await post();
    assert.equal(r.status, 403);
    assert.match(await r.text(), /That setup token has expired \(they last 10 min\)/);
    assert.deepEqual(e.d.db.prepare('SELECT COUNT(*) n FROM users').get(), { n: 0 });
    c.advance(-1); // one millisecond before the end it still works
    assert.equal((await post()).status, 303);
    assert.deepEqual(e.d.db.prepare('SELECT name FROM users').all(), [{ name: 'root' }]);
  } finally {
    await e.stop();
  }
});

test('`fleetboot user add` takes the password from FLEETBOOT_SECRET_ADMIN_PASSWORD and refuses weak ones', async () => {
  const saved = process.env.FLEETBOOT_SECRET_ADMIN_PASSWORD;
  const quiet = console.log;
  const quietErr = console.error;
  console.log = console.error = () => {};
  try {
    process.env.FLEETBOOT_SECRET_ADMIN_PASSWORD = 'short';
    assert.equal(await userCommand(['add', 'ops'], new Map(), { db: w.d.db, log: silentLogger() }), 2);
    process.env.FLEETBOOT_SECRET_ADMIN_PASSWORD = 'ops password 123';
    assert.equal(await userCommand(['add', 'ops'], new Map(), { db: w.d.db, log: silentLogger() }), 0);
    assert.equal(await userCommand(['add', 'Bad Name'], new Map(), { db: w.d.db, log: silentLogger() }), 2);
    assert.equal(await userCommand(['token', 'nobody'], new Map(), { db: w.d.db, log: silentLogger() }), 1);
  } finally {
    console.log = quiet;
    console.error = quietErr;
    if (saved === undefined) delete process.env.FLEETBOOT_SECRET_ADMIN_PASSWORD;
    else process.env.FLEETBOOT_SECRET_ADMIN_PASSWORD = saved;
  }
  assert.equal((await login(w.base, 'ops', 'ops password 123')).status, 200);
  const row = w.d.db.prepare("SELECT pw_hash FROM users WHERE name = 'ops'").get() as { pw_hash: string };
  assert.match(row.pw_hash, /^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
});
