// `fleetboot reinstall` (the real CLI, another process) goes through the same audited path as
// the API and the UI: one audit row per host, actor cli:<unix user>, visible in /api/v1/audit;
// a selection that matches nothing is an error and audits nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { makeFixture, startDaemon, mintToken, REPO } from '../helpers/fixture.js';

const run = promisify(execFile);
const cli = join(REPO, 'dist/src/cli.js');

test('CLI marks and cancels are audited as cli:<user>, like the API and the UI', async () => {
  const fx = makeFixture();
  const { d, base } = await startDaemon(fx);
  const fb = async (...args: string[]) => {
    try {
      const r = await run('node', [cli, '--config', fx.configFile, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, USER: 'ops' } });
      return { code: 0, out: r.stdout, err: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, out: x.stdout, err: x.stderr };
    }
  };
  try {
    assert.equal((await fb('reinstall', 'alpha')).code, 0);
    assert.equal((await fb('reinstall', '--role', 'tiny', '--yes')).code, 0);
    assert.equal((await fb('reinstall', '--cancel', '--label', 'rack1')).code, 1, 'beta had nothing to cancel');
    const none = await fb('reinstall', '--role', 'nosuch');
    assert.equal(none.code, 2);
    assert.match(none.err, /^fleetboot reinstall: unknown role "nosuch"/m);
    assert.equal((await fb('reinstall')).code, 2);
    const token = await mintToken(d);
    const r = await fetch(`${base}/api/v1/audit?action=reinstall`, { headers: { authorization: `Bearer ${token}` } });
    const audit = ((await r.json()) as { audit: { actor: string; action: string; target: string; detail: string; ip: string | null }[] }).audit.reverse();
    assert.deepEqual(
      audit.map((a) => [a.actor, a.action, a.target, a.detail.replace(/run \d+/, 'run N')]),
      [
        ['cli:ops', 'reinstall.mark', 'alpha', 'marked (run N); cli'],
        ['cli:ops', 'reinstall.mark', 'alpha', 'already marked (run N); selection role=tiny; cli'],
        ['cli:ops', 'reinstall.mark', 'gamma', 'marked (run N); selection role=tiny; cli'],
        ['cli:ops', 'reinstall.cancel', 'alpha', 'cancelled run N; selection label=rack1; cli'],
        ['cli:ops', 'reinstall.cancel', 'beta', 'refused: no open install run; selection label=rack1; cli'],
      ],
    );
    assert.equal(d.store.run(d.store.openRun('gamma')!.id)!.marked_by, 'cli:ops');
  } finally {
    await d.stop();
    fx.cleanup();
  }
});
