// The server-rendered side without a browser: the no-JavaScript confirm step, API tokens
// made in the UI, security headers, escaping, and the event stream's framing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWeb, login, type WebEnv } from './helper.js';

let w: WebEnv;
let s: { cookie: string; csrf: string };

before(async () => {
  w = await startWeb();
  s = await login(w.base);
});
after(async () => {
  await w.stop();
});

const form = (path: string, fields: [string, string][]) =>
  fetch(`${w.base}${path}`, { method: 'POST', headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString(), redirect: 'manual' });

test('no-JS reinstall: first post shows how many hosts, the second (confirm=yes) marks them', async () => {
  const r1 = await form('/reinstall', [['_csrf', s.csrf], ['action', 'mark'], ['hosts', 'alpha'], ['hosts', 'beta'], ['hosts', 'nosuch'], ['back', '/?role=tiny']]);
  assert.equal(r1.status, 200);
  const html = await r1.text();
  assert.match(html, /<h1>Reinstall 2 hosts\?<\/h1>/);
  assert.match(html, /<input type="hidden" name="confirm" value="yes">/);
  assert.equal(w.d.store.isMarked('alpha'), false, 'nothing happens before the confirm');
  const r2 = await form('/reinstall', [['_csrf', s.csrf], ['action', 'mark'], ['hosts', 'alpha'], ['hosts', 'beta'], ['back', '/?role=tiny'], ['confirm', 'yes']]);
  assert.equal(r2.status, 303);
  assert.equal(r2.headers.get('location'), '/?role=tiny', 'the notice does not travel in the URL');
  assert.equal(w.d.store.isMarked('alpha'), true);
  const page = await (await fetch(`${w.base}/?role=tiny`, { headers: { cookie: s.cookie } })).text();
  assert.match(page, /<p class="notice" role="status">2 hosts marked for reinstall\./);
  assert.match(page, /<tr data-host="alpha" class="st-marked">/);
  assert.doesNotMatch(page, /<tr data-host="beta"/, 'server-side filter applies without JS');
  const again = await (await fetch(`${w.base}/?role=tiny`, { headers: { cookie: s.cookie } })).text();
  assert.doesNotMatch(again, /class="notice"/, 'shown once');
  // the old URL-driven notice: a crafted link must not make the UI claim anything
  const crafted = await (await fetch(`${w.base}/?n=marked&c=1000`, { headers: { cookie: s.cookie } })).text();
  assert.doesNotMatch(crafted, /class="notice"|1000 hosts/);
  const r3 = await form('/reinstall', [['_csrf', s.csrf], ['action', 'cancel'], ['hosts', 'beta'], ['confirm', 'yes'], ['back', 'https://evil.example/']]);
  assert.equal(r3.headers.get('location'), '/?', 'back is only ever a local hosts-table URL');
  assert.match(await (await fetch(`${w.base}/?`, { headers: { cookie: s.cookie } })).text(), /Reinstall cancelled for 1 host\./);
  const audit = w.d.db.prepare("SELECT actor, action, target, detail FROM audit_log WHERE action LIKE 'reinstall%' ORDER BY id").all();
  assert.deepEqual(audit, [
    { actor: 'admin', action: 'reinstall.mark', target: 'alpha', detail: 'marked (run 1); web UI' },
    { actor: 'admin', action: 'reinstall.mark', target: 'beta', detail: 'marked (run 2); web UI' },
    { actor: 'admin', action: 'reinstall.cancel', target: 'beta', detail: 'cancelled run 2; web UI' },
  ]);
});

test('an API token created on the account page works once shown, and can be revoked', async () => {
  const r = await form('/account/tokens', [['_csrf', s.csrf], ['name', 'ansible']]);
  assert.equal(r.status, 200);
  const token = /<pre id="new-token">(fb_[A-Za-z0-9_-]+)<\/pre>/.exec(await r.text())?.[1];
  assert.ok(token);
  const api = () => fetch(`${w.base}/api/v1/hosts`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal((await api()).status, 200);
  const acct = await (await fetch(`${w.base}/account`, { headers: { cookie: s.cookie } })).text();
  assert.doesNotMatch(acct, new RegExp(token!), 'never shown again');
  const id = /action="\/account\/tokens\/(\d+)\/revoke"/.exec(acct)![1];
  assert.equal((await form(`/account/tokens/${id}/revoke`, [['_csrf', s.csrf]])).status, 303);
  assert.equal((await api()).status, 401);
});

test('pages carry a strict CSP and no-store; installer text is escaped', async () => {
  w.d.installs.mark(['gamma'], 'test');
  const t = w.d.store.openRun('gamma')!.token;
  await fetch(`${w.base}/boot.ipxe?mac=52:54:00:aa:00:03`);
  await fetch(`${w.base}/i/${t}/progress?stage=packages&message=${encodeURIComponent('</script><img src=x onerror=alert(1)>')}`);
  const r = await fetch(`${w.base}/`, { headers: { cookie: s.cookie } });
  assert.match(r.headers.get('content-security-policy')!, /script-src 'self';/);
  assert.equal(r.headers.get('x-frame-options'), 'DENY');
  assert.equal(r.headers.get('cache-control'), 'no-store');
  const html = await r.text();
  assert.doesNotMatch(html, /<img src=x/);
  assert.match(html, /<div class="msg small muted">&lt;\/script&gt;&lt;img src=x onerror=alert\(1\)&gt;<\/div>/, 'the message is text in the table');
  assert.doesNotMatch(html, /id="hosts-data"/, 'no JSON island of the whole inventory');
  const json = (await (await fetch(`${w.base}/hosts.json?name=gamma`, { headers: { cookie: s.cookie } })).json()) as { rows: { message: string }[] };
  assert.equal(json.rows[0].message, '</script><img src=x onerror=alert(1)>');
  const host = await (await fetch(`${w.base}/hosts/gamma`, { headers: { cookie: s.cookie } })).text();
  assert.match(host, /&lt;\/script&gt;&lt;img src=x onerror=alert\(1\)&gt;/);
});

test('the event stream needs a login and speaks text/event-stream', async () => {
  assert.equal((await fetch(`${w.base}/events/stream`, { headers: { accept: 'text/event-stream' } })).status, 401);
  const ac = new AbortController();
  const r = await fetch(`${w.base}/events/stream`, { headers: { cookie: s.cookie, accept: 'text/event-stream' }, signal: ac.signal });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type')!, /^text\/event-stream/);
  const reader = r.body!.getReader();
  let buf = '';
  const until = async (re: RegExp) => {
    while (!re.test(buf)) {
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended');
      buf += Buffer.from(value).toString('utf8');
    }
  };
  await until(/event: refresh\ndata: \{\}\n/);
  w.d.installs.mark(['alpha'], 'test'); // already marked: no change, no event
  w.d.installs.logLine('alpha', 'hello from the installer');
  await until(/event: event\ndata: \{[^\n]*"message":"hello from the installer"/);
  assert.match(buf, /event: host\ndata: \{"name":"alpha"/);
  ac.abort();
});

test('the audit log\'s "Older entries" link keeps filter values intact (URL-encoded)', async () => {
  const { AuthStore } = await import('../../src/web/auth.js');
  const a = new AuthStore(w.d.db);
  const actor = 'ops & co?target=x#1';
  for (let i = 0; i < 105; i++) a.audit({ actor, action: 'reinstall.mark', target: 'alpha', detail: `n${i}` });
  const page = async (href: string) => (await fetch(`${w.base}${href}`, { headers: { cookie: s.cookie } })).text();
  const first = await page(`/audit?${new URLSearchParams({ actor, target: 'alpha' })}`);
  const href = /<a href="([^"]+)" id="older">/.exec(first)![1].replace(/&amp;/g, '&');
  const q = new URL(href, w.base).searchParams;
  assert.equal(q.get('actor'), actor);
  assert.equal(q.get('target'), 'alpha');
  assert.equal(q.get('action'), '');
  assert.match(q.get('before')!, /^\d+$/);
  const second = await page(href);
  assert.equal((second.match(/<tr class="a-reinstall-mark">/g) ?? []).length, 5, 'the older page has the remaining 5 of 105');
});
