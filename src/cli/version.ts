// fleetboot's version: package.json's, read once (the CLI's --version, fleetboot_build_info).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../config/package-root.js';

let cached: string | undefined;

export function fleetbootVersion(): string {
  if (cached) return cached;
  try {
    cached = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    cached = 'unknown';
  }
  return cached;
}
