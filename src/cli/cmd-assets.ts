// `fleetboot assets fetch`: fill boot-assets/ from Debian packages (src/cli/assets.ts).
import type { CommandSpec } from './command.js';

export const assetsCommandSpec: CommandSpec = {
  name: 'assets',
  summary: 'fill boot-assets/ from Debian packages (ipxe, debian-installer)',
  usage: `usage: fleetboot assets fetch [--json]

Fetches the iPXE loaders and the Debian 12 installer kernel/initrd into paths.assets, recording
each file's package, version and sha256 in MANIFEST.json.
  --json    print the written manifest entries as JSON`,
  options: { json: { type: 'boolean' } },
  allowPositionals: true,
  needsConfig: true,
  subcommands: ['fetch'],
  async run({ values, positionals, loaded }) {
    const { UsageError } = await import('./hint.js');
    if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
    const { fetchAssets } = await import('./assets.js');
    const dir = loaded!.config.paths.assets;
    const json = values.json === true;
    const entries = await fetchAssets(dir, json ? () => {} : console.log);
    if (json) console.log(JSON.stringify({ dir, files: entries }, null, 2));
    else console.log(`boot assets written to ${dir} (MANIFEST.json records versions and sha256)`);
    return 0;
  },
};
