// Marking a host whose role cannot boot (kernel/initrd missing, or no image for an image role)
// is refused through the API and the UI form with the missing paths, nothing of the batch is
// marked; "force" marks anyway and the audit log says so. Real HTTP (fetch) against the app.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWeb, login, type WebEnv } from './helper.js';
import { INVENTORY } from '../helpers/fixture.js';
import { bootFilesMissing } from '../../src/boot/missing.js';

let w: WebEnv;
let s: { cookie: string; csrf: string };

before(async () => {
  // role slow boots from its own initrd here, which stays: only tiny cannot boot
  w = await startWeb({ inventory: INVENTORY.replace(/(slow:\n(?:.*\n)*?\s+initrd: )tiny\/initrd\.img/, '$1slow/initrd.img') });
  w.fx.write('assets/slow/initrd.img', 'slow-initrd');
  s = await login(w.base);
  rmSync(join(w.fx.dir, 'assets/tiny/initrd.img'));
});
after(async () => {
  await w.stop();
});

const api = (method: string, path: string, body: unknown) =>
  fetch(`${w.base}/api/v1${path}`, { method, headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, 'content-type': 'application/json' }, body: JSON.stringify(body) });
const form = (fields: [string, string][]) =>
  fetch(`${w.base}/reinstall`, { method: 'POST', headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString(), redirect: 'manual' });

test('API: 409 with the missing paths, nothing of the batch marked; force marks and is audited', async () => {
  const initrd = join(w.fx.dir, 'assets/tiny/initrd.img');
  let r = await api('POST', '/reinstall', { hosts: ['alpha', 'beta'] });
  assert.equal(r.status, 409);
  const body = (await r.json()) as { error: { code: string; message: string; details: { missing: Record<string, string[]>; hosts: string[] } } };
  assert.equal(body.error.code, 'FB_CONFLICT');
  assert.deepEqual(body.error.details.missing, { tiny: [initrd] });
  assert.deepEqual(body.error.details.hosts, ['alpha']);
  assert.match(body.error.message, /role "tiny" is missing .*initrd\.img/);
  assert.equal(w.d.store.isMarked('alpha'), false);
  assert.equal(w.d.store.isMarked('beta'), false, 'beta (role slow boots fine) is not marked either: all or nothing');
  r = await api('POST', '/hosts/gamma/reinstall', {});
  assert.equal(r.status, 409);
  assert.deepEqual(((await r.json()) as { error: { details: { missing: string[] } } }).error.details.missing, [initrd]);
  assert.equal(w.d.store.isMarked('gamma'), false);
  r = await api('POST', '/reinstall', { hosts: ['alpha'], force: 'yes' });
  assert.equal(r.status, 400, 'force must be a boolean');
  r = await api('POST', '/reinstall', { hosts: ['alpha', 'beta'], force: true });
  assert.equal(r.status, 200);
  assert.equal(w.d.store.isMarked('alpha'), true);
  const audit = (await (await fetch(`${w.base}/api/v1/audit?target=alpha`, { headers: { cookie: s.cookie } })).json()) as { audit: { detail: string }[] };
  assert.match(audit.audit[0].detail, /FORCED although boot files are missing: .*initrd\.img/);
  // cancelling never needs the files
  r = await api('POST', '/reinstall/cancel', { hosts: ['alpha'] });
  assert.equal(r.status, 200);
});

test('UI form: the confirmation page lists the missing files; confirming without "force" marks nothing', async () => {
  const ask = await form([['_csrf', s.csrf], ['action', 'mark'], ['hosts', 'gamma'], ['back', '/?']]);
  assert.equal(ask.status, 200);
  const html = await ask.text();
  assert.match(html, /role <b>tiny<\/b> is missing <code>[^<]*initrd\.img<\/code>/);
  assert.match(html, /name="force"/);
  const refused = await form([['_csrf', s.csrf], ['action', 'mark'], ['hosts', 'gamma'], ['back', '/?'], ['confirm', 'yes']]);
  assert.equal(refused.status, 409);
  assert.match(await refused.text(), /Nothing was marked/);
  assert.equal(w.d.store.isMarked('gamma'), false);
  const forced = await form([['_csrf', s.csrf], ['action', 'mark'], ['hosts', 'gamma'], ['back', '/?'], ['confirm', 'yes'], ['force', 'on']]);
  assert.equal(forced.status, 303);
  assert.equal(w.d.store.isMarked('gamma'), true);
  // the hosts page says which role cannot boot
  const page = await (await fetch(`${w.base}/`, { headers: { cookie: s.cookie } })).text();
  assert.match(page, /id="unbootable"[\s\S]*tiny[\s\S]*initrd\.img/);
});

test('image roles need a manifest under paths.images/<role>/', () => {
  const dir = join(w.fx.dir, 'images');
  const config = { paths: { ...w.d.holder.config.paths, images: dir }, roles: { img: { ...w.d.holder.config.roles.tiny, installer: 'image' as const } } };
  assert.deepEqual(bootFilesMissing(config, 'img'), [join(w.fx.dir, 'assets/tiny/initrd.img'), join(dir, 'img', '*.json')]);
  mkdirSync(join(dir, 'img'), { recursive: true });
  writeFileSync(join(dir, 'img', 'abc.ext4.zst'), 'x');
  assert.equal(bootFilesMissing(config, 'img').length, 2, 'an image without its manifest is not complete');
  writeFileSync(join(dir, 'img', 'abc.json'), '{}');
  assert.deepEqual(bootFilesMissing(config, 'img'), [join(w.fx.dir, 'assets/tiny/initrd.img')]);
  assert.deepEqual(bootFilesMissing(config, 'nosuch'), []);
});
