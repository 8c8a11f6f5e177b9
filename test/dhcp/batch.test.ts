// The DHCP server handles a turn's packets in one lease-store transaction and sends replies
// only after it committed (docs/performance.md). What must hold:
//  - every request in a burst still gets its reply, and bursts really share transactions;
//  - a failed commit sends no reply at all (nothing it would announce was stored);
//  - an ACKed lease is durable: the server process is SIGKILLed the moment the last ACK
//    arrives and every ACKed (MAC, address) is bound in its SQLite file afterwards.
// Loopback only: the "clients" are a relay agent at 127.0.0.2, so replies come back unicast
// to giaddr (RFC 2131 §4.1) rather than as broadcasts that would leave loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import Database from 'better-sqlite3';
import { newRequest, encode, decode, type DhcpPacket } from '../../src/dhcp/codec.js';
import { dhcpConfigSchema } from '../../src/dhcp/config.js';
import { MemoryLeaseStore, SqliteLeaseStore, type LeaseStore } from '../../src/dhcp/leases.js';
import { DhcpServer } from '../../src/dhcp/server.js';
import { Opt, getMessageType, MessageType } from '../../src/dhcp/options.js';
import { ipToBuf } from '../../src/dhcp/options.js';
import { silentLogger } from '../../src/log.js';
import { openDatabase } from '../../src/store/db.js';
import { fixture, LogFile } from './netns.js';

const RELAY = '127.0.0.2';
const config = (port: number) => ({
  enabled: true, serverAddress: '127.0.0.1', listen: '127.0.0.1', port, netmask: '255.0.0.0',
  pool: { start: '127.0.1.1', end: '127.0.1.250' }, unknownPolicy: 'address-only' as const,
});
const mac = (i: number) => `52:54:00:0b:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

function msg(i: number, type: number, extra: (p: DhcpPacket) => void = () => {}): Buffer {
  const p = newRequest(mac(i), 0x1000 + i);
  p.giaddr = RELAY;
  p.hops = 1;
  p.options.set(Opt.MESSAGE_TYPE, Buffer.from([type]));
  extra(p);
  return encode(p);
}

/** A relay socket on RELAY:port collecting replies by xid. */
async function relay(port: number) {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(port, RELAY, r));
  const replies = new Map<number, DhcpPacket>();
  let waiters: (() => void)[] = [];
  s.on('message', (m) => {
    const p = decode(m);
    replies.set(p.xid, p);
    waiters.forEach((w) => w());
  });
  return {
    replies,
    send: (b: Buffer, to: number) => s.send(b, to, '127.0.0.1'),
    /** resolves when pred holds (checked on every reply), rejects after ms */
    until(pred: () => boolean, ms = 10_000): Promise<void> {
      if (pred()) return Promise.resolve();
      return new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`timeout: ${replies.size} replies`)), ms);
        const w = () => {
          if (pred()) (clearTimeout(t), (waiters = waiters.filter((x) => x !== w)), res());
        };
        waiters.push(w);
      });
    },
    close: () => s.close(),
  };
}

const freePort = () => 40000 + Math.floor(Math.random() * 20000);

function server(port: number, leases: LeaseStore, registry = new Registry()) {
  return new DhcpServer({
    config: dhcpConfigSchema.parse(config(port)), log: silentLogger(), registry, leases, hosts: { byMac: () => undefined },
    boot: { httpBase: 'http://127.0.0.1:8080', tftpServer: '127.0.0.1' },
  });
}

test('batch: a burst of 60 DISCOVERs gets 60 OFFERs, handled in fewer transactions than packets', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fbdhcp-batch-'));
  const db = openDatabase(join(dir, 'l.sqlite'));
  const port = freePort();
  const registry = new Registry();
  const s = server(port, new SqliteLeaseStore(db), registry);
  await s.start();
  const r = await relay(port);
  try {
    for (let i = 0; i < 60; i++) r.send(msg(i, MessageType.DISCOVER), port);
    await r.until(() => r.replies.size === 60);
    for (let i = 0; i < 60; i++) assert.equal(getMessageType(r.replies.get(0x1000 + i)!), MessageType.OFFER);
    const h = (await registry.getMetricsAsJSON()).find((m) => m.name === 'fleetboot_dhcp_batch_packets')!;
    const count = (h.values as { metricName?: string; value: number }[]).find((v) => v.metricName === 'fleetboot_dhcp_batch_packets_count')!.value;
    const sum = (h.values as { metricName?: string; value: number }[]).find((v) => v.metricName === 'fleetboot_dhcp_batch_packets_sum')!.value;
    assert.equal(sum, 60, 'every packet went through a batch');
    assert.ok(count < 60, `60 packets sent at once shared transactions (${count} batches)`);
  } finally {
    r.close();
    await s.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('batch: when the commit fails no reply of that batch is sent', async () => {
  const port = freePort();
  const registry = new Registry();
  const mem = new MemoryLeaseStore();
  let fail = true;
  // a store whose commit fails (disk full, I/O error): the batch throws after fn ran
  const failing: LeaseStore = Object.assign(Object.create(mem) as LeaseStore, {
    batch<T>(fn: () => T): T {
      const v = fn();
      if (fail) throw new Error('SQLITE_FULL: database or disk is full');
      return v;
    },
  });
  const s = server(port, failing, registry);
  await s.start();
  const r = await relay(port);
  try {
    for (let i = 0; i < 5; i++) r.send(msg(i, MessageType.DISCOVER), port);
    await new Promise((res) => setTimeout(res, 500));
    assert.equal(r.replies.size, 0, 'nothing is announced from a batch that was not stored');
    assert.match(await registry.getSingleMetricAsString('fleetboot_dhcp_decisions_total'), /decision="error"} 5/);
    fail = false; // the store recovered: the clients' retransmissions are answered
    for (let i = 0; i < 5; i++) r.send(msg(i, MessageType.DISCOVER), port);
    await r.until(() => r.replies.size === 5);
  } finally {
    r.close();
    await s.stop();
  }
});

test('batch: every ACKed lease survives kill -9 of the server the moment the ACKs arrived', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fbdhcp-kill-'));
  const dbFile = join(dir, 'leases.sqlite');
  const port = freePort();
  const logFile = join(dir, 'serve.log');
  const proc = spawn(process.execPath, [fixture('serve-dhcp'), JSON.stringify({ config: config(port), db: dbFile, logFile, logLevel: 'warn' })], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (c) => (err += c));
  const r = await relay(port);
  const N = 80;
  try {
    for (let i = 0; i < 100 && !/READY/.test(err); i++) await new Promise((res) => setTimeout(res, 100));
    assert.match(err, /READY/, `server did not start: ${err}\n${new LogFile(logFile).all.join('\n')}`);
    for (let i = 0; i < N; i++) r.send(msg(i, MessageType.DISCOVER), port);
    await r.until(() => r.replies.size === N);
    const offered = new Map<number, string>();
    for (let i = 0; i < N; i++) offered.set(i, r.replies.get(0x1000 + i)!.yiaddr);
    r.replies.clear();
    for (let i = 0; i < N; i++) {
      r.send(msg(i, MessageType.REQUEST, (p) => {
        p.options.set(Opt.REQUESTED_IP, ipToBuf(offered.get(i)!));
        p.options.set(Opt.SERVER_ID, ipToBuf('127.0.0.1'));
      }), port);
    }
    // kill -9 as soon as the last ACK is in: no graceful close, no final checkpoint
    await r.until(() => r.replies.size === N);
    proc.kill('SIGKILL');
    await new Promise((res) => proc.once('exit', res));
    const acked = [...r.replies.values()].filter((p) => getMessageType(p) === MessageType.ACK);
    assert.equal(acked.length, N, 'every REQUEST was ACKed');
    const db = new Database(dbFile, { readonly: true });
    try {
      for (const p of acked) {
        const m = [...p.chaddr.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
        const row = db.prepare('SELECT mac, state FROM leases WHERE ip = ?').get(p.yiaddr) as { mac: string; state: string } | undefined;
        assert.deepEqual(row, { mac: m, state: 'bound' }, `ACKed lease ${p.yiaddr} for ${m} is in the database after kill -9`);
      }
    } finally {
      db.close();
    }
  } finally {
    r.close();
    if (proc.exitCode === null) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
