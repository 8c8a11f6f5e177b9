// The generated admin-UI certificate: a private CA and a server certificate it signed, kept
// on disk and reused; a real TLS handshake trusting only ca.pem; Secure cookies over HTTPS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTls } from '../../src/web/tls.js';
import { startWeb, ADMIN } from './helper.js';
import { createApp } from '../../src/http/app.js';
import { createRegistry } from '../../src/metrics.js';
import { silentLogger } from '../../src/log.js';
import type { TemplateRenderer } from '../../src/install/render.js';

test('CA + server certificate: chain verifies, names match, files are reused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fbtls-'));
  try {
    const a = ensureTls(join(dir, 'tls'), ['fleetboot.lan', '10.0.0.5', 'localhost']);
    assert.equal(a.created, true);
    const ca = new X509Certificate(a.ca);
    const leaf = new X509Certificate(a.cert);
    assert.equal(ca.ca, true);
    assert.equal(leaf.ca, false);
    assert.ok(ca.verify(ca.publicKey), 'CA is self-signed');
    assert.ok(leaf.verify(ca.publicKey), 'server certificate is signed by the CA');
    assert.ok(leaf.checkIssued(ca), 'issuer matches the CA subject');
    assert.equal(leaf.checkHost('fleetboot.lan'), 'fleetboot.lan');
    assert.equal(leaf.checkIP('10.0.0.5'), '10.0.0.5');
    assert.equal(leaf.checkHost('other.lan'), undefined);
    assert.equal(statSync(join(dir, 'tls', 'ca-key.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'tls', 'server-key.pem')).mode & 0o777, 0o600);

    const b = ensureTls(join(dir, 'tls'), ['localhost', 'fleetboot.lan', '10.0.0.5']);
    assert.equal(b.created, false, 'same names: reused');
    assert.equal(b.cert, a.cert);
    assert.equal(b.key, a.key);

    const c = ensureTls(join(dir, 'tls'), ['fleetboot.lan', 'new.lan']);
    assert.equal(c.created, true, 'names changed: a new server certificate');
    assert.equal(c.ca, a.ca, 'from the same CA');
    assert.ok(new X509Certificate(c.cert).checkIssued(ca));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a server certificate close to expiry is re-issued from the same CA, never outliving it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fbtls-'));
  const DAY = 86_400_000;
  const t0 = new Date(Date.UTC(2026, 0, 1));
  const at = (days: number) => new Date(t0.getTime() + days * DAY);
  try {
    const names = ['fleetboot.lan', 'localhost'];
    const a = ensureTls(join(dir, 'tls'), names, t0);
    const notAfter = (pem: string) => new Date(new X509Certificate(pem).validTo).getTime();
    assert.equal(notAfter(a.cert), t0.getTime() + 825 * DAY);
    const b = ensureTls(join(dir, 'tls'), names, at(825 - 31));
    assert.equal(b.created, false, '31 days left: reused');
    assert.equal(b.cert, a.cert);
    const c = ensureTls(join(dir, 'tls'), names, at(825 - 29));
    assert.equal(c.created, true, '29 days left: renewed');
    assert.equal(c.renewed, 'expires soon');
    assert.equal(c.ca, a.ca, 'the CA is kept (browsers that imported it keep trusting us)');
    assert.ok(new X509Certificate(c.cert).verify(new X509Certificate(a.ca).publicKey));
    assert.equal(notAfter(c.cert), at(825 - 29).getTime() + 825 * DAY);
    // near the CA's own end the leaf is cut to the CA's validity
    const caEnd = notAfter(a.ca);
    const late = new Date(caEnd - 400 * DAY);
    const d = ensureTls(join(dir, 'tls'), names, late);
    assert.equal(d.created, true);
    assert.equal(notAfter(d.cert), caEnd);
    assert.equal(d.ca, a.ca);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('createWeb().tls() serves HTTPS that trusts ca.pem only; the session cookie is Secure there', async () => {
  const w = await startWeb({ web: { https: { enabled: true, dir: 'tls' } } });
  try {
    assert.ok(w.web.tls, 'tls() exists when https.enabled');
    const m = await w.web.tls!();
    assert.equal(statSync(join(w.fx.dir, 'tls', 'ca.pem')).isFile(), true, 'https.dir resolves against the config directory');
    const registry = createRegistry();
    const app = createApp({ holder: w.d.holder, store: w.d.store, boot: w.d.boot, installs: w.d.installs, renderer: () => (w.d as unknown as { renderer: TemplateRenderer }).renderer, registry, log: silentLogger(), web: w.web });
    const srv = createServer({ key: m.key, cert: m.cert }, app);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as AddressInfo).port;
    const post = (ca: string | undefined) =>
      new Promise<{ status: number; cookie: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/login', method: 'POST', ca, servername: 'localhost', headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          resolve({ status: res.statusCode!, cookie: (res.headers['set-cookie'] ?? [])[0] ?? '' });
        });
        req.on('error', reject);
        req.end(JSON.stringify({ username: ADMIN.name, password: ADMIN.password }));
      });
    try {
      await assert.rejects(post(undefined), /self-signed|unable to verify|certificate/i, 'not trusted without the CA');
      const r = await post(m.ca);
      assert.equal(r.status, 200);
      assert.match(r.cookie, /; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
    } finally {
      srv.closeAllConnections();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  } finally {
    await w.stop();
  }
});
