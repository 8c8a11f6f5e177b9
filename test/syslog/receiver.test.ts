// SyslogReceiver on loopback: datagrams from node, from util-linux `logger -n -d` (RFC 5424 and
// 3164), malformed datagrams, a throwing handler, and stop().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { SyslogReceiver, type SyslogLine } from '../../src/syslog/receiver.js';
import { silentLogger } from '../../src/log.js';

function hasLogger(): boolean {
  try { execFileSync('logger', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

async function collect(r: SyslogReceiver, got: Array<[string, SyslogLine]>, n: number, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (got.length < n && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
  assert.ok(got.length >= n, `expected ${n} lines, got ${got.length}`);
}

async function send(port: number, ...msgs: Array<string | Buffer>): Promise<void> {
  const s = dgram.createSocket('udp4');
  for (const m of msgs) await new Promise<void>((res, rej) => s.send(m, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
  s.close();
}

test('receives lines with the sender IP; malformed datagrams and a throwing handler do not stop it', async () => {
  const got: Array<[string, SyslogLine]> = [];
  const registry = new Registry();
  let throwOnce = true;
  const r = new SyslogReceiver({
    address: '127.0.0.1', port: 0, log: silentLogger(), registry, now: () => 1234,
    onLine: (ip, line) => {
      if (throwOnce) { throwOnce = false; throw new Error('handler bug'); }
      got.push([ip, line]);
    },
  });
  await r.start();
  try {
    assert.ok(r.port > 0);
    await send(r.port, 'first line is swallowed by the throwing handler',
      '<14>Nov 23 02:43:48 main-menu[259]: INFO: Menu item \'network-preseed\' selected',
      Buffer.from([0xff, 0x00, 0x3c, 0x31]), '', Buffer.alloc(2000, 0x5b),
      '<13>Nov 23 02:50:01 a: one\n<13>Nov 23 02:50:01 b: two');
    await collect(r, got, 5);
    const [ip, first] = got[0];
    assert.equal(ip, '127.0.0.1');
    assert.deepEqual(first, { at: 1234, facility: 1, severity: 6, timestamp: 'Nov 23 02:43:48', tag: 'main-menu', pid: 259, message: 'INFO: Menu item \'network-preseed\' selected' });
    assert.deepEqual(got.slice(-2).map(([, l]) => l.tag), ['a', 'b']);
    const metrics = await registry.getMetricsAsJSON();
    const errors = metrics.find((m) => m.name === 'fleetboot_syslog_errors_total');
    assert.equal(errors?.values[0]?.value, 1);
  } finally {
    await r.stop();
  }
  await r.stop(); // idempotent
});

test('util-linux logger -n 127.0.0.1 -P PORT -d (RFC 5424 and --rfc3164) lines arrive parsed', { skip: !hasLogger() && 'logger (util-linux) not installed' }, async () => {
  const got: Array<[string, SyslogLine]> = [];
  const r = new SyslogReceiver({ address: '127.0.0.1', port: 0, log: silentLogger(), onLine: (ip, l) => got.push([ip, l]) });
  await r.start();
  try {
    execFileSync('logger', ['-n', '127.0.0.1', '-P', String(r.port), '-d', '-t', 'fbtest', '-p', 'local0.err', 'hello 5424']);
    execFileSync('logger', ['-n', '127.0.0.1', '-P', String(r.port), '-d', '--rfc3164', '-t', 'fbtest', '-i', 'hello 3164']);
    await collect(r, got, 2);
    const byMsg = new Map(got.map(([, l]) => [l.message, l]));
    const a = byMsg.get('hello 5424');
    assert.ok(a, JSON.stringify(got));
    assert.equal(a.tag, 'fbtest');
    assert.equal(a.facility, 16);
    assert.equal(a.severity, 3);
    const b = byMsg.get('hello 3164');
    assert.ok(b, JSON.stringify(got));
    assert.equal(b.tag, 'fbtest');
    assert.equal(typeof b.pid, 'number');
  } finally {
    await r.stop();
  }
});

test('start() rejects when the port is taken, and the receiver can start later', async () => {
  const blocker = dgram.createSocket('udp4');
  await new Promise<void>((res) => blocker.bind(0, '127.0.0.1', () => res()));
  const port = (blocker.address() as { port: number }).port;
  const r = new SyslogReceiver({ address: '127.0.0.1', port, log: silentLogger(), onLine: () => {}, socketFactory: () => dgram.createSocket({ type: 'udp4' }) });
  await assert.rejects(r.start(), /EADDRINUSE/);
  blocker.close();
  await r.start();
  await r.stop();
});
