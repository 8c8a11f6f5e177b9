// The body of `fleetboot rollout` (src/cli/rollout.ts holds its spec and help).
import type { CommandContext } from './command.js';
import { createLogger } from '../log.js';
import { ConfigHolder } from '../config/holder.js';
import { openDatabase } from '../store/db.js';
import { RunStore } from '../store/runs.js';
import { InstallService, systemClock } from '../install/service.js';
import { AuthStore } from '../web/auth.js';
import { auditAs } from '../web/reinstall.js';
import { FleetbootError } from '../errors.js';
import { cliActor } from './user.js';
import { RolloutStore } from '../rollout/store.js';
import { planRollout, createRollout, controlRollout, describeOptions, type Control } from '../rollout/plan.js';
import { summary, detail, type RolloutSummary } from '../rollout/view.js';
import { formatMs, HOST_STATES } from '../rollout/types.js';

const iso = (ms: number | null) => (ms ? new Date(ms).toISOString().replace('.000Z', 'Z') : '-');
const dur = (ms: number | null) => (ms === null ? '-' : formatMs(ms));

function countsLine(s: RolloutSummary): string {
  return HOST_STATES.filter((k) => s.counts[k]).map((k) => `${k} ${s.counts[k]}`).join(', ');
}

export async function runRollout(action: string, rest: string[], ctx: CommandContext): Promise<number> {
  const loaded = ctx.loaded!;
  const v = ctx.values;
  const json = v.json === true;
  const log = createLogger({ level: 'warn', destination: 2 });
  const holder = new ConfigHolder(loaded, ctx.loadOptions);
  const db = openDatabase(loaded.config.paths.db);
  const runs = new RunStore(db);
  const store = new RolloutStore(db);
  const installs = new InstallService(runs, holder, log);
  const actor = cliActor();
  const audit = auditAs(new AuthStore(db), actor);
  const now = systemClock.now();
  const out = (x: unknown) => console.log(JSON.stringify(x, null, 2));
  try {
    if (action === 'start') {
      const s = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
      const plan = planRollout(holder, runs, store, {
        hosts: rest.length ? rest : undefined,
        role: s('role'),
        label: s('label'),
        canary: s('canary'),
        wave: s('wave'),
        parallel: s('parallel'),
        maxFailures: s('max-failures'),
        retries: s('retries'),
        deadlineBoot: s('deadline-boot'),
        deadlineInstall: s('deadline-install'),
        deadlineUp: s('deadline-up'),
        health: s('health'),
        at: s('at'),
      }, now);
      if (v['dry-run']) {
        if (json) out({ dryRun: true, selector: plan.selector, options: plan.options, startAt: plan.startAt, waves: plan.waves });
        else {
          console.log(`dry run: ${plan.names.length} host(s), ${plan.selector}; ${describeOptions(plan.options)}${plan.startAt > now ? `; starts ${iso(plan.startAt)}` : ''}`);
          plan.waves.forEach((w, i) => w.length && console.log(`  ${i === 0 ? 'canary' : `wave ${i}`}: ${w.join(' ')}`));
        }
        return 0;
      }
      const row = createRollout(store, plan, actor, now, audit);
      if (json) out(detail(store, row, now));
      else {
        console.log(`rollout ${row.id} ${row.state}: ${plan.names.length} host(s), ${plan.selector}; ${describeOptions(plan.options)}${plan.startAt > now ? `; starts ${iso(plan.startAt)}` : ''}`);
        plan.waves.forEach((w, i) => w.length && console.log(`  ${i === 0 ? 'canary' : `wave ${i}`}: ${w.join(' ')}`));
        console.log(`the daemon runs it (fleetboot serve); follow with: fleetboot rollout show ${row.id}`);
      }
      return 0;
    }
    if (action === 'list') {
      const rows = store.list().map((r) => summary(store, r, now));
      if (json) return (out({ rollouts: rows }), 0);
      if (!rows.length) return (console.log('no rollouts'), 0);
      for (const s of rows) console.log(`${s.id}\t${s.state}\t${s.hosts} host(s)\t${s.selector}\t${countsLine(s)}\tcreated ${iso(s.createdAt)} by ${s.createdBy}`);
      return 0;
    }
    const id = rest[0];
    if (!id || !/^[1-9]\d{0,9}$/.test(id) || rest.length > 1) {
      console.error(`fleetboot rollout ${action}: name one rollout id`);
      return 2;
    }
    const row = store.get(Number(id));
    if (!row) {
      console.error(`fleetboot rollout ${action}: no rollout ${id}`);
      return 1;
    }
    if (action === 'show') {
      const d = detail(store, row, now);
      if (json) return (out(d), 0);
      console.log(`rollout ${d.id}: ${d.state}${d.reason ? ` (${d.reason})` : ''}`);
      console.log(`  ${d.hosts} host(s), ${d.selector}; ${describeOptions(d.options)}`);
      console.log(`  created ${iso(d.createdAt)} by ${d.createdBy}; started ${iso(d.startedAt)}; elapsed ${dur(d.elapsedMs)}; estimated left ${dur(d.etaMs)}`);
      console.log(`  hosts: ${countsLine(d)}`);
      for (const w of d.waves) {
        console.log(`  ${w.canary ? 'canary' : `wave ${w.wave}`}:`);
        for (const h of w.hosts) console.log(`    ${h.host.padEnd(20)} ${h.state.padEnd(10)} attempt ${h.attempt}${h.run_id ? `  run ${h.run_id}` : ''}${h.last_error ? `  ${h.last_error}` : ''}`);
      }
      if (d.failed.length) {
        console.log('  failures:');
        for (const f of d.failed) console.log(`    ${f.host}: ${f.reason ?? '?'} (attempt ${f.attempt})`);
      }
      return 0;
    }
    const res = controlRollout(store, row.id, action as Control, actor, now, audit, installs, runs);
    if (json) out(summary(store, res, now));
    else console.log(`rollout ${res.id}: ${res.state}`);
    return 0;
  } catch (e) {
    if (!(e instanceof FleetbootError)) throw e;
    console.error(`fleetboot rollout ${action}: ${e.message}`);
    return e.code === 'FB_BAD_REQUEST' ? 2 : 1;
  } finally {
    db.close();
  }
}
