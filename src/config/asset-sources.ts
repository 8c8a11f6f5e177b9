// Which boot assets `fleetboot assets fetch` provides, from which Debian package. Shared by
// the command (src/cli/assets.ts) and the config check, whose "asset missing" warning must
// only suggest the command for files it really fetches.
export interface AssetSource {
  pkg: string;
  files: { from: string; to: string }[];
}

const DI = 'usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64';

export const ASSET_SOURCES: AssetSource[] = [
  {
    pkg: 'ipxe',
    files: [
      { from: 'usr/lib/ipxe/undionly.kpxe', to: 'undionly.kpxe' },
      { from: 'usr/lib/ipxe/ipxe.efi', to: 'ipxe.efi' },
      { from: 'usr/lib/ipxe/snponly.efi', to: 'snponly.efi' },
    ],
  },
  {
    pkg: 'debian-installer-12-netboot-amd64',
    files: [
      { from: `${DI}/linux`, to: 'debian-12/linux' },
      { from: `${DI}/initrd.gz`, to: 'debian-12/initrd.gz' },
    ],
  },
];

/** Asset paths (relative to paths.assets) that `fleetboot assets fetch` writes. */
export const FETCHED_ASSETS: ReadonlySet<string> = new Set(ASSET_SOURCES.flatMap((s) => s.files.map((f) => f.to)));
