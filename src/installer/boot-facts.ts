// What the boot decision needs to know about an image role, read from disk: the newest image's
// id and whether the installer environment is built. Kept out of decide.ts, which stays pure.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { latestImage } from '../image/store.js';
import { IMAGE_INSTALLER } from '../boot/decide.js';

export function imageBootFacts(paths: { images: string; assets: string }, role: string): { imageId?: string; installerEnv: boolean } {
  let imageId: string | undefined;
  try {
    imageId = latestImage(paths.images, role)?.id;
  } catch {
    imageId = undefined;
  }
  const installerEnv = existsSync(join(paths.assets, IMAGE_INSTALLER.kernel)) && existsSync(join(paths.assets, IMAGE_INSTALLER.initrd));
  return { imageId, installerEnv };
}
