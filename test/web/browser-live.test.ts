// The admin UI in real headless Chromium (playwright-core, /usr/bin/chromium): the host page
// follows a run to its end without a reload (header, "Install runs" and "Last install"
// together), a failed host's reason is visible in the table, timestamps name their zone
// (browser local, UTC in the title), state chips filter, shift-click selects a range, and
// at 390 px wide no page scrolls sideways. Screenshots go to test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startWeb, ADMIN, FakeClock, type WebEnv } from './helper.js';
import { REPO } from '../helpers/fixture.js';

const ART = join(REPO, 'test-artifacts');
let w: WebEnv;
let browser: Browser;
let page: Page;
const clock = new FakeClock(Date.now());

before(async () => {
  mkdirSync(ART, { recursive: true });
  w = await startWeb({ pollMs: 200, clock });
  browser = await chromium.launch({
    executablePath: process.env.FLEETBOOT_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // a zone other than UTC, so "local time with its zone" is visible as such
  page = await browser.newPage({ viewport: { width: 1360, height: 800 }, timezoneId: 'Europe/Berlin' });
  page.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
  await page.goto(`${w.base}/login`);
  await page.fill('input[name=username]', ADMIN.name);
  await page.fill('input[name=password]', ADMIN.password);
  await page.click('button.primary');
  await page.waitForURL(`${w.base}/`);
});
after(async () => {
  await browser?.close();
  await w?.stop();
});

const shot = (p: Page, name: string) => p.screenshot({ path: join(ART, `${name}.png`), fullPage: true });
const tokenOf = (host: string) => w.d.store.openRun(host)!.token;
const visibleHosts = () => page.locator('#hosts tbody tr[data-host]').evaluateAll((trs) => trs.map((t) => (t as unknown as { dataset: { host: string } }).dataset.host));
async function waitHosts(want: string[]) {
  const until = Date.now() + 10_000;
  let got: (string | undefined)[] = [];
  while (Date.now() < until) {
    got = await visibleHosts();
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    await page.waitForTimeout(50);
  }
  assert.deepEqual(got, want);
}

test('host page: a run finishing updates the header, "Install runs" and "Last install" without a reload', async () => {
  w.d.installs.mark(['alpha'], 'test');
  await page.goto(`${w.base}/hosts/alpha`);
  await page.evaluate('window.marker = 7');
  await page.locator('#live:not([hidden])').waitFor();
  assert.equal(await page.locator('#f-last').innerText(), '—');
  assert.equal(await page.locator('#runs tbody tr').count(), 1);
  await fetch(`${w.base}/boot.ipxe?mac=52:54:00:aa:00:01`);
  await page.locator('#h-state.st-booting').waitFor();
  await page.locator('#runs tbody tr .badge.st-booting').waitFor();
  const cb = `${w.base}/i/${tokenOf('alpha')}/progress`;
  clock.advance(60_000);
  await fetch(`${cb}?stage=packages&message=apt`);
  await page.locator('#h-state.st-installing').waitFor();
  await page.locator('#runs tbody tr .badge.st-installing').waitFor();
  clock.advance(125_000);
  await fetch(`${cb}?stage=done`);
  // every panel, from the same change
  await page.locator('#h-state.st-done').waitFor();
  await page.locator('#runs tbody tr .badge.st-done').waitFor();
  await page.locator('#f-last', { hasText: '3m 05s' }).waitFor();
  assert.equal(await page.locator('#runs tbody tr td:nth-child(5)').innerText(), '3m 05s');
  assert.equal(await page.locator('#h-pct').innerText(), '100%');
  await page.locator('#timeline tbody tr.k-state', { hasText: 'done' }).waitFor();
  assert.equal(await page.evaluate('window.marker'), 7, 'no reload');
  // timestamps: the browser's zone in the text, UTC in the title
  const t = page.locator('#runs tbody time').first();
  assert.match(await t.innerText(), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} GMT\+[12]$/);
  assert.match((await t.getAttribute('title'))!, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/);
  await shot(page, '10-host-live-done');

  // a new mark on the same page starts a new run in every panel
  w.d.installs.mark(['alpha'], 'test');
  await page.locator('#h-state.st-marked').waitFor();
  await page.locator('#runs tbody tr').nth(1).waitFor();
  assert.equal(await page.locator('#runs tbody tr.current .badge').innerText(), 'MARKED');
  assert.equal(await page.locator('#f-last').innerText(), '3m 05s', 'the last finished install stays');
  assert.equal(await page.evaluate('window.marker'), 7);
});

test('hosts table: the failure reason is visible text, with time in state; chips filter; shift-click selects a range', async () => {
  w.d.installs.mark(['gamma'], 'test');
  await fetch(`${w.base}/boot.ipxe?mac=52:54:00:aa:00:03`);
  await fetch(`${w.base}/i/${tokenOf('gamma')}/progress?stage=partitioning`);
  await fetch(`${w.base}/i/${tokenOf('gamma')}/progress?stage=failed&message=${encodeURIComponent('disk /dev/sda not found')}`);
  assert.equal(w.d.store.latestRun('gamma')!.state, 'failed');
  await page.goto(`${w.base}/`);
  const gamma = page.locator('#hosts tbody tr[data-host="gamma"]');
  await gamma.locator('.badge.st-failed').waitFor();
  assert.equal(await gamma.locator('td.stage .reason').innerText(), 'installer reported failure: disk /dev/sda not found');
  assert.ok(await gamma.locator('td.stage .reason').isVisible(), 'visible text, not a tooltip');
  assert.match(await gamma.locator('td.state').innerText(), /FAILED\s+for \d+[smh]/);
  await shot(page, '11-hosts-failed-reason');

  await page.click('#chips a.chip[data-state="failed"]');
  await waitHosts(['gamma']);
  assert.match(page.url(), /\?state=failed$/);
  assert.equal(await page.locator('#chips a.chip.on').getAttribute('data-state'), 'failed');
  await page.click('#chips a.chip[data-state="failed"]');
  await waitHosts(['alpha', 'beta', 'gamma']);

  await page.locator('#hosts tbody tr[data-host="alpha"] input[type=checkbox]').click();
  await page.locator('#hosts tbody tr[data-host="gamma"] input[type=checkbox]').click({ modifiers: ['Shift'] });
  assert.equal(await page.locator('#selcount').innerText(), '3 selected');
  assert.equal(await page.locator('#hosts tbody tr.selected').count(), 3);
  await page.locator('#hosts tbody tr[data-host="alpha"] input[type=checkbox]').click({ modifiers: ['Shift'] });
  assert.equal(await page.locator('#selcount').innerText(), '0 selected', 'a shift-click that clears clears the range');
});

test('390 px wide: the hosts page and the host page do not scroll sideways', async () => {
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, timezoneId: 'Europe/Berlin', deviceScaleFactor: 1 });
  phone.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
  try {
    await phone.context().addCookies(await page.context().cookies());
    for (const [path, name] of [['/', '12-hosts-390'], ['/hosts/alpha', '13-host-390'], ['/hosts/gamma', '14-host-failed-390'], ['/audit', '15-audit-390'], ['/discovered', '16-discovered-390'], ['/account', '17-account-390']] as const) {
      await phone.goto(`${w.base}${path}`);
      await phone.waitForLoadState('networkidle').catch(() => undefined);
      const wide = (await phone.evaluate('({ doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, view: window.innerWidth })')) as { doc: number; body: number; view: number };
      assert.ok(wide.doc <= wide.view && wide.body <= wide.view, `${path}: page is ${wide.doc}px wide in a ${wide.view}px window`);
      await shot(phone, name);
    }
    // the table itself is usable: names, states and the select boxes are on screen
    await phone.goto(`${w.base}/`);
    const box = await phone.locator('#hosts tbody tr[data-host="gamma"] .badge').boundingBox();
    assert.ok(box && box.x + box.width <= 390, `the state badge is on screen: ${JSON.stringify(box)}`);
  } finally {
    await phone.close();
  }
});
