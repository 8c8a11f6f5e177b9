// Per-install-run token URLs. Unauthenticated by design (installers cannot log in), so a token
// is the only key: random (192 bit), bound to one run, dead once the run ends or expires. Any
// invalid token gets the same bare 404 as a missing page, and is logged (without the token).
import express, { type Request, type Response, type Router } from 'express';
import type { Logger } from '../log.js';
import { tokenHint, logPath } from '../log.js';
import type { InstallService } from '../install/service.js';
import type { ConfigHolder } from '../config/holder.js';
import { buildContext, type TemplateRenderer } from '../install/render.js';
import { normaliseRequestPath } from '../jail.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The request path with its token cut to a hint: fit for a log line. */

function notFound(res: Response) {
  res.status(404).type('text/plain').send('not found\n');
}

export function installRouter(deps: { installs: InstallService; holder: ConfigHolder; renderer: () => TemplateRenderer; log: Logger }): Router {
  const { installs, holder, log } = deps;
  const r = express.Router();

  const withRun = (req: Request, res: Response) => {
    const token = String(req.params.token);
    const found = installs.lookupToken(token, req.ip);
    if (!found.ok) {
      log.warn({ tokenHint: tokenHint(token), reason: found.reason, ip: req.ip, path: logPath(req.path) }, 'token URL refused');
      notFound(res);
      return null;
    }
    const rh = holder.index.byName(found.run.host);
    if (!rh) {
      log.warn({ host: found.run.host, runId: found.run.id }, 'token URL for a host no longer in the inventory');
      notFound(res);
      return null;
    }
    return { run: found.run, rh, ctx: buildContext(holder, rh, { id: found.run.id, token: found.run.token }) };
  };

  const renderOr500 = (res: Response, name: string, fn: () => string, host: string) => {
    try {
      res.type('text/plain; charset=utf-8').send(fn());
    } catch (e) {
      log.error({ err: e, template: name, host }, 'template rendering failed');
      res.status(500).type('text/plain').send('template error\n');
    }
  };

  r.get('/i/:token/answer', (req, res) => {
    const w = withRun(req, res);
    if (!w) return;
    installs.note(w.run.host, 'http', `answer file ${w.rh.role.template} fetched`, req.ip);
    renderOr500(res, w.rh.role.template, () => deps.renderer().render(w.rh.role.template, w.ctx), w.run.host);
  });

  // extra files referenced by answer files (first-boot units, scripts): preseed-templates/files/<name>
  r.get('/i/:token/files/*name', (req, res) => {
    const w = withRun(req, res);
    if (!w) return;
    const rel = normaliseRequestPath(([] as string[]).concat((req.params as unknown as Record<string, string[]>).name).join('/'));
    const tplDir = holder.config.paths.templates;
    if (!rel || !existsSync(join(tplDir, 'files', rel))) {
      log.warn({ host: w.run.host, runId: w.run.id, ip: req.ip, path: logPath(req.path) }, 'token URL: no such file');
      return notFound(res);
    }
    installs.note(w.run.host, 'http', `file ${rel} fetched`, req.ip);
    renderOr500(res, rel, () => deps.renderer().render(`files/${rel}`, w.ctx), w.run.host);
  });

  // cloud-init NoCloud datasource (Ubuntu autoinstall): ds=nocloud-net;s=<this>/ fetches these
  r.get('/i/:token/nocloud/:file', (req, res) => {
    const w = withRun(req, res);
    if (!w) return;
    const file = String(req.params.file);
    installs.note(w.run.host, 'http', `nocloud ${file} fetched`, req.ip);
    if (file === 'user-data') return renderOr500(res, w.rh.role.template, () => deps.renderer().render(w.rh.role.template, w.ctx), w.run.host);
    if (file === 'meta-data') return void res.type('text/plain').send(`instance-id: fleetboot-run-${w.run.id}\nlocal-hostname: ${w.rh.host.name}\n`);
    if (file === 'vendor-data' || file === 'network-config') return void res.type('text/plain').send('');
    notFound(res);
  });

  // progress: GET ?stage=&message= (wget from an installer shell), or POST (form, JSON or text)
  const progress = (req: Request, res: Response) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const q = req.query as Record<string, unknown>;
    const pick = (k: string) => (typeof q[k] === 'string' ? (q[k] as string) : typeof body[k] === 'string' ? (body[k] as string) : undefined);
    const stage = (pick('stage') ?? '').trim();
    let message = pick('message') ?? pick('msg');
    if (message === undefined && typeof req.body === 'string' && req.body.length) message = req.body;
    // the token first: a wrong or expired one is a 404 and a log line whatever else is wrong
    const w = withRun(req, res);
    if (!w) return;
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(stage)) {
      res.status(400).type('text/plain').send('stage must be 1-64 chars of [A-Za-z0-9_.:-]\n');
      return;
    }
    const out = installs.progress(w.run.token, stage, message?.slice(0, 4000), req.ip);
    if (!out.ok && 'message' in out) return void res.status(429).set(out.retryAfterSeconds ? { 'Retry-After': String(out.retryAfterSeconds) } : {}).type('text/plain').send(`${out.message}\n`);
    if (!out.ok) return notFound(res);
    res.type('text/plain').send(`ok ${out.run.state}\n`);
  };
  r.get('/i/:token/progress', progress);
  r.post('/i/:token/progress', express.urlencoded({ extended: false, limit: '64kb' }), express.json({ limit: '64kb' }), express.text({ type: 'text/*', limit: '64kb' }), progress);
  return r;
}
