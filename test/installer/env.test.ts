// The installer environment's scripts parse under busybox sh (what runs them in the initramfs),
// use no applet busybox-static lacks, and .deb file names give the versions the MANIFEST records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../helpers/fixture.js';
import { versionFromFilename } from '../../src/installer/debs.js';
import { TOOLS } from '../../src/installer/build.js';

const BUSYBOX = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim();
const ENV = join(REPO, 'src/installer/env');
const SCRIPTS = ['init', 'install.sh', 'partition.sh', 'udhcpc.sh'];

test('the installer scripts parse under busybox sh', { skip: !BUSYBOX && 'busybox not installed' }, () => {
  for (const s of SCRIPTS) {
    const r = spawnSync(BUSYBOX, ['sh', '-n', join(ENV, s)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${s}: ${r.stderr}`);
  }
});

test('every command the scripts run is a busybox applet or one of the real tools put beside it', { skip: !BUSYBOX && 'busybox not installed' }, () => {
  const applets = new Set(spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).stdout.split('\n'));
  const provided = new Set([...applets, ...TOOLS, 'mkfs.ext4']);
  // commands in command position that are not shell keywords/builtins/functions
  const builtins = new Set(['if', 'then', 'else', 'elif', 'fi', 'for', 'do', 'done', 'while', 'until', 'case', 'esac', 'in', 'set', 'export', 'return', 'exit', 'local', 'shift', 'eval', 'exec', 'true', 'false', 'break', 'continue', 'wait', 'kill', 'read', 'cd', 'trap', 'command', '.', ':', '[', 'test', 'printf', 'echo']);
  const external = ['grub-install', 'ssh-keygen', 'efibootmgr']; // run inside the chroot: the image has them
  for (const s of SCRIPTS) {
    // without comments and here-documents (grub.cfg's "insmod", "linux" are not commands)
    const text = readFileSync(join(ENV, s), 'utf8')
      .replace(/<<(\w+)\n[\s\S]*?\n\1\n/g, '\n')
      .split('\n')
      .map((l) => l.replace(/(^|\s)#.*$/, ''))
      .join('\n')
      // quoted text is not commands: single-quoted (awk/sed programs) always, double-quoted
      // unless it holds a command substitution
      .replace(/'[^'\n]*'/g, "''")
      .replace(/"([^"\n]*)"/g, (m, inner: string) => (inner.includes('$(') ? m : '""'));
    // install.sh sources partition.sh: functions of all scripts count
    const fns = new Set(SCRIPTS.flatMap((f) => [...readFileSync(join(ENV, f), 'utf8').matchAll(/^\s*([a-z_][a-z0-9_]*)\(\)/gm)].map((m) => m[1])));
    const used = new Set([...text.matchAll(/(?:^|[|;&]|\$\(|\b(?:then|do|else|run|chroot \$T)\s)\s*([a-z][a-z0-9._-]*)(?=\s|$)/gm)].map((m) => m[1]));
    for (const c of used) {
      if (builtins.has(c) || fns.has(c) || external.includes(c) || /^[A-Za-z_]+=/.test(c)) continue;
      assert.ok(provided.has(c), `${s}: "${c}" is neither a busybox applet nor an installer tool`);
      // busybox ash runs its applet before searching PATH: a real tool that busybox also has
      // (blkdiscard, mke2fs) must be called by its path
      assert.ok(!(applets.has(c) && (TOOLS as readonly string[]).includes(c)), `${s}: "${c}" would run busybox's applet, not the real tool: call it as /sbin/${c}`);
    }
  }
});

test('versions from pool file names', () => {
  assert.equal(versionFromFilename('pool/main/e/e2fsprogs/e2fsprogs_1.47.0-2+b2_amd64.deb'), '1.47.0-2+b2');
  assert.equal(versionFromFilename('pool/main/b/busybox/busybox-static_1%3a1.35.0-4+b3_amd64.deb'), '1:1.35.0-4+b3');
});
