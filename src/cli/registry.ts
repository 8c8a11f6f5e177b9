// Commands written as CommandSpecs (src/cli/command.ts). One line per command; keep specs light
// (their run() imports heavy modules on use) so `fleetboot --help` stays fast.
import type { CommandSpec } from './command.js';
import { reloadCommand } from './reload.js';

export const COMMANDS: CommandSpec[] = [reloadCommand];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
