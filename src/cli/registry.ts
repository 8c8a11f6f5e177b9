// The CLI's one command table: parsing, per-command help, "did you mean", the top-level usage
// and bash completion all come from it. One line per command; keep specs light (their run()
// imports heavy modules on use) so `fleetboot --help` stays fast.
import type { CommandSpec } from './command.js';
import { serveCommand } from './cmd-serve.js';
import { checkCommand } from './cmd-check.js';
import { hostsCommand } from './cmd-hosts.js';
import { reinstallCommand } from './cmd-reinstall.js';
import { eventsCommand } from './cmd-events.js';
import { assetsCommandSpec } from './cmd-assets.js';
import { cacheCommandSpec } from './cmd-cache.js';
import { userCommandSpec } from './cmd-user.js';
import { completionCommand } from './completion.js';
import { imageCommand } from './image.js';
import { powerSpec } from './power.js';
import { rolloutCommand } from './rollout.js';
import { reloadCommand } from './reload.js';
import { healthCommand } from './cmd-health.js';

export const COMMANDS: CommandSpec[] = [
  serveCommand,
  checkCommand,
  hostsCommand,
  reinstallCommand,
  eventsCommand,
  assetsCommandSpec,
  cacheCommandSpec,
  userCommandSpec,
  imageCommand,
  powerSpec,
  rolloutCommand,
  reloadCommand,
  completionCommand,
  healthCommand,
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
