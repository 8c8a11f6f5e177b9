// manual driver: fleetboot cannot switch this host; every action returns what a person must do
// (the configured instructions, or a generic one) and status is "unknown".
import type { ManualPowerConfig } from '../config/power-schema.js';
import type { ActionOutcome, PowerDriver, PowerState } from './types.js';

const VERB = { on: 'power it on', off: 'power it off', cycle: 'power-cycle it', pxe: 'boot it from the network once (boot menu / F12), then power-cycle it' } as const;

export class ManualDriver implements PowerDriver {
  readonly driver = 'manual' as const;
  constructor(
    private readonly host: string,
    private readonly cfg: ManualPowerConfig,
  ) {}

  private say(what: keyof typeof VERB): ActionOutcome {
    const where = this.cfg.address ? ` (${this.cfg.address})` : '';
    return { instruction: `${this.host}${where}: ${VERB[what]} by hand${this.cfg.instructions ? `. ${this.cfg.instructions}` : ''}` };
  }

  async status(): Promise<PowerState> {
    return 'unknown';
  }
  async on(): Promise<ActionOutcome> {
    return this.say('on');
  }
  async off(): Promise<ActionOutcome> {
    return this.say('off');
  }
  async cycle(): Promise<ActionOutcome> {
    return this.say('cycle');
  }
  async pxeOnce(): Promise<ActionOutcome> {
    return this.say('pxe');
  }
}
