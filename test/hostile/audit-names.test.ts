// Issue 13 hole 8: a password typed into the user-name field must not be stored in the audit
// log or shown on /audit (nor logged). Failed logins name the user only when it exists; any
// other name is recorded as "unknown user #<keyed hash>". Real app over HTTP (fetch).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWeb, login, ADMIN } from '../web/helper.js';
import { captureLog } from '../helpers/fixture.js';

test('a failed login with a name that is no user stores no trace of the typed name', async () => {
  const cap = captureLog('info');
  const e = await startWeb({ log: cap.log, web: { loginMaxAttempts: 3 } });
  try {
    const typed = 'Tr0ub4dor&3-my-real-password';
    const admin = await login(e.base); // a session for looking at /audit afterwards
    assert.equal(admin.status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await login(e.base, typed, 'whatever-else')).status, 401);
    assert.equal((await login(e.base, ADMIN.name, 'wrong password here')).status, 401);
    assert.equal((await login(e.base, typed, 'x')).status, 429, 'rate limited (logged)');
    const rows = e.d.db.prepare("SELECT actor, target, detail FROM audit_log WHERE action = 'login.failed' ORDER BY id").all() as { actor: string; target: string | null }[];
    assert.equal(rows.length, 3);
    assert.match(rows[0].actor, /^unknown user #[0-9a-f]{8}$/);
    assert.equal(rows[0].actor, rows[1].actor, 'the same unknown name gets the same label (spotting a spray stays possible)');
    assert.equal(rows[0].target, null);
    assert.deepEqual({ ...rows[2] }, { actor: ADMIN.name, target: ADMIN.name, detail: null });
    assert.ok(!JSON.stringify(e.d.db.prepare('SELECT * FROM audit_log').all()).includes(typed));
    assert.ok(!JSON.stringify(cap.lines()).includes(typed), 'nor in the log');

    const page = await fetch(`${e.base}/audit`, { headers: { cookie: admin.cookie } });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /unknown user #[0-9a-f]{8}/);
    assert.ok(!html.includes('Tr0ub4dor'), 'the typed name is not on /audit');
  } finally {
    await e.stop();
  }
});
