// `fleetboot serve`: run the daemon. Whatever the log format (pretty on a terminal, JSON
// lines otherwise), a plain-text banner follows start-up on stdout: the web URL once and,
// while no admin exists, the one-time setup link, so neither hides among JSON log lines.
import type { CommandSpec } from './command.js';
import type { LoadedConfig } from '../config/load.js';

/** The banner's lines; `boot` is left out when it is the same URL as `admin`. */
export function bannerLines(o: { admin: string; boot: string; ui: boolean; source: string; setupUrl?: string; setupMinutes?: number }): string[] {
  const what = o.ui ? 'web UI and API' : 'API (UI off)';
  const lines = [o.admin === o.boot ? `fleetboot is running: ${what} and boot at ${o.admin} (${o.source})` : `fleetboot is running: ${what} at ${o.admin}, boot at ${o.boot} (${o.source})`];
  if (o.setupUrl) {
    lines.push(`No admin user exists yet. Create the first one within ${o.setupMinutes ?? 30} min at:`);
    lines.push(`  ${o.setupUrl}`);
    lines.push('(or run: fleetboot user add NAME)');
  }
  return lines;
}

export const serveCommand: CommandSpec = {
  name: 'serve',
  summary: 'run the daemon (DHCP, TFTP, HTTP, syslog, package cache)',
  usage: `usage: fleetboot serve [--config FILE]

Runs the daemon until SIGINT/SIGTERM; SIGHUP (or a changed config file) reloads the config.
Logs go to stdout (pretty on a terminal, JSON lines otherwise; log.pretty forces pretty).`,
  options: {},
  allowPositionals: false,
  needsConfig: true,
  async run({ loaded, loadOptions }) {
    const l = loaded as LoadedConfig;
    const c = l.config;
    const { createLogger } = await import('../log.js');
    const { formatError } = await import('../config/load.js');
    const { Daemon } = await import('../daemon.js');
    const log = createLogger({ level: c.log.level, pretty: c.log.pretty || (process.stdout.isTTY && !process.env.CI) });
    for (const w of l.warnings) log.warn(formatError(w));
    const d = new Daemon({ loaded: l, loadOptions: loadOptions ?? {}, log });
    try {
      await d.start();
    } catch (e) {
      // never leave a half-started daemon (HTTP up, DHCP not): undo and exit non-zero
      log.fatal({ err: e }, 'start failed');
      await d.stop().catch(() => {});
      log.flush?.();
      console.error(`fleetboot: cannot start: ${(e as Error).message}`);
      return 1;
    }
    const host = c.http.listen === '0.0.0.0' ? c.server.address : c.http.listen;
    // with web.https the admin side is HTTPS-only; boot traffic stays on plain HTTP
    const boot = `http://${host}:${d.httpPort}/`;
    const admin = c.web.https.enabled ? `https://${c.web.https.hostnames[0] ?? c.server.address}:${d.httpsPort}/` : boot;
    // after pino's buffered lines (pretty output goes through a worker thread), so the banner
    // is the last thing start-up prints; never wait long for it
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 500);
      try {
        (log.flush as unknown as (cb: (err?: Error) => void) => void)(() => (clearTimeout(t), resolve()));
      } catch {
        clearTimeout(t);
        resolve();
      }
    });
    const lines = bannerLines({ admin, boot, ui: c.web.enabled, source: l.files.length ? l.files.join(', ') : 'embedded demo config', setupUrl: d.setupUrl, setupMinutes: Math.round(c.web.setupTokenTtlSeconds / 60) });
    process.stdout.write(lines.join('\n') + '\n');
    await new Promise<void>((resolve) => {
      const stop = (sig: string) => {
        log.info({ sig }, 'stopping');
        d.stop().then(resolve, resolve);
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
    return 0;
  },
};
