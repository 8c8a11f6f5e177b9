// Issue 13 hole 8: anyone who knows a marked host's MAC can fetch its boot script, read the
// run's token from it and mark the run failed or done. install.bindTokenToAddress makes a run
// accept its token only from the address that first booted it. Real daemon; curl with
// --interface for the booting host (127.0.0.5) and for the stranger (127.0.0.6).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { makeFixture, startDaemon, captureLog } from '../helpers/fixture.js';

const run = promisify(execFile);

async function curl(from: string, url: string): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-s', '--interface', from, '-w', '\n%{http_code}', url]);
  const i = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) };
}

async function scenario(bind: boolean) {
  const fx = makeFixture(`install:\n  bindTokenToAddress: ${bind}\n`);
  const cap = captureLog('info');
  const { d, base } = await startDaemon(fx, undefined, {}, { log: cap.log });
  try {
    const [m] = d.installs.mark(['alpha'], 'test');
    assert.ok(m.ok);
    // the host boots from 127.0.0.5; its boot script carries the token URLs
    const boot = await curl('127.0.0.5', `${base}/boot.ipxe?mac=52:54:00:aa:00:01`);
    assert.equal(boot.status, 200);
    const token = /\/i\/([A-Za-z0-9_-]{20,})\//.exec(boot.body)?.[1];
    assert.ok(token, boot.body);
    // a stranger who knows the MAC gets the same script, hence the token
    const stolen = /\/i\/([A-Za-z0-9_-]{20,})\//.exec((await curl('127.0.0.6', `${base}/boot.ipxe?mac=52:54:00:aa:00:01`)).body)?.[1];
    assert.equal(stolen, token);
    const strangerAnswer = await curl('127.0.0.6', `${base}/i/${token}/answer`);
    const strangerFail = await curl('127.0.0.6', `${base}/i/${token}/progress?stage=failed&message=gotcha`);
    const hostProgress = await curl('127.0.0.5', `${base}/i/${token}/progress?stage=installing`);
    return { strangerFail, strangerAnswer, hostProgress, state: d.store.run(m.runId)!.state, logs: cap.lines(), token };
  } finally {
    await d.stop();
    fx.cleanup();
  }
}

test('install.bindTokenToAddress: the token works only from the address that booted the run', async () => {
  const r = await scenario(true);
  assert.equal(r.strangerFail.status, 404);
  assert.equal(r.strangerAnswer.status, 404);
  assert.equal(r.hostProgress.status, 200);
  assert.equal(r.state, 'installing', 'the stranger could not fail the run');
  const refused = r.logs.filter((l) => l.msg === 'token URL refused');
  assert.deepEqual(refused.map((l) => [l.reason, l.ip]), [['address', '127.0.0.6'], ['address', '127.0.0.6']]);
  assert.ok(!JSON.stringify(r.logs).includes(r.token));
});

test('without it (the default), the documented risk: a stranger with the MAC can fail the run', async () => {
  const r = await scenario(false);
  assert.equal(r.strangerAnswer.status, 200);
  assert.equal(r.strangerFail.status, 200);
  assert.equal(r.state, 'failed');
});
