// The rollout page in real headless Chromium: list, waves, hosts per state, failures with
// reasons, pause / resume / abort (with its confirmation page) through CSRF-protected forms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startWeb, ADMIN, login } from '../web/helper.js';
import { REPO } from '../helpers/fixture.js';
import { RolloutStore } from '../../src/rollout/store.js';
import { planRollout, createRollout } from '../../src/rollout/plan.js';

test('rollout page: waves, states, failures; pause, resume, abort through the forms; CSRF enforced', { timeout: 60_000 }, async () => {
  const art = join(REPO, 'test-artifacts');
  mkdirSync(art, { recursive: true });
  const w = await startWeb();
  const browser = await chromium.launch({ executablePath: process.env.FLEETBOOT_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  try {
    const store = new RolloutStore(w.d.db);
    const now = Date.now();
    const plan = planRollout(w.d.holder, w.d.store, store, { role: 'tiny', canary: 1, wave: 1, maxFailures: 2, at: '+1h' }, now);
    const id = createRollout(store, plan, 'tests', now, () => {}).id;
    // scheduled an hour ahead, so the daemon's engine leaves it alone; a failed attempt as the
    // engine would record it, so the page has a reason to show
    store.updateHost(id, 'alpha', { state: 'failed', attempt: 1, last_error: 'boot deadline: no network boot within 10m of the power cycle', started_at: now, finished_at: now });
    const page = await browser.newPage();
    page.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
    await page.goto(`${w.base}/login`);
    await page.fill('input[name=username]', ADMIN.name);
    await page.fill('input[name=password]', ADMIN.password);
    await page.click('button.primary');
    await page.waitForURL(`${w.base}/`);
    await page.click('nav a[href="/rollouts"]');
    await page.click(`a[href="/rollouts/${id}"]`);
    assert.equal(await page.locator('#rollout-state').innerText(), 'SCHEDULED');
    assert.match(await page.locator('#failures').innerText(), /alpha\s+1\s+boot deadline: no network boot within 10m/);
    assert.deepEqual((await page.locator('h3').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ')), ['Canary failed 1', 'Wave 1 pending 1']);
    assert.equal(await page.locator('tr[data-host="gamma"] .badge').innerText(), 'PENDING');
    await page.screenshot({ path: join(art, 'rollout-page.png'), fullPage: true });

    await page.click('#pause');
    await page.waitForURL(`${w.base}/rollouts/${id}`);
    assert.equal(await page.locator('#rollout-state').innerText(), 'PAUSED');
    assert.equal(store.get(id)!.state, 'paused');
    await page.click('#resume');
    assert.equal(await page.locator('#rollout-state').innerText(), 'SCHEDULED');
    await page.click('#abort');
    await page.locator('#confirm-abort').waitFor();
    assert.equal(store.get(id)!.state, 'scheduled', 'the first abort click only asks');
    await page.click('#confirm-abort');
    assert.equal(await page.locator('#rollout-state').innerText(), 'ABORTED');
    assert.equal(await page.locator('#pause').count(), 0);

    const audit = w.d.db.prepare("SELECT actor, action FROM audit_log WHERE action LIKE 'rollout.%' ORDER BY id").all() as { actor: string; action: string }[];
    assert.deepEqual(audit.map((a) => a.action), ['rollout.pause', 'rollout.resume', 'rollout.abort']);
    assert.equal(audit[0].actor, ADMIN.name);

    // a cross-site form (session cookie, no CSRF token) is refused
    const s = await login(w.base);
    const bad = await fetch(`${w.base}/rollouts/${id}/pause`, { method: 'POST', headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: '' , redirect: 'manual' });
    assert.equal(bad.status, 403);
    const nf = await fetch(`${w.base}/rollouts/999`, { headers: { cookie: s.cookie } });
    assert.equal(nf.status, 404);
  } finally {
    await browser.close();
    await w.stop();
  }
});
