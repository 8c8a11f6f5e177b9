// A junk flood on the DHCP port gives a bounded log: thousands of datagrams (DISCOVERs from
// random MACs, undecodable bytes) through the real socket path produce a few dozen lines and one
// "suppressed K similar" summary per kind, and a known host's lines still come through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { newRequest, encode } from '../../src/dhcp/codec.js';
import { dhcpConfigSchema } from '../../src/dhcp/config.js';
import { MemoryLeaseStore } from '../../src/dhcp/leases.js';
import { DhcpServer } from '../../src/dhcp/server.js';
import { Opt } from '../../src/dhcp/options.js';
import { captureLog } from '../helpers/fixture.js';

const KNOWN = '52:54:00:12:00:99';

test('dhcp: a flood of junk datagrams logs a bounded number of lines, with a summary of the rest', async () => {
  const port = 40000 + Math.floor(Math.random() * 10000);
  const registry = new Registry();
  const cap = captureLog('debug');
  const server = new DhcpServer({
    config: dhcpConfigSchema.parse({ enabled: true, serverAddress: '127.0.0.1', listen: '127.0.0.1', port, clientPort: port + 1, netmask: '255.0.0.0', pool: { start: '127.0.1.1', end: '127.0.1.50' }, unknownPolicy: 'ignore' }),
    log: cap.log, registry, leases: new MemoryLeaseStore(), hosts: { byMac: (m) => (m === KNOWN ? { name: 'known' } : undefined) },
    boot: { httpBase: 'http://127.0.0.1:8080', tftpServer: '127.0.0.1' },
  });
  await server.start();
  const client = dgram.createSocket('udp4');
  const processed = async () => {
    const m = await registry.getMetricsAsJSON();
    const sum = (name: string) => (m.find((x) => x.name === name)?.values ?? []).reduce((a, v) => a + v.value, 0);
    return sum('fleetboot_dhcp_requests_total') + sum('fleetboot_dhcp_malformed_total');
  };
  const JUNK = 3000;
  try {
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
    let sent = 0;
    // in batches the socket buffer holds, each one waited for (loopback UDP may drop otherwise)
    while (sent < JUNK) {
      for (let i = 0; i < 100; i++, sent++) {
        let buf: Buffer;
        if (i % 10 === 0) buf = randomBytes(50 + (i % 200)); // undecodable
        else {
          const mac = [0x02, ...randomBytes(5)].map((b) => b.toString(16).padStart(2, '0')).join(':');
          const d = newRequest(mac, sent);
          d.options.set(Opt.MESSAGE_TYPE, Buffer.from([1])); // DISCOVER
          buf = encode(d);
        }
        client.send(buf, port, '127.0.0.1');
      }
      const until = Date.now() + 10_000;
      while ((await processed()) < sent && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(await processed(), JUNK, 'every datagram reached the server');
    const d = newRequest(KNOWN, 4242);
    d.options.set(Opt.MESSAGE_TYPE, Buffer.from([1]));
    client.send(encode(d), port, '127.0.0.1');
    while ((await processed()) < JUNK + 1) await new Promise((r) => setTimeout(r, 10));
  } finally {
    client.close();
    await server.stop(); // ends every window: the summaries are written
  }
  const lines = cap.lines().filter((l) => l.subsystem === 'dhcp' && l.msg !== 'dhcp server listening');
  const bytes = lines.reduce((a, l) => a + JSON.stringify(l).length + 1, 0);
  console.log(`${JUNK} junk datagrams -> ${lines.length} log lines, ${bytes} bytes`);
  assert.ok(lines.length <= 50, `at most a few dozen lines, got ${lines.length}`);
  const summaries = lines.filter((l) => /^suppressed \d+ similar log lines/.test(String(l.msg)));
  const suppressed = summaries.reduce((a, l) => a + Number(l.suppressed), 0);
  const shown = lines.length - summaries.length - 1; // minus the known host's line
  assert.equal(shown + suppressed, JUNK, 'every junk datagram is either a line or counted in a summary');
  assert.ok(summaries.some((l) => l.kind === 'discover:ignore-unknown:unknown-mac'), JSON.stringify(summaries));
  assert.ok(summaries.some((l) => l.kind === 'malformed'));
  assert.ok(lines.some((l) => l.mac === KNOWN && l.host === 'known'), "the known host's DISCOVER is logged after the flood");
});
