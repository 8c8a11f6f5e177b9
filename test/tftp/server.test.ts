// TFTP server behaviour with our own client on loopback: loss, transfer IDs, fuzzing, the jail,
// generated files, firmware quirks, limits and shutdown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFileSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode, encode } from '../../src/tftp/codec.js';
import { fetch, rng } from './client.js';
import { lossySocketFactory, makeRoot, startServer, writeFile, type TestServer } from './helpers.js';

let root: { dir: string; cleanup: () => void };
let small: Buffer;
let medium: Buffer;

before(() => {
  root = makeRoot();
  small = writeFile(join(root.dir, 'small.bin'), 70_000, 2)!;
  medium = writeFile(join(root.dir, 'medium.bin'), 1_000_000, 3)!;
  writeFile(join(root.dir, 'roll.bin'), 33_554_432 + 1000, 4); // > 65535 blocks of 512
  mkdirSync(join(root.dir, 'sub'));
  writeFileSync(join(root.dir, 'sub', 'ok.txt'), 'inside\n');
  symlinkSync('/etc/passwd', join(root.dir, 'passwd-link'));
  symlinkSync('/etc', join(root.dir, 'etc-link'));
  symlinkSync('small.bin', join(root.dir, 'alias.bin')); // a symlink inside the root is fine
});
after(() => root.cleanup());

async function withServer(opts: Parameters<typeof startServer>[0] | undefined, fn: (s: TestServer) => Promise<void>) {
  const s = await startServer(opts ?? { root: root.dir });
  try {
    await fn(s);
  } finally {
    await s.server.stop();
  }
}

/** The client resolves on sending its final ACK; wait for the server to have seen it. */
async function settle(s: TestServer) {
  for (let i = 0; i < 200 && s.server.activeTransfers > 0; i++) await new Promise((r) => setTimeout(r, 10));
}

/** Waits (polling, not a fixed sleep: CI machines are slow) until `n` transfers run. */
async function active(s: TestServer, n: number) {
  for (let i = 0; i < 500 && s.server.activeTransfers !== n; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(s.server.activeTransfers, n);
}

/** Sends raw datagrams from a fresh socket and collects what comes back for `waitMs`. */
async function raw(port: number, packets: Buffer[], waitMs = 100, from?: dgram.Socket) {
  const s = from ?? dgram.createSocket('udp4');
  if (!from) await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const got: Array<{ msg: Buffer; port: number }> = [];
  const on = (msg: Buffer, ri: dgram.RemoteInfo) => got.push({ msg, port: ri.port });
  s.on('message', on);
  for (const p of packets) s.send(p, port, '127.0.0.1');
  await new Promise((r) => setTimeout(r, waitMs));
  s.off('message', on);
  if (!from) s.close();
  return got;
}

test('lockstep and windowed transfers, with and without options', async () => {
  await withServer(undefined, async (s) => {
    const a = await fetch({ port: s.port, file: 'small.bin' });
    assert.equal(a.firstOp, 'data'); // no options -> no OACK
    assert.deepEqual(a.data, small);
    const b = await fetch({ port: s.port, file: '/medium.bin', options: { blksize: '1432', windowsize: '16', tsize: '0' } });
    assert.deepEqual(b.oack, { blksize: '1432', windowsize: '16', tsize: '1000000' });
    assert.deepEqual(b.data, medium);
    // unknown options only: ignored, so no OACK (RFC 2347)
    const c = await fetch({ port: s.port, file: 'small.bin', options: { multicast: '', rollover: '0' } });
    assert.equal(c.firstOp, 'data');
    assert.deepEqual(c.data, small);
    // blksize above the configured cap answers with the cap; a file that is a multiple of blksize ends with an empty block
    const d = await fetch({ port: s.port, file: 'small.bin', options: { blksize: '65464' } });
    assert.equal(d.oack?.blksize, '1468');
    assert.deepEqual(d.data, small);
    writeFile(join(root.dir, 'exact.bin'), 1468 * 3, 9);
    const e = await fetch({ port: s.port, file: 'exact.bin', options: { blksize: '1468', windowsize: '2' } });
    assert.equal(e.data.length, 1468 * 3);
    const f = await fetch({ port: s.port, file: 'alias.bin' });
    assert.deepEqual(f.data, small);
    await settle(s);
    assert.equal(await s.metric('fleetboot_tftp_transfers_total', { result: 'ok' }), 6);
    assert.ok((await s.metric('fleetboot_tftp_bytes_total')) >= 70_000 * 4 + 1_000_000);
    const done = s.logs.filter((l) => l.msg === 'tftp: transfer complete');
    assert.equal(done.length, 6);
    for (const k of ['ip', 'port', 'file', 'options', 'bytes', 'durationMs', 'retransmits']) assert.ok(k in done[1], `log has ${k}`);
  });
});

test('block numbers roll over past 65535 (512-byte blocks, 32 MiB + 1000)', async () => {
  await withServer(undefined, async (s) => {
    const r = await fetch({ port: s.port, file: 'roll.bin', options: { windowsize: '64' } });
    assert.equal(r.data.length, 33_554_432 + 1000);
    assert.deepEqual(r.data, readFileSync(join(root.dir, 'roll.bin')));
  });
});

test('lossy network: dropped, duplicated and reordered DATA and ACKs still give identical bytes', async () => {
  const rates = { drop: 0.08, dup: 0.05, reorder: 0.05, dropIn: 0.08 };
  await withServer({ root: root.dir, config: { timeoutMs: 100, retries: 20 }, socketFactory: lossySocketFactory(11, rates) }, async (s) => {
    const r = rng(5);
    const chaos = { drop: () => r() < 0.08, dup: () => r() < 0.05, delay: () => r() < 0.05 };
    const variants: Array<Record<string, string>> = [{}, { blksize: '1024', windowsize: '8' }, { blksize: '1468', windowsize: '64', tsize: '0' }];
    for (const options of variants) {
      const got = await fetch({ port: s.port, file: options.blksize ? 'medium.bin' : 'small.bin', options, chaos, timeoutMs: 60, maxTries: 200 });
      assert.deepEqual(got.data, options.blksize ? medium : small, JSON.stringify(options));
    }
    assert.ok((await s.metric('fleetboot_tftp_retransmits_total')) > 0);
  });
});

test('transfer ID: a packet from another port gets ERROR 5 and the transfer goes on', async () => {
  await withServer(undefined, async (s) => {
    const stranger = dgram.createSocket('udp4');
    await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', r));
    const replies: Buffer[] = [];
    stranger.on('message', (m) => replies.push(m));
    const got = await fetch({
      port: s.port,
      file: 'small.bin',
      onData: (block, serverPort) => {
        // an ACK for a block the real client has not acknowledged, and garbage, from a foreign TID
        if (block === 3) {
          stranger.send(encode({ op: 'ack', block: 40 }), serverPort, '127.0.0.1');
          stranger.send(Buffer.from([0, 4]), serverPort, '127.0.0.1');
        }
      },
    });
    assert.deepEqual(got.data, small);
    await new Promise((r) => setTimeout(r, 20));
    stranger.close();
    assert.ok(replies.length >= 1);
    for (const m of replies) assert.deepEqual(decode(m), { ok: true, packet: { op: 'error', code: 5, message: 'unknown transfer ID' } });
    assert.ok((await s.metric('fleetboot_tftp_unknown_tid_total')) >= 1);
  });
});

test('fuzzed and truncated packets never stop the server; a file is served afterwards', async () => {
  await withServer(undefined, async (s) => {
    const r = rng(99);
    const valid = [
      encode({ op: 'rrq', filename: 'small.bin', mode: 'octet', options: [['blksize', '1024'], ['tsize', '0']] }),
      encode({ op: 'oack', options: [['blksize', '1']] }),
      encode({ op: 'error', code: 8, message: 'x' }),
    ];
    const packets: Buffer[] = [Buffer.alloc(0), Buffer.from([0]), Buffer.from([0xff]), Buffer.alloc(1500, 0xff), Buffer.alloc(65000)];
    for (const v of valid) for (let i = 0; i < v.length; i++) packets.push(v.subarray(0, i));
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.from(Array.from({ length: Math.floor(r() * 80) }, () => (r() < 0.3 ? 0 : Math.floor(r() * 256))));
      if (b.length >= 2 && r() < 0.7) (b[0] = 0), (b[1] = Math.floor(r() * 8));
      packets.push(b);
    }
    await raw(s.port, packets, 200);
    // malformed packets from the client's own port inside a running transfer are dropped too
    const got = await fetch({
      port: s.port,
      file: 'medium.bin',
      options: { blksize: '1000', windowsize: '4' },
      onData: (block, serverPort, sock) => {
        if (block % 50 === 0) for (let i = 0; i < 5; i++) sock.send(Buffer.from([0, 4, 1].slice(0, i % 4)), serverPort, '127.0.0.1');
      },
    });
    assert.deepEqual(got.data, medium);
    assert.ok((await s.metric('fleetboot_tftp_malformed_total')) > 100);
    assert.equal(s.logs.filter((l) => l.level >= 50).length, 0, 'no error-level logs');
  });
});

test('jail: traversal, absolute paths outside the root, backslashes and symlinks out are refused', async () => {
  await withServer(undefined, async (s) => {
    const cases: Array<[string, number[]]> = [
      ['../etc/passwd', [2]],
      ['sub/../../etc/passwd', [2]],
      ['..', [2]],
      ['sub\\..\\..\\etc\\passwd', [2]],
      ['\\etc\\passwd', [2]],
      ['passwd-link', [2]],
      ['etc-link/passwd', [2]],
      ['/etc/passwd', [1, 2]], // read as <root>/etc/passwd: absent, never the host's file
      ['nope.bin', [1]],
      ['sub', [1]], // a directory is not a file
    ];
    for (const [file, codes] of cases) {
      const r = await fetch({ port: s.port, file });
      assert.ok(r.error, `${file} refused`);
      assert.ok(codes.includes(r.error.code), `${file}: code ${r.error.code}`);
      assert.equal(r.data.length, 0);
    }
    assert.equal((await fetch({ port: s.port, file: '/sub/ok.txt' })).data.toString(), 'inside\n');
  });
});

test('write requests and unsupported modes are refused with an error packet', async () => {
  await withServer(undefined, async (s) => {
    const [w] = await raw(s.port, [encode({ op: 'wrq', filename: 'x.bin', mode: 'octet', options: [] })]);
    assert.deepEqual(decode(w.msg), { ok: true, packet: { op: 'error', code: 2, message: 'write requests are not accepted' } });
    const m = await fetch({ port: s.port, file: 'small.bin', mode: 'mail' });
    assert.equal(m.error?.code, 4);
    const n = await fetch({ port: s.port, file: 'sub/ok.txt', mode: 'NetASCII' });
    assert.equal(n.data.toString('latin1'), 'inside\r\n');
    assert.equal(await s.metric('fleetboot_tftp_transfers_total', { result: 'refused' }), 1);
  });
});

test('EDK2 tsize probe: ERROR 8 after the OACK is logged at debug, then the real request completes', async () => {
  await withServer(undefined, async (s) => {
    const c = dgram.createSocket('udp4');
    await new Promise<void>((r) => c.bind(0, '127.0.0.1', r));
    const [o] = await raw(s.port, [encode({ op: 'rrq', filename: 'medium.bin', mode: 'octet', options: [['tsize', '0']] })], 50, c);
    assert.deepEqual(decode(o.msg), { ok: true, packet: { op: 'oack', options: [['tsize', '1000000']] } });
    c.send(encode({ op: 'error', code: 8, message: 'User aborted the transfer' }), o.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 50));
    c.close();
    assert.equal(s.server.activeTransfers, 0);
    const probe = s.logs.find((l) => l.msg.includes('after OACK'));
    assert.equal(probe?.level, 20);
    assert.equal(s.logs.filter((l) => l.level >= 40).length, 0, 'nothing at warn or above');
    assert.equal(await s.metric('fleetboot_tftp_transfers_total', { result: 'declined' }), 1);
    const r = await fetch({ port: s.port, file: 'medium.bin', options: { blksize: '1468', windowsize: '4' } });
    assert.deepEqual(r.data, medium);
  });
});

test('generated files come first, with the client address; null falls back to the jail; a throwing source is an error', async () => {
  const seen: Array<[string, string]> = [];
  const generated = async (path: string, client: { address: string; port: number }) => {
    seen.push([path, client.address]);
    if (path === 'boot.ipxe') return Buffer.from('#!ipxe\nchain http://x/boot.ipxe\n');
    if (path === 'boom') throw new Error('decision failed');
    return null;
  };
  await withServer({ root: root.dir, generated }, async (s) => {
    assert.equal((await fetch({ port: s.port, file: '/boot.ipxe', options: { tsize: '0' } })).data.toString(), '#!ipxe\nchain http://x/boot.ipxe\n');
    assert.deepEqual((await fetch({ port: s.port, file: 'small.bin' })).data, small);
    assert.equal((await fetch({ port: s.port, file: 'boom' })).error?.code, 0);
    assert.equal((await fetch({ port: s.port, file: '../boot.ipxe' })).error?.code, 2);
    assert.deepEqual(seen, [['boot.ipxe', '127.0.0.1'], ['small.bin', '127.0.0.1'], ['boom', '127.0.0.1']]);
  });
});

test('concurrency limit, retry bound, and stop() ending in-flight transfers', async () => {
  await withServer({ root: root.dir, config: { maxTransfers: 1, timeoutMs: 300, retries: 2 } }, async (s) => {
    // a client that goes silent holds the only slot...
    const silent = fetch({ port: s.port, file: 'medium.bin', stallAfter: 1, timeoutMs: 5000, maxTries: 2 });
    await active(s, 1);
    // ...so a second request gets NO answer (an ERROR would end a PXE client's boot for good):
    // the client retransmits its RRQ every 100 ms and one of those is served once the retry
    // bound ends the silent transfer (silence >= 3 x 300 ms, tries > 2)
    const busy = fetch({ port: s.port, file: 'small.bin', timeoutMs: 100, maxTries: 100 });
    const r = await silent;
    assert.equal(r.error?.message, 'timed out');
    const b = await busy;
    assert.equal(b.error, undefined, 'no ERROR packet reached the client that found the server full');
    assert.deepEqual(b.data, small, 'its retransmitted RRQ was served once the slot was free');
    assert.equal(await s.metric('fleetboot_tftp_transfers_total', { result: 'timeout' }), 1);
    const dropped = await s.metric('fleetboot_tftp_transfers_total', { result: 'busy' });
    assert.ok(dropped >= 2, `the RRQs that found the server full were counted (${dropped})`);
    // one warn line for all of them, the rest at debug (pino: warn = 40, debug = 20)
    const lines = s.logs.filter((l) => String(l.msg).includes('at maxTransfers'));
    assert.equal(lines.filter((l) => l.level === 40).length, 1);
    assert.equal(lines.length, dropped);
  });
  const s = await startServer({ root: root.dir, config: { timeoutMs: 5000 } });
  const inflight = fetch({ port: s.port, file: 'medium.bin', stallAfter: 1, timeoutMs: 10_000, maxTries: 2 });
  await active(s, 1);
  assert.equal(await s.metric('fleetboot_tftp_active_transfers'), 1);
  await s.server.stop();
  const res = await inflight;
  assert.equal(res.error?.message, 'server shutting down');
  assert.equal(await s.metric('fleetboot_tftp_active_transfers'), 0);
  assert.equal(s.server.activeTransfers, 0);
});

test('small files come from memory: a repeated RRQ does no file-system work; a replaced file is served new after the 1 s verdict, never mixed', async () => {
  const path = join(root.dir, 'loader.bin');
  const v1 = writeFile(path, 96 * 1024, 21)!;
  await withServer({ root: root.dir }, async (s) => {
    assert.deepEqual((await fetch({ port: s.port, file: 'loader.bin' })).data, v1);
    assert.deepEqual((await fetch({ port: s.port, file: 'loader.bin', options: { blksize: '1468' } })).data, v1);
    const st = s.server.fileCacheStats!;
    assert.equal(st.resolves, 1, 'one realpath + stat for both requests');
    assert.equal(st.bodyReads, 1, 'the bytes were read once');
    assert.ok(st.hits >= 1);
    // replaced the way `fleetboot assets fetch` does it (rename into place)
    const v2 = writeFile(join(root.dir, 'loader.new'), 96 * 1024, 22)!;
    renameSync(join(root.dir, 'loader.new'), path);
    const soon = (await fetch({ port: s.port, file: 'loader.bin' })).data;
    assert.ok(soon.equals(v1) || soon.equals(v2), 'one version whole, never a mix');
    await new Promise((r) => setTimeout(r, 1100));
    assert.deepEqual((await fetch({ port: s.port, file: 'loader.bin' })).data, v2);
    // and a file that disappeared is "not found" once its verdict is rechecked
    renameSync(path, join(root.dir, 'gone.tmp'));
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await fetch({ port: s.port, file: 'loader.bin' })).error?.code, 1);
  });
});
