// `fleetboot rollout ...`: start, list, show, pause, resume, abort. The CLI writes the rollout
// tables in the SQLite file directly (like `reinstall`): it works with or without a running
// daemon and without an API token on the server's shell, goes through the same audited
// functions as the API (src/rollout/plan.ts), and the daemon's engine reads its whole state
// from those tables on every tick, so there is nothing in memory to keep in step. Writes take
// SQLite's write lock first (IMMEDIATE), so a pause never races an engine decision.
import type { CommandSpec, CommandContext } from './command.js';

const USAGE = `usage: fleetboot rollout start (--role R | --label L | HOST...) [options]
       fleetboot rollout list [--json]
       fleetboot rollout show ID [--json]
       fleetboot rollout pause|resume|abort ID [--json]

Reinstalls hosts in waves: the canary hosts first (marked for reinstall, then network-booted
once and power-cycled through their BMC), each waited for until its installed system is up and
passes the health check; then wave after wave with at most --parallel installing at once. A host
that misses a phase deadline or fails its install or health check is retried (a new mark), then
counted as failed. The rollout stops and pages (notify.webhooks) when a canary fails or when
failures exceed --max-failures, and never starts a new wave while over budget. The daemon runs
it and picks it up where it was after a restart. See docs/rollouts.md.

start options:
  --role R / --label L / HOST...   which hosts (union; inventory order)
  --canary N             hosts in the canary wave (default 1; 0 = none)
  --wave N               hosts per wave (default 10)
  --parallel N           at most N hosts installing at once (default: --wave)
  --max-failures N       failure budget: stop when more than N hosts failed (default 0)
  --retries N            further attempts per host after a failure (default 1)
  --deadline-boot D      power cycle -> installer booted (default 10m)
  --deadline-install D   installer booted -> install finished (default 60m)
  --deadline-up D        install finished -> "up" and health check passed (default 20m)
  --health CMD|URL       after "up": an http(s) URL ({host}, {address}; 2xx passes) or a shell
                         command (exit 0 passes; FLEETBOOT_HOST, FLEETBOOT_ADDRESS in its env)
  --at TIME              start later: ISO 8601 with zone, HH:MM (UTC) or +30m
  --dry-run              print the waves and options; change nothing
  --json                 machine-readable output
durations: 90s, 10m, 1h30m, or plain seconds.

pause: no new host starts (those installing go on). resume: from paused. abort: final; hosts
whose installer has not started get their reinstall mark cancelled.`;

const ACTIONS = ['start', 'list', 'show', 'pause', 'resume', 'abort'];

export const rolloutCommand: CommandSpec = {
  name: 'rollout',
  summary: 'reinstall hosts in waves with a canary and a failure budget (start|list|show|pause|resume|abort)',
  usage: USAGE,
  options: {
    role: { type: 'string' },
    label: { type: 'string' },
    canary: { type: 'string' },
    wave: { type: 'string' },
    parallel: { type: 'string' },
    'max-failures': { type: 'string' },
    retries: { type: 'string' },
    'deadline-boot': { type: 'string' },
    'deadline-install': { type: 'string' },
    'deadline-up': { type: 'string' },
    health: { type: 'string' },
    at: { type: 'string' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  allowPositionals: true,
  needsConfig: true,
  async run(ctx: CommandContext): Promise<number> {
    const [action, ...rest] = ctx.positionals;
    if (!action || !ACTIONS.includes(action)) {
      console.error(`fleetboot rollout: name an action (${ACTIONS.join(', ')})\n\n${USAGE}`);
      return 2;
    }
    const { runRollout } = await import('./rollout-run.js');
    return runRollout(action, rest, ctx);
  },
};
