// Credentials over their lifetime: any admin revokes any user's API tokens (UI and CLI),
// `fleetboot user del` ends a user's sessions and tokens, event streams opened with a token
// or a session end when that credential does, a password reset ends sessions but keeps
// tokens (docs/web.md says why), and password hashing does not block the event loop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { startWeb, login, FakeClock, type WebEnv } from './helper.js';
import { REPO } from '../helpers/fixture.js';
import { AuthStore, hashPassword, verifyPassword } from '../../src/web/auth.js';

const run = promisify(execFile);
const cli = join(REPO, 'dist/src/cli.js');
let w: WebEnv;
let admin: { cookie: string; csrf: string };
let auth: AuthStore;
const OPS_PW = 'ops password 123';

before(async () => {
  w = await startWeb({ pollMs: 100 });
  admin = await login(w.base);
  auth = new AuthStore(w.d.db);
});
after(async () => {
  await w.stop();
});

// async: the daemon lives in this process; a synchronous child would freeze it
const fb = async (...args: string[]) => {
  try {
    const r = await run('node', [cli, '--config', w.fx.configFile, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, USER: 'root-op', FLEETBOOT_SECRET_ADMIN_PASSWORD: OPS_PW } });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
};
const hosts = (headers: Record<string, string>) => fetch(`${w.base}/api/v1/hosts`, { headers }).then((r) => r.status);
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const form = (path: string, fields: Record<string, string>) =>
  fetch(`${w.base}${path}`, { method: 'POST', headers: { cookie: admin.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: admin.csrf, ...fields }).toString(), redirect: 'manual' });

/** An event stream and a way to wait for text on it / for its end. */
async function stream(headers: Record<string, string>) {
  // bounded: a stream that never ends fails the test instead of hanging it
  const r = await fetch(`${w.base}/events/stream`, { headers, signal: AbortSignal.timeout(20_000) });
  assert.equal(r.status, 200);
  const reader = r.body!.getReader();
  let buf = '';
  let ended = false;
  const pump = async (re: RegExp | null) => {
    while (!(re && re.test(buf))) {
      const { value, done } = await reader.read();
      if (done) {
        ended = true;
        if (re) throw new Error(`stream ended before ${re}: ${buf}`);
        return;
      }
      buf += Buffer.from(value).toString('utf8');
    }
  };
  await pump(/event: refresh/);
  return {
    until: (re: RegExp) => pump(re),
    /** resolves once the server closed the stream; returns everything it sent */
    end: async () => (await pump(null), assert.ok(ended), buf),
  };
}

async function opsUser(): Promise<{ token: string; session: string }> {
  if (!auth.user('ops')) await auth.setUser('ops', OPS_PW, 'test');
  const token = auth.createToken(auth.user('ops')!.id, 'ci').token;
  const session = (await login(w.base, 'ops', OPS_PW)).cookie;
  return { token, session };
}

test("an admin revokes another user's API token in the UI; the stream opened with it ends at once", async () => {
  const ops = await opsUser();
  const s = await stream(bearer(ops.token));
  const acct = await (await fetch(`${w.base}/account`, { headers: { cookie: admin.cookie } })).text();
  const id = auth.allTokens().find((t) => t.user === 'ops')!.id;
  assert.match(acct, new RegExp(`<tr data-token="${id}"><td>ops</td><td>ci</td>`), "other admins' tokens are listed");
  const r = await form(`/account/tokens/${id}/revoke`, {});
  assert.equal(r.status, 303);
  assert.match(await s.end(), /event: logout/);
  assert.equal(await hosts(bearer(ops.token)), 401);
  assert.match(await (await fetch(`${w.base}/account`, { headers: { cookie: admin.cookie } })).text(), /Token &quot;ci&quot; of ops revoked\./);
  const row = w.d.db.prepare("SELECT actor, action, target, detail FROM audit_log WHERE action = 'token.revoke' ORDER BY id DESC").get();
  assert.deepEqual(row, { actor: 'admin', action: 'token.revoke', target: 'ops', detail: `token "ci" (${ops.token.slice(0, 7)}…, id ${id})` });
});

test('`fleetboot user revoke` (another process) ends the streams of the revoked tokens', async () => {
  const ops = await opsUser();
  const second = auth.createToken(auth.user('ops')!.id, 'backup').token;
  const s = await stream(bearer(ops.token));
  const listed = await fb('user', 'tokens', 'ops');
  assert.equal(listed.code, 0);
  assert.match(listed.out, /^\d+\tops\tci\tfb_\S+…\tcreated /m);
  assert.match(listed.out, /\tops\tbackup\t/);
  const one = /^(\d+)\tops\tbackup/m.exec(listed.out)![1];
  const r1 = await fb('user', 'revoke', 'ops', one);
  assert.equal(r1.code, 0, r1.err);
  assert.equal(await hosts(bearer(second)), 401);
  assert.equal(await hosts(bearer(ops.token)), 200, 'only that one');
  const all = await fb('user', 'revoke', 'ops', '--all');
  assert.match(all.out, /API token\(s\) of ops revoked/);
  // the daemon sees another process's write (PRAGMA data_version) and re-checks credentials
  assert.match(await s.end(), /event: logout/);
  assert.equal(await hosts(bearer(ops.token)), 401);
  const audit = w.d.db.prepare("SELECT actor, target FROM audit_log WHERE action = 'token.revoke' ORDER BY id DESC LIMIT 2").all();
  assert.deepEqual(audit, [{ actor: 'cli:root-op', target: 'ops' }, { actor: 'cli:root-op', target: 'ops' }]);
  assert.equal((await fb('user', 'revoke', 'ops', '99999')).code, 1);
});

test('`fleetboot user del` removes the user with its sessions and tokens; its session stream ends', async () => {
  const ops = await opsUser();
  assert.equal(await hosts({ cookie: ops.session }), 200);
  assert.equal(await hosts(bearer(ops.token)), 200);
  const s = await stream({ cookie: ops.session });
  const r = await fb('user', 'del', 'ops');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^user ops deleted \(\d+ session\(s\), 1 API token\(s\) ended\)$/m);
  assert.match(await s.end(), /event: logout/);
  assert.equal(await hosts({ cookie: ops.session }), 401);
  assert.equal(await hosts(bearer(ops.token)), 401);
  assert.equal(auth.user('ops'), undefined);
  assert.deepEqual(w.d.db.prepare('SELECT COUNT(*) n FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.name = ?').get('ops'), { n: 0 });
  assert.deepEqual(w.d.db.prepare("SELECT actor, target FROM audit_log WHERE action = 'user.delete'").all(), [{ actor: 'cli:root-op', target: 'ops' }]);
  assert.equal((await fb('user', 'del', 'ops')).code, 1, 'unknown user');
  assert.equal(await hosts({ cookie: admin.cookie }), 200, 'other users unaffected');
});

test('a password reset ends sessions (and their streams) but keeps API tokens', async () => {
  const ops = await opsUser();
  const s = await stream({ cookie: ops.session });
  const r = await form('/account/users', { username: 'ops', password: 'a new password!', password2: 'a new password!' });
  assert.equal(r.status, 303);
  assert.match(await s.end(), /event: logout/);
  assert.equal(await hosts({ cookie: ops.session }), 401);
  assert.equal(await hosts(bearer(ops.token)), 200);
  assert.match(await (await fetch(`${w.base}/account`, { headers: { cookie: admin.cookie } })).text(), /Password of ops changed; their sessions were ended \(1 API token\(s\) kept/);
  const cliReset = await fb('user', 'add', 'ops');
  assert.match(cliReset.err, /1 API token\(s\) of ops still work; if the old password leaked, run: fleetboot user revoke ops --all/);
});

test('a session stream ends at the next heartbeat once the session expires (fake clock)', async () => {
  const clock = new FakeClock();
  const e = await startWeb({ clock, heartbeatMs: 50, web: { sessionTtlSeconds: 60 } });
  try {
    const s = await login(e.base);
    const r = await fetch(`${e.base}/events/stream`, { headers: { cookie: s.cookie }, signal: AbortSignal.timeout(20_000) });
    const reader = r.body!.getReader();
    let buf = '';
    const read = async () => {
      const { value, done } = await reader.read();
      if (!done) buf += Buffer.from(value).toString();
      return done;
    };
    while (!/: keep-alive/.test(buf)) await read(); // alive while the session is
    clock.advance(61_000);
    while (!(await read()));
    assert.match(buf, /event: logout/);
  } finally {
    await e.stop();
  }
});

test('password hashing runs off the event loop (async scrypt): other callbacks run meanwhile', async () => {
  const h = await hashPassword('correct horse battery');
  let turned = false;
  setImmediate(() => (turned = true));
  // a synchronous scrypt would finish inside this call, before the loop could turn once
  assert.equal(await verifyPassword('correct horse battery', h), true);
  assert.equal(turned, true);
  turned = false;
  setImmediate(() => (turned = true));
  assert.equal(await auth.checkLogin('admin', 'wrong password here'), null);
  assert.equal(turned, true, 'login checks too');
});
