// The image installer's boot decision and plan, through a real daemon on loopback with curl:
// a marked host of an image role is refused (local boot, an event saying why) while its role
// has no image or the installer environment is missing, then gets fleetboot's installer with
// the plan URL; the plan (JSON and the busybox-sourced sh form) carries the image manifest,
// the disk layout and the host's files; other tokens and roles are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeFixture, startDaemon, FakeClock, type Fixture } from '../helpers/fixture.js';
import { decideBoot, IMAGE_INSTALLER } from '../../src/boot/decide.js';
import type { Daemon } from '../../src/daemon.js';

const INV = `
roles:
  img:
    installer: image
    partitioning: { scheme: keep-data, disk: /dev/sda, dataLabel: data, dataMount: /srv/data }
    cmdline: fb.onfail=poweroff
    vars:
      ssh_authorized_keys: ["ssh-ed25519 AAAAkey1 ops@x", "ssh-ed25519 AAAAkey2 o'neil@x"]
      verify_file: /srv/data/file
      domain: lab.test
  tiny:
    kernel: tiny/vmlinuz
    initrd: tiny/initrd.img
    template: tiny.cfg
hosts:
  - { name: web-01, macs: ["52:54:00:bb:00:01", "52:54:00:bb:00:02"], roles: [img] }
  - { name: old-01, macs: ["52:54:00:bb:00:03"], roles: [tiny] }
`;

let fx: Fixture;
let d: Daemon;
let base: string;
const run = promisify(execFile);
const curl = async (...args: string[]) => (await run('curl', ['-sS', ...args], { encoding: 'utf8' })).stdout;
const MAC = '52:54:00:bb:00:01';
const manifest = {
  id: '0123456789abcdef', role: 'img', format: 'ext4+zstd', file: '0123456789abcdef.ext4.zst', sha256: 'a'.repeat(64), size: 1234, rawSize: 5 * 1024 * 1024 * 1024,
  builtAt: '2026-12-01T00:00:00.000Z', buildSeconds: 100, suite: 'bookworm', kernelVersion: '6.1.0-50-amd64', packages: [{ name: 'bash', version: '5.2' }],
};

before(async () => {
  fx = makeFixture('', INV);
  fx.write('fleetboot.yaml', `${planConfig(fx)}`);
  ({ d, base } = await startDaemon(fx, new FakeClock()));
});
after(async () => {
  await d.stop();
  fx.cleanup();
});

function planConfig(f: Fixture): string {
  return `server:\n  address: 127.0.0.1\nhttp:\n  listen: 127.0.0.1\n  port: 0\npaths:\n  db: state/fb.sqlite\n  assets: assets\n  templates: templates\n  images: ${join(f.dir, 'images')}\ntftp:\n  enabled: false\ndhcp:\n  enabled: false\nsyslog:\n  enabled: false\ncache:\n  enabled: false\nweb:\n  enabled: false\ninventory: inventory.yaml\n`;
}

test('decideBoot: image roles get the installer env only with an image and the env built', () => {
  const client = { mac: MAC, arch: 'bios' as const, kind: 'ipxe' as const, via: 'http' as const };
  const state = { reinstallMarked: true, run: { id: 3, token: 't', state: 'marked' as const } };
  const host = { name: 'h', role: 'img', kernel: '', initrd: '', cmdline: 'x=1', installer: 'image' as const };
  const none = decideBoot(client, { ...host, installerEnv: true }, state, { unknown: 'local' });
  assert.equal(none.action, 'local');
  assert.ok(none.action === 'local' && none.refused && /no image yet \(fleetboot image build img\)/.test(none.reason));
  const noEnv = decideBoot(client, { ...host, imageId: 'abc', installerEnv: false }, state, { unknown: 'local' });
  assert.ok(noEnv.action === 'local' && noEnv.refused && /fleetboot assets fetch/.test(noEnv.reason));
  const ok = decideBoot(client, { ...host, imageId: 'abc', installerEnv: true }, state, { unknown: 'local' });
  assert.ok(ok.action === 'install');
  assert.equal(ok.kernel, IMAGE_INSTALLER.kernel);
  assert.match(ok.cmdline, /^fb\.plan=\{\{ urls\.base \}\}\/i\/\{\{ run\.token \}\}\/plan fb\.syslog=.* x=1$/);
  // unmarked: a local boot that is not a refusal
  const local = decideBoot(client, { ...host, imageId: 'abc', installerEnv: true }, { reinstallMarked: false }, { unknown: 'local' });
  assert.ok(local.action === 'local' && !local.refused);
  // answer-file roles: unchanged
  const af = decideBoot(client, { name: 'h', role: 'r', kernel: 'k', initrd: 'i', cmdline: 'c' }, state, { unknown: 'local' });
  assert.ok(af.action === 'install' && af.kernel === 'k' && af.cmdline === 'c');
});

test('marked image host: refused while there is no image, then the installer with the plan URL; the plan over curl', async () => {
  // marking is refused without an image (src/boot/missing.ts); forced, the boot decision still
  // refuses to start an installer that has nothing to write
  assert.equal(d.installs.mark(['web-01'], 'test')[0].ok, false);
  d.installs.mark(['web-01'], 'test', { force: true });
  // no image, no installer env: local boot, the mark stays, the timeline says why
  let script = await curl(`${base}/boot.ipxe?mac=${MAC}`);
  assert.match(script, /local boot \(role img has no image yet/);
  assert.match(script, /^exit 1$/m);
  assert.equal(d.installs.hostState('web-01').reinstallMarked, true);
  const refused = d.store.events({ host: 'web-01' }).filter((e) => /installer refused/.test(e.message ?? ''));
  assert.equal(refused.length, 1);
  // the image exists, the env not yet
  mkdirSync(join(fx.dir, 'images/img'), { recursive: true });
  writeFileSync(join(fx.dir, 'images/img', '0123456789abcdef.json'), JSON.stringify(manifest));
  writeFileSync(join(fx.dir, 'images/img', '0123456789abcdef.ext4.zst'), Buffer.alloc(1234));
  script = await curl(`${base}/boot.ipxe?mac=${MAC}`);
  assert.match(script, /installer environment is not built/);
  fx.write('assets/fleetboot-installer/vmlinuz', Buffer.alloc(1000, 1));
  fx.write('assets/fleetboot-installer/initrd.img', Buffer.alloc(1000, 2));
  script = await curl(`${base}/boot.ipxe?mac=${MAC}`);
  const token = d.installs.hostState('web-01').run!.token;
  assert.match(script, new RegExp(`^kernel ${base}/assets/fleetboot-installer/vmlinuz initrd=initrd.img fb\\.plan=${base}/i/${token}/plan fb\\.syslog=127\\.0\\.0\\.1:\\d+ console=tty0 console=ttyS0,115200n8 fb\\.onfail=poweroff$`, 'm'));
  assert.match(script, new RegExp(`^initrd ${base}/assets/fleetboot-installer/initrd.img$`, 'm'));

  const plan = JSON.parse(await curl(`${base}/i/${token}/plan`));
  assert.equal(plan.host, 'web-01');
  assert.equal(plan.disk, '/dev/sda');
  assert.equal(plan.scheme, 'keep-data');
  assert.equal(plan.dataMount, '/srv/data');
  assert.deepEqual(plan.image, { id: manifest.id, url: `${base}/images/img/${manifest.file}`, sha256: manifest.sha256, size: 1234, rawSize: manifest.rawSize, format: 'ext4+zstd', kernelVersion: manifest.kernelVersion });
  assert.equal(plan.progressUrl, `${base}/i/${token}/progress`);
  assert.equal(plan.files['/etc/hostname'].content, 'web-01\n');
  assert.match(plan.files['/etc/hosts'].content, /127\.0\.1\.1 web-01\.lab\.test web-01/);
  assert.match(plan.files['/etc/systemd/network/10-fleetboot-prov1.link'].content, /MACAddress=52:54:00:bb:00:02\n\n\[Link\]\nName=prov1/);
  assert.match(plan.files['/etc/network/interfaces'].content, /auto prov0\niface prov0 inet dhcp/);
  assert.equal(plan.files['/root/.ssh/authorized_keys'].mode, '0600');
  assert.equal(plan.files['/etc/fleetboot/firstboot.env'].content, `FLEETBOOT_PROGRESS_URL=${base}/i/${token}/progress\nFLEETBOOT_VERIFY_FILE=/srv/data/file\n`);
  assert.equal(plan.files['/etc/systemd/system/fleetboot-firstboot.service.d/10-fleetboot-verify.conf'].content, '[Unit]\nRequiresMountsFor=/srv/data\n');
  assert.ok(d.store.events({ host: 'web-01' }).some((e) => /install plan fetched: image 0123456789abcdef/.test(e.message ?? '')));

  // the sh form, sourced by a POSIX shell (busybox in the installer): same values, files intact
  const sh = await curl(`${base}/i/${token}/plan?format=sh`);
  const shell = spawnSync('sh', ['-c', `${sh}\nprintf '%s|%s|%s|%s\\n' "$FB_HOST" "$FB_IMAGE_SHA256" "$FB_DATA_MOUNT" "$FB_FILES"; i=1; while [ $i -le $FB_FILES ]; do eval "p=\\$FB_FILE_\${i}_PATH b=\\$FB_FILE_\${i}_B64"; [ "$p" = /root/.ssh/authorized_keys ] && printf %s "$b" | base64 -d; i=$((i+1)); done`], { encoding: 'utf8' });
  assert.equal(shell.status, 0, shell.stderr);
  assert.equal(shell.stdout, `web-01|${'a'.repeat(64)}|/srv/data|8\nssh-ed25519 AAAAkey1 ops@x\nssh-ed25519 AAAAkey2 o'neil@x\n`);

  // a wrong token: the bare 404 of every token URL
  assert.equal(await curl('-o', '/dev/null', '-w', '%{http_code}', `${base}/i/${'x'.repeat(32)}/plan`), '404');
});

test('plan of an answer-file role is refused (409)', async () => {
  d.installs.mark(['old-01'], 'test');
  const token = d.installs.hostState('old-01').run!.token;
  assert.equal(await curl('-o', '/dev/null', '-w', '%{http_code}', `${base}/i/${token}/plan`), '409');
});
