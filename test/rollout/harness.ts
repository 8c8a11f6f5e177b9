// Rollout test bench: a fixture inventory of N hosts, the real InstallService and SQLite file,
// the real RolloutService with a fake clock, and FakePower: a named test double for the BMCs
// that records every call and plays each host's installer through the same InstallService
// entry points the boot path and the installer's callbacks use (bootServed, progress).
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ConfigHolder } from '../../src/config/holder.js';
import { openDatabase, type DB } from '../../src/store/db.js';
import { RunStore } from '../../src/store/runs.js';
import { InstallService } from '../../src/install/service.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { RolloutService } from '../../src/rollout/service.js';
import { planRollout, createRollout, type RolloutRequest } from '../../src/rollout/plan.js';
import type { PowerAction, PowerResult } from '../../src/rollout/types.js';
import type { HealthResult } from '../../src/rollout/health.js';
import { makeFixture, FakeClock, type Fixture } from '../helpers/fixture.js';

/** How a simulated host behaves when powered: ok installs; the others fail in their own way. */
export type Behaviour = 'ok' | 'no-boot' | 'install-fails' | 'hangs' | 'no-up' | 'bmc-dead';

export function inventory(n: number): string {
  const hosts = Array.from({ length: n }, (_, i) => `  - name: h${String(i + 1).padStart(2, '0')}\n    macs: ["52:54:00:bb:00:${(i + 1).toString(16).padStart(2, '0')}"]\n    roles: [web]\n    address: 10.98.0.${i + 10}\n    labels: [${i % 2 ? 'odd' : 'even'}]\n`);
  return `roles:\n  web:\n    kernel: tiny/vmlinuz\n    initrd: tiny/initrd.img\n    template: tiny.cfg\n    requireUp: true\nhosts:\n${hosts.join('')}`;
}

export class FakePower {
  readonly calls: { host: string; action: PowerAction; at: number }[] = [];
  /** host -> simulated progress: stage index reached since its last power cycle */
  readonly sim = new Map<string, number>();
  readonly behaviour = new Map<string, Behaviour>();
  /** scripted failure count per host (e.g. first attempt fails, second works) */
  readonly failTimes = new Map<string, number>();
  constructor(private readonly clock: FakeClock) {}

  async act(host: string, action: PowerAction): Promise<PowerResult> {
    this.calls.push({ host, action, at: this.clock.now() });
    if (this.behaviour.get(host) === 'bmc-dead') return { ok: false, error: 'BMC did not answer' };
    this.sim.set(host, 0);
    return { ok: true };
  }

  callsFor(host: string) {
    return this.calls.filter((c) => c.host === host);
  }
}

export interface Bench {
  fx: Fixture;
  clock: FakeClock;
  power: FakePower;
  db: DB;
  runs: RunStore;
  installs: InstallService;
  holder: ConfigHolder;
  svc: RolloutService;
  health: { calls: string[]; result: (host: string) => HealthResult };
  start(req: RolloutRequest, by?: string): number;
  /** one round: engine tick, outside calls settled, each powered host one installer step further, clock + stepMs */
  round(stepMs?: number): Promise<void>;
  reopen(): void;
  close(): void;
}

export function makeBench(n: number, opts: { extraConfig?: string; log?: Logger; env?: NodeJS.ProcessEnv } = {}): Bench {
  const fx = makeFixture(opts.extraConfig ?? '', inventory(n));
  const clock = new FakeClock();
  const power = new FakePower(clock);
  const r = loadConfig({ file: fx.configFile, env: {} });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const holder = new ConfigHolder(r.loaded, { file: fx.configFile, env: {} });
  const health = { calls: [] as string[], result: (_h: string): HealthResult => ({ ok: true }) };
  const b = {} as Bench;
  const build = () => {
    b.db = openDatabase(join(fx.dir, 'state/fb.sqlite'));
    b.runs = new RunStore(b.db);
    b.installs = new InstallService(b.runs, holder, opts.log ?? silentLogger(), clock);
    b.svc = new RolloutService({
      db: b.db, runs: b.runs, installs: b.installs, holder, power, log: opts.log ?? silentLogger(), clock, env: opts.env,
      health: async (_spec, host) => (health.calls.push(host.name), health.result(host.name)),
    });
  };
  build();
  Object.assign(b, {
    fx, clock, power, holder, health,
    start(req: RolloutRequest, by = 'tests') {
      const plan = planRollout(holder, b.runs, b.svc.store, req, clock.now());
      return createRollout(b.svc.store, plan, by, clock.now(), () => {}).id;
    },
    async round(stepMs = 10_000) {
      b.svc.engine.tick();
      await b.svc.engine.settle();
      simulate(b);
      clock.advance(stepMs);
    },
    reopen() {
      b.svc.engine.stop();
      b.db.close();
      build();
    },
    close() {
      b.svc.engine.stop();
      try {
        b.db.close();
      } catch {
        /* closed */
      }
      fx.cleanup();
    },
  });
  return b;
}

/** Each powered host moves one installer step: boot -> partitioning -> done -> up. */
function simulate(b: Bench) {
  for (const [host, stage] of b.power.sim) {
    const beh = b.power.behaviour.get(host) ?? 'ok';
    const left = b.power.failTimes.get(host) ?? 0;
    const bad = left > 0 ? 'install-fails' : beh;
    const open = b.runs.openRun(host);
    if (!open) continue;
    if (bad === 'no-boot') continue;
    if (stage === 0) b.installs.bootServed(host, open.id, '10.0.0.1');
    else if (stage === 1) b.installs.progress(b.runs.run(open.id)!.token, 'partitioning', undefined);
    else if (stage === 2) {
      if (bad === 'hangs') continue;
      if (bad === 'install-fails') {
        b.installs.progress(b.runs.run(open.id)!.token, 'failed', 'no disk found');
        b.power.failTimes.set(host, left - 1);
        b.power.sim.delete(host);
        continue;
      }
      b.installs.progress(b.runs.run(open.id)!.token, 'done', undefined);
    } else if (stage === 3) {
      if (bad === 'no-up') continue;
      b.installs.progress(b.runs.run(open.id)!.token, 'up', undefined);
    } else continue;
    b.power.sim.set(host, stage + 1);
  }
}

/** Rounds until the rollout is final (or max rounds). */
export async function runToEnd(b: Bench, id: number, max = 400, stepMs = 10_000): Promise<string> {
  for (let i = 0; i < max; i++) {
    await b.round(stepMs);
    const s = b.svc.store.get(id)!.state;
    if (['completed', 'stopped-budget', 'stopped-canary', 'aborted'].includes(s) && !b.svc.store.live().some((r) => r.id === id)) return s;
  }
  return b.svc.store.get(id)!.state;
}
