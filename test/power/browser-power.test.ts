// Power in the admin UI in real headless Chromium: the reinstall dialog's "Also boot them now"
// (JS path: the API with power: true), the power column, and the host page's power buttons.
// The manual driver answers here (a real driver: it returns the operator's instruction); the
// BMC drivers are tested against their simulators.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeFixture, startDaemon, INVENTORY, type Fixture } from '../helpers/fixture.js';
import { ADMIN } from '../web/helper.js';
import { AuthStore } from '../../src/web/auth.js';
import type { Daemon } from '../../src/daemon.js';

let fx: Fixture;
let d: Daemon;
let base: string;
let browser: Browser;
let page: Page;

before(async () => {
  const inv = INVENTORY.replace('    labels: [rack1]\n  - name: beta', '    labels: [rack1]\n    power: { driver: manual, address: rack4-u12 }\n  - name: beta');
  fx = makeFixture('', inv, { web: '  enabled: true\n' });
  ({ d, base } = await startDaemon(fx));
  await new AuthStore(d.db).setUser(ADMIN.name, ADMIN.password, 'test');
  browser = await chromium.launch({ executablePath: process.env.FLEETBOOT_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  page = await browser.newPage();
  page.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
});
after(async () => {
  await browser?.close();
  await d?.stop();
  fx?.cleanup();
});

test('reinstall dialog with "Also boot them now": marked, power step on the timeline, the toast says what to do', async () => {
  await page.goto(`${base}/`);
  await page.fill('input[name=username]', ADMIN.name);
  await page.fill('input[name=password]', ADMIN.password);
  await page.click('button.primary');
  await page.waitForURL(`${base}/`);
  const alpha = page.locator('#hosts tbody tr[data-host="alpha"]');
  assert.equal(await alpha.locator('td.power').innerText(), '?');
  assert.equal(await page.locator('#hosts tbody tr[data-host="beta"] td.power').innerText(), '—');
  await alpha.locator('input[type=checkbox]').check();
  await page.click('#btn-cancel');
  assert.equal(await page.locator('#confirm-power-row').isVisible(), false, 'no power option when cancelling');
  await page.click('#confirm-back');
  await page.click('#btn-reinstall');
  assert.equal(await page.locator('#confirm-power').isChecked(), false, 'off unless ticked');
  await page.check('#confirm-power');
  await page.click('#confirm-ok');
  await page.locator('#toast', { hasText: 'alpha: power alpha (rack4-u12): boot it from the network once' }).waitFor();
  await alpha.locator('.badge.st-marked').waitFor();
  const run = d.store.openRun('alpha')!;
  assert.deepEqual(d.store.events({ runId: run.id, kinds: ['power'] }).map((e) => e.stage), ['power.pxe', 'power.done']);
  assert.equal(await alpha.locator('td.power').innerText(), '?', 'live row updates keep the power column');
});

test('host page: power buttons act (audited as the user) and show the outcome', async () => {
  await page.goto(`${base}/hosts/alpha`);
  await page.locator('#power-panel').waitFor();
  await page.click('#power-panel button[value=on]');
  await page.waitForURL(`${base}/hosts/alpha`);
  await page.locator('.notice', { hasText: 'alpha: on manual: alpha (rack4-u12): power it on by hand' }).waitFor();
  const rows = new AuthStore(d.db).auditLog({ action: 'power.on' }) as { actor: string; target: string }[];
  assert.deepEqual(rows.map((r) => [r.actor, r.target]), [[ADMIN.name, 'alpha']]);
  await page.goto(`${base}/hosts/beta`);
  assert.equal(await page.locator('#power-panel').count(), 0);
});
