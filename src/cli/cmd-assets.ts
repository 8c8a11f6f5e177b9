// `fleetboot assets fetch`: fill boot-assets/ from Debian packages (src/cli/assets.ts).
import type { CommandSpec } from './command.js';

export const assetsCommandSpec: CommandSpec = {
  name: 'assets',
  summary: 'fill boot-assets/ from Debian packages (ipxe, debian-installer)',
  usage: `usage: fleetboot assets fetch [--installer | --no-installer] [--rebuild-installer] [--json]

Fetches the iPXE loaders and the Debian 12 installer kernel/initrd into paths.assets, recording
each file's package, version and sha256 in MANIFEST.json. When a role has installer: image (or
with --installer), also builds fleetboot's image installer environment from ordinary .debs
through the package cache (docs/installer.md).
  --installer          build the image installer environment even without an image role
  --no-installer       never build it
  --rebuild-installer  rebuild it even when its inputs did not change
  --json               print the written manifest entries as JSON`,
  options: { json: { type: 'boolean' }, installer: { type: 'boolean' }, 'no-installer': { type: 'boolean' }, 'rebuild-installer': { type: 'boolean' } },
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
    if (values.installer && values['no-installer']) throw new UsageError('--installer and --no-installer contradict each other');
    // fleetboot's image installer (docs/installer.md): built when an image role needs it
    const { fetchInstallerAsset, wantsInstaller } = await import('../installer/assets-step.js');
    const flags = ['installer', 'no-installer', 'rebuild-installer'].filter((k) => values[k] === true).map((k) => `--${k}`);
    if (wantsInstaller(loaded!, flags)) await fetchInstallerAsset(loaded!, flags);
    return 0;
  },
};
