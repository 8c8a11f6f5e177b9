// `fleetboot reinstall`: mark hosts for reinstall (or cancel). Reinstalling wipes disks, so it
// is all or nothing: every name, role, label and every role's boot files are checked before
// the first host is marked; more than one host needs a "y" on a terminal or --yes.
import { createInterface } from 'node:readline/promises';
import type { CommandSpec } from './command.js';
import { UsageError } from './hint.js';
import { checkHostNames, checkSelectors, stateContext, str } from './state.js';

const USAGE = `usage: fleetboot reinstall [HOST...] [--role R] [--label L] [--dry-run] [--yes] [--force] [--power] [--json]
       fleetboot reinstall --cancel [HOST...] [--role R] [--label L] [--json]

Marks hosts for reinstall: each installs on its next network boot (its disk is wiped).
Hosts are the names given plus every host matching --role / --label (union).
Nothing is marked unless every name and selector is valid and every role can boot.
  --role R      hosts with role R
  --label L     hosts with label L
  --dry-run     list what would be marked and exit
  -y, --yes     do not ask (needed for more than one host when not on a terminal)
  --force       mark even if a role's kernel/initrd/image is missing (audited)
  --power       then network-boot each marked host once and power-cycle it through its BMC
                (docs/power.md); the power steps are audited and shown on the run's timeline
  --cancel      cancel the marks / open runs instead
  --json        print the results as JSON`;

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export const reinstallCommand: CommandSpec = {
  name: 'reinstall',
  summary: 'mark hosts for reinstall (all or nothing; --dry-run, --yes, --cancel)',
  usage: USAGE,
  options: {
    role: { type: 'string' },
    label: { type: 'string' },
    cancel: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    yes: { type: 'boolean', short: 'y' },
    force: { type: 'boolean' },
    power: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  allowPositionals: true,
  needsConfig: true,
  async run({ values, positionals, loaded, loadOptions }) {
    const role = str(values.role);
    const label = str(values.label);
    const cancel = values.cancel === true;
    const json = values.json === true;
    if (!positionals.length && role === undefined && label === undefined) throw new UsageError('name at least one host (or --role R / --label L)');
    // 1. every word valid, before anything is opened for writing
    checkHostNames(loaded!, positionals);
    checkSelectors(loaded!, { role, label });
    const { selectHosts, reinstallHosts, auditAs } = await import('../web/reinstall.js');
    const { hostRows } = await import('../install/view.js');
    const { bootFilesMissing } = await import('../boot/missing.js');
    const { AuthStore } = await import('../web/auth.js');
    const { cliActor } = await import('./user.js');
    const { FleetbootError } = await import('../errors.js');
    const s = stateContext(loaded!, loadOptions);
    try {
      let sel: { names: string[]; how?: string };
      try {
        sel = selectHosts(s.holder, s.store, { hosts: positionals, role, label });
      } catch (e) {
        if (e instanceof FleetbootError) throw new UsageError(e.message);
        throw e;
      }
      const rows = new Map(hostRows(s.holder, s.store).map((h) => [h.name, h]));
      // 2. every role can boot (unless --force): refuse with the paths, nothing marked
      const missing = new Map<string, string[]>();
      if (!cancel) {
        for (const n of sel.names) {
          const r = s.holder.index.byName(n)!.roleName;
          if (!missing.has(r)) missing.set(r, bootFilesMissing(s.holder.config, r));
        }
      }
      const broken = [...missing].filter(([, m]) => m.length);
      if (broken.length && !values.force) {
        if (json) console.log(JSON.stringify({ ok: false, refused: 'boot files missing', missing: Object.fromEntries(broken), marked: [] }, null, 2));
        for (const [r, m] of broken) {
          const hosts = sel.names.filter((n) => s.holder.index.byName(n)!.roleName === r);
          console.error(`fleetboot reinstall: role "${r}" cannot boot (hosts ${hosts.join(', ')}); missing:`);
          for (const p of m) console.error(`  ${p}`);
        }
        console.error('nothing marked (fix the files, e.g. `fleetboot assets fetch`, or use --force)');
        return 1;
      }
      const verb = cancel ? 'cancel' : 'mark';
      // 3. dry run: what would happen, nothing written
      if (values['dry-run']) {
        const plan = sel.names.map((n) => ({ host: n, role: s.holder.index.byName(n)!.roleName, state: rows.get(n)?.state ?? 'idle', marked: rows.get(n)?.marked ?? false }));
        if (json) console.log(JSON.stringify({ dryRun: true, action: verb, selection: sel.how ?? null, hosts: plan }, null, 2));
        else {
          console.log(`would ${verb} ${plan.length} host(s)${sel.how ? ` (${sel.how})` : ''}:`);
          for (const p of plan) console.log(`  ${p.host}  role ${p.role}  state ${p.state}${p.marked ? '  (already marked)' : ''}`);
        }
        return 0;
      }
      // 4. more than one host wipes more than one disk: ask, or require --yes
      if (!cancel && sel.names.length > 1 && !values.yes) {
        if (!process.stdin.isTTY) {
          console.error(`fleetboot reinstall: this marks ${sel.names.length} hosts (${sel.names.slice(0, 10).join(', ')}${sel.names.length > 10 ? ', ...' : ''}); not on a terminal, so pass --yes to confirm. Nothing marked.`);
          return 2;
        }
        const shown = sel.names.slice(0, 20).join(', ') + (sel.names.length > 20 ? `, ... (${sel.names.length - 20} more)` : '');
        if (!(await confirm(`Mark ${sel.names.length} hosts for reinstall (their disks are wiped on next boot): ${shown}\nContinue? [y/N] `))) {
          console.error('nothing marked');
          return 1;
        }
      }
      const how = [sel.how, 'cli'].filter(Boolean).join('; ');
      const audit = auditAs(new AuthStore(s.db), cliActor());
      if (cancel && values.power) throw new UsageError('--power goes with a mark, not with --cancel');
      type Powered = ReturnType<typeof reinstallHosts>[number] & { power?: import('../power/types.js').PowerResult };
      let res: Powered[];
      if (values.power) {
        const { reinstallWithPower } = await import('../power/audited.js');
        const { createPowerService } = await import('../power/wire.js');
        res = await reinstallWithPower({ installs: s.installs, store: s.store, power: createPowerService(s.holder, s.log) }, sel.names, cliActor(), audit, how, values.force === true);
      } else res = reinstallHosts(s.installs, sel.names, cliActor(), cancel, audit, how, values.force === true);
      if (json) console.log(JSON.stringify({ results: res }, null, 2));
      const { describeResult } = await import('../power/audited.js');
      let bad = 0;
      for (const r of res) {
        if (r.ok) {
          if (!json) console.log(`${r.host}: ${cancel ? 'cancelled' : r.already ? 'already marked' : 'marked'} (run ${r.runId})${r.forced ? ' FORCED: boot files missing' : ''}`);
        } else (bad++, console.error(`${r.host}: ${r.error}`));
        if (r.power) {
          if (!r.power.ok) bad++;
          if (!json) (r.power.ok ? console.log : console.error)(`${r.host}: power pxe ${describeResult(r.power)}`);
        }
      }
      return bad ? 1 : 0;
    } finally {
      s.db.close();
    }
  },
};
