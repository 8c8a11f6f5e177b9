// `fleetboot assets fetch`: real Debian packages (apt-get download, or the installed package).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchAssets } from '../../src/cli/assets.js';

test('assets fetch writes loaders and the d-i kernel/initrd with versions and sha256', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-assets-'));
  try {
    const entries = await fetchAssets(dir, () => {});
    assert.deepEqual(entries.map((e) => e.file).sort(), ['debian-12/initrd.gz', 'debian-12/linux', 'ipxe.efi', 'snponly.efi', 'undionly.kpxe']);
    const manifest = JSON.parse(readFileSync(join(dir, 'MANIFEST.json'), 'utf8'));
    for (const e of manifest.files) {
      const bytes = readFileSync(join(dir, e.file));
      assert.equal(createHash('sha256').update(bytes).digest('hex'), e.sha256, e.file);
      assert.equal(bytes.length, e.size);
      assert.match(e.version, /^\d/);
    }
    // sanity: real binaries, not placeholders
    assert.ok(readFileSync(join(dir, 'debian-12/linux')).length > 4_000_000);
    assert.equal(readFileSync(join(dir, 'ipxe.efi')).subarray(0, 2).toString(), 'MZ');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
