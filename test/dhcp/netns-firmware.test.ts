// Real firmware against fleetboot (full mode): QEMU with SeaBIOS + its iPXE NIC ROM, and OVMF
// (EDK2) PXE, on a tap device in the lab's bridge namespace (names fbdhcp3-*). A recorder
// (fixtures/recorder.js) in the server namespace logs the firmware's next request, which
// proves it accepted our reply: iPXE must fetch boot.ipxe with ${net0/mac} expanded (and never
// an iPXE binary), EDK2 must ask TFTP for snponly.efi. Slow (TCG emulation), hence one file.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, Lines, LogFile, fixture, requireTools, run, serveDhcp, type Served } from './netns.js';
import { needsRoot } from '../helpers/root.js';

const SRV = '10.75.0.1';

describe('dhcp with real firmware in QEMU (netns)', { skip: needsRoot('network namespaces') }, () => {
  const lab = new Lab('fbdhcp3');
  let dir = '';
  let server: Served | undefined;
  let seen: LogFile;

  before(async () => {
    requireTools('qemu-system-x86_64', 'ip');
    dir = mkdtempSync(join(tmpdir(), 'fbdhcp3-'));
    lab.setup([{ name: 'srv', addr: `${SRV}/24` }]);
    run('ip', ['-n', lab.ns('br'), 'tuntap', 'add', 'tapq', 'mode', 'tap']);
    run('ip', ['-n', lab.ns('br'), 'link', 'set', 'tapq', 'master', 'br0', 'up']);
    seen = new LogFile(join(dir, 'seen.txt'));
    const rec = lab.spawn('srv', process.execPath, [fixture('recorder'), seen.path]);
    await new Lines(rec.stderr!).waitFor(/READY/);
    server = await serveDhcp(lab, 'srv', {
      config: { enabled: true, mode: 'full', serverAddress: SRV, pool: { start: '10.75.0.100', end: '10.75.0.150' }, dns: [SRV], unknownPolicy: 'discover' },
      db: join(dir, 'state.sqlite'),
      boot: { httpBase: `http://${SRV}:8080`, tftpServer: SRV },
    });
  });

  after(async () => {
    await server?.stop().catch(() => undefined);
    await lab.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const boot = (device: string[], extra: string[] = []) =>
    lab.spawn('br', 'qemu-system-x86_64', ['-nographic', '-m', '512', '-display', 'none', '-serial', 'none', '-monitor', 'none',
      '-netdev', 'tap,id=n0,ifname=tapq,script=no,downscript=no', '-boot', 'n', ...extra, ...device]);

  it('SeaBIOS + iPXE ROM: DHCP, then GET /boot.ipxe?mac=<its MAC>', async () => {
    const vm = boot(['-device', 'e1000,netdev=n0,mac=52:54:00:77:00:01']);
    let line: string;
    try {
      line = await seen.waitFor(/^HTTP GET \/boot\.ipxe\?mac=/, 120_000);
    } finally {
      await lab.kill(vm, 'SIGKILL');
    }
    // iPXE expands ${net0/mac} and percent-encodes it (52%3A54%3A...): the HTTP side must decode
    assert.equal(decodeURIComponent(line), 'HTTP GET /boot.ipxe?mac=52:54:00:77:00:01');
    const recs = server!.out.json().filter((r) => r.mac === '52:54:00:77:00:01');
    assert.ok(recs.some((r) => r.decision === 'ack' && r.kind === 'ipxe' && r.arch === 'bios'));
    assert.ok(!seen.all.some((l) => /\.(kpxe|efi)$/.test(l)), 'iPXE was never handed an iPXE binary');
  });

  it('OVMF (EDK2) PXE: DHCP, then TFTP read of snponly.efi', async () => {
    const vm = boot(['-device', 'virtio-net-pci,netdev=n0,romfile=,mac=52:54:00:77:00:02'], ['-bios', '/usr/share/qemu/OVMF.fd']);
    try {
      await seen.waitFor(/^TFTP RRQ snponly\.efi$/, 180_000);
    } finally {
      await lab.kill(vm, 'SIGKILL');
    }
    const recs = server!.out.json().filter((r) => r.mac === '52:54:00:77:00:02');
    assert.ok(recs.some((r) => r.decision === 'ack' && r.kind === 'pxe' && r.arch === 'efi-x64'));
  });
});
