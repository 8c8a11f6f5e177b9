// d-i's log_host lines arrive over UDP syslog and land on the install run of the host whose
// installer is calling from that address. Sent with util-linux `logger`, a real syslog client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createSocket } from 'node:dgram';
import { makeFixture, startDaemon } from '../helpers/fixture.js';

const run = promisify(execFile);

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  s.close();
  return p;
}

async function waitFor<T>(fn: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('installer syslog lines are attached to the host run that called from the same address', async () => {
  const port = await freeUdpPort();
  const fx = makeFixture();
  fx.write('fleetboot.yaml', (await import('node:fs')).readFileSync(fx.configFile, 'utf8').replace('syslog:\n  enabled: false', `syslog:\n  enabled: true\n  listen: 127.0.0.1\n  port: ${port}`));
  const { d, base } = await startDaemon(fx);
  try {
    const [m] = d.installs.mark(['alpha'], 'test');
    assert.ok(m.ok);
    const token = d.store.run(m.runId)!.token;
    await fetch(`${base}/boot.ipxe?mac=52:54:00:aa:00:01`);
    await fetch(`${base}/i/${token}/progress?stage=early_command`);
    await run('logger', ['-n', '127.0.0.1', '-P', String(port), '-d', '--rfc3164', '-t', 'anna', 'Installing apt-mirror-setup']);
    const ev = await waitFor(() => d.store.events({ runId: m.runId, kinds: ['log'] })[0]);
    assert.equal(ev.host, 'alpha');
    assert.equal(ev.message, 'anna: Installing apt-mirror-setup');
    assert.match(ev.source ?? '', /127\.0\.0\.1$/);
    // `fleetboot events` shows the line in the run timeline
    const r = await run('node', ['dist/src/cli.js', '--config', fx.configFile, 'events', 'alpha'], { encoding: 'utf8' });
    assert.match(r.stdout, /log\s+anna: Installing apt-mirror-setup/);
  } finally {
    await d.stop();
    fx.cleanup();
  }
});
