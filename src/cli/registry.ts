// Commands written as CommandSpecs (src/cli/command.ts). One line per command; keep specs light
// (their run() imports heavy modules on use) so `fleetboot --help` stays fast.
import type { CommandSpec } from './command.js';
import { rolloutCommand } from './rollout.js';
import { powerSpec } from './power.js';
import { imageCommand } from './image.js';

export const COMMANDS: CommandSpec[] = [rolloutCommand, powerSpec, imageCommand];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
