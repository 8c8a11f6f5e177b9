// The Images page: roles with installer: image, their image state (none, building with step
// and percent, ready, failed with the failing step) and a build button. Builds go through the
// same ImageService and audit trail as POST /api/v1/images/:role/build.
import express, { type Request, type Response, type Router } from 'express';
import type { WebContext } from './index.js';
import { render, requireUser } from './render.js';
import { actorName, type Principal } from './sessions.js';
import { auditAs } from './reinstall.js';
import { FleetbootError } from '../errors.js';
import type { ImageService } from '../image/service.js';

const BADGE: Record<string, string> = { none: 'st-idle', building: 'st-installing', ready: 'st-done', failed: 'st-failed' };

export function imagesUiRouter(ctx: WebContext, images: ImageService): Router {
  const r = express.Router();
  const guard = requireUser(ctx);
  const form = express.urlencoded({ extended: false, limit: '16kb' });
  const me = (res: Response) => res.locals.principal as Principal;
  const flashKey = (res: Response) => {
    const p = me(res);
    return p.kind === 'session' ? p.session.id_hash : undefined;
  };

  r.get('/role-images', guard, (req: Request, res: Response) => {
    const k = flashKey(res);
    const roles = images.roles().map((v) => ({ ...v, badge: BADGE[v.state] }));
    render(req, res, 'images.njk', { title: 'Images', roles, notice: k ? ctx.flash.take(k) : undefined, imagesDir: ctx.holder.config.paths.images });
  });

  r.post('/role-images/build', form, guard, (req: Request, res: Response) => {
    const b = req.body as Record<string, unknown>;
    const role = typeof b.role === 'string' ? b.role : '';
    const force = b.force === 'yes';
    const audit = auditAs(ctx.auth, actorName(me(res)), req.ip);
    let text: string;
    try {
      images.start(role, { force });
      audit('image.build', role, force ? 'started (force)' : 'started');
      text = `Build of ${role} started${force ? ' (forced)' : ''}. Reload this page to follow it.`;
    } catch (e) {
      if (!(e instanceof FleetbootError)) throw e;
      audit('image.build', role || null, `refused: ${e.message}`);
      text = `Not started: ${e.message}`;
    }
    const k = flashKey(res);
    if (k) ctx.flash.set(k, text);
    res.redirect(303, '/role-images');
  });
  return r;
}
