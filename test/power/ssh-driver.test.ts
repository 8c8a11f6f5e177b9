// The ssh driver through the system ssh client against a real OpenSSH server (Debian
// openssh-server) started by the test on 127.0.0.1: the configured commands switch a "power"
// file on the target, as a PDU's or hypervisor's CLI would. Host keys are checked against the
// configured known_hosts (an unknown key is an auth error, not retried).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Proc, freePort } from './sim.js';
import { PowerService } from '../../src/power/service.js';
import { EnvSecrets } from '../../src/power/secrets.js';
import { sshPowerSchema } from '../../src/config/power-schema.js';
import { silentLogger } from '../../src/log.js';
import type { PowerHost } from '../../src/power/types.js';

describe('ssh driver against a real sshd', { timeout: 5 * 60_000 }, () => {
  let dir: string;
  let port: number;
  let sshd: Proc;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fb-power-ssh-'));
    chmodSync(dir, 0o755);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')]);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')));
    chmodSync(join(dir, 'authorized_keys'), 0o600);
    port = await freePort('tcp');
    writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${readFileSync(join(dir, 'host_key.pub'), 'utf8')}`);
    writeFileSync(join(dir, 'sshd_config'), [
      `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_key')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`, 'UsePAM no', 'StrictModes no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PermitRootLogin prohibit-password', '',
    ].join('\n'));
    writeFileSync(join(dir, 'state'), 'off\n');
    // sshd refuses to start without its privilege separation directory
    if (!existsSync('/run/sshd')) execFileSync('mkdir', ['-p', '-m', '0755', '/run/sshd']);
    sshd = new Proc('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')]);
    await sshd.waitFor(/Server listening on 127\.0\.0\.1 port/, 30_000);
  });
  after(async () => {
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const service = (over: Record<string, unknown> = {}) => {
    const s = (f: string) => join(dir, f);
    const power = sshPowerSchema.parse({
      driver: 'ssh', address: '127.0.0.1', port, user: userInfo().username, identityFile: s('client_key'), knownHostsFile: s('known_hosts'), timeoutSeconds: 20, retries: 1,
      commands: { status: `cat ${s('state')}`, on: `echo on > ${s('state')}`, off: `echo off > ${s('state')}`, cycle: `echo cycled >> ${s('log')}`, pxe: `echo pxe > ${s('bootnext')}` },
      ...over,
    });
    const hosts: Record<string, PowerHost> = { pdu: { name: 'pdu', power } };
    return new PowerService({ lookup: (n) => hosts[n], secrets: new EnvSecrets({}), log: silentLogger(), backoffMs: 10 });
  };
  const file = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');

  it('status, on, off, cycle (on when off), pxe: the commands ran on the target', async () => {
    const svc = service();
    assert.equal((await svc.call('pdu', 'status')).state, 'off');
    const cyc = await svc.call('pdu', 'cycle');
    assert.ok(cyc.ok, cyc.error);
    assert.equal(cyc.detail, 'commands.on (host was off)');
    assert.equal(file('state'), 'on\n');
    assert.equal((await svc.call('pdu', 'status')).state, 'on');
    const pxe = await svc.call('pdu', 'pxe');
    assert.ok(pxe.ok, pxe.error);
    assert.equal(file('bootnext'), 'pxe\n');
    assert.equal(file('log'), 'cycled\n', 'pxe: the boot command, then a cycle of the running host');
    assert.ok((await svc.call('pdu', 'off')).ok);
    assert.equal(file('state'), 'off\n');
  });

  it('a failing command is refused with its exit code; an unknown host key is an auth error, not retried', async () => {
    const bad = await service({ commands: { on: 'echo no outlet >&2; exit 3' } }).call('pdu', 'on');
    assert.deepEqual([bad.ok, bad.errorKind, bad.attempts], [false, 'refused', 1]);
    assert.match(bad.error!, /exit 3: no outlet/);
    const empty = join(dir, 'empty_known_hosts');
    writeFileSync(empty, '');
    const unk = await service({ knownHostsFile: empty }).call('pdu', 'status');
    assert.deepEqual([unk.ok, unk.errorKind, unk.attempts], [false, 'auth', 1], unk.error);
    const missing = await service({ commands: { status: 'true' } }).call('pdu', 'off');
    assert.equal(missing.errorKind, 'config');
    assert.match(missing.error!, /no commands\.off/);
  });
});
