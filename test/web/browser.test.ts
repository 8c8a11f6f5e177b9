// The admin UI in real headless Chromium: sign in, filter, select two hosts, reinstall them
// through the confirm dialog, watch their rows follow progress callbacks over SSE (no reload),
// cancel one, see a change made by the CLI in another process, the host page's live log,
// discovered MACs and the audit log. Screenshots go to test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startWeb, ADMIN, type WebEnv } from './helper.js';
import { REPO } from '../helpers/fixture.js';

const ART = join(REPO, 'test-artifacts');
const run = promisify(execFile);
let w: WebEnv;
let browser: Browser;
let page: Page;

before(async () => {
  mkdirSync(ART, { recursive: true });
  w = await startWeb({ pollMs: 200 });
  // no skip when Chromium is missing: launch() throws and the suite fails
  browser = await chromium.launch({
    executablePath: process.env.FLEETBOOT_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1360, height: 760 } });
  page.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
});
after(async () => {
  await browser?.close();
  await w?.stop();
});

const shot = (name: string) => page.screenshot({ path: join(ART, `${name}.png`), fullPage: true });
const row = (host: string) => page.locator(`#hosts tbody tr[data-host="${host}"]`);
const visibleHosts = () => page.locator('#hosts tbody tr[data-host]').evaluateAll((trs) => trs.map((t) => (t as unknown as { dataset: { host: string } }).dataset.host));
const tokenOf = (host: string) => w.d.store.openRun(host)!.token;
/** The table is filled from /hosts.json after each filter or sort: wait for the rows asked. */
async function waitHosts(want: string[], timeout = 10_000) {
  const until = Date.now() + timeout;
  let got: string[] = [];
  while (Date.now() < until) {
    got = await visibleHosts();
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    await page.waitForTimeout(50);
  }
  assert.deepEqual(got, want);
}

test('sign in redirects back to the hosts table', async () => {
  await page.goto(`${w.base}/`);
  assert.match(page.url(), /\/login$/);
  await page.fill('input[name=username]', ADMIN.name);
  await page.fill('input[name=password]', 'not the password');
  await page.click('button.primary');
  await page.locator('.error').waitFor();
  assert.match(await page.locator('.error').innerText(), /Wrong user name or password/);
  await shot('01-login-error');
  await page.fill('input[name=password]', ADMIN.password);
  await page.click('button.primary');
  await page.waitForURL(`${w.base}/`);
  await waitHosts(['alpha', 'beta', 'gamma']);
  await page.locator('#live:not([hidden])').waitFor();
});

test('filter, select two, reinstall with a confirm step; rows follow progress live', async () => {
  await page.evaluate('window.marker = 42');
  await page.selectOption('#f-role', 'tiny');
  await waitHosts(['alpha', 'gamma']);
  assert.match(page.url(), /\?role=tiny$/);
  await page.fill('#f-name', 'alp');
  await waitHosts(['alpha']);
  await page.fill('#f-name', '');
  await waitHosts(['alpha', 'gamma']);
  await row('alpha').locator('input[type=checkbox]').check();
  await row('gamma').locator('input[type=checkbox]').check();
  assert.equal(await page.locator('#selcount').innerText(), '2 selected');
  await page.click('#btn-reinstall');
  const dlg = page.locator('dialog#confirm');
  await dlg.waitFor();
  assert.equal(await page.locator('#confirm-title').innerText(), 'Reinstall 2 hosts?');
  assert.deepEqual(await page.locator('#confirm-names li').allInnerTexts(), ['alpha', 'gamma']);
  await shot('02-confirm-dialog');
  // Back first: nothing happens
  await page.click('#confirm-back');
  await page.waitForTimeout(300);
  assert.equal(w.d.store.isMarked('alpha'), false);
  await page.click('#btn-reinstall');
  await page.click('#confirm-ok');
  await row('alpha').locator('.badge.st-marked').waitFor();
  await row('gamma').locator('.badge.st-marked').waitFor();
  assert.equal(w.d.store.run(w.d.store.openRun('alpha')!.id)!.marked_by, 'admin');

  // the installer side, driven from the test: PXE boot, then progress callbacks
  const ipxe = await (await fetch(`${w.base}/boot.ipxe?mac=52:54:00:aa:00:01`)).text();
  assert.match(ipxe, /installing tiny on alpha/);
  await row('alpha').locator('.badge.st-booting').waitFor();
  const cb = `${w.base}/i/${tokenOf('alpha')}/progress`;
  assert.equal(await (await fetch(`${cb}?stage=partitioning&message=wiping+sda1`)).text(), 'ok installing\n');
  await row('alpha').locator('.badge.st-installing').waitFor();
  await row('alpha').locator('td.stage', { hasText: /^partitioning\s*wiping sda1$/ }).waitFor();
  assert.equal(await row('alpha').locator('progress').getAttribute('value'), '20');
  await fetch(cb, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'stage=packages&message=installing+openssh-server' });
  await row('alpha').locator('.pct', { hasText: /^60%$/ }).waitFor();
  assert.equal(await row('alpha').locator('td.stage').innerText(), 'packages\ninstalling openssh-server');
  await shot('03-installing-live');

  // cancel one of the two
  await row('gamma').locator('input[type=checkbox]').check();
  await page.click('#btn-cancel');
  assert.equal(await page.locator('#confirm-title').innerText(), 'Cancel reinstall of 1 host?');
  await page.click('#confirm-ok');
  await row('gamma').locator('.badge.st-cancelled').waitFor();
  assert.equal(w.d.store.isMarked('gamma'), false);
  await page.locator('#toast:not([hidden])').waitFor();
  assert.match(await page.locator('#toast').innerText(), /Cancelled: 1 host/);

  await fetch(`${cb}?stage=done`);
  await row('alpha').locator('.badge.st-done').waitFor();
  assert.equal(await row('alpha').locator('.pct').innerText(), '100%');
  assert.equal(await page.evaluate('window.marker'), 42, 'no page reload happened');
  await page.click('#f-clear');
  await shot('04-hosts-done');
});

test('a reinstall marked by the CLI in another process shows up (PRAGMA data_version poll)', async () => {
  const cli = join(REPO, 'dist/src/cli.js');
  // async: the daemon lives in this process; a sync child would freeze it
  const out = await run('node', [cli, '--config', w.fx.configFile, 'reinstall', 'beta'], { encoding: 'utf8', env: { PATH: process.env.PATH, USER: 'ops' } });
  assert.match(out.stdout, /^beta: marked/);
  await row('beta').locator('.badge.st-marked').waitFor({ timeout: 10_000 });
  assert.equal(await page.evaluate('window.marker'), 42);
});

test('sorting by a column header', async () => {
  await page.click('th[data-sort=state] a');
  await waitHosts(['gamma', 'alpha', 'beta']); // cancelled, done, marked
  assert.equal(await page.locator('th[data-sort=state]').getAttribute('aria-sort'), 'ascending');
  assert.match(page.url(), /\?sort=state$/, 'the sort order is in the URL');
  await page.click('th[data-sort=state] a');
  await waitHosts(['beta', 'alpha', 'gamma']);
  assert.match(page.url(), /\?sort=state&dir=desc$/);
  // a reload keeps it (the server sorts the first page the same way)
  await page.reload();
  await waitHosts(['beta', 'alpha', 'gamma']);
  assert.equal(await page.locator('th[data-sort=state]').getAttribute('aria-sort'), 'descending');
  await page.goto(`${w.base}/`);
  await waitHosts(['alpha', 'beta', 'gamma']);
});

test('host page: timeline and installer log lines arrive live', async () => {
  await page.click('#hosts a[href="/hosts/beta"]');
  await page.waitForURL(`${w.base}/hosts/beta`);
  assert.match(await page.locator('#timeline tbody').innerText(), /marked for reinstall by cli:ops/);
  await fetch(`${w.base}/boot.ipxe?mac=52:54:00:aa:00:02`);
  await page.locator('#h-state.st-booting').waitFor();
  const cb = `${w.base}/i/${tokenOf('beta')}/progress`;
  await fetch(`${cb}?stage=base-install&message=debootstrap`);
  w.d.installs.logLine('beta', 'main-menu[1234]: INFO: Menu item \'bootstrap-base\' selected', '127.0.0.1');
  w.d.installs.logLine('beta', '<script>alert(1)</script> stays text', '127.0.0.1');
  await page.locator('#log', { hasText: '<script>alert(1)</script> stays text' }).waitFor();
  assert.match(await page.locator('#log').innerText(), /Menu item 'bootstrap-base' selected/);
  await page.locator('#timeline tbody', { hasText: 'debootstrap' }).waitFor();
  // the state change that came with the first progress callback is on the timeline too
  await page.locator('#timeline tbody tr.k-state', { hasText: 'installing' }).waitFor();
  assert.equal(await page.locator('#h-pct').innerText(), '35%');
  await shot('05-host-page');
});

test('discovered page lists unknown MACs with a copyable snippet; the audit page shows who did what', async () => {
  await fetch(`${w.base}/boot.ipxe?mac=52:54:00:ff:00:42`);
  await page.goto(`${w.base}/discovered`);
  assert.match(await page.locator('#all-snippet').innerText(), /- name: host-525400ff0042 .*\n\s+macs: \["52:54:00:ff:00:42"\]\s+roles: \[tiny\]/);
  await page.click('button.copy[data-copy=all-snippet]');
  await page.locator('#toast:not([hidden])').waitFor();
  await shot('06-discovered');
  await page.goto(`${w.base}/audit`);
  const text = await page.locator('table.audit tbody').innerText();
  assert.match(text, /admin\treinstall\.cancel\tgamma/);
  assert.match(text, /admin\treinstall\.mark\talpha/);
  assert.match(text, /admin\tlogin\tadmin/);
  assert.match(text, /cli:ops\treinstall\.mark\tbeta/, 'the CLI mark from another process is audited too');
  await shot('07-audit');
});
