// The CLI against the same SQLite file a daemon uses: hosts, reinstall [--cancel], events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { makeFixture, startDaemon, REPO } from '../helpers/fixture.js';

const run = promisify(execFile);
const cli = join(REPO, 'dist/src/cli.js');

async function fb(configFile: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run('node', [cli, '--config', configFile, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

test('reinstall marks hosts the running daemon then serves the installer to; events shows the run', async () => {
  const fx = makeFixture();
  const { d, base } = await startDaemon(fx);
  try {
    let r = await fb(fx.configFile, 'reinstall', 'alpha', 'nosuch');
    assert.equal(r.code, 2, 'a typo in one name is a usage error');
    assert.match(r.err, /unknown host "nosuch"/);
    assert.equal(d.store.openRun('alpha'), undefined, 'all or nothing: alpha was not marked');
    r = await fb(fx.configFile, 'reinstall', 'alpha');
    assert.match(r.out, /^alpha: marked \(run \d+\)$/m);
    r = await fb(fx.configFile, 'reinstall', 'alpha');
    assert.match(r.out, /alpha: already marked/);
    const script = await (await fetch(`${base}/boot.ipxe?mac=52:54:00:aa:00:01`)).text();
    assert.match(script, /^kernel .*\/assets\/tiny\/vmlinuz/m);
    r = await fb(fx.configFile, 'hosts');
    assert.equal(r.code, 0);
    assert.match(r.out, /^NAME\s+MACS\s+ROLES\s+ADDRESS\s+MARKED\s+STATE\s+STAGE\s+PROGRESS$/m);
    assert.match(r.out, /^alpha\s+52:54:00:aa:00:01\s+tiny\s+10\.99\.0\.11\s+yes\s+booting\s+-\s+5%$/m);
    r = await fb(fx.configFile, 'hosts', '--json', '--label', 'rack1');
    assert.deepEqual(JSON.parse(r.out).map((h: { name: string }) => h.name), ['alpha', 'beta']);
    r = await fb(fx.configFile, 'events', 'alpha');
    assert.match(r.out, /^alpha: run \d+ \(tiny\) state=booting$/m);
    assert.match(r.out, /\+\s+0\.0s  state\s+marked  marked for reinstall by cli:/);
    assert.match(r.out, /boot\s+pxe  installer kernel served/);
    r = await fb(fx.configFile, 'reinstall', '--cancel', 'alpha');
    assert.match(r.out, /alpha: cancelled/);
    assert.match(await (await fetch(`${base}/boot.ipxe?mac=52:54:00:aa:00:01`)).text(), /\nexit 1\n$/);
    r = await fb(fx.configFile, 'reinstall', '--label', 'rack1', '--yes');
    assert.match(r.out, /alpha: marked/);
    assert.match(r.out, /beta: marked/);
    r = await fb(fx.configFile, 'events', 'nosuch');
    assert.equal(r.code, 2);
  } finally {
    await d.stop();
    fx.cleanup();
  }
});
