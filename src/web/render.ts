// Server-side rendering: nunjucks templates from src/web/views (tsc does not copy them into
// dist/, so they are found relative to the package root, like db/ migrations), the static
// directory, and the page guard shared by every UI route.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';
import type { NextFunction, Request, Response } from 'express';
import type { WebContext } from './index.js';
import { identify, type Principal } from './sessions.js';
import { csrfOk } from './csrf.js';

/** src/web/<sub> at the package root, whether running from src/ or dist/src/. */
export function webDir(sub: 'views' | 'static'): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const p of [join(here, sub), join(here, '../../../src/web', sub)]) if (existsSync(p)) return p;
  throw new Error(`web ${sub} directory not found near ${here}`);
}

const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(webDir('views'), { noCache: false }), { autoescape: true, throwOnUndefined: false });
// JSON inside <script type="application/json">: "<" escaped so "</script>" in an installer
// message cannot end the block
env.addFilter('json', (v: unknown) => new nunjucks.runtime.SafeString(JSON.stringify(v ?? null).replace(/</g, '\\u003c')));
// a timestamp names its zone: UTC from the server; the script shows the browser's local time
// (with its zone) and keeps UTC in the title for hover
env.addFilter('time', (ms: number | null | undefined) => {
  if (!ms) return '—';
  const iso = new Date(ms).toISOString();
  const utc = `${iso.replace('T', ' ').slice(0, 19)} UTC`;
  return new nunjucks.runtime.SafeString(`<time datetime="${iso}" title="${utc}">${utc}</time>`);
});
// "time in state": rendered now, kept current by the script (data-since)
env.addFilter('since', (ms: number | null | undefined) => (ms ? new nunjucks.runtime.SafeString(`<span class="since" data-since="${Number(ms)}">${formatDuration(Date.now() - ms)}</span>`) : ''));
env.addFilter('duration', (ms: number | null | undefined) => formatDuration(ms));

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

export function render(req: Request, res: Response, view: string, vars: Record<string, unknown> = {}, status = 200): void {
  const p = res.locals.principal as Principal | undefined;
  const html = env.render(view, {
    user: p?.user.name,
    csrf: p?.kind === 'session' ? p.session.csrf : '',
    path: req.path,
    ...vars,
  });
  res.status(status).type('html').set('Cache-Control', 'no-store').send(html);
}

/** UI guard: a logged-in caller, and a valid CSRF token on anything that writes. */
export function requireUser(ctx: WebContext) {
  return (req: Request, res: Response, next: NextFunction) => {
    const p = identify(req, ctx.auth, ctx.sessions);
    if (!p || p === 'bad-token') {
      if (req.method === 'GET' && req.accepts('html')) {
        const next = req.originalUrl.startsWith('/') && !req.originalUrl.startsWith('//') ? req.originalUrl : '/';
        return void res.redirect(303, `/login${next === '/' ? '' : `?next=${encodeURIComponent(next)}`}`);
      }
      return void res.status(401).type('text/plain').send('authentication required\n');
    }
    res.locals.principal = p;
    if (!csrfOk(req, p)) return void render(req, res, 'error.njk', { title: 'Forbidden', message: 'The form was stale or did not come from this site (CSRF check failed). Go back, reload and try again.' }, 403);
    next();
  };
}
