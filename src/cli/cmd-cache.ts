// `fleetboot cache warm`: pre-fetch a role's install into the package cache (src/cli/cache.ts).
import type { CommandSpec } from './command.js';

export const cacheCommandSpec: CommandSpec = {
  name: 'cache',
  summary: "pre-fetch what a role's install needs into the package cache",
  usage: `usage: fleetboot cache warm --role R [--dry-run] [--json] [--arch A] [--components main,contrib]

Fills the package cache with what the installs of role R's hosts will fetch.
  --role R          the role (required)
  --dry-run         list what would be fetched
  --arch A          architecture (default: the role's)
  --components C    comma-separated archive components
  --json            print the report as JSON`,
  options: { role: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, arch: { type: 'string' }, components: { type: 'string' } },
  allowPositionals: true,
  needsConfig: true,
  subcommands: ['warm'],
  async run({ values, positionals, loaded }) {
    const { UsageError } = await import('./hint.js');
    const { checkSelectors } = await import('./state.js');
    if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
    if (typeof values.role !== 'string') throw new UsageError('--role R is required');
    checkSelectors(loaded!, { role: values.role });
    const { cacheCommand } = await import('./cache.js');
    const { createLogger } = await import('../log.js');
    return cacheCommand(
      { role: values.role, arch: values.arch as string | undefined, components: values.components as string | undefined, dryRun: values['dry-run'] === true, json: values.json === true },
      { config: loaded!, log: createLogger({ level: 'warn', destination: 2 }) },
    );
  },
};
