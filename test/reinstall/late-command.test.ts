// di-hooks.sh late (preseed/late_command) against a fake /target, with busybox applets only and
// a loopback HTTP server standing in for fleetboot's files and progress routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TemplateRenderer, type RenderContext } from '../../src/install/render.js';
import { REPO } from '../helpers/fixture.js';

function busyboxPath(): string | undefined {
  try { return execFileSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).trim() || undefined; } catch { return undefined; }
}
const BUSYBOX = busyboxPath();

test('late_command: fstab entry once, root keys, first-boot unit enabled, progress reported', { skip: !BUSYBOX && 'busybox not installed' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-late-'));
  const progress: string[] = [];
  const r = new TemplateRenderer(join(REPO, 'preseed-templates'));
  let ctx: RenderContext | undefined;
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/i/tok/progress') {
      progress.push(`${u.searchParams.get('stage')} ${u.searchParams.get('message')}`);
      res.end('ok\n');
    } else if (u.pathname.startsWith('/i/tok/files/') && ctx) {
      try { res.end(r.render(`files/${u.pathname.slice('/i/tok/files/'.length)}`, ctx)); } catch { res.statusCode = 404; res.end(); }
    } else { res.statusCode = 404; res.end(); }
  });
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', () => res()));
  const port = (srv.address() as { port: number }).port;
  try {
    const base = `http://127.0.0.1:${port}/i/tok`;
    ctx = {
      host: { name: 'web-01', macs: [], roles: [], labels: [] },
      role: { name: 'debian-12', suite: 'bookworm', packages: [], partitioning: { dataLabel: 'data', dataMount: '/data' } },
      run: { id: 3, token: 'tok' }, vars: { ssh_authorized_keys: ['ssh-ed25519 AAAA one@x'] }, packages: [],
      urls: { base, answer: `${base}/answer`, progress: `${base}/progress`, files: `${base}/files`, nocloud: '' },
      mirror: { host: '', directory: '', url: '', protocol: 'http' }, syslog: { host: '', port: 0 }, server: { address: '' },
    };
    mkdirSync(join(dir, 'bin'));
    for (const a of ['sh', 'wget', 'mkdir', 'cp', 'chmod', 'ln', 'grep', 'printf', 'echo', 'cat', 'sed', 'cut', 'sleep', 'logger', 'uname']) symlinkSync(BUSYBOX!, join(dir, 'bin', a));
    const target = join(dir, 'target');
    mkdirSync(join(target, 'etc'), { recursive: true });
    writeFileSync(join(target, 'etc/fstab'), 'UUID=abc / ext4 errors=remount-ro 0 1\n');
    const script = join(dir, 'di-hooks.sh');
    writeFileSync(script, r.render('files/di-hooks.sh', ctx));
    const env = { PATH: join(dir, 'bin'), FB_TARGET: target, TMPDIR: dir };
    for (let i = 0; i < 2; i++) await promisify(execFile)(join(dir, 'bin', 'sh'), [script, 'late'], { env });
    const fstab = readFileSync(join(target, 'etc/fstab'), 'utf8');
    assert.equal(fstab, 'UUID=abc / ext4 errors=remount-ro 0 1\nLABEL=data /data ext4 defaults,nofail 0 2\n', 'appended once');
    assert.ok(existsSync(join(target, 'data')));
    assert.equal(readFileSync(join(target, 'etc/hostname'), 'utf8'), 'web-01\n');
    assert.equal(readFileSync(join(target, 'root/.ssh/authorized_keys'), 'utf8'), 'ssh-ed25519 AAAA one@x\n');
    assert.equal(lstatSync(join(target, 'root/.ssh/authorized_keys')).mode & 0o777, 0o600);
    assert.match(readFileSync(join(target, 'usr/local/sbin/fleetboot-firstboot'), 'utf8'), new RegExp(`PROGRESS_URL="${base}/progress"`));
    assert.equal(lstatSync(join(target, 'usr/local/sbin/fleetboot-firstboot')).mode & 0o777, 0o755);
    assert.match(readFileSync(join(target, 'etc/systemd/system/fleetboot-firstboot.service'), 'utf8'), /^ExecStart=\/usr\/local\/sbin\/fleetboot-firstboot$/m);
    assert.equal(readlinkSync(join(target, 'etc/systemd/system/multi-user.target.wants/fleetboot-firstboot.service')), '/etc/systemd/system/fleetboot-firstboot.service');
    // messages are reduced to [A-Za-z0-9._:,/-] and '+' (spaces) by di-hooks.sh progress()
    assert.deepEqual(progress.slice(0, 2), ['late_command configuring the installed system', 'late_command fstab: LABEL data on /data  first-boot unit installed']);
  } finally {
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
