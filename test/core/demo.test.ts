// `fleetboot serve` with no config file runs the embedded demo (what `npm start` does), from
// any working directory. Ports are ephemeral and the state file is a temp file (env overrides).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../helpers/fixture.js';

test('the embedded demo serves /healthz and /boot.ipxe', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-demo-'));
  const child = spawn(process.execPath, [join(REPO, 'dist/src/cli.js'), 'serve'], {
    cwd: dir, // not the repository: the demo's templates and assets come from the package
    env: {
      PATH: process.env.PATH,
      FLEETBOOT_HTTP_PORT: '0',
      FLEETBOOT_TFTP_PORT: '0',
      FLEETBOOT_SYSLOG_PORT: '0',
      FLEETBOOT_PATHS_DB: join(dir, 'demo.sqlite'),
      FLEETBOOT_CACHE_DIR: join(dir, 'cache'),
      FLEETBOOT_WEB_HTTPS_DIR: join(dir, 'tls'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  try {
    let m: RegExpExecArray | null = null;
    const deadline = Date.now() + 60_000; // a banner change must fail the test, not hang it
    while (!(m = /^fleetboot is running: web UI and API and boot at (http:\/\/[^/\s]+)\/ \(embedded demo config\)$/m.exec(out))) {
      const ev = await Promise.race([
        once(child.stdout, 'data').then(() => 'data'),
        once(child, 'exit').then(() => 'exit'),
        new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref()).then(() => 'timeout'),
      ]);
      if (ev === 'exit') assert.fail(`serve exited: ${out}\n${err}`);
      if (ev === 'timeout') assert.fail(`no "fleetboot is running" banner within 60 s: ${out}\n${err}`);
    }
    const base = m[1];
    // plain text whatever the log format (stdout is a pipe here: logs are JSON lines); the
    // URL once, and the first-admin link on a line of its own
    assert.equal(out.split('\n').filter((l) => !l.startsWith('{') && l.includes(`${base}/`) && !l.includes('/setup?')).length, 1, out);
    assert.match(out, new RegExp(`^No admin user exists yet\\. Create the first one within \\d+ min at:\n  ${base.replace(/\./g, '\\.')}/setup\\?token=[\\w-]+$`, 'm'));
    const health = (await (await fetch(`${base}/healthz`)).json()) as { ok: boolean; hosts: number; subsystems: string[]; restartPending: string[] };
    assert.equal(health.ok, true);
    assert.equal(health.hosts, 5);
    assert.ok(health.subsystems.includes('tftp') && !health.subsystems.includes('dhcp'), JSON.stringify(health));
    assert.deepEqual(health.restartPending, []);
    const known = await fetch(`${base}/boot.ipxe?mac=52:54:00:00:01:01`);
    assert.equal(known.status, 200);
    assert.equal(await known.text(), '#!ipxe\necho fleetboot: local boot (not marked for reinstall)\nexit 1\n');
    const unknown = await (await fetch(`${base}/boot.ipxe?mac=52:54:00:99:99:99`)).text();
    assert.match(unknown, /^#!ipxe\necho fleetboot: local boot \(unknown MAC 52:54:00:99:99:99/);
    assert.ok(existsSync(join(dir, 'demo.sqlite')), 'state went where FLEETBOOT_PATHS_DB said');
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null) await once(child, 'exit');
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(child.exitCode, 0, err);
});
