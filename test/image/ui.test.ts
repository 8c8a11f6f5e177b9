// The Images page through the real Daemon with the UI on: listed roles and states, the nav
// link, a build started from the page (CSRF required, audited), its failure shown with the
// failing step; HTML-escaped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeFixture, startDaemon, type Fixture } from '../helpers/fixture.js';
import type { Daemon } from '../../src/daemon.js';
import { AuthStore } from '../../src/web/auth.js';
import { ADMIN, login } from '../web/helper.js';

const INVENTORY = `
roles:
  img:
    installer: image
  bad-suite:
    installer: image
    suite: no-such-suite
  answers:
    kernel: tiny/vmlinuz
    initrd: tiny/initrd.img
    template: tiny.cfg
hosts:
  - name: alpha
    macs: ["52:54:00:aa:00:01"]
    roles: [answers]
`;
let fx: Fixture;
let d: Daemon;
let base: string;
let s: { cookie: string; csrf: string };

before(async () => {
  fx = makeFixture('', INVENTORY, { web: '  enabled: true\n' });
  writeFileSync(fx.configFile, readFileSync(fx.configFile, 'utf8').replace('  templates: templates\n', '  templates: templates\n  images: images\n'));
  mkdirSync(join(fx.dir, 'images'));
  ({ d, base } = await startDaemon(fx));
  await new AuthStore(d.db).setUser(ADMIN.name, ADMIN.password, 'test');
  s = await login(base);
});
after(async () => {
  await d?.stop();
  fx.cleanup();
});

const page = async () => {
  const r = await fetch(`${base}/role-images`, { headers: { cookie: s.cookie } });
  assert.equal(r.status, 200);
  return r.text();
};
const post = (body: Record<string, string>) =>
  fetch(`${base}/role-images/build`, { method: 'POST', headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body).toString(), redirect: 'manual' });

test('the page lists image roles with their state and a build button; the nav links to it; login required', async () => {
  const anon = await fetch(`${base}/role-images`, { redirect: 'manual' });
  assert.equal(anon.status, 303);
  assert.match(anon.headers.get('location') ?? '', /^\/login\?next=%2Frole-images$/);
  const html = await page();
  assert.match(html, /<a href="\/role-images" aria-current="page">Images<\/a>/);
  assert.match(html, /<tr data-role="img">[\s\S]*?<span class="badge st-idle">none<\/span>[\s\S]*?<button >Build<\/button>/);
  assert.match(html, /<tr data-role="bad-suite">/);
  assert.doesNotMatch(html, /data-role="answers"/, 'answer-file roles are not image roles');
});

test('Build from the page: CSRF required; the failure shows its step; audited with the user', async () => {
  const forged = await post({ role: 'bad-suite' });
  assert.equal(forged.status, 403, 'no CSRF token');
  const r = await post({ role: 'bad-suite', _csrf: s.csrf });
  assert.equal(r.status, 303);
  assert.equal(r.headers.get('location'), '/role-images');
  let html = await page();
  assert.match(html, /Build of bad-suite started/, 'the one-time notice, on the page the redirect leads to');
  for (let i = 0; i < 100; i++) {
    html = await page();
    if (/st-failed/.test(html)) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.match(html, /<tr data-role="bad-suite">[\s\S]*?<span class="badge st-failed">failed<\/span>[\s\S]*?step prepare failed: debootstrap does not know suite &quot;no-such-suite&quot;/);
  const nope = await post({ role: '<script>x</script>', _csrf: s.csrf });
  assert.equal(nope.status, 303);
  html = await page();
  assert.match(html, /Not started: unknown role &quot;&lt;script&gt;x&lt;\/script&gt;&quot;/);
  const audit = new AuthStore(d.db).auditLog({ action: 'image.build' }) as { actor: string; target: string; detail: string }[];
  assert.deepEqual(audit.map((a) => [a.actor, a.target, a.detail.replace(/:.*/, '')]).sort(), [[ADMIN.name, '<script>x</script>', 'refused'], [ADMIN.name, 'bad-suite', 'started']].sort());
});
