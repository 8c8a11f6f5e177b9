// src/image/store.ts: content-addressed ids, manifest validation, newest-first listing, GC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  canonicalJson,
  gcImages,
  imageId,
  imagePath,
  IMAGE_BUILDER_VERSION,
  isImageFileName,
  latestImage,
  listImageRoles,
  listImages,
  removeImage,
  type ImageManifest,
} from '../../src/image/store.js';

const inputs = { suite: 'bookworm', packages: ['openssh-server', 'curl'], mirror: 'http://deb.example/debian', aptUrl: 'http://10.0.0.1:8080/mirror/debian', builder: IMAGE_BUILDER_VERSION };

function put(dir: string, role: string, id: string, builtAt: string, body = 'img-' + id): ImageManifest {
  mkdirSync(join(dir, role), { recursive: true });
  const file = `${id}.ext4.zst`;
  writeFileSync(join(dir, role, file), body);
  const m: ImageManifest = {
    id,
    role,
    format: 'ext4+zstd',
    file,
    sha256: createHash('sha256').update(body).digest('hex'),
    size: Buffer.byteLength(body),
    rawSize: 1 << 30,
    builtAt,
    buildSeconds: 12.5,
    suite: 'bookworm',
    kernelVersion: '6.1.0-41-amd64',
    packages: [{ name: 'openssh-server', version: '1:9.2p1-2+deb12u7' }],
  };
  writeFileSync(join(dir, role, `${id}.json`), JSON.stringify(m));
  return m;
}

test('id: 16 hex digits of sha256 over canonical JSON; package order, duplicates and a trailing slash do not matter', () => {
  const id = imageId(inputs);
  assert.match(id, /^[0-9a-f]{16}$/);
  const expected = createHash('sha256')
    .update(JSON.stringify({ aptUrl: 'http://10.0.0.1:8080/mirror/debian', builder: IMAGE_BUILDER_VERSION, mirror: 'http://deb.example/debian', packages: ['curl', 'openssh-server'], suite: 'bookworm' }))
    .digest('hex')
    .slice(0, 16);
  assert.equal(id, expected);
  assert.equal(imageId({ ...inputs, packages: ['curl', 'openssh-server', 'curl'], mirror: 'http://deb.example/debian/' }), id);
  assert.notEqual(imageId({ ...inputs, suite: 'trixie' }), id);
  assert.notEqual(imageId({ ...inputs, packages: ['curl'] }), id);
  assert.notEqual(imageId({ ...inputs, mirror: 'http://other.example/debian' }), id);
  assert.notEqual(imageId({ ...inputs, aptUrl: 'http://10.0.0.2:8080/mirror/debian' }), id);
  assert.notEqual(imageId({ ...inputs, builder: IMAGE_BUILDER_VERSION + 1 }), id);
  assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}');
});

test('imagePath accepts only <id>.ext4.zst / <id>.json under a valid role', () => {
  assert.equal(imagePath('/v/images', 'web', '0123456789abcdef.ext4.zst'), '/v/images/web/0123456789abcdef.ext4.zst');
  assert.equal(imagePath('/v/images', 'web', '0123456789abcdef.json'), '/v/images/web/0123456789abcdef.json');
  for (const bad of ['../x.json', '0123456789abcdef.ext4', '.0123456789abcdef.ext4.zst', '0123456789ABCDEF.json', '0123456789abcdef.json/x', 'x']) {
    assert.equal(isImageFileName(bad), false, bad);
    assert.throws(() => imagePath('/v/images', 'web', bad));
  }
  assert.throws(() => imagePath('/v/images', '../etc', '0123456789abcdef.json'));
  assert.throws(() => imagePath('/v/images', 'Web', '0123456789abcdef.json'));
});

test('listing: newest builtAt first; torn manifests, size mismatches and staging files are ignored', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-img-'));
  try {
    assert.equal(latestImage(dir, 'web'), undefined, 'no role directory: no image');
    const a = put(dir, 'web', 'aaaaaaaaaaaaaaaa', '2026-01-01T00:00:00.000Z');
    const b = put(dir, 'web', 'bbbbbbbbbbbbbbbb', '2026-03-01T00:00:00.000Z');
    put(dir, 'web', 'cccccccccccccccc', '2026-02-01T00:00:00.000Z');
    writeFileSync(join(dir, 'web', 'dddddddddddddddd.json'), '{"id":"dddd'); // torn
    const e = put(dir, 'web', 'eeeeeeeeeeeeeeee', '2026-04-01T00:00:00.000Z');
    writeFileSync(join(dir, 'web', e.file), 'truncated'); // size no longer matches
    const f = put(dir, 'web', 'ffffffffffffffff', '2026-05-01T00:00:00.000Z');
    rmSync(join(dir, 'web', f.file)); // manifest without its image
    writeFileSync(join(dir, 'web', '.0000000000000000.ext4.zst.tmp'), 'half');
    const g = put(dir, 'web', '1111111111111111', '2026-06-01T00:00:00.000Z');
    writeFileSync(join(dir, 'web', `${g.id}.json`), JSON.stringify({ ...g, role: 'db' })); // foreign role
    assert.deepEqual(listImages(dir, 'web').map((m) => m.id), [b.id, 'cccccccccccccccc', a.id]);
    assert.deepEqual(latestImage(dir, 'web'), b);
    put(dir, 'db', '2222222222222222', '2026-01-01T00:00:00.000Z');
    mkdirSync(join(dir, 'Not_A_Role'));
    assert.deepEqual(listImageRoles(dir), ['db', 'web']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gc keeps the newest N plus protected ids and removes orphans; rm removes both files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-img-'));
  try {
    for (let i = 1; i <= 5; i++) put(dir, 'web', `${i}`.repeat(16), `2026-0${i}-01T00:00:00.000Z`);
    writeFileSync(join(dir, 'web', '9999999999999999.ext4.zst'), 'orphan: no manifest');
    writeFileSync(join(dir, 'web', '.8888888888888888.ext4.zst.partial'), 'a build in progress');
    const removed = gcImages(dir, 'web', 2, ['1111111111111111']);
    assert.deepEqual(removed.sort(), ['2222222222222222', '3333333333333333', '9999999999999999']);
    assert.deepEqual(listImages(dir, 'web').map((m) => m.id), ['5555555555555555', '4444444444444444', '1111111111111111']);
    assert.ok(readdirSync(join(dir, 'web')).includes('.8888888888888888.ext4.zst.partial'), 'hidden staging files are the builder\'s, not GC\'s');
    assert.equal(removeImage(dir, 'web', '5555555555555555'), true);
    assert.equal(removeImage(dir, 'web', '5555555555555555'), false);
    assert.deepEqual(listImages(dir, 'web').map((m) => m.id), ['4444444444444444', '1111111111111111']);
    assert.throws(() => removeImage(dir, 'web', '../../etc'));
    assert.deepEqual(gcImages(dir, 'none', 3), [], 'a role without a directory collects nothing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
