// Packaging: the systemd unit passes `systemd-analyze verify` and keeps its sandbox; the
// Dockerfile builds from sources only with a HEALTHCHECK and volumes; `fleetboot health`
// (what the HEALTHCHECK runs) tells a running daemon from a dead one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeFixture, startDaemon, REPO } from '../helpers/fixture.js';

const run = promisify(execFile);
const hasAnalyze = spawnSync('sh', ['-c', 'command -v systemd-analyze']).status === 0;

test('packaging/fleetboot.service verifies and keeps its sandbox', { skip: !hasAnalyze && 'systemd-analyze not installed' }, () => {
  const unit = join(REPO, 'packaging/fleetboot.service');
  const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'no warnings');
  const text = readFileSync(unit, 'utf8');
  for (const line of ['AmbientCapabilities=CAP_NET_BIND_SERVICE', 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'PrivateTmp=yes', 'StateDirectory=fleetboot', 'User=fleetboot']) {
    assert.match(text, new RegExp(`^${line}$`, 'm'), line);
  }
  const settings = text.split('\n').filter((l) => !l.startsWith('#')).join('\n');
  assert.doesNotMatch(settings, /CAP_NET_RAW|CAP_NET_ADMIN|CAP_SYS_ADMIN/, 'no raw sockets, no interface changes: not needed');
});

test('Dockerfile: no tests or benches in the image, a HEALTHCHECK and volumes for state, assets and images', () => {
  const text = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
  assert.doesNotMatch(text, /^COPY\s+(\.\/)?(test|bench)\b/m);
  assert.match(text, /^HEALTHCHECK .*\n\s+CMD \["node", "dist\/src\/cli\.js", "health"/m);
  assert.match(text, /^VOLUME \["\/var\/lib\/fleetboot", "\/srv\/fleetboot\/assets", "\/srv\/fleetboot\/images"\]$/m);
  const ignore = readFileSync(join(REPO, '.dockerignore'), 'utf8');
  for (const p of ['test', 'bench', 'node_modules', 'dist']) assert.match(ignore, new RegExp(`^${p}$`, 'm'));
});

test('fleetboot health: 0 against a running daemon, 1 when nothing answers', async () => {
  const fx = makeFixture();
  const { d, base } = await startDaemon(fx);
  const cli = join(REPO, 'dist/src/cli.js');
  try {
    const ok = await run('node', [cli, '--config', fx.configFile, 'health', '--url', base, '--json'], { encoding: 'utf8' });
    assert.equal(JSON.parse(ok.stdout).ok, true);
  } finally {
    await d.stop();
  }
  const dead = spawnSync('node', [cli, '--config', fx.configFile, 'health', '--url', base, '--timeout', '3'], { encoding: 'utf8' });
  assert.equal(dead.status, 1);
  assert.match(dead.stderr, /fleetboot health: http:\/\/127\.0\.0\.1:\d+\/healthz: /);
  fx.cleanup();
});
