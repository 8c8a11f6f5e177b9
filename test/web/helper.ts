// Starts a daemon (fixture, UI off) plus a second HTTP server whose app has a web layer with
// the UI on (and an injected clock / poll interval): same store, installs and database handle.
// daemon.test.ts covers the real Daemon wiring with the UI on.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeFixture, startDaemon, FakeClock, type Fixture } from '../helpers/fixture.js';
import { createApp } from '../../src/http/app.js';
import { createRegistry } from '../../src/metrics.js';
import { createWeb, type Web } from '../../src/web/index.js';
import { webConfigSchema } from '../../src/web/config.js';
import { silentLogger, type Logger } from '../../src/log.js';
import type { Daemon } from '../../src/daemon.js';
import type { TemplateRenderer } from '../../src/install/render.js';
import type { Clock } from '../../src/install/service.js';

export { FakeClock };

export interface WebEnv {
  fx: Fixture;
  d: Daemon;
  web: Web;
  base: string;
  server: Server;
  stop(): Promise<void>;
}

export const ADMIN = { name: 'admin', password: 'correct horse battery' };

export async function startWeb(opts: { clock?: Clock; web?: Record<string, unknown>; inventory?: string; withAdmin?: boolean; pollMs?: number; heartbeatMs?: number; log?: Logger } = {}): Promise<WebEnv> {
  const fx = makeFixture('install:\n  tokenTtlSeconds: 3600\n  stallSeconds: 600\n  upDeadlineSeconds: 900\n', opts.inventory);
  const { d } = await startDaemon(fx, opts.clock);
  const registry = createRegistry();
  const log = opts.log ?? silentLogger();
  const web = createWeb({
    config: webConfigSchema.parse(opts.web ?? {}),
    holder: d.holder,
    store: d.store,
    installs: d.installs,
    db: d.db,
    log,
    registry,
    clock: opts.clock,
    pollMs: opts.pollMs ?? 200,
    heartbeatMs: opts.heartbeatMs,
  });
  const app = createApp({
    holder: d.holder,
    store: d.store,
    boot: d.boot,
    installs: d.installs,
    renderer: () => (d as unknown as { renderer: TemplateRenderer }).renderer,
    registry,
    log,
    web,
  });
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  // URLs handed to installers must point at the server the test talks to
  d.holder.boundHttpPort = port;
  await web.start({});
  if (opts.withAdmin !== false) {
    const { AuthStore } = await import('../../src/web/auth.js');
    await new AuthStore(d.db).setUser(ADMIN.name, ADMIN.password, 'test');
  }
  return {
    fx,
    d,
    web,
    base: `http://127.0.0.1:${port}`,
    server,
    async stop() {
      await web.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await d.stop();
      fx.cleanup();
    },
  };
}

/** The sign-in form's pre-session CSRF pair: the cookie header value and the hidden field. */
export async function loginForm(base: string, path = '/login'): Promise<{ cookie: string; field: string }> {
  const r = await fetch(`${base}${path}`);
  const cookie = r.headers.getSetCookie().find((c) => c.startsWith('fb_precsrf='))?.split(';')[0] ?? '';
  const field = /<input type="hidden" name="_csrf" value="([^"]*)">/.exec(await r.text())?.[1] ?? '';
  return { cookie, field };
}

/** Logs in with JSON; returns the cookie header value and the session's CSRF token. */
export async function login(base: string, name = ADMIN.name, password = ADMIN.password): Promise<{ cookie: string; csrf: string; status: number }> {
  const r = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: name, password }) });
  const set = r.headers.getSetCookie().find((c) => c.startsWith('fb_session='));
  const body = (await r.json()) as { csrfToken?: string };
  return { cookie: set ? set.split(';')[0] : '', csrf: body.csrfToken ?? '', status: r.status };
}
