// Commands that belong to optional subsystems (package cache, admin users).
import type { LoadedConfig } from '../config/load.js';

export async function extraCommands(command: string, rest: string[], flags: Map<string, string | true>, loaded: LoadedConfig): Promise<number | undefined> {
  void rest;
  void flags;
  void loaded;
  void command;
  return undefined;
}
