// Real datagrams from UDP source port 0 (hand-built UDP header on a raw socket, loopback only,
// root) must neither crash the server nor leak transfer slots. dgram's send() throws
// ERR_SOCKET_BAD_PORT synchronously for port 0, so before the fix: an ERROR 5 answer from a
// transfer socket was an uncaught exception, an RRQ without options an unhandled rejection
// (first window sent after an async read), and an RRQ with options left its slot taken.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { join } from 'node:path';
import { decode, encode } from '../../src/tftp/codec.js';
import { fetch } from './client.js';
import { makeRoot, startServer, writeFile } from './helpers.js';
import { sendRawUdp } from './raw-udp.js';
import { needsRoot } from '../helpers/root.js';

let root: { dir: string; cleanup: () => void };
let small: Buffer;

before(() => {
  root = makeRoot();
  small = writeFile(join(root.dir, 'small.bin'), 70_000, 2)!;
});
after(() => root.cleanup());

const rrq = (options: Array<[string, string]>) => encode({ op: 'rrq', filename: 'small.bin', mode: 'octet', options });

test('RRQs from source port 0 start no transfer and take no slot; the server keeps serving', { skip: needsRoot('raw sockets') }, async () => {
  const s = await startServer({ root: root.dir, config: { maxTransfers: 2 } });
  try {
    // no options (first window after an async read), with options (OACK sent at once), and
    // more of them than there are slots; plus an ACK for the request port
    const packets = [rrq([]), rrq([['blksize', '1024']]), rrq([['tsize', '0']]), rrq([['blksize', '1468'], ['windowsize', '4']]), rrq([]), encode({ op: 'ack', block: 1 })];
    await sendRawUdp(s.port, packets);
    for (let i = 0; i < 100 && (await s.metric('fleetboot_tftp_malformed_total')) < packets.length; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await s.metric('fleetboot_tftp_malformed_total'), packets.length, 'every port-0 datagram counted and dropped');
    assert.equal(s.server.activeTransfers, 0);
    assert.equal(await s.metric('fleetboot_tftp_active_transfers'), 0);
    // both slots are free: two concurrent real fetches succeed (a leaked slot would say "busy")
    const [a, b] = await Promise.all([fetch({ port: s.port, file: 'small.bin' }), fetch({ port: s.port, file: 'small.bin', options: { blksize: '1024' } })]);
    assert.deepEqual(a.data, small);
    assert.deepEqual(b.data, small);
    assert.equal(await s.metric('fleetboot_tftp_transfers_total', { result: 'busy' }), 0);
  } finally {
    await s.server.stop();
  }
});

test('a port-0 packet to a running transfer socket is dropped; the transfer goes on', { skip: needsRoot('raw sockets') }, async () => {
  const s = await startServer({ root: root.dir, config: { timeoutMs: 2000 } });
  const c = dgram.createSocket('udp4');
  try {
    await new Promise<void>((r) => c.bind(0, '127.0.0.1', r));
    const next = (block: number) =>
      new Promise<{ port: number }>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no DATA ${block}`)), 5000);
        const on = (m: Buffer, ri: dgram.RemoteInfo) => {
          const d = decode(m);
          if (d.ok && d.packet.op === 'data' && d.packet.block === block) {
            clearTimeout(t);
            c.off('message', on);
            resolve({ port: ri.port });
          }
        };
        c.on('message', on);
      });
    const first = next(1);
    c.send(rrq([]), s.port, '127.0.0.1');
    const { port: tid } = await first;
    // from port 0 to the transfer's TID: before the fix, answering with ERROR 5 threw
    await sendRawUdp(tid, [encode({ op: 'ack', block: 1 }), Buffer.from([0, 4]), Buffer.from('junk')]);
    for (let i = 0; i < 100 && (await s.metric('fleetboot_tftp_malformed_total')) < 3; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await s.metric('fleetboot_tftp_malformed_total'), 3);
    assert.equal(await s.metric('fleetboot_tftp_unknown_tid_total'), 0, 'not treated as a foreign TID to answer');
    const second = next(2);
    c.send(encode({ op: 'ack', block: 1 }), tid, '127.0.0.1');
    assert.equal((await second).port, tid, 'the real client is still served');
    c.send(encode({ op: 'error', code: 0, message: 'done testing' }), tid, '127.0.0.1');
    assert.deepEqual((await fetch({ port: s.port, file: 'small.bin' })).data, small);
  } finally {
    c.close();
    await s.server.stop();
  }
});

test('a transfer whose sends throw synchronously ends and frees its slot (with and without OACK)', async () => {
  // Defence in depth below the edge filter: transfer sockets whose send() throws like dgram
  // does for an unreachable destination (the listening socket, made first, stays normal).
  let made = 0;
  const socketFactory = () => {
    const sock = dgram.createSocket('udp4');
    if (made++ > 0) {
      (sock as unknown as { send: () => void }).send = () => {
        throw Object.assign(new RangeError('Port should be > 0 and < 65536'), { code: 'ERR_SOCKET_BAD_PORT' });
      };
    }
    return sock;
  };
  const s = await startServer({ root: root.dir, config: { maxTransfers: 1 }, socketFactory });
  try {
    let want = 0;
    for (const options of [[], [['blksize', '1024']]] as Array<Array<[string, string]>>) {
      want++;
      const c = dgram.createSocket('udp4');
      await new Promise<void>((r) => c.bind(0, '127.0.0.1', r));
      c.send(rrq(options), s.port, '127.0.0.1');
      for (let i = 0; i < 200 && (await s.metric('fleetboot_tftp_transfers_total', { result: 'io_error' })) < want; i++) await new Promise((r) => setTimeout(r, 10));
      c.close();
    }
    assert.equal(await s.metric('fleetboot_tftp_transfers_total', { result: 'io_error' }), 2);
    assert.equal(s.server.activeTransfers, 0);
    assert.equal(await s.metric('fleetboot_tftp_active_transfers'), 0);
  } finally {
    await s.server.stop();
  }
});
