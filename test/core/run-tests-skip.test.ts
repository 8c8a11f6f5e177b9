// scripts/run-tests.mjs: skipped tests (single ones and whole suites) are counted and listed
// with their reasons; FLEETBOOT_TEST_FAIL_ON_SKIP=1 (.ci/run) turns any skip into a failed run.
// needsRoot() skips exactly when this process lacks the capabilities.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../helpers/fixture.js';
import { needsRoot } from '../helpers/root.js';

function runner(files: Record<string, string>, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'fb-runner-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return spawnSync(process.execPath, [join(REPO, 'scripts/run-tests.mjs')], { encoding: 'utf8', env: { PATH: process.env.PATH, FLEETBOOT_TEST_ROOT: dir, ...env }, timeout: 60_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const FILES = {
  'a.test.js': `const { test, describe } = require('node:test');
describe('lab', { skip: 'needs root (network namespaces)' }, () => { test('inner', () => { throw new Error('must not run'); }); });
test('raw', { skip: 'needs root (raw sockets)' }, () => {});
test('fine', () => {});
`,
};

test('skips are counted (a skipped suite as one) and listed with their reasons; exit 0 by default', () => {
  const r = runner(FILES);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^skipped:\n  lab \(whole suite\): needs root \(network namespaces\)\n  raw: needs root \(raw sockets\)$/m);
  assert.match(r.stdout, /\n1 passed, 0 failed, 2 skipped\n$/);
});

test('FLEETBOOT_TEST_FAIL_ON_SKIP=1 fails the run on any skip, keeping the final line', () => {
  const r = runner(FILES, { FLEETBOOT_TEST_FAIL_ON_SKIP: '1' });
  assert.equal(r.status, 1);
  assert.match(r.stdout, /FLEETBOOT_TEST_FAIL_ON_SKIP=1: 2 skipped test\(s\) fail this run/);
  assert.match(r.stdout, /\n1 passed, 0 failed, 2 skipped\n$/);
  const clean = runner({ 'b.test.js': `require('node:test').test('ok', () => {});\n` }, { FLEETBOOT_TEST_FAIL_ON_SKIP: '1' });
  assert.equal(clean.status, 0, clean.stdout);
  assert.match(clean.stdout, /\n1 passed, 0 failed, 0 skipped\n$/);
});

test('.ci/run sets FLEETBOOT_TEST_FAIL_ON_SKIP=1 for the suite', () => {
  assert.match(readFileSync(join(REPO, '.ci/run'), 'utf8'), /^FLEETBOOT_TEST_FAIL_ON_SKIP=1 (FLEETBOOT_[A-Z_]+=1 )*npm test$/m);
});

test('needsRoot follows the effective capabilities, not just the uid', () => {
  const capEff = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`);
  const has = (bit: number) => (capEff & (1n << BigInt(bit))) !== 0n;
  assert.equal(needsRoot('raw sockets') === false, has(13));
  assert.equal(needsRoot('network namespaces') === false, has(21) && has(12));
  const r = needsRoot('raw sockets');
  if (r) assert.match(r, /^needs root \(raw sockets; running as uid \d+/);
});
