// The directory fleetboot is installed in (the one holding its package.json): the embedded
// demo keeps its paths there, so `fleetboot check` / `serve` work from any directory.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  // src/config when run from source, dist/src/config when built: walk up to package.json
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; ) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'fleetboot') return (cached = dir);
      } catch {
        /* not ours: keep walking */
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`fleetboot's package.json not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}
