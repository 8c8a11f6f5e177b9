// GET /i/<token>/plan: the install plan of an image-installer run (src/installer/plan.ts), as
// JSON, or with ?format=sh as shell assignments for the busybox installer. Same token rules
// as the other token URLs (src/http/install.ts): an invalid token is a bare 404 and a log line.
import express, { type Router } from 'express';
import type { Logger } from '../log.js';
import { tokenHint, logPath } from '../log.js';
import type { InstallService } from '../install/service.js';
import type { ConfigHolder } from '../config/holder.js';
import { buildContext } from '../install/render.js';
import { latestImage } from '../image/store.js';
import { buildPlan, planToShell } from '../installer/plan.js';

export function planRouter(deps: { installs: InstallService; holder: ConfigHolder; log: Logger }): Router {
  const { installs, holder, log } = deps;
  const r = express.Router();
  r.get('/i/:token/plan', (req, res) => {
    const token = String(req.params.token);
    const found = installs.lookupToken(token);
    const rh = found.ok ? holder.index.byName(found.run.host) : undefined;
    if (!found.ok || !rh) {
      log.warn({ tokenHint: tokenHint(token), reason: found.ok ? 'host gone' : found.reason, ip: req.ip, path: logPath(req.path) }, 'token URL refused');
      res.status(404).type('text/plain').send('not found\n');
      return;
    }
    if (rh.role.installer !== 'image') {
      installs.note(rh.host.name, 'http', `plan asked for, but role ${rh.roleName} is not an image role`, req.ip);
      res.status(409).type('text/plain').send(`role ${rh.roleName} does not use the image installer\n`);
      return;
    }
    const image = latestImage(holder.config.paths.images, rh.roleName);
    if (!image) {
      installs.note(rh.host.name, 'http', `plan refused: role ${rh.roleName} has no image (fleetboot image build ${rh.roleName})`, req.ip);
      res.status(503).type('text/plain').send(`role ${rh.roleName} has no image yet\n`);
      return;
    }
    const ctx = buildContext(holder, rh, { id: found.run.id, token: found.run.token });
    const plan = buildPlan(rh, ctx, image, holder.publicUrl);
    installs.note(rh.host.name, 'http', `install plan fetched: image ${image.id} (${image.size} bytes), ${plan.scheme} on ${plan.disk}`, req.ip);
    if (req.query.format === 'sh') res.type('text/plain; charset=utf-8').send(planToShell(plan));
    else res.json(plan);
  });
  return r;
}
