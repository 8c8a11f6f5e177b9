// The daemon's TFTP wiring (src/subsystems.ts): the real Daemon with TFTP on loopback, fetched
// with the tftp-hpa client. Assets come from paths.assets; per-MAC PXELINUX files come from
// the same boot decision as HTTP /boot.ipxe; an inventory reload (SIGHUP) changes what TFTP
// serves; and transfer sockets answer from server.address when tftp.address is unset.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { execFile } from 'node:child_process';
import { readFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { INVENTORY, makeFixture, startDaemon, type Fixture } from '../helpers/fixture.js';
import type { Daemon } from '../../src/daemon.js';
import { firstDataFrom } from './helpers.js';

const run = promisify(execFile);
const ALPHA = '52:54:00:aa:00:01';
const ALPHA_NEW = '52:54:00:aa:00:0a';
const perMac = (mac: string) => `pxelinux.cfg/01-${mac.replace(/:/g, '-')}`;

/** A UDP port free on 127.0.0.1 right now (the daemon does not report TFTP's bound port). */
async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function withTftp(fx: Fixture, section: string): void {
  const cfg = readFileSync(fx.configFile, 'utf8');
  assert.ok(cfg.includes('tftp:\n  enabled: false\n'));
  fx.write('fleetboot.yaml', cfg.replace('tftp:\n  enabled: false\n', `tftp:\n  enabled: true\n${section}`));
}

/** tftp-hpa (async: the daemon runs in this process); null when the server refused or gave nothing. */
async function tftpGet(fx: Fixture, host: string, port: number, file: string): Promise<Buffer | null> {
  const out = join(fx.dir, `got-${Math.random().toString(36).slice(2)}`);
  const r = await run('tftp', ['-m', 'binary', host, String(port), '-c', 'get', file, out], { timeout: 20_000 });
  // tftp-hpa exits 0 even on an ERROR packet; it prints the error and leaves an empty file
  if (/Error code|Transfer timed out/i.test(`${r.stdout}${r.stderr}`) || !existsSync(out)) return null;
  const b = readFileSync(out);
  rmSync(out);
  return b;
}

/** The decision parts both renderings carry: kernel, initrd, command line (or "local"). */
function fromIpxe(script: string) {
  if (/^exit 1$/m.test(script) && /local boot/.test(script)) return 'local';
  const k = /^kernel (\S+) initrd=\S+ (.*)$/m.exec(script);
  const i = /^initrd (\S+)$/m.exec(script);
  assert.ok(k && i, script);
  return { kernel: decodeURIComponent(new URL(k[1]).pathname.replace(/^\/assets\//, '')), initrd: decodeURIComponent(new URL(i[1]).pathname.replace(/^\/assets\//, '')), cmdline: k[2] };
}
function fromPxelinux(cfg: string) {
  if (/LOCALBOOT 0/.test(cfg)) return 'local';
  const get = (k: string) => new RegExp(`^  ${k} (.*)$`, 'm').exec(cfg)?.[1];
  return { kernel: get('KERNEL'), initrd: get('INITRD'), cmdline: get('APPEND') };
}

let fx: Fixture;
let d: Daemon;
let base: string;
let port: number;

before(async () => {
  fx = makeFixture();
  port = await freePort();
  withTftp(fx, `  address: 127.0.0.1\n  port: ${port}\n`);
  ({ d, base } = await startDaemon(fx));
});
after(async () => {
  await d?.stop();
  fx?.cleanup();
});

test('daemon TFTP serves assets from paths.assets, byte-identical to HTTP', async () => {
  const got = await tftpGet(fx, '127.0.0.1', port, 'tiny/vmlinuz');
  assert.deepEqual(got, readFileSync(join(fx.dir, 'assets/tiny/vmlinuz')));
  const http = Buffer.from(await (await fetch(`${base}/assets/tiny/vmlinuz`)).arrayBuffer());
  assert.deepEqual(got, http);
  assert.equal(await tftpGet(fx, '127.0.0.1', port, '../fleetboot.yaml'), null, 'the jail holds');
});

test('daemon TFTP per-MAC file follows the HTTP boot decision (local, then the marked install)', async () => {
  const viaHttp = async (mac: string) => fromIpxe(await (await fetch(`${base}/boot.ipxe?mac=${encodeURIComponent(mac)}`)).text());
  const viaTftp = async (mac: string) => fromPxelinux(String(await tftpGet(fx, '127.0.0.1', port, perMac(mac))));
  assert.equal(await viaTftp(ALPHA), 'local');
  assert.equal(await viaHttp(ALPHA), 'local');
  const [m] = d.installs.mark(['alpha'], 'test');
  assert.ok(m.ok);
  const token = d.store.run(m.runId)!.token;
  const t = await viaTftp(ALPHA);
  assert.deepEqual(t, { kernel: 'tiny/vmlinuz', initrd: 'tiny/initrd.img', cmdline: `console=ttyS0 fb.cb=${base}/i/${token}/progress fb.host=alpha` });
  assert.deepEqual(await viaHttp(ALPHA), t, 'TFTP and HTTP give the same answer');
  // boot.ipxe over TFTP hands iPXE to the HTTP decision for the booting NIC
  assert.equal(String(await tftpGet(fx, '127.0.0.1', port, 'boot.ipxe')), `#!ipxe\nchain ${base}/boot.ipxe?mac=\${netX/mac} || exit 1\n`);
});

test('an inventory reload (SIGHUP) changes what daemon TFTP serves', async () => {
  // alpha (still marked from the test above) moves to a new MAC, and its role's command line changes
  fx.write('inventory.yaml', INVENTORY.replace(`macs: ["${ALPHA}"]`, `macs: ["${ALPHA_NEW}"]`).replace('cmdline: "console=ttyS0 ', 'cmdline: "console=ttyS1 '));
  process.kill(process.pid, 'SIGHUP');
  for (let i = 0; i < 100 && !d.holder.index.byMac(ALPHA_NEW); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(d.holder.index.byMac(ALPHA_NEW), 'reloaded');
  const moved = fromPxelinux(String(await tftpGet(fx, '127.0.0.1', port, perMac(ALPHA_NEW))));
  assert.ok(typeof moved === 'object');
  assert.match(String(moved.cmdline), /^console=ttyS1 fb\.cb=.*fb\.host=alpha$/);
  assert.equal(fromPxelinux(String(await tftpGet(fx, '127.0.0.1', port, perMac(ALPHA)))), 'local', 'the old MAC is no longer alpha');
  d.installs.cancel(['alpha']);
});

test('daemon TFTP with tftp.address unset answers from server.address', async () => {
  // server.address 127.0.0.2 (all of 127/8 is local): transfers for RRQs to it must leave from
  // it (without subsystems.ts passing server.address they leave from 127.0.0.1, the route's pick)
  const fx2 = makeFixture();
  const p2 = await freePort();
  fx2.write('fleetboot.yaml', readFileSync(fx2.configFile, 'utf8').replace('server:\n  address: 127.0.0.1\n', 'server:\n  address: 127.0.0.2\n'));
  withTftp(fx2, `  port: ${p2}\n`);
  const { d: d2 } = await startDaemon(fx2);
  try {
    assert.equal(await firstDataFrom('127.0.0.2', p2, 'tiny/initrd.img'), '127.0.0.2');
    assert.deepEqual(await tftpGet(fx2, '127.0.0.2', p2, 'tiny/initrd.img'), readFileSync(join(fx2.dir, 'assets/tiny/initrd.img')));
  } finally {
    await d2.stop();
    fx2.cleanup();
  }
});
