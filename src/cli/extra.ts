// Commands that belong to optional subsystems (package cache, admin users); loaded on use.
import type { LoadedConfig } from '../config/load.js';
import { createLogger } from '../log.js';
import { openDatabase } from '../store/db.js';

export async function extraCommands(command: string, rawArgs: string[], loaded: LoadedConfig): Promise<number | undefined> {
  const log = createLogger({ level: 'warn', destination: 2 });
  switch (command) {
    case 'cache': {
      const { cacheCommand } = await import('./cache.js');
      return cacheCommand(rawArgs, { config: loaded, log });
    }
    case 'user': {
      const { userCommand } = await import('./user.js');
      const { parseArgs } = await import('./main.js');
      const a = parseArgs(['user', ...rawArgs]);
      const db = openDatabase(loaded.config.paths.db);
      try {
        return await userCommand(a.rest, a.flags, { db, log });
      } finally {
        db.close();
      }
    }
    default:
      return undefined;
  }
}
