// The admin side through the real Daemon wiring (prepareWeb -> createApp -> listeners), not a
// hand-built app: UI on with the package cache's stats in the API, and the HTTPS branch (the
// generated certificate verified with Node's tls against ca.pem, plain HTTP redirected or
// refused for the admin side only, HSTS, the setup link).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { makeFixture, type Fixture } from '../helpers/fixture.js';
import { loadConfig } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon.js';
import { loginForm } from './helper.js';

interface LogLine {
  level: number;
  msg: string;
  url?: string;
}

async function start(fx: Fixture) {
  const lines: LogLine[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  const r = loadConfig({ file: fx.configFile, env: {} });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const d = new Daemon({ loaded: r.loaded, loadOptions: { file: fx.configFile, env: {} }, log, watch: false, tickMs: 60_000 });
  await d.start();
  return { d, lines, base: `http://127.0.0.1:${d.httpPort}` };
}

/** The setup link's token: the first admin is made through the real /setup form. */
async function firstAdmin(base: string, setupUrl: string): Promise<string> {
  const token = new URL(setupUrl).searchParams.get('token')!;
  const pre = await loginForm(base, `/setup?token=${token}`);
  const r = await fetch(`${base}/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: pre.cookie },
    body: new URLSearchParams({ _csrf: pre.field, token, username: 'root', password: 'a long password', password2: 'a long password' }).toString(),
    redirect: 'manual',
  });
  assert.equal(r.status, 303);
  return r.headers.getSetCookie().find((c) => c.startsWith('fb_session='))!.split(';')[0];
}

test('UI on through the Daemon: setup link, hosts page, event stream, and /api/v1/cache/stats with real cache traffic', async () => {
  // a loopback "Debian mirror" with one package, so the stats have something to count
  const deb = Buffer.alloc(4096, 0x42);
  const upstream: Server = createServer((req, res) => {
    if (req.url === '/debian/pool/main/h/hello/hello_1.0_all.deb') res.writeHead(200, { 'content-length': deb.length }).end(deb);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const up = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/debian`;
  const fx = makeFixture('', undefined, { web: '  enabled: true\n', cache: `  enabled: true\n  dir: cache\n  maxBytes: 1000000\n  repos:\n    - name: debian\n      url: ${up}\n` });
  const { d, lines, base } = await start(fx);
  try {
    const setup = lines.filter((l) => l.url?.includes('/setup?token='));
    assert.equal(setup.length, 1);
    assert.match(setup[0].url!, new RegExp(`^${base}/setup\\?token=[A-Za-z0-9_-]{24}$`), 'plain http when https is off, with the bound port');
    assert.match(setup[0].msg, /within 60 min/);
    assert.deepEqual(((await (await fetch(`${base}/healthz`)).json()) as { subsystems: string[] }).subsystems.sort(), ['cache', 'images', 'web']);
    assert.equal((await fetch(`${base}/api/v1/cache/stats`)).status, 401);
    const cookie = await firstAdmin(base, setup[0].url!);
    const page = await fetch(`${base}/`, { headers: { cookie } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<tr data-host="alpha" class="st-idle">/);

    const pkg = `${base}/mirror/debian/pool/main/h/hello/hello_1.0_all.deb`;
    assert.deepEqual(Buffer.from(await (await fetch(pkg)).arrayBuffer()), deb);
    type Stats = { hits: number; misses: number; files: number; sizeBytes: number; maxBytes: number; repos: { name: string; url: string }[] };
    const stats = async () => (await (await fetch(`${base}/api/v1/cache/stats`, { headers: { cookie } })).json()) as Stats;
    // the file is committed to the index after the body went out: wait for it
    for (let i = 0; i < 200 && (await stats()).files < 1; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal((await (await fetch(pkg)).arrayBuffer()).byteLength, deb.length);
    const s = await stats();
    assert.deepEqual([s.misses, s.hits, s.files, s.sizeBytes, s.maxBytes], [1, 1, 1, deb.length, 1000000]);
    assert.deepEqual(s.repos, [{ name: 'debian', url: up, format: 'deb' }]);

    const ac = new AbortController();
    const es = await fetch(`${base}/events/stream`, { headers: { cookie }, signal: ac.signal });
    assert.match(es.headers.get('content-type')!, /^text\/event-stream/);
    const first = await es.body!.getReader().read();
    assert.match(Buffer.from(first.value!).toString(), /retry: 2000/);
    ac.abort();
  } finally {
    await d.stop();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
    fx.cleanup();
  }
});

function httpsGet(port: number, path: string, ca: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, ca, servername: 'localhost' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('web.https through the Daemon: the certificate verifies against the generated CA; admin HTTP moves to HTTPS, boot HTTP stays', async () => {
  const fx = makeFixture('', undefined, { web: '  enabled: true\n  https:\n    enabled: true\n    port: 0\n    dir: tls\n' });
  const { d, lines, base } = await start(fx);
  try {
    const port = d.httpsPort;
    assert.ok(port > 0 && port !== d.httpPort);
    const ca = readFileSync(join(fx.dir, 'tls', 'ca.pem'), 'utf8');

    // the handshake, by Node's tls: trusted with ca.pem, refused without it
    const peer = await new Promise<PeerCertificate>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
        assert.equal(s.authorized, true, String(s.authorizationError));
        const c = s.getPeerCertificate();
        s.end();
        resolve(c);
      });
      s.on('error', reject);
    });
    const leaf = new X509Certificate(peer.raw);
    const caCert = new X509Certificate(ca);
    assert.ok(leaf.verify(caCert.publicKey), 'signed by the generated CA');
    assert.ok(leaf.checkIssued(caCert));
    assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(leaf.checkHost('localhost'), 'localhost');
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost' }, () => resolve(s.end()));
        s.on('error', reject);
      }),
      /self-signed|unable to verify|certificate/i,
    );

    // the printed setup link is the HTTPS one
    const setup = lines.find((l) => l.url?.includes('/setup?token='))!;
    assert.match(setup.url!, new RegExp(`^https://127\\.0\\.0\\.1:${port}/setup\\?token=`));

    // plain HTTP: the UI, /login, /setup -> 308 to the same path on HTTPS (a name the
    // certificate covers, whatever the Host header said); the API -> 403 with the URL
    for (const path of ['/', '/login', '/setup?token=abc', '/hosts/alpha', '/events/stream', '/static/app.js']) {
      const r = await fetch(`${base}${path}`, { redirect: 'manual' });
      assert.equal(r.status, 308, path);
      assert.equal(r.headers.get('location'), `https://127.0.0.1:${port}${path}`, path);
    }
    const evil = await fetch(`${base}/login`, { redirect: 'manual', headers: { host: 'evil.example' } });
    assert.equal(evil.headers.get('location'), `https://127.0.0.1:${port}/login`);
    const local = await fetch(`http://localhost:${d.httpPort}/login`, { redirect: 'manual' });
    assert.equal(local.headers.get('location'), `https://localhost:${port}/login`);
    const api = await fetch(`${base}/api/v1/hosts`, { headers: { authorization: 'Bearer fb_x' } });
    assert.equal(api.status, 403);
    assert.deepEqual(await api.json(), { error: { code: 'FB_HTTPS_REQUIRED', message: `use https://127.0.0.1:${port}/api/v1/hosts`, details: { url: `https://127.0.0.1:${port}/api/v1/hosts` } } });
    const post = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(post.status, 308, '308 keeps the method, and no password was checked over HTTP');

    // boot-facing routes stay on HTTP, without HSTS (firmware would not care; browsers would)
    for (const path of ['/boot.ipxe?mac=52:54:00:aa:00:01', '/healthz', '/metrics', '/assets/tiny/vmlinuz']) {
      const r = await fetch(`${base}${path}`, { redirect: 'manual' });
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get('strict-transport-security'), null, path);
      await r.arrayBuffer();
    }
    // misses on boot paths stay plain 404s too (the cache is off here: nothing serves /mirror)
    for (const path of ['/i/not-a-token/answer', '/i/not-a-token/nope/deeper', '/assets/no/such', '/mirror/debian/dists/bookworm/Release', '/metrics', '/healthz']) {
      const r = await fetch(`${base}${path}`, { method: path.startsWith('/i/') ? 'POST' : 'GET', redirect: 'manual' });
      assert.notEqual(r.status, 308, path);
      await r.arrayBuffer();
    }

    // over HTTPS: the pages, with HSTS
    const login = await httpsGet(port, '/login', ca);
    assert.equal(login.status, 200);
    assert.equal(login.headers['strict-transport-security'], 'max-age=15552000');
    assert.match(login.body, /Create the first admin/);
    assert.match(String(login.headers['set-cookie']), /fb_precsrf=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=3600; Secure/);
    const apiTls = await httpsGet(port, '/api/v1/hosts', ca);
    assert.equal(apiTls.status, 401, 'HTTPS API: authentication, not transport, is the remaining question');
  } finally {
    await d.stop();
    fx.cleanup();
  }
});
