// The Debian 12 keep-data preseed and its served files, rendered by fleetboot's own renderer:
// invariants of the answer file, and the rendered shell scripts parse (sh -n / bash -n, and
// d-i's own busybox ash when busybox is installed). The real install is scripts/reinstall-demo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TemplateRenderer, type RenderContext } from '../../src/install/render.js';
import { REPO } from '../helpers/fixture.js';

const TOKEN = 'Vf6UsT3NMPlHdBMueTxbHJie9ho3Ocio';
const base = 'http://10.99.0.1:8080';
const ctx: RenderContext = {
  host: { name: 'web-01', macs: ['52:54:00:99:08:01'], roles: ['debian-12'], labels: [] },
  role: { name: 'debian-12', suite: 'bookworm', packages: ['htop'], partitioning: { scheme: 'keep-data', disk: '/dev/vda', dataLabel: 'data', dataMount: '/data' } },
  run: { id: 7, token: TOKEN },
  vars: { domain: 'prov.example.net', root_password_hash: '$6$salt$hash', ssh_authorized_keys: ['ssh-ed25519 AAAA one@x', 'ssh-ed25519 BBBB two@y'] },
  packages: ['htop'],
  urls: { base, answer: `${base}/i/${TOKEN}/answer`, progress: `${base}/i/${TOKEN}/progress`, files: `${base}/i/${TOKEN}/files`, nocloud: `${base}/i/${TOKEN}/nocloud/` },
  mirror: { host: '10.99.0.1:8080', directory: '/mirror/debian', url: `${base}/mirror/debian`, protocol: 'http' },
  syslog: { host: '10.99.0.1', port: 5514 },
  server: { address: '10.99.0.1' },
};
const r = new TemplateRenderer(join(REPO, 'preseed-templates'));

function directives(text: string): Map<string, string> {
  const m = new Map<string, string>();
  const joined = text.replace(/\\\n\s*/g, ' ');
  for (const line of joined.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const [, q, , ...rest] = line.split(/\s+/);
    m.set(q, rest.join(' '));
  }
  return m;
}

function has(cmd: string): boolean {
  try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true; } catch { return false; }
}


/** debconf's own parser (`debconf-set-selections -c`) accepts the rendered file, where installed. */
function debconfCheck(out: string): void {
  if (!has('debconf-set-selections')) return;
  const dir = mkdtempSync(join(tmpdir(), 'fb-preseed-'));
  try {
    writeFileSync(join(dir, 'answer'), out);
    execFileSync('debconf-set-selections', ['-c', join(dir, 'answer')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('answer file: fleetboot mirror, hash-only root, keep-data partitioning, hooks, no method that wipes disks', () => {
  const out = r.render('debian-12.preseed.cfg', ctx);
  const d = directives(out);
  assert.equal(d.get('mirror/http/hostname'), '10.99.0.1:8080');
  assert.equal(d.get('mirror/http/directory'), '/mirror/debian');
  assert.equal(d.get('mirror/http/proxy'), '');
  assert.equal(d.get('passwd/root-password-crypted'), '$6$salt$hash');
  assert.ok(!d.has('passwd/root-password'), 'never a plaintext password');
  assert.equal(d.get('partman-auto/init_automatically_partition'), 'biggest_free');
  assert.ok(!d.has('partman-auto/method'), 'partman-auto/method would make partman wipe the whole disk');
  assert.match(d.get('partman-auto/expert_recipe') ?? '', /^fleetboot-os :: .*mountpoint\{ \/ \}.*linux-swap/);
  assert.equal(d.get('partman/early_command'), 'sh /tmp/fb-hooks.sh partition');
  assert.equal(d.get('preseed/late_command'), 'sh /tmp/fb-hooks.sh late');
  assert.match(d.get('preseed/early_command') ?? '', new RegExp(`wget -q -O /tmp/fb-hooks.sh "${base}/i/${TOKEN}/files/di-hooks.sh"`));
  assert.equal(d.get('pkgsel/include'), 'openssh-server htop');
  assert.equal(d.get('grub-installer/bootdev'), '/dev/vda');
  assert.equal(d.get('finish-install/reboot_in_progress'), '');
  assert.ok(!d.has('debian-installer/add-kernel-opts'), 'only when vars.kernel_opts is set');
  // d-i parses every line with a forking shell loop: keep the directive count small
  assert.ok(d.size <= 45, `${d.size} directives`);
  debconfCheck(out);
});

test('served files render and parse: di-hooks.sh (sh, busybox ash), first-boot script (bash), unit, keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-files-'));
  try {
    for (const f of readdirSync(join(REPO, 'preseed-templates', 'files'))) {
      writeFileSync(join(dir, f), r.render(`files/${f}`, ctx));
    }
    const hooks = r.render('files/di-hooks.sh', ctx);
    assert.match(hooks, new RegExp(`^PROGRESS_URL="${base}/i/${TOKEN}/progress"$`, 'm'));
    assert.match(hooks, /^DATA_LABEL="data"$/m);
    assert.match(hooks, /^DATA_MOUNT="\/data"$/m);
    execFileSync('sh', ['-n', join(dir, 'di-hooks.sh')]);
    if (has('busybox')) execFileSync('busybox', ['sh', '-n', join(dir, 'di-hooks.sh')]);
    execFileSync('bash', ['-n', join(dir, 'fleetboot-firstboot.sh')]);
    const fb = r.render('files/fleetboot-firstboot.sh', ctx);
    assert.match(fb, new RegExp(`^PROGRESS_URL="${base}/i/${TOKEN}/progress"$`, 'm'));
    const unit = r.render('files/fleetboot-firstboot.service', ctx);
    assert.match(unit, /^ExecStart=\/usr\/local\/sbin\/fleetboot-firstboot$/m);
    assert.match(unit, /^ConditionPathExists=!\/var\/lib\/fleetboot\/up-reported$/m);
    assert.equal(r.render('files/authorized_keys', ctx), 'ssh-ed25519 AAAA one@x\nssh-ed25519 BBBB two@y\n');
    assert.equal(r.render('files/authorized_keys', { ...ctx, vars: {} }), '');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('answer file, scheme wipe: whole disk via partman-auto/method regular, root of rootSizeMiB, labelled data partition', () => {
  const wipe = { ...ctx, role: { ...ctx.role, partitioning: { scheme: 'wipe', disk: '/dev/sda', dataLabel: 'srv', dataMount: '/srv', rootSizeMiB: 6144 } } };
  const out = r.render('debian-12.preseed.cfg', wipe);
  const d = directives(out);
  assert.equal(d.get('partman-auto/method'), 'regular');
  assert.equal(d.get('partman-auto/disk'), '/dev/sda');
  assert.ok(!d.has('partman-auto/init_automatically_partition'), 'biggest_free is the keep-data path');
  assert.equal(d.get('partman/early_command'), 'sh /tmp/fb-hooks.sh progress partitioning scheme wipe: repartitioning /dev/sda');
  const recipe = d.get('partman-auto/expert_recipe') ?? '';
  assert.match(recipe, /^fleetboot-os :: .*6144 6144 6144 ext4 .*mountpoint\{ \/ \}.*linux-swap.* 1024 1000 -1 ext4 .*label\{ srv \} \.$/);
  assert.equal(d.get('partman-basicfilesystems/no_mount_point'), 'false');
  assert.equal(d.get('grub-installer/bootdev'), '/dev/sda');
  assert.equal(d.get('preseed/late_command'), 'sh /tmp/fb-hooks.sh late', 'late_command adds the LABEL= fstab line, as for keep-data');
  assert.ok(d.size <= 45, `${d.size} directives`);
  // the keep-data rendering of the same context has none of the wipe directives
  const keep = directives(r.render('debian-12.preseed.cfg', ctx));
  assert.ok(!keep.has('partman-auto/method') && !keep.has('partman-auto/disk'));
  debconfCheck(out);
});
