// `fleetboot health`: asks the running daemon's /healthz (the container HEALTHCHECK and
// scripts use it). The URL comes from the same config the daemon reads (http.listen, port).
import type { CommandSpec } from './command.js';
import type { LoadedConfig } from '../config/load.js';

export const healthCommand: CommandSpec = {
  name: 'health',
  summary: "ask the running daemon's /healthz (exit 0 healthy, 1 not)",
  usage: `usage: fleetboot health [--url URL] [--timeout SECONDS] [--json]

Requests /healthz from the daemon this configuration describes (http.listen and http.port;
127.0.0.1 when it listens on all addresses). Exit 0 when it answers ok, 1 otherwise.
  --url URL        ask this base URL instead (e.g. http://10.0.0.2:8080)
  --timeout S      give up after S seconds (default 5)
  --json           print the daemon's answer`,
  options: { url: { type: 'string' }, timeout: { type: 'string' }, json: { type: 'boolean' } },
  allowPositionals: false,
  needsConfig: true,
  async run({ values, loaded }) {
    const { UsageError } = await import('./hint.js');
    const c = (loaded as LoadedConfig).config;
    const timeout = values.timeout === undefined ? 5 : Number(values.timeout);
    if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 300) throw new UsageError('--timeout must be a number of seconds (0-300]');
    let base = typeof values.url === 'string' ? values.url : `http://${c.http.listen === '0.0.0.0' ? '127.0.0.1' : c.http.listen}:${c.http.port}`;
    base = base.replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]+$/.test(base)) throw new UsageError(`--url must be http(s)://host[:port], not "${base}"`);
    try {
      const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(timeout * 1000) });
      const body = (await r.json()) as { ok?: boolean };
      if (values.json) console.log(JSON.stringify(body, null, 2));
      else console.log(`${base}/healthz: ${r.status} ${body.ok ? 'ok' : 'NOT ok'}`);
      return r.ok && body.ok === true ? 0 : 1;
    } catch (e) {
      console.error(`fleetboot health: ${base}/healthz: ${(e as Error).message}`);
      return 1;
    }
  },
};
