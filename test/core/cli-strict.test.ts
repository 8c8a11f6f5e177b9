// The CLI refuses what it cannot do exactly, before it writes anything: unknown flags, typo'd
// hosts, bad selectors, missing values and unknown states are usage errors (exit 2) with a
// hint, and the SQLite file shows that nothing was marked or audited. Real CLI processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { makeFixture, REPO } from '../helpers/fixture.js';

const run = promisify(execFile);
const cli = join(REPO, 'dist/src/cli.js');

async function fb(configFile: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run('node', [cli, '--config', configFile, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, USER: 'ops' } });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

/** What marking writes: runs, marks and audit rows. */
function written(dbFile: string): { runs: number; marks: number; audit: number } {
  const db = new Database(dbFile, { readonly: true });
  try {
    const n = (t: string) => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    return { runs: n('install_runs'), marks: n('reinstall_marks'), audit: n('audit_log') };
  } finally {
    db.close();
  }
}

test('usage errors: exit 2 with a hint, and nothing marked in the database', async () => {
  const fx = makeFixture();
  const dbFile = join(fx.dir, 'state/fb.sqlite');
  try {
    assert.equal((await fb(fx.configFile, 'hosts')).code, 0, 'creates the state file');
    const none = { runs: 0, marks: 0, audit: 0 };
    const cases: [string[], RegExp][] = [
      [['reinstall', 'alpha', '--rol', 'tiny'], /unknown option --rol \(did you mean --role\?\)/],
      [['reinstall', 'alpha', 'gamm'], /unknown host "gamm" \(did you mean gamma\?\)/],
      [['reinstall', 'alpha', '--role', 'tny'], /unknown role "tny" \(did you mean tiny\?\)/],
      [['reinstall', 'alpha', '--label', 'rack2'], /no host has label "rack2" \(did you mean rack1\?\)/],
      [['reinstall', 'alpha', '--role'], /option --role needs a value/],
      [['reinstall', '--role', '--yes'], /option --role needs a value/],
      [['reinstall'], /name at least one host/],
      [['reinstall', 'alpha', '--yes=1'], /option --yes takes no value/],
      [['hosts', '--state', 'bogus'], /unknown state "bogus"/],
      [['hosts', '--stat', 'failed'], /unknown option --stat \(did you mean --state\?\)/],
      [['hosts', '--jsn'], /unknown option --jsn \(did you mean --json\?\)/],
      [['hosts', '--role'], /option --role needs a value/],
      [['hosts', 'extra'], /unexpected argument "extra"/],
      [['events', 'alhpa'], /unknown host "alhpa" \(did you mean alpha\?\)/],
      [['rinstall', 'alpha'], /unknown command "rinstall" \(did you mean reinstall\?\)/],
      [['user', 'lst'], /unknown sub-command "lst" \(did you mean list\?\)/],
      [['cache', 'warm'], /--role R is required/],
    ];
    for (const [args, hint] of cases) {
      const r = await fb(fx.configFile, ...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, hint, args.join(' '));
      assert.equal(r.out, '', `${args.join(' ')} printed nothing on stdout`);
      assert.deepEqual(written(dbFile), none, `${args.join(' ')} wrote nothing`);
    }
  } finally {
    fx.cleanup();
  }
});

test('help everywhere exits 0; --version is package.json\'s', async () => {
  const fx = makeFixture();
  try {
    for (const args of [['--help'], ['-h'], ['help'], ['reinstall', '--help'], ['reinstall', '-h'], ['hosts', '-h'], ['user', '--help'], ['help', 'events'], ['-h', 'events'], ['completion', '-h']]) {
      const r = await fb(fx.configFile, ...args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.out, /^usage: fleetboot/, args.join(' '));
    }
    assert.match((await fb(fx.configFile, 'reinstall', '--help')).out, /--dry-run/);
    const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
    const v = await fb(fx.configFile, '--version');
    assert.equal(v.code, 0);
    assert.equal(v.out, `fleetboot ${version} (node ${process.versions.node})\n`);
    const bare = await fb(fx.configFile);
    assert.equal(bare.code, 2, 'no command is a usage error');
  } finally {
    fx.cleanup();
  }
});

test('reinstall: --dry-run writes nothing; several hosts need --yes off a terminal; --json everywhere', async () => {
  const fx = makeFixture();
  const dbFile = join(fx.dir, 'state/fb.sqlite');
  try {
    await fb(fx.configFile, 'hosts');
    const dry = await fb(fx.configFile, 'reinstall', '--role', 'tiny', '--dry-run');
    assert.equal(dry.code, 0);
    assert.match(dry.out, /^would mark 2 host\(s\) \(selection role=tiny\):$/m);
    assert.match(dry.out, /^  alpha  role tiny  state idle$/m);
    assert.match(dry.out, /^  gamma  role tiny  state idle$/m);
    const dryJson = JSON.parse((await fb(fx.configFile, 'reinstall', '--role', 'tiny', '--dry-run', '--json')).out);
    assert.deepEqual(dryJson.hosts.map((h: { host: string }) => h.host), ['alpha', 'gamma']);
    assert.deepEqual(written(dbFile), { runs: 0, marks: 0, audit: 0 });
    const noYes = await fb(fx.configFile, 'reinstall', '--role', 'tiny');
    assert.equal(noYes.code, 2);
    assert.match(noYes.err, /marks 2 hosts \(alpha, gamma\); not on a terminal, so pass --yes/);
    assert.deepEqual(written(dbFile), { runs: 0, marks: 0, audit: 0 });
    const yes = await fb(fx.configFile, 'reinstall', '--role', 'tiny', '--yes', '--json');
    assert.equal(yes.code, 0, yes.err);
    assert.deepEqual(JSON.parse(yes.out).results.map((r: { host: string; ok: boolean }) => [r.host, r.ok]), [['alpha', true], ['gamma', true]]);
    assert.deepEqual(written(dbFile), { runs: 2, marks: 2, audit: 2 });
    // one host needs no confirmation
    assert.equal((await fb(fx.configFile, 'reinstall', 'beta')).code, 0);
    const hosts = JSON.parse((await fb(fx.configFile, 'hosts', '--json', '--state', 'marked')).out) as { name: string }[];
    assert.deepEqual(hosts.map((h) => h.name), ['alpha', 'beta', 'gamma']);
    const ev = JSON.parse((await fb(fx.configFile, 'events', 'alpha', '--json')).out);
    assert.equal(ev.run.state, 'marked');
    assert.equal(ev.run.token, undefined, 'no installer token in the JSON');
    assert.equal(ev.events[0].stage, 'marked');
    const check = JSON.parse((await fb(fx.configFile, 'check', '--json')).out);
    assert.equal(check.ok, true);
    assert.equal(check.hosts, 3);
    assert.deepEqual(JSON.parse((await fb(fx.configFile, 'user', 'list', '--json')).out), []);
  } finally {
    fx.cleanup();
  }
});

test('reinstall is refused with the missing paths when a role cannot boot; --force marks and audits it', async () => {
  const fx = makeFixture();
  const dbFile = join(fx.dir, 'state/fb.sqlite');
  try {
    await fb(fx.configFile, 'hosts');
    rmSync(join(fx.dir, 'assets/tiny/initrd.img'));
    const r = await fb(fx.configFile, 'reinstall', 'alpha', 'beta', '--yes');
    assert.equal(r.code, 1);
    assert.match(r.err, /role "tiny" cannot boot \(hosts alpha\); missing:\n  \S+\/assets\/tiny\/initrd\.img\n/);
    assert.match(r.err, /nothing marked/);
    assert.deepEqual(written(dbFile), { runs: 0, marks: 0, audit: 0 }, 'beta (role slow) was not marked either');
    const forced = await fb(fx.configFile, 'reinstall', 'alpha', '--force');
    assert.equal(forced.code, 0, forced.err);
    assert.match(forced.out, /^alpha: marked \(run \d+\) FORCED: boot files missing$/m);
    const db = new Database(dbFile, { readonly: true });
    const row = db.prepare(`SELECT actor, action, target, detail FROM audit_log`).get() as { actor: string; action: string; target: string; detail: string };
    db.close();
    assert.equal(row.actor, 'cli:ops');
    assert.equal(row.action, 'reinstall.mark');
    assert.equal(row.target, 'alpha');
    assert.match(row.detail, /FORCED although boot files are missing: \S+\/assets\/tiny\/initrd\.img/);
  } finally {
    fx.cleanup();
  }
});

test('on a terminal, several hosts ask y/N first (script(1) gives the CLI a pty)', async () => {
  const fx = makeFixture();
  const dbFile = join(fx.dir, 'state/fb.sqlite');
  const onTty = (answer: string) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const cmd = `node ${cli} --config ${fx.configFile} reinstall --role tiny`;
      const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: { PATH: process.env.PATH, USER: 'ops' } });
      let out = '';
      child.stdout.on('data', (c) => {
        out += c;
        if (/Continue\? \[y\/N\]/.test(out) && !child.stdin.writableEnded) child.stdin.end(`${answer}\n`);
      });
      child.on('exit', (code) => resolve({ code, out }));
    });
  try {
    await fb(fx.configFile, 'hosts');
    const no = await onTty('n');
    assert.match(no.out, /Mark 2 hosts for reinstall .*: alpha, gamma/);
    assert.match(no.out, /nothing marked/);
    assert.equal(no.code, 1);
    assert.deepEqual(written(dbFile), { runs: 0, marks: 0, audit: 0 });
    const yes = await onTty('y');
    assert.equal(yes.code, 0, yes.out);
    assert.match(yes.out, /alpha: marked/);
    assert.deepEqual(written(dbFile), { runs: 2, marks: 2, audit: 2 });
  } finally {
    fx.cleanup();
  }
});

test('bash completion comes from the command table', async () => {
  const complete = async (...words: string[]) => {
    const script = `source <(node ${cli} completion bash); COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _fleetboot; echo "\${COMPREPLY[*]}"`;
    return (await run('bash', ['-c', script], { encoding: 'utf8' })).stdout.trim();
  };
  assert.equal(await complete('fleetboot', 'rein'), 'reinstall');
  assert.equal(await complete('fleetboot', '--config', 'x.yaml', 'ho'), 'hosts');
  assert.equal(await complete('fleetboot', 'reinstall', '--dr'), '--dry-run');
  assert.equal(await complete('fleetboot', 'hosts', '--st'), '--state');
  assert.equal(await complete('fleetboot', 'user', 'li'), 'list');
  assert.equal(await complete('fleetboot', 'user', 'list', 'li'), '', 'one sub-command only');
  assert.deepEqual((await complete('fleetboot', 'cache', '')).split(' '), ['warm']);
});
