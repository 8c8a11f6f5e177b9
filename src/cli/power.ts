// `fleetboot power HOST... status|on|off|cycle|pxe`: talks to the hosts' BMCs from this process
// (the daemon need not run), with the BMC secrets from this process's environment
// (FLEETBOOT_SECRET_*). Actions are audited as cli:<unix user>, like `fleetboot reinstall`.
import type { CommandSpec } from './command.js';
import { POWER_ACTIONS, type PowerAction, type PowerResult } from '../power/types.js';

const USAGE = `usage: fleetboot power HOST... status|on|off|cycle|pxe [--role R] [--label L] [--json]

Switches hosts through the BMC named in their inventory entry (power: { driver: ipmi | redfish |
ssh | manual, ... }; see docs/power.md). The last word is the action:
  status   read the power state (on, off, unknown)
  on       power on            off    power off (hard)
  cycle    power cycle (a host that is off is powered on)
  pxe      boot from the network once, then cycle (or power on when off)
--role R / --label L add every host with that role / label to the HOSTs named.
BMC passwords come from FLEETBOOT_SECRET_<passwordSecret> (or ..._FILE) in this environment.
Every action except status is written to the audit log. Exit 1 if any host failed.
  --json   one JSON array of results (host, action, ok, state, detail, instruction, error, attempts, ms)`;

export const powerSpec: CommandSpec = {
  name: 'power',
  summary: 'power status / on / off / cycle / pxe through the hosts\' BMCs (IPMI, Redfish, ssh, manual)',
  usage: USAGE,
  options: { json: { type: 'boolean' }, role: { type: 'string' }, label: { type: 'string' } },
  allowPositionals: true,
  needsConfig: true,
  async run(ctx) {
    const action = ctx.positionals.at(-1) as PowerAction | undefined;
    const hosts = ctx.positionals.slice(0, -1);
    const v = ctx.values;
    if (!action || !POWER_ACTIONS.includes(action)) {
      console.error(`fleetboot power: the last word must be one of ${POWER_ACTIONS.join(', ')}\n\n${USAGE}`);
      return 2;
    }
    const [{ ConfigHolder }, { openDatabase }, { RunStore }, { selectHosts, auditAs }, { AuthStore }, { cliActor }, { createPowerService }, { powerHosts, describeResult }, { createLogger }, { FleetbootError }] =
      await Promise.all([
        import('../config/holder.js'),
        import('../store/db.js'),
        import('../store/runs.js'),
        import('../web/reinstall.js'),
        import('../web/auth.js'),
        import('./user.js'),
        import('../power/wire.js'),
        import('../power/audited.js'),
        import('../log.js'),
        import('../errors.js'),
      ]);
    const log = createLogger({ level: 'warn', destination: 2 });
    const holder = new ConfigHolder(ctx.loaded!, ctx.loadOptions!);
    const db = openDatabase(ctx.loaded!.config.paths.db);
    let results: PowerResult[];
    try {
      let names: string[];
      try {
        names = selectHosts(holder, new RunStore(db), { hosts, role: v.role, label: v.label }).names;
      } catch (e) {
        if (!(e instanceof FleetbootError)) throw e;
        console.error(`fleetboot power: ${e.code === 'FB_BAD_REQUEST' ? 'name at least one host (or --role R / --label L)' : e.message}`);
        return e.code === 'FB_BAD_REQUEST' ? 2 : 1;
      }
      const by = cliActor();
      const power = createPowerService(holder, log);
      results = await powerHosts(power, names, action, auditAs(new AuthStore(db), by), 'cli');
    } finally {
      db.close();
    }
    if (v.json) console.log(JSON.stringify(results, null, 2));
    else {
      const w = Math.max(4, ...results.map((r) => r.host.length));
      for (const r of results) (r.ok ? console.log : console.error)(`${r.host.padEnd(w)}  ${action.padEnd(6)}  ${describeResult(r)}`);
    }
    return results.every((r) => r.ok) ? 0 : 1;
  },
};
