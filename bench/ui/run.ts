// bench/ui: the hosts page with an inventory of 5,000 hosts (issue 15), in headless Chromium
// (playwright-core, /usr/bin/chromium). Measures, for this checkout and for a peer (an older
// fleetboot, built from git by bench/ui/run) in the same run, alternating, medians of 3:
//   first rows: navigation start -> the first host row is visible
//   loaded:     navigation start -> the page's script has filled the table (load + idle)
//   bytes:      what the page load transferred (document, script, data; not the event stream)
//   filter:     typing a host name -> the table shows exactly the matching hosts
//   state:      choosing a state filter -> only hosts of that state are shown
// Goals (issue 15): first rows < 1.5 s, filter < 0.5 s. Each daemon is a separate process.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { chromium, type Browser, type Page } from 'playwright-core';

const HERE = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const HOSTS = Number(args.get('hosts') ?? 5000);
const ROUNDS = Number(args.get('rounds') ?? 3);
const PEER = args.get('peer');
const PASSWORD = 'bench-password-123456';

function inventory(n: number): string {
  const lines = ['roles:', '  web:', '    kernel: tiny/vmlinuz', '    initrd: tiny/initrd.img', '    template: tiny.cfg', '  db:', '    kernel: tiny/vmlinuz', '    initrd: tiny/initrd.img', '    template: tiny.cfg', 'hosts:'];
  for (let i = 0; i < n; i++) {
    const mac = `52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    lines.push(`  - name: node-${String(i).padStart(4, '0')}`, `    macs: ["${mac}"]`, `    roles: [${i % 4 === 0 ? 'db' : 'web'}]`, `    address: 10.${1 + (i >> 8)}.${i & 255}.10`, `    labels: [rack${i % 50}]`);
  }
  return lines.join('\n') + '\n';
}

function fixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fb-bench-ui-'));
  const w = (rel: string, text: string | Buffer) => {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  w('templates/tiny.cfg', 'host={{ host.name }}\n');
  w('assets/tiny/vmlinuz', Buffer.alloc(1000, 7));
  w('assets/tiny/initrd.img', Buffer.alloc(1000, 8));
  w('inventory.yaml', inventory(HOSTS));
  w('fleetboot.yaml', `server:\n  address: 127.0.0.1\nhttp:\n  listen: 127.0.0.1\n  port: 0\npaths:\n  db: state/fb.sqlite\n  assets: assets\n  templates: templates\ntftp:\n  enabled: false\ndhcp:\n  enabled: false\nsyslog:\n  enabled: false\ncache:\n  enabled: false\nlog:\n  level: warn\ninventory: inventory.yaml\n`);
  return dir;
}

/** A fleet in mid-rollout: 20% with runs in various states, written as the daemon would. */
function populate(dbFile: string) {
  const db = new Database(dbFile);
  const now = Date.now();
  const states = ['marked', 'booting', 'installing', 'done', 'done', 'done', 'failed', 'cancelled'];
  const ins = db.prepare(`INSERT INTO install_runs (host, role, token, state, stage, message, marked_by, created_at, updated_at, last_event_at, booted_at, finished_at, token_expires_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`);
  const ev = db.prepare(`INSERT INTO events (run_id, host, at, kind, stage, message, source) VALUES (?,?,?,?,?,?,?)`);
  const mark = db.prepare(`INSERT INTO reinstall_marks (host, run_id, marked_at, marked_by) VALUES (?,?,?,?)`);
  db.transaction(() => {
    for (let i = 0; i < HOSTS; i += 5) {
      const host = `node-${String(i).padStart(4, '0')}`;
      const state = states[(i / 5) % states.length];
      const t0 = now - 3_600_000 + i;
      const done = ['done', 'failed', 'cancelled'].includes(state);
      const r = ins.run(host, i % 4 === 0 ? 'db' : 'web', `tok-${i}`, state, state === 'installing' ? 'packages' : null, state === 'failed' ? 'disk not found' : null, 'bench', t0, t0 + 60_000, t0 + 60_000, t0 + 1000, done ? t0 + 600_000 : null, t0 + 86_400_000);
      const id = Number(r.lastInsertRowid);
      ev.run(id, host, t0, 'state', 'marked', 'marked for reinstall by bench', 'bench');
      ev.run(id, host, t0 + 1000, 'boot', 'pxe', 'installer kernel served', '127.0.0.1');
      if (state !== 'marked') ev.run(id, host, t0 + 60_000, 'state', state, state === 'failed' ? 'installer reported failure' : state, '127.0.0.1');
      if (!done) mark.run(host, id, t0, 'bench');
    }
  })();
  db.close();
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

interface Target {
  name: string;
  root: string;
  dir: string;
  base?: string;
  child?: ChildProcess;
}

async function start(t: Target): Promise<void> {
  const cli = join(t.root, 'dist/src/cli.js');
  const cfg = join(t.dir, 'fleetboot.yaml');
  const env = { PATH: process.env.PATH, FLEETBOOT_SECRET_ADMIN_PASSWORD: PASSWORD, HOME: tmpdir() };
  execFileSync('node', [cli, '--config', cfg, 'user', 'add', 'admin'], { env, stdio: 'ignore' });
  populate(join(t.dir, 'state/fb.sqlite'));
  const port = await freePort();
  t.child = spawn('node', [cli, '--config', cfg, 'serve'], { env: { ...env, FLEETBOOT_HTTP_PORT: String(port), CI: '1' }, stdio: ['ignore', 'ignore', 'inherit'] });
  t.base = `http://127.0.0.1:${port}`;
  // 5,000 hosts on a loaded machine: the older version takes a while to validate them
  for (let i = 0; i < 1800; i++) {
    try {
      if ((await fetch(`${t.base}/healthz`)).ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${t.name} did not start`);
}

async function login(browser: Browser, t: Target): Promise<Page> {
  // bypassCSP: the waits below poll with string predicates, which the UI's strict CSP forbids
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, bypassCSP: true });
  await page.goto(`${t.base}/login`);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', PASSWORD);
  await Promise.all([page.waitForURL(`${t.base}/`, { timeout: 120_000 }), page.click('button.primary')]);
  return page;
}

const rowsOf = `[...document.querySelectorAll('#hosts tbody tr[data-host]')]`;

async function measure(browser: Browser, t: Target) {
  const page = await login(browser, t);
  try {
    await page.goto('about:blank');
    const t0 = Date.now();
    await page.goto(`${t.base}/`, { waitUntil: 'commit', timeout: 120_000 });
    await page.waitForSelector('#hosts tbody tr[data-host]', { state: 'visible', timeout: 120_000 });
    const firstRows = Date.now() - t0;
    await page.waitForLoadState('load', { timeout: 120_000 });
    // the script has taken over: the live indicator is shown once the stream is open
    await page.waitForSelector('#live:not([hidden])', { timeout: 120_000 });
    const loaded = Date.now() - t0;
    const bytes = (await page.evaluate(`(() => { const n = performance.getEntriesByType('navigation')[0]; return n.transferSize + performance.getEntriesByType('resource').filter((r) => !r.name.includes('/events/stream')).reduce((s, r) => s + r.transferSize, 0); })()`)) as number;
    // filter by name: exactly the matching hosts
    const want = 'node-4321';
    const f0 = Date.now();
    await page.fill('#f-name', want);
    await page.waitForFunction(`(() => { const r = ${rowsOf}; return r.length === 1 && r[0].dataset.host === '${want}'; })()`, undefined, { timeout: 60_000, polling: 'raf' });
    const filter = Date.now() - f0;
    await page.fill('#f-name', '');
    await page.waitForFunction(`${rowsOf}.length > 1`, undefined, { timeout: 60_000, polling: 'raf' });
    const s0 = Date.now();
    await page.selectOption('#f-state', 'failed');
    await page.waitForFunction(`(() => { const r = ${rowsOf}; return r.length > 0 && r.every((tr) => tr.classList.contains('st-failed')); })()`, undefined, { timeout: 60_000, polling: 'raf' });
    const state = Date.now() - s0;
    return { firstRows, loaded, bytes, filter, state };
  } finally {
    await page.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const targets: Target[] = [{ name: 'fleetboot (this checkout)', root: HERE, dir: fixture() }];
  if (PEER) targets.push({ name: `peer (${args.get('peer-ref') ?? PEER})`, root: PEER, dir: fixture() });
  const browser = await chromium.launch({ executablePath: process.env.FLEETBOOT_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  const results = new Map<string, ReturnType<typeof measure> extends Promise<infer R> ? R[] : never>();
  try {
    for (const t of targets) await start(t);
    for (let round = 0; round < ROUNDS; round++) {
      // alternate who goes first, so load drift hits both alike
      const order = round % 2 ? [...targets].reverse() : targets;
      for (const t of order) {
        const r = await measure(browser, t);
        console.log(`round ${round + 1} ${t.name}: first rows ${r.firstRows} ms, loaded ${r.loaded} ms, ${(r.bytes / 1024).toFixed(0)} KiB, name filter ${r.filter} ms, state filter ${r.state} ms`);
        results.set(t.name, [...(results.get(t.name) ?? []), r]);
      }
    }
  } finally {
    await browser.close();
    for (const t of targets) t.child?.kill('SIGTERM');
    for (const t of targets) rmSync(t.dir, { recursive: true, force: true });
  }
  const med = (name: string, k: 'firstRows' | 'loaded' | 'bytes' | 'filter' | 'state') => median(results.get(name)!.map((r) => r[k]));
  const me = targets[0].name;
  const peer = targets[1]?.name;
  console.log(`\nhosts page, ${HOSTS} hosts, medians of ${ROUNDS} (Chromium headless)`);
  console.log(`| measure | fleetboot | ${peer ?? 'peer'} | peer/fleetboot | goal |`);
  console.log('| --- | --- | --- | --- | --- |');
  const row = (label: string, k: 'firstRows' | 'loaded' | 'bytes' | 'filter' | 'state', goal?: number) => {
    const a = med(me, k);
    const b = peer ? med(peer, k) : NaN;
    const fmt = (v: number) => (k === 'bytes' ? `${(v / 1024).toFixed(0)} KiB` : `${v} ms`);
    const g = goal === undefined ? '' : `< ${goal} ms: ${a < goal ? 'MET' : 'NOT MET'}`;
    console.log(`| ${label} | ${fmt(a)} | ${peer ? fmt(b) : '-'} | ${peer ? `${(b / a).toFixed(1)}x` : '-'} | ${g} |`);
  };
  row('first rows', 'firstRows', 1500);
  row('loaded (script done, stream open)', 'loaded');
  row('transferred', 'bytes');
  row('name filter', 'filter', 500);
  row('state filter', 'state', 500);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
