// `fleetboot user add NAME` and `fleetboot user token NAME [--name LABEL]`: admin accounts
// from the server's shell, for the first admin and for recovery. Works on the SQLite file
// directly, so the daemon may be running or not.
import type { DB } from '../store/db.js';
import type { Logger } from '../log.js';
import { AuthStore, validatePassword, validateUserName } from '../web/auth.js';

const USAGE = `usage: fleetboot user add NAME        create an admin (or set its password)
                             password: FLEETBOOT_SECRET_ADMIN_PASSWORD, else prompted (TTY)
       fleetboot user token NAME [--name LABEL]
                             create an API token for NAME (printed once)
       fleetboot user list`;

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
  const [sub, name] = rest;
  const auth = new AuthStore(ctx.db);
  const by = `cli:${process.env.SUDO_USER ?? process.env.USER ?? 'unknown'}`;
  if (sub === 'list') {
    for (const u of auth.users()) console.log(`${u.name}  created ${new Date(u.created_at).toISOString()} by ${u.created_by ?? '?'}`);
    return 0;
  }
  if ((sub !== 'add' && sub !== 'token') || !name) {
    console.error(USAGE);
    return 2;
  }
  if (sub === 'add') {
    const bad = validateUserName(name);
    if (bad) return (console.error(`fleetboot user add: ${bad}`), 2);
    let pw = process.env.FLEETBOOT_SECRET_ADMIN_PASSWORD;
    if (pw === undefined) {
      if (!process.stdin.isTTY) {
        console.error('fleetboot user add: set FLEETBOOT_SECRET_ADMIN_PASSWORD or run on a terminal to be prompted');
        return 2;
      }
      pw = await promptHidden(`password for ${name}: `);
      if ((await promptHidden('repeat: ')) !== pw) return (console.error('fleetboot user add: the passwords differ'), 1);
    }
    const weak = validatePassword(pw);
    if (weak) return (console.error(`fleetboot user add: ${weak}`), 2);
    const out = auth.setUser(name, pw, by);
    auth.audit({ actor: by, action: out.created ? 'user.add' : 'user.password', target: name, detail: 'fleetboot user add' });
    ctx.log.info({ user: name, by }, out.created ? 'admin user created' : 'admin password changed');
    console.log(out.created ? `user ${name} created` : `password of ${name} changed (its sessions were ended)`);
    return 0;
  }
  const user = auth.user(name);
  if (!user) return (console.error(`fleetboot user token: no user "${name}" (create it with: fleetboot user add ${name})`), 1);
  const label = typeof flags.get('name') === 'string' ? (flags.get('name') as string) : 'cli';
  const t = auth.createToken(user.id, label);
  auth.audit({ actor: by, action: 'token.create', target: name, detail: `token "${label}" (${t.row.hint}…) via fleetboot user token` });
  // stdout carries only the token so `TOKEN=$(fleetboot user token admin)` works
  console.log(t.token);
  console.error(`API token "${label}" for ${name}; it is shown only now. Use: Authorization: Bearer <token>`);
  return 0;
}
