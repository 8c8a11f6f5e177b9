// `fleetboot reload [--confirm-shrink]`: shows the reload the running daemon holds (the shrink
// guard, src/config/reload-guard.ts) and confirms it. The confirmation names the exact version
// of the files (their fingerprint) this command read, so a file changed again meanwhile is not
// applied on an old "yes". The daemon polls the row and applies it within about a second.
import { userInfo } from 'node:os';
import type { CommandSpec } from './command.js';

const USAGE = `fleetboot [--config FILE] reload [--confirm-shrink] [--wait SECONDS] [--json]

Shows the reload the running daemon is holding because it would remove all hosts or a large
share of them (settings reload.maxRemovedPercent / reload.maxRemovedHosts, docs/reload.md).
  --confirm-shrink   apply it: the files as this command reads them now must be the version held
  --wait SECONDS     how long to wait for the daemon to apply it (default 10)
  --json             print the held reload as JSON
Exit: 0 nothing held / applied, 1 held (not confirmed) or not applied, 2 usage.`;

export const reloadCommand: CommandSpec = {
  name: 'reload',
  summary: 'reload [--confirm-shrink]   show / confirm a reload held by the shrink guard',
  usage: USAGE,
  options: { 'confirm-shrink': { type: 'boolean' }, wait: { type: 'string' }, json: { type: 'boolean' } },
  allowPositionals: false,
  needsConfig: true,
  async run({ values, loaded }) {
    const wait = values.wait === undefined ? 10 : Number(values.wait);
    if (!Number.isFinite(wait) || wait < 0 || wait > 600) {
      console.error(`fleetboot reload: --wait must be 0-600 seconds\n\n${USAGE}`);
      return 2;
    }
    const { openDatabase } = await import('../store/db.js');
    const { ReloadHolds } = await import('../store/reload-holds.js');
    const db = openDatabase(loaded!.config.paths.db);
    try {
      const holds = new ReloadHolds(db);
      const row = holds.current();
      if (values.json) console.log(JSON.stringify({ held: row ?? null, filesNow: loaded!.fingerprint }, null, 2));
      if (!row) {
        if (!values.json) console.log(`nothing held: the daemon runs the last valid version of the files (now ${loaded!.config.hosts.length} hosts, ${loaded!.fingerprint})`);
        return 0;
      }
      if (!values.json) console.log(row.message);
      if (!values['confirm-shrink']) return 1;
      if (row.fingerprint !== loaded!.fingerprint) {
        console.error(`fleetboot reload: the files changed since the daemon held them (held ${row.fingerprint}, now ${loaded!.fingerprint}); the daemon re-reads them on its own: run this again once it has`);
        return 1;
      }
      const by = `${userInfo().username} (cli)`;
      if (!holds.confirm(row.fingerprint, by, Date.now())) {
        console.error('fleetboot reload: the held reload changed meanwhile; run this again');
        return 1;
      }
      const until = Date.now() + wait * 1000;
      while (Date.now() < until) {
        await new Promise((r) => setTimeout(r, 200));
        if (!holds.current()) {
          console.log(`applied: ${row.hosts_after} hosts (${row.removed.length} removed), confirmed by ${by}`);
          return 0;
        }
      }
      console.error(`fleetboot reload: confirmed, but the daemon has not applied it within ${wait} s (is it running with this database?)`);
      return 1;
    } finally {
      db.close();
    }
  },
};
