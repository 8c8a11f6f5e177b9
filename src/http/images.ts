// Role images over HTTP. Boot side: GET/HEAD /images/<role>/<id>.ext4.zst|json, unauthenticated
// like /assets (installers cannot log in), served by the same Range/ETag/Jail handler, and
// only names of that form (no status or lock files, no build directories). Admin side:
// /api/v1/images (behind the API guard, audited like reinstall).
import express, { type Request, type Response, type Router } from 'express';
import type { Logger } from '../log.js';
import { assetsHandler } from './assets.js';
import { AssetCache } from './asset-cache.js';
import { isImageFileName, isRoleName } from '../image/store.js';
import type { ImageService } from '../image/service.js';
import { FleetbootError } from '../errors.js';
import { API_CONTEXT, type ApiContext } from './api.js';

export function imageFilesHandler(getRoot: () => string, log: Logger) {
  // a cache of its own with the default limits (bytes of files up to 1 MiB, i.e. manifests):
  // images are hundreds of MB, and a DELETE must stop one being served at once, not after the
  // boot assets' in-memory second (assets.ts, assetCacheFor)
  let cache: AssetCache | undefined;
  const serve = assetsHandler(getRoot, log, (root) => (cache?.root === root ? cache : (cache = new AssetCache(root))));
  return async (req: Request, res: Response): Promise<void> => {
    const segs = ([] as string[]).concat((req.params as Record<string, string | string[]>).path ?? []);
    if (segs.length !== 2 || !isRoleName(segs[0]) || !isImageFileName(segs[1])) {
      res.status(404).type('text/plain').send('not found\n');
      return;
    }
    await serve(req, res);
  };
}

export function imagesApi(images: ImageService): Router {
  const r = express.Router();
  const ctxOf = (res: Response) => res.locals[API_CONTEXT] as ApiContext;
  r.get('/', (_req, res) => {
    res.json({ roles: images.roles() });
  });
  r.get('/:role', (req, res) => {
    const role = String(req.params.role);
    const v = images.roles().find((x) => x.role === role);
    if (!v) throw new FleetbootError('FB_NOT_FOUND', `no role "${role}" with installer: image`);
    res.json(v);
  });
  r.post('/:role/build', (req, res) => {
    const role = String(req.params.role);
    const b = (req.body ?? {}) as Record<string, unknown>;
    if (typeof b !== 'object' || Array.isArray(b) || (b.force !== undefined && typeof b.force !== 'boolean')) throw new FleetbootError('FB_BAD_REQUEST', 'the body is {"force": true|false} or empty');
    const ctx = ctxOf(res);
    try {
      const out = images.start(role, { force: b.force === true });
      ctx.audit('image.build', role, b.force === true ? 'started (force)' : 'started');
      res.status(202).json(out);
    } catch (e) {
      if (e instanceof FleetbootError) ctx.audit('image.build', role, `refused: ${e.message}`);
      throw e;
    }
  });
  r.delete('/:role/:id', (req, res) => {
    const role = String(req.params.role);
    const id = String(req.params.id);
    const ctx = ctxOf(res);
    const gone = images.remove(role, id);
    if (!gone) throw new FleetbootError('FB_NOT_FOUND', `role "${role}" has no image ${id}`);
    ctx.audit('image.rm', role, id);
    res.json({ removed: { role, id } });
  });
  return r;
}
