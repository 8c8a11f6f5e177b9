// `fleetboot image list|rm` and usage errors, as a user runs them (the real CLI binary).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeFixture, REPO } from '../helpers/fixture.js';

const INVENTORY = `
roles:
  img: { installer: image, packages: [openssh-server] }
  answers: { kernel: tiny/vmlinuz, initrd: tiny/initrd.img, template: tiny.cfg }
hosts:
  - { name: alpha, macs: ["52:54:00:aa:00:01"], roles: [answers] }
`;
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLEETBOOT_')));

test('image list / rm / usage', () => {
  const fx = makeFixture('', INVENTORY);
  try {
    writeFileSync(fx.configFile, readFileSync(fx.configFile, 'utf8').replace('  templates: templates\n', '  templates: templates\n  images: imgs\n'));
    const cli = (...a: string[]) => spawnSync(process.execPath, [join(REPO, 'dist/src/cli.js'), '--config', fx.configFile, 'image', ...a], { encoding: 'utf8', env });
    const dir = join(fx.dir, 'imgs/img');
    mkdirSync(dir, { recursive: true });
    const id = 'abcdefabcdefabcd';
    writeFileSync(join(dir, `${id}.ext4.zst`), 'zst');
    writeFileSync(join(dir, `${id}.json`), JSON.stringify({ id, role: 'img', format: 'ext4+zstd', file: `${id}.ext4.zst`, sha256: createHash('sha256').update('zst').digest('hex'), size: 3, rawSize: 1024, builtAt: '2026-01-01T00:00:00Z', buildSeconds: 1, suite: 'bookworm', kernelVersion: '6.1.0-41-amd64', packages: [] }));

    const list = cli('list', '--json');
    assert.equal(list.status, 0, list.stderr);
    const j = JSON.parse(list.stdout) as { roles: { role: string; state: string; images: { id: string }[] }[] };
    assert.deepEqual(j.roles.map((r) => [r.role, r.state, r.images.map((i) => i.id)]), [['img', 'ready', [id]]]);
    assert.match(cli('list').stdout, new RegExp(`^img: ready\\n  ${id}  2026-01-01T00:00:00Z`));
    assert.equal(cli('list', 'nosuch').status, 2);

    assert.equal(cli('--help').status, 0);
    assert.match(cli('--help').stdout, /^usage: fleetboot image build ROLE/);
    for (const bad of [[], ['frobnicate'], ['build'], ['build', 'a', 'b'], ['rm', 'img'], ['rm', 'img', '../x'], ['list', '--force'], ['build', 'img', '--bogus']]) {
      const r = cli(...bad);
      assert.equal(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
    }
    const notImage = cli('build', 'answers');
    assert.equal(notImage.status, 2);
    assert.match(notImage.stderr, /installer: answer-file/);
    assert.equal(cli('build', 'nosuch').status, 2);

    assert.equal(cli('rm', 'img', id).status, 0);
    assert.equal(existsSync(join(dir, `${id}.ext4.zst`)), false);
    assert.equal(existsSync(join(dir, `${id}.json`)), false);
    const again = cli('rm', 'img', id);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /has no image/);
    assert.match(cli('list').stdout, /^img: none$/m);
  } finally {
    fx.cleanup();
  }
});
