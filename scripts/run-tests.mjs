#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's own test runner and ends
// with one line CI can read: "N passed, N failed, N skipped".
// Usage: node scripts/run-tests.mjs [substring...]   (only files whose path contains one of them)
// FLEETBOOT_TEST_FAIL_ON_SKIP=1 (set by .ci/run, which runs as root): any skipped test fails the
// run, so a test that needs root can never silently not run in CI. Skips are listed with
// their reasons either way.
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Transform } from 'node:stream';

// FLEETBOOT_TEST_ROOT: another directory of compiled tests (the runner's own test uses it)
const root = process.env.FLEETBOOT_TEST_ROOT ?? join(import.meta.dirname, '..', 'dist', 'test');
const filters = process.argv.slice(2);
function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const files = walk(root)
  .filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
let passed = 0, failed = 0, skipped = 0;
const skips = [];
const failOnSkip = process.env.FLEETBOOT_TEST_FAIL_ON_SKIP === '1';
const counter = new Transform({
  objectMode: true,
  transform(ev, _enc, cb) {
    if (ev.type === 'test:pass' || ev.type === 'test:fail') {
      const suite = ev.data.details?.type === 'suite';
      // a skipped suite (describe(..., { skip })) reports only itself: count it as one skip
      if (ev.data.skip || ev.data.todo) {
        if (!suite || ev.data.skip) {
          skipped++;
          skips.push(`${ev.data.name}${suite ? ' (whole suite)' : ''}: ${typeof ev.data.skip === 'string' ? ev.data.skip : ev.data.todo ? 'todo' : 'skipped'}`);
        }
      } else if (!suite) {
        // count leaf tests only
        if (ev.type === 'test:pass') passed++;
        else failed++;
      }
    }
    cb(null, ev);
  },
});
// Network-namespace tests claim fixed names; files run with limited parallelism.
const concurrency = Number(process.env.FLEETBOOT_TEST_CONCURRENCY ?? 2);
const stream = run({ files, concurrency, timeout: Number(process.env.FLEETBOOT_TEST_TIMEOUT ?? 600_000) });
stream.on('test:fail', () => { process.exitCode = 1; });
stream.compose(counter).compose(spec).pipe(process.stdout);
stream.on('end', () => {
  // printed after the spec reporter has flushed
  setImmediate(() => {
    if (skips.length) console.log(`\nskipped:\n${skips.map((s) => `  ${s}`).join('\n')}`);
    if (failOnSkip && skipped > 0) console.log(`FLEETBOOT_TEST_FAIL_ON_SKIP=1: ${skipped} skipped test(s) fail this run (run as root with the tools of .ci/apt-deps.sh)`);
    console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
    if (failed > 0 || (failOnSkip && skipped > 0)) process.exitCode = 1;
  });
});
