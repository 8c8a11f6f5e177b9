// `fleetboot user ...`: admin accounts and API tokens (src/cli/user.ts does the work).
import type { CommandSpec } from './command.js';

export const userCommandSpec: CommandSpec = {
  name: 'user',
  summary: 'admin users and API tokens: add, del, token, tokens, revoke, list',
  usage: `usage: fleetboot user add NAME        create an admin (or set its password; ends its sessions)
                             password: FLEETBOOT_SECRET_ADMIN_PASSWORD, else prompted (TTY)
       fleetboot user del NAME        delete an admin with all its sessions and API tokens
       fleetboot user token NAME [--name LABEL]
                             create an API token for NAME (only the token on stdout, once)
       fleetboot user tokens [NAME] [--json]
                             list API tokens (id, owner, label, hint, last use)
       fleetboot user revoke NAME ID|--all
                             revoke one API token of NAME (by id) or all of them
       fleetboot user list [--json]`,
  options: { name: { type: 'string' }, all: { type: 'boolean' }, json: { type: 'boolean' } },
  allowPositionals: true,
  needsConfig: true,
  subcommands: ['add', 'del', 'token', 'tokens', 'revoke', 'list'],
  async run({ values, positionals, loaded }) {
    const { UsageError } = await import('./hint.js');
    const [sub] = positionals;
    const max = { add: 2, del: 2, token: 2, tokens: 2, revoke: 3, list: 1 }[sub as 'add'] ?? 1;
    if (positionals.length > max) throw new UsageError(`unexpected argument "${positionals[max]}"`);
    if (values.name !== undefined && sub !== 'token') throw new UsageError('--name is for `user token`');
    if (values.all !== undefined && sub !== 'revoke') throw new UsageError('--all is for `user revoke`');
    const { userCommand } = await import('./user.js');
    const { openDatabase } = await import('../store/db.js');
    const { createLogger } = await import('../log.js');
    const flags = new Map<string, string | true>();
    for (const [k, v] of Object.entries(values)) if (v === true || typeof v === 'string') flags.set(k, v);
    const db = openDatabase(loaded!.config.paths.db);
    try {
      return await userCommand(positionals, flags, { db, log: createLogger({ level: 'warn', destination: 2 }) });
    } finally {
      db.close();
    }
  },
};
