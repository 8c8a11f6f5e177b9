// `fleetboot user ...`: admin accounts and API tokens from the server's shell, for the first
// admin, for scripts and for recovery. Works on the SQLite file directly, so the daemon may be
// running or not (a running daemon notices within a second and ends affected event streams).
import { userInfo } from 'node:os';
import type { DB } from '../store/db.js';
import type { Logger } from '../log.js';
import { AuthStore, validatePassword, validateUserName } from '../web/auth.js';

const USAGE = `usage: fleetboot user add NAME        create an admin (or set its password; ends its sessions)
                             password: FLEETBOOT_SECRET_ADMIN_PASSWORD, else prompted (TTY)
       fleetboot user del NAME        delete an admin with all its sessions and API tokens
       fleetboot user token NAME [--name LABEL]
                             create an API token for NAME (only the token on stdout, once)
       fleetboot user tokens [NAME]   list API tokens (id, owner, label, hint, last use)
       fleetboot user revoke NAME ID|--all
                             revoke one API token of NAME (by id) or all of them
       fleetboot user list`;

/** Who runs the CLI, as recorded in the audit log and on install runs: `cli:<unix user>`. */
export function cliActor(env: NodeJS.ProcessEnv = process.env): string {
  let name = env.SUDO_USER ?? env.USER;
  if (!name) {
    try {
      name = userInfo().username;
    } catch {
      name = 'unknown';
    }
  }
  return `cli:${name}`;
}

const iso = (ms: number | null) => (ms ? new Date(ms).toISOString() : '-');

/** Reads a line from the terminal without echoing it. */
async function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(buf);
    };
    const onData = (s: string) => {
      for (const ch of s) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new Error('interrupted'));
        if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export async function userCommand(rest: string[], flags: Map<string, string | true>, ctx: { db: DB; log: Logger }): Promise<number> {
  const [sub, name, arg] = rest;
  const auth = new AuthStore(ctx.db);
  const by = cliActor();
  const fail = (msg: string, code = 1) => (console.error(`fleetboot user ${sub}: ${msg}`), code);
  const json = flags.has('json');
  if (sub === 'list') {
    if (json) {
      console.log(JSON.stringify(auth.users().map((u) => ({ name: u.name, createdAt: iso(u.created_at), createdBy: u.created_by ?? null, tokens: auth.tokens(u.id).length })), null, 2));
      return 0;
    }
    for (const u of auth.users()) console.log(`${u.name}  created ${iso(u.created_at)} by ${u.created_by ?? '?'}  tokens ${auth.tokens(u.id).length}`);
    return 0;
  }
  if (sub === 'tokens') {
    const rows = auth.allTokens().filter((t) => !name || t.user === name);
    if (name && !auth.user(name)) return fail(`no user "${name}"`);
    if (json) {
      console.log(JSON.stringify(rows.map((t) => ({ id: t.id, user: t.user, name: t.name, hint: t.hint, createdAt: iso(t.created_at), lastUsedAt: t.last_used_at ? iso(t.last_used_at) : null })), null, 2));
      return 0;
    }
    for (const t of rows) console.log(`${t.id}\t${t.user}\t${t.name}\t${t.hint}…\tcreated ${iso(t.created_at)}\tlast used ${iso(t.last_used_at)}`);
    return 0;
  }
  if (!['add', 'del', 'token', 'revoke'].includes(sub ?? '') || !name) {
    console.error(USAGE);
    return 2;
  }
  if (sub === 'add') {
    const bad = validateUserName(name);
    if (bad) return fail(bad, 2);
    let pw = process.env.FLEETBOOT_SECRET_ADMIN_PASSWORD;
    if (pw === undefined) {
      if (!process.stdin.isTTY) return fail('set FLEETBOOT_SECRET_ADMIN_PASSWORD or run on a terminal to be prompted', 2);
      pw = await promptHidden(`password for ${name}: `);
      if ((await promptHidden('repeat: ')) !== pw) return fail('the passwords differ');
    }
    const weak = validatePassword(pw);
    if (weak) return fail(weak, 2);
    const out = await auth.setUser(name, pw, by);
    auth.audit({ actor: by, action: out.created ? 'user.add' : 'user.password', target: name, detail: 'fleetboot user add' });
    ctx.log.info({ user: name, by }, out.created ? 'admin user created' : 'admin password changed');
    if (out.created) console.log(`user ${name} created`);
    else {
      console.log(`password of ${name} changed (its sessions were ended)`);
      if (out.tokensKept) console.error(`${out.tokensKept} API token(s) of ${name} still work; if the old password leaked, run: fleetboot user revoke ${name} --all`);
    }
    return 0;
  }
  const user = auth.user(name);
  if (!user) return fail(`no user "${name}"${sub === 'token' ? ` (create it with: fleetboot user add ${name})` : ''}`);
  if (sub === 'del') {
    const out = auth.deleteUser(name)!;
    auth.audit({ actor: by, action: 'user.delete', target: name, detail: `${out.sessions} session(s) and ${out.tokens} API token(s) removed` });
    console.log(`user ${name} deleted (${out.sessions} session(s), ${out.tokens} API token(s) ended)`);
    if (auth.userCount() === 0) console.error('no admin is left: the next daemon start prints a new setup link (or run fleetboot user add NAME)');
    return 0;
  }
  if (sub === 'revoke') {
    if (flags.has('all')) {
      const n = auth.revokeAllTokens(user.id);
      auth.audit({ actor: by, action: 'token.revoke', target: name, detail: `all ${n} API token(s) via fleetboot user revoke` });
      console.log(`${n} API token(s) of ${name} revoked`);
      return 0;
    }
    if (!arg || !/^\d+$/.test(arg)) return fail('name a token id (see `fleetboot user tokens`) or --all', 2);
    const row = auth.tokens(user.id).find((t) => t.id === Number(arg));
    if (!row) return fail(`${name} has no API token ${arg}`);
    auth.revokeToken(row.id);
    auth.audit({ actor: by, action: 'token.revoke', target: name, detail: `token "${row.name}" (${row.hint}…, id ${row.id}) via fleetboot user revoke` });
    console.log(`API token ${row.id} ("${row.name}") of ${name} revoked`);
    return 0;
  }
  const label = typeof flags.get('name') === 'string' ? (flags.get('name') as string) : 'cli';
  const t = auth.createToken(user.id, label);
  auth.audit({ actor: by, action: 'token.create', target: name, detail: `token "${label}" (${t.row.hint}…) via fleetboot user token` });
  // stdout carries only the token so `TOKEN=$(fleetboot user token admin)` works
  console.log(t.token);
  console.error(`API token "${label}" for ${name}; it is shown only now. Use: Authorization: Bearer <token>`);
  return 0;
}
