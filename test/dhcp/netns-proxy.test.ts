// proxy mode: the site's DHCP server (dnsmasq, in its own namespace on the same bridge) hands
// out addresses; fleetboot adds boot information for PXE/iPXE clients only (names fbdhcp2-*).
// The PXE client is fixtures/pxe-client.js (our codec, EDK2's message sequence): no packaged
// client speaks proxyDHCP.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, LogFile, requireTools, serveDhcp, fixture, metricValue, type Served } from './netns.js';
import { needsRoot } from '../helpers/root.js';

const SRV = '10.78.0.1';
const SITE = '10.78.0.2';

interface Summary { type?: number; server?: string; yiaddr: string; siaddr: string; file: string; bootfile?: string; vendorClass?: string; opt43?: string; lease?: number }
interface PxeResult { offers: Summary[]; ack?: Summary; proxyAck?: Summary; error?: string }

describe('dhcp proxy mode next to dnsmasq (netns)', { skip: needsRoot('network namespaces') }, () => {
  const lab = new Lab('fbdhcp2');
  let dir = '';
  let server: Served | undefined;
  let siteLog: LogFile | undefined;

  before(async () => {
    requireTools('dnsmasq', 'busybox', 'ip');
    dir = mkdtempSync(join(tmpdir(), 'fbdhcp2-'));
    lab.setup([{ name: 'srv', addr: `${SRV}/24` }, { name: 'site', addr: `${SITE}/24` }, { name: 'cli', mac: '52:54:00:aa:01:01' }]);
    const dnsmasq = lab.spawn('site', 'dnsmasq', [
      // -k + a log file, not -d: see LogFile (a full stderr pipe would stall dnsmasq)
      '-k', `--log-facility=${join(dir, 'dnsmasq.log')}`, '-C', '/dev/null', '-p', '0', '-u', 'root', '--interface=eth0', '--bind-interfaces', '--log-dhcp', '--dhcp-authoritative',
      // no ICMP probe before offering: it delays dnsmasq's OFFER by ~3 s
      '--no-ping',
      '--dhcp-range=10.78.0.100,10.78.0.150,255.255.255.0,1h', `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`,
    ]);
    void dnsmasq;
    siteLog = new LogFile(join(dir, 'dnsmasq.log'));
    await siteLog.waitFor(/DHCP, IP range/, 10_000);
    server = await serveDhcp(lab, 'srv', {
      config: { enabled: true, mode: 'proxy', serverAddress: SRV, unknownPolicy: 'discover' },
      db: join(dir, 'state.sqlite'),
      hosts: { '52:54:00:aa:01:01': { name: 'pxe1' } },
      boot: { httpBase: `http://${SRV}:8080`, tftpServer: SRV },
    });
  });

  after(async () => {
    await server?.stop().catch(() => undefined);
    await lab.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const pxeClient = (args: Record<string, unknown>): PxeResult => {
    const out = lab.exec('cli', process.execPath, [fixture('pxe-client'), JSON.stringify({ iface: 'eth0', ...args })], { timeout: 30_000 });
    const r = JSON.parse(out.trim().split('\n').pop()!) as PxeResult;
    assert.equal(r.error, undefined);
    return r;
  };

  it('an ordinary client (udhcpc) gets its lease from dnsmasq; fleetboot stays silent', async () => {
    lab.setMac('cli', '52:54:00:aa:01:03');
    const envFile = join(dir, 'udhcpc.env');
    const script = join(dir, 'udhcpc.sh');
    writeFileSync(script, `#!/bin/sh\n[ "$1" = bound ] && env | grep -E '^(ip|serverid|boot_file)=' > ${envFile}\nexit 0\n`);
    chmodSync(script, 0o755);
    const out = lab.exec('cli', 'sh', ['-c', `busybox udhcpc -i eth0 -f -q -n -t 5 -T 1 -s ${script} 2>&1`], { allowFail: true, timeout: 30_000 });
    assert.ok(existsSync(envFile), `udhcpc got no lease: ${out}\n${siteLog!.all.slice(-20).join('\n')}`);
    const env = readFileSync(envFile, 'utf8');
    assert.match(env, new RegExp(`serverid=${SITE.replace(/\./g, '\\.')}`));
    await server!.out.waitFor(/"mac":"52:54:00:aa:01:03".*"decision":"ignore-not-pxe"/, 5000);
    // a site LAN's ordinary devices are not fleetboot's business: not recorded as discovered
    assert.ok(!server!.out.all.some((l) => l.includes('"discovered":{"mac":"52:54:00:aa:01:03"')), 'ordinary client recorded as discovered');
  });

  it('a UEFI PXE client gets its address from dnsmasq and its boot file from fleetboot', () => {
    lab.setMac('cli', '52:54:00:aa:01:01');
    lab.exec('cli', 'ip', ['addr', 'flush', 'dev', 'eth0']);
    const r = pxeClient({ mac: '52:54:00:aa:01:01', arch: 7 });
    const site = r.offers.find((o) => o.server === SITE);
    const proxy = r.offers.find((o) => o.server === SRV);
    assert.ok(site, `no dnsmasq offer: ${JSON.stringify(r)}`);
    assert.match(site.yiaddr, /^10\.78\.0\.1\d\d$/);
    assert.ok(proxy, `no proxy offer: ${JSON.stringify(r)}`);
    assert.equal(proxy.yiaddr, '0.0.0.0', 'proxyDHCP never offers an address');
    assert.equal(proxy.lease, undefined);
    assert.equal(proxy.vendorClass, 'PXEClient');
    assert.equal(proxy.siaddr, SRV);
    assert.equal(proxy.file, 'snponly.efi');
    assert.equal(proxy.opt43, '060108ff', 'discovery control 8');
    assert.equal(r.ack?.server, SITE);
    assert.equal(r.ack?.yiaddr, site.yiaddr);
    // PXE boot-server request on 4011
    assert.equal(r.proxyAck?.type, 5);
    assert.equal(r.proxyAck?.server, SRV);
    assert.equal(r.proxyAck?.file, 'snponly.efi');
    assert.equal(r.proxyAck?.yiaddr, '0.0.0.0');
    lab.exec('cli', 'ip', ['addr', 'flush', 'dev', 'eth0']);
  });

  it('an iPXE client (unknown MAC, discover policy) is pointed at boot.ipxe', async () => {
    lab.setMac('cli', '52:54:00:aa:01:02');
    const r = pxeClient({ mac: '52:54:00:aa:01:02', arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001', userClass: 'iPXE' });
    const proxy = r.offers.find((o) => o.server === SRV);
    assert.equal(proxy?.bootfile, `http://${SRV}:8080/boot.ipxe?mac=\${netX/mac}`);
    assert.equal(proxy?.vendorClass, 'PXEClient');
    assert.equal(r.proxyAck?.bootfile, `http://${SRV}:8080/boot.ipxe?mac=\${netX/mac}`);
    lab.exec('cli', 'ip', ['addr', 'flush', 'dev', 'eth0']);
    // an unknown network-boot client is recorded
    await server!.out.waitFor(/"discovered":\{"mac":"52:54:00:aa:01:02"/, 5000);
  });

  it('counts what it did', async () => {
    const metrics = await server!.stop();
    server = undefined;
    assert.equal(metricValue(metrics, 'fleetboot_dhcp_decisions_total', { decision: 'proxy-offer' }), 2);
    assert.equal(metricValue(metrics, 'fleetboot_dhcp_decisions_total', { decision: 'proxy-ack' }), 2);
    assert.ok(metricValue(metrics, 'fleetboot_dhcp_decisions_total', { decision: 'ignore-proxy' }) >= 2, 'REQUESTs to dnsmasq ignored');
    assert.ok(metricValue(metrics, 'fleetboot_dhcp_replies_total', { type: 'offer' }) === 2);
  });
});
