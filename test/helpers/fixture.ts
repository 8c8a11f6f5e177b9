// Test fixture: a temp directory with a config, an inventory, templates and boot assets, and
// a Daemon started on an ephemeral loopback port. Real sockets, real SQLite file.
import { mkdtempSync, mkdirSync, writeFileSync, cpSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon.js';
import { Writable } from 'node:stream';
import { createLogger, silentLogger, type Logger } from '../../src/log.js';
import type { Clock } from '../../src/install/service.js';
import { AuthStore } from '../../src/web/auth.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');

export class FakeClock implements Clock {
  constructor(public t = Date.UTC(2026, 0, 1)) {}
  now() {
    return this.t;
  }
  advance(ms: number) {
    this.t += ms;
  }
}

export const INVENTORY = `
roles:
  tiny:
    kernel: tiny/vmlinuz
    initrd: tiny/initrd.img
    cmdline: "console=ttyS0 fb.cb={{ urls.progress }} fb.host={{ host.name }}"
    template: tiny.cfg
    packages: [openssh-server]
    vars: { domain: test.lan }
  slow:
    kernel: tiny/vmlinuz
    initrd: tiny/initrd.img
    template: tiny.cfg
    requireUp: true
hosts:
  - name: alpha
    macs: ["52:54:00:aa:00:01"]
    roles: [tiny]
    address: 10.99.0.11
    labels: [rack1]
  - name: beta
    macs: ["52:54:00:aa:00:02"]
    roles: [slow]
    labels: [rack1]
  - name: gamma
    macs: ["52:54:00:aa:00:03"]
    roles: [tiny]
`;

export interface Fixture {
  dir: string;
  configFile: string;
  write(rel: string, text: string | Buffer): string;
  cleanup(): void;
}

/**
 * `web` / `cache` replace the body of the fixture's `web:` / `cache:` section (default: both
 * off). With the UI off /api/v1 still needs credentials: get an API token with `mintToken(d)`.
 */
export function makeFixture(extraConfig = '', inventory = INVENTORY, opts: { web?: string; cache?: string } = {}): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'fleetboot-test-'));
  const write = (rel: string, text: string | Buffer) => {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
    return p;
  };
  write('templates/tiny.cfg', 'host={{ host.name }} run={{ run.id }} progress={{ urls.progress }}\n{% for p in packages %}pkg {{ p }}\n{% endfor %}');
  write('templates/files/firstboot.sh', '#!/bin/sh\nwget -q -O- "{{ urls.progress }}?stage=up"\n');
  write('assets/tiny/vmlinuz', Buffer.alloc(100_000, 7));
  write('assets/tiny/initrd.img', Buffer.from('initrd-bytes-'.repeat(1000)));
  write('inventory.yaml', inventory);
  const configFile = write(
    'fleetboot.yaml',
    `server:\n  address: 127.0.0.1\nhttp:\n  listen: 127.0.0.1\n  port: 0\npaths:\n  db: state/fb.sqlite\n  assets: assets\n  templates: templates\ntftp:\n  enabled: false\ndhcp:\n  enabled: false\nsyslog:\n  enabled: false\ncache:\n${opts.cache ?? '  enabled: false\n'}web:\n${opts.web ?? '  enabled: false\n'}inventory: inventory.yaml\n${extraConfig}`,
  );
  return { dir, configFile, write, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface DaemonTestOptions {
  log?: Logger;
  /** watch the config files (default false: tests reload explicitly) */
  watch?: boolean;
}

export async function startDaemon(fx: Fixture, clock?: Clock, env: NodeJS.ProcessEnv = {}, o: DaemonTestOptions = {}) {
  const r = loadConfig({ file: fx.configFile, env });
  if (!r.ok) throw new Error('fixture config invalid: ' + JSON.stringify(r.errors));
  const d = new Daemon({ loaded: r.loaded, loadOptions: { file: fx.configFile, env }, log: o.log ?? silentLogger(), clock, watch: o.watch ?? false, tickMs: 60_000 });
  await d.start();
  // the public URL must match the ephemeral port for token URLs in scripts
  const base = `http://127.0.0.1:${d.httpPort}`;
  return { d, base };
}

/**
 * An API token for the daemon's /api/v1 (send it as `Authorization: Bearer <token>`): creates
 * the admin `user` (random password) if needed. The same as `fleetboot user add` + `user token`.
 */
export async function mintToken(d: Daemon, user = 'tests', label = 'fixture'): Promise<string> {
  const auth = new AuthStore(d.db);
  if (!auth.user(user)) await auth.setUser(user, randomBytes(16).toString('hex'), 'fixture');
  return auth.createToken(auth.user(user)!.id, label).token;
}

export function copyRepoTemplates(fx: Fixture) {
  cpSync(join(REPO, 'preseed-templates'), join(fx.dir, 'templates'), { recursive: true });
}

/** A real pino logger whose JSON lines are kept for assertions. */
export function captureLog(level = 'info'): { log: Logger; lines: () => Record<string, unknown>[] } {
  let buf = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      buf += chunk.toString();
      cb();
    },
  });
  const log = createLogger({ level, destination: stream });
  return { log, lines: () => buf.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}
