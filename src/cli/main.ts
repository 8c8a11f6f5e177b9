// Command dispatch. State commands (hosts, reinstall, events) open the SQLite file directly
// (WAL: safe next to a running daemon), so they work whether or not the daemon runs.
import { loadConfig, formatError, type LoadedConfig, type LoadOptions } from '../config/load.js';
import { envLeaves } from '../config/env.js';
import { configSchema } from '../config/schema.js';
import { createLogger } from '../log.js';
import { ConfigHolder } from '../config/holder.js';
import { openDatabase } from '../store/db.js';
import { RunStore } from '../store/runs.js';
import { InstallService, type MarkResult } from '../install/service.js';
import { FleetbootError } from '../errors.js';
import { AuthStore } from '../web/auth.js';
import { reinstallHosts, selectHosts, auditAs } from '../web/reinstall.js';
import { cliActor } from './user.js';
import { hostRows, timeline } from '../install/view.js';
import { Daemon } from '../daemon.js';
import { assetsCommand } from './assets.js';
import { extraCommands } from './extra.js';
import { findCommand } from './registry.js';
import { runSpec } from './command.js';

const USAGE = `usage: fleetboot [--config FILE] COMMAND [ARGS]

commands:
  serve                     run the daemon (DHCP, TFTP, HTTP, syslog, package cache)
  check [--env]             validate config + inventory; every error at once (--env: list FLEETBOOT_* variables)
  hosts [--json] [--role R] [--state S]
                            list hosts with their install state
  reinstall HOST... [--cancel] [--power] [--role R] [--label L]
                            mark hosts for reinstall (or cancel the mark); --power: then
                            network-boot them once + power-cycle through their BMC (docs/power.md)
  events HOST [--json]      the host's latest install run, one line per event
  assets fetch              fill boot-assets/ from Debian packages (ipxe, debian-installer;
                            + the image installer with --installer or an image role)
  cache warm --role R [--dry-run]
                            pre-fetch what a role's install needs into the package cache
  user add NAME             create an admin user or reset its password (FLEETBOOT_SECRET_ADMIN_PASSWORD or prompt)
  user del NAME             delete an admin with its sessions and API tokens
  user token NAME [--name L]
                            create an API token for scripts (Authorization: Bearer fb_...)
  user tokens [NAME]        list API tokens
  user revoke NAME ID|--all revoke API tokens
  user list                 list admin users

Every setting can also be given as FLEETBOOT_<PATH> (see \`fleetboot check --env\`).`;

export interface Args {
  config?: string;
  command?: string;
  rest: string[];
  flags: Map<string, string | true>;
}

export function parseArgs(argv: string[]): Args {
  const a: Args = { rest: [], flags: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    if (x === '--config' || x === '-c') a.config = argv[++i];
    else if (x.startsWith('--config=')) a.config = x.slice(9);
    else if (x.startsWith('--')) {
      const [k, v] = x.slice(2).split('=', 2);
      // flags that take a value
      if (v !== undefined) a.flags.set(k, v);
      else if (['role', 'state', 'label', 'name'].includes(k) && i + 1 < argv.length) a.flags.set(k, argv[++i]);
      else a.flags.set(k, true);
    } else if (!a.command) a.command = x;
    else a.rest.push(x);
  }
  return a;
}

function load(args: Args): { loaded: LoadedConfig; loadOptions: LoadOptions } | null {
  const loadOptions: LoadOptions = { file: args.config ?? process.env.FLEETBOOT_CONFIG };
  const r = loadConfig(loadOptions);
  if (!r.ok) {
    console.error(`fleetboot: configuration has ${r.errors.length} error(s):`);
    for (const e of r.errors) console.error(`  ${formatError(e)}`);
    return null;
  }
  return { loaded: r.loaded, loadOptions };
}

function stateContext(loaded: LoadedConfig, loadOptions: LoadOptions) {
  const log = createLogger({ level: 'warn', destination: 2 });
  const holder = new ConfigHolder(loaded, loadOptions);
  const db = openDatabase(loaded.config.paths.db);
  const store = new RunStore(db);
  return { log, holder, db, store, installs: new InstallService(store, holder, log) };
}

export async function main(argv: string[]): Promise<number | undefined> {
  const args = parseArgs(argv);
  // a CommandSpec prints its own --help (runSpec)
  if (!args.command || (args.flags.has('help') && !findCommand(args.command)) || args.command === 'help') {
    console.log(USAGE);
    return args.command ? 0 : 2;
  }
  const spec = args.command ? findCommand(args.command) : undefined;
  if (spec) {
    const rawArgs = argv.slice(argv.indexOf(spec.name) + 1);
    if (!spec.needsConfig || rawArgs.includes('--help') || rawArgs.includes('-h')) return runSpec(spec, rawArgs);
    const l = load(args);
    return l ? runSpec(spec, rawArgs, l.loaded, l.loadOptions) : 1;
  }
  if (args.command === 'check' && args.flags.has('env')) {
    for (const l of envLeaves(configSchema)) console.log(`${l.env}  (${l.path.join('.')}, ${l.kind})`);
    return 0;
  }
  const l = load(args);
  if (!l) return 1;
  const { loaded, loadOptions } = l;
  switch (args.command) {
    case 'check': {
      for (const w of loaded.warnings) console.error(`warning: ${formatError(w)}`);
      const c = loaded.config;
      console.log(`ok: ${c.hosts.length} hosts, ${Object.keys(c.roles).length} roles (${loaded.files.join(', ') || 'embedded demo'})`);
      return 0;
    }
    case 'serve': {
      const c = loaded.config;
      const log = createLogger({ level: c.log.level, pretty: c.log.pretty || (process.stdout.isTTY && !process.env.CI) });
      for (const w of loaded.warnings) log.warn(formatError(w));
      const d = new Daemon({ loaded, loadOptions, log });
      try {
        await d.start();
      } catch (e) {
        // never leave a half-started daemon (HTTP up, DHCP not): undo and exit non-zero
        log.fatal({ err: e }, 'start failed');
        await d.stop().catch(() => {});
        log.flush?.();
        console.error(`fleetboot: cannot start: ${(e as Error).message}`);
        return 1;
      }
      const host = c.http.listen === '0.0.0.0' ? c.server.address : c.http.listen;
      // with web.https the admin side is HTTPS-only; boot traffic stays on plain HTTP
      const admin = c.web.https.enabled ? `https://${c.web.https.hostnames[0] ?? c.server.address}:${d.httpsPort}/` : `http://${host}:${d.httpPort}/`;
      console.log(`fleetboot is running: ${c.web.enabled ? 'web UI and API' : 'API (UI off)'} at ${admin}, boot at http://${host}:${d.httpPort}/  (${loaded.files.length ? loaded.files.join(', ') : 'embedded demo config'})`);
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          log.info({ sig }, 'stopping');
          d.stop().then(resolve, resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      return 0;
    }
    case 'hosts': {
      const s = stateContext(loaded, loadOptions);
      const f = args.flags;
      const rows = hostRows(s.holder, s.store, { role: f.get('role') as string | undefined, state: f.get('state') as string | undefined, label: f.get('label') as string | undefined });
      s.db.close();
      if (f.has('json')) {
        console.log(JSON.stringify(rows, null, 2));
        return 0;
      }
      const table = [['NAME', 'MACS', 'ROLES', 'ADDRESS', 'MARKED', 'STATE', 'STAGE', 'PROGRESS']].concat(
        rows.map((h) => [h.name, h.macs.join(','), h.roles.join(','), h.address ?? '-', h.marked ? 'yes' : '-', h.state, h.stage ?? '-', `${h.progress}%`]),
      );
      const w = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
      for (const r of table) console.log(r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd());
      return 0;
    }
    case 'reinstall': {
      const s = stateContext(loaded, loadOptions);
      const cancel = args.flags.has('cancel');
      const flag = (k: string) => (typeof args.flags.get(k) === 'string' ? (args.flags.get(k) as string) : undefined);
      let res: (MarkResult & { power?: import('../power/types.js').PowerResult })[];
      try {
        const sel = selectHosts(s.holder, s.store, { hosts: args.rest, role: flag('role'), label: flag('label') });
        // the same audited path as the API and the UI: one audit row per host, actor cli:<user>
        const audit = auditAs(new AuthStore(s.db), cliActor());
        if (args.flags.has('power') && !cancel) {
          const { reinstallWithPower } = await import('../power/audited.js');
          const { createPowerService } = await import('../power/wire.js');
          res = await reinstallWithPower({ installs: s.installs, store: s.store, power: createPowerService(s.holder, s.log) }, sel.names, cliActor(), audit, sel.how ? `${sel.how}; cli` : 'cli');
        } else res = reinstallHosts(s.installs, sel.names, cliActor(), cancel, audit, sel.how ? `${sel.how}; cli` : 'cli');
      } catch (e) {
        if (!(e instanceof FleetbootError)) throw e;
        console.error(`fleetboot reinstall: ${e.code === 'FB_BAD_REQUEST' ? 'name at least one host (or --role R / --label L)' : e.message}`);
        return e.code === 'FB_BAD_REQUEST' ? 2 : 1;
      } finally {
        s.db.close();
      }
      let bad = 0;
      for (const r of res) {
        if (r.ok) console.log(`${r.host}: ${cancel ? 'cancelled' : r.already ? 'already marked' : 'marked'} (run ${r.runId})`);
        else (bad++, console.error(`${r.host}: ${r.error}`));
        if (r.power) (r.power.ok ? console.log : (bad++, console.error))(`${r.host}: power pxe ${(await import('../power/audited.js')).describeResult(r.power)}`);
      }
      return bad ? 1 : 0;
    }
    case 'events': {
      const host = args.rest[0];
      if (!host) {
        console.error('fleetboot events: name a host');
        return 2;
      }
      const s = stateContext(loaded, loadOptions);
      if (!s.holder.index.byName(host)) {
        console.error(`fleetboot events: unknown host "${host}"`);
        s.db.close();
        return 1;
      }
      const run = s.store.latestRun(host);
      const events = run ? s.store.events({ runId: run.id, limit: 100000 }) : [];
      s.db.close();
      if (args.flags.has('json')) console.log(JSON.stringify({ host, run: run && { ...run, token: undefined }, events }, null, 2));
      else if (!run) console.log(`${host}: no install runs`);
      else {
        console.log(`${host}: run ${run.id} (${run.role}) state=${run.state}${run.stage ? ` stage=${run.stage}` : ''}`);
        for (const line of timeline(events)) console.log(line);
      }
      return 0;
    }
    case 'assets':
      return assetsCommand(args.rest, loaded);
    default: {
      // these parse their own arguments: hand over everything after the command word
      const rawArgs = argv.slice(argv.indexOf(args.command) + 1);
      const code = await extraCommands(args.command, rawArgs, loaded);
      if (code !== undefined) return code;
      console.error(`fleetboot: unknown command "${args.command}"\n\n${USAGE}`);
      return 2;
    }
  }
}
