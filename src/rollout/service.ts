// Rollouts in the daemon: the engine on a ticker, the webhook notifier on its own, both over
// the daemon's SQLite file. Tests build the same object with a fake clock and tick it by hand.
import type { DB } from '../store/db.js';
import type { Logger } from '../log.js';
import type { Clock, InstallService } from '../install/service.js';
import type { RunStore } from '../store/runs.js';
import type { ConfigHolder } from '../config/holder.js';
import { AuthStore } from '../web/auth.js';
import { Notifier } from '../notify/notifier.js';
import type { NotifyFacts } from '../notify/format.js';
import { RolloutEngine, type RolloutEvent } from './engine.js';
import { RolloutStore } from './store.js';
import { checkHealth, type HealthResult } from './health.js';
import { detail } from './view.js';
import type { PowerActor } from './types.js';

export interface RolloutServiceDeps {
  db: DB;
  runs: RunStore;
  installs: InstallService;
  holder: ConfigHolder;
  power: PowerActor;
  log: Logger;
  clock: Clock;
  env?: NodeJS.ProcessEnv;
  /** engine tick interval (ms); default 2000 */
  tickMs?: number;
  /** notifier poll interval (ms); default 1000 */
  notifyPollMs?: number;
  health?: (spec: string, host: { name: string; address?: string }) => Promise<HealthResult>;
}

export class RolloutService {
  readonly store: RolloutStore;
  readonly engine: RolloutEngine;
  readonly notifier: Notifier;
  private timer?: NodeJS.Timeout;
  private readonly log: Logger;

  constructor(private readonly d: RolloutServiceDeps) {
    this.log = d.log.child({ subsystem: 'rollout' });
    this.store = new RolloutStore(d.db);
    const auth = new AuthStore(d.db, () => d.clock.now());
    this.notifier = new Notifier({ db: d.db, config: () => d.holder.config.notify, log: d.log, clock: d.clock, env: d.env, pollMs: d.notifyPollMs });
    this.engine = new RolloutEngine({
      store: this.store,
      runs: d.runs,
      installs: d.installs,
      holder: d.holder,
      power: d.power,
      health: d.health ?? ((spec, host) => checkHealth(spec, host)),
      notify: (id, event) => void this.notifier.enqueue(id, event, this.facts(id, event)),
      audit: (actor, action, target, det) => auth.audit({ actor, action, target, detail: det }),
      log: this.log,
      clock: d.clock,
    });
  }

  facts(id: number, event: RolloutEvent): NotifyFacts {
    const now = this.d.clock.now();
    const x = detail(this.store, this.store.get(id)!, now);
    return {
      event,
      at: now,
      rollout: {
        id,
        state: x.state,
        reason: x.reason,
        selector: x.selector,
        hosts: x.hosts,
        counts: x.counts,
        failures: x.failed,
        url: `${this.d.holder.publicUrl}/rollouts/${id}`,
      },
    };
  }

  start(): void {
    this.timer = setInterval(() => {
      try {
        this.engine.tick();
      } catch (e) {
        this.log.error({ err: e }, 'rollout tick failed');
      }
    }, this.d.tickMs ?? 2000);
    this.timer.unref();
    this.notifier.start();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.notifier.stop();
    this.engine.stop();
  }
}
