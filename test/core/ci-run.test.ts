// .ci/run needs a preinstalled Node >= 20 and says so at once, before it touches anything.
// Only the refusing paths are run here (PATH holds nothing but a fake `node`): the passing path
// would install packages, which is what CI itself does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../helpers/fixture.js';

function ciRun(fakeNode?: string) {
  const bin = mkdtempSync(join(tmpdir(), 'fb-ci-'));
  try {
    if (fakeNode !== undefined) {
      writeFileSync(join(bin, 'node'), `#!/bin/sh\n${fakeNode}\n`);
      chmodSync(join(bin, 'node'), 0o755);
    }
    return spawnSync('/bin/bash', [join(REPO, '.ci/run')], { encoding: 'utf8', env: { PATH: bin }, timeout: 20_000 });
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}

test('.ci/run without node fails at once with a clear message', () => {
  const r = ciRun();
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^ci: node not found in PATH; fleetboot needs Node\.js >= 20 preinstalled/);
});

test('.ci/run with node older than 20 fails at once', () => {
  for (const [fake, shown] of [['echo 18.19.1', 'node 18.19.1'], ['echo 9.11.2', 'node 9.11.2'], ['exit 1', 'node (unknown version)']]) {
    const r = ciRun(fake);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^ci: ${shown.replace(/[().]/g, '\\$&')} at .*/node is too old; fleetboot needs Node\\.js >= 20`));
  }
});
