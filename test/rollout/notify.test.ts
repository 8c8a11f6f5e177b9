// Webhooks to a real HTTP receiver on loopback: bodies in all three formats, the secret from
// the environment, retries with backoff on the fake clock, a bound on attempts and on time, and
// a receiver that hangs never holding up the engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeBench, runToEnd } from './harness.js';
import { checkHealth } from '../../src/rollout/health.js';

interface Got {
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

async function receiver(answer: (n: number) => number | 'hang'): Promise<{ srv: Server; base: string; got: Got[]; close(): Promise<void> }> {
  const got: Got[] = [];
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ url: req.url!, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      const a = answer(got.length);
      if (a === 'hang') return;
      res.writeHead(a).end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return { srv, base, got, close: () => new Promise((r) => (srv.closeAllConnections(), srv.close(() => r()))) };
}

test('canary failure pages three webhooks (json with bearer secret, slack with secret in the path, alertmanager); 5xx is retried with backoff', async () => {
  const rx = await receiver((n) => (n <= 2 ? 500 : 200));
  const cfg = `notify:\n  backoffSeconds: 5\n  maxAttempts: 4\n  webhooks:\n    - url: ${rx.base}/json\n      format: json\n      secretEnv: FLEETBOOT_SECRET_HOOK\n    - url: ${rx.base}/services/{secret}\n      format: slack\n      secretEnv: FLEETBOOT_SECRET_SLACK\n    - url: ${rx.base}/api/v2/alerts\n      format: alertmanager\n`;
  const b = makeBench(3, { extraConfig: cfg, env: { FLEETBOOT_SECRET_HOOK: 's3cret-json', FLEETBOOT_SECRET_SLACK: 'T000/B000/xyz' } });
  try {
    b.power.behaviour.set('h01', 'install-fails');
    const id = b.start({ role: 'web', canary: 1, retries: 0 });
    assert.equal(await runToEnd(b, id), 'stopped-canary');
    const n = b.svc.notifier;
    assert.equal(await n.flush(), 3);
    // the first two deliveries got 500: due again 5 s later (attempt 1's backoff), not before
    let rows = n.rows(id);
    assert.deepEqual(rows.map((r) => [r.attempts, r.sent_at !== null, r.last_error]), [[1, false, 'HTTP 500'], [1, false, 'HTTP 500'], [1, true, null]]);
    assert.equal(rows[0].next_at, b.clock.now() + 5000);
    assert.equal(await n.flush(), 0, 'nothing due before the backoff ends');
    b.clock.advance(5000);
    assert.equal(await n.flush(), 2);
    rows = n.rows(id);
    assert.ok(rows.every((r) => r.sent_at !== null && r.attempts <= 2));
    assert.equal(rx.got.length, 5);

    const last = (path: string) => rx.got.filter((g) => g.url === path).at(-1)!;
    const j = last('/json');
    assert.equal(j.headers.authorization, 'Bearer s3cret-json');
    assert.equal(j.headers['content-type'], 'application/json');
    const body = j.body as { version: number; event: string; severity: string; rollout: { id: number; state: string; failures: { host: string; reason: string }[] } };
    assert.equal(body.version, 1);
    assert.equal(body.event, 'rollout.canary_failed');
    assert.equal(body.severity, 'page');
    assert.equal(body.rollout.id, id);
    assert.equal(body.rollout.state, 'stopped-canary');
    assert.equal(body.rollout.failures[0].host, 'h01');
    assert.match(body.rollout.failures[0].reason, /no disk found/);

    const s = last('/services/T000%2FB000%2Fxyz');
    assert.equal(s.headers.authorization, undefined, 'the secret went into the URL, not a header');
    assert.match((s.body as { text: string }).text, /^fleetboot rollout \d+ canary failed \(selection role=web; 0\/3 done, 1 failed\)\ncanary h01 failed: .*\nh01: install run \d+ failed: no disk found\n/);

    const a = last('/api/v2/alerts').body as { labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt?: string; generatorURL: string }[];
    assert.equal(a.length, 1);
    assert.equal(a[0].labels.alertname, 'FleetbootRolloutCanaryFailed');
    assert.equal(a[0].labels.severity, 'page');
    assert.equal(a[0].labels.rollout, String(id));
    assert.equal(a[0].annotations.failed_hosts, 'h01');
    assert.equal(a[0].endsAt, undefined);
    assert.equal(new Date(a[0].startsAt).getTime(), rows[2].created_at);
    assert.match(a[0].generatorURL, new RegExp(`/rollouts/${id}$`));
  } finally {
    b.close();
    await rx.close();
  }
});

test('a receiver that never answers: each try ends at the timeout, attempts are bounded, and the engine is never held up', async () => {
  const rx = await receiver(() => 'hang');
  const cfg = `notify:\n  timeoutSeconds: 0.3\n  maxAttempts: 2\n  backoffSeconds: 1\n  webhooks:\n    - url: ${rx.base}/hook\n`;
  const b = makeBench(2, { extraConfig: cfg });
  try {
    const id = b.start({ role: 'web', canary: 1 });
    assert.equal(await runToEnd(b, id), 'completed');
    const pending = b.svc.notifier.flush(); // in flight while the engine goes on
    const id2 = b.start({ hosts: ['h01'], canary: 0 });
    assert.equal(await runToEnd(b, id2), 'completed', 'the engine completes a rollout while a webhook hangs');
    await pending;
    b.clock.advance(1000);
    await b.svc.notifier.flush();
    const rows = b.svc.notifier.rows(id);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].attempts, 2);
    assert.ok(rows[0].gave_up_at !== null);
    assert.equal(rows[0].last_error, 'no answer within 0.3 s');
    assert.equal(rows[0].url_hint, `${rx.base}/hook`);
  } finally {
    b.close();
    await rx.close();
  }
});

test('outbox rows survive a restart: a page enqueued before the crash is sent after it, once', async () => {
  const rx = await receiver(() => 200);
  const b = makeBench(1, { extraConfig: `notify:\n  webhooks:\n    - url: ${rx.base}/hook\n      format: slack\n` });
  try {
    const id = b.start({ hosts: ['h01'], canary: 0 });
    assert.equal(await runToEnd(b, id), 'completed');
    b.reopen(); // the daemon died before the notifier ran
    await b.svc.notifier.flush();
    await b.svc.notifier.flush();
    assert.equal(rx.got.length, 1);
    assert.match((rx.got[0].body as { text: string }).text, /completed \(hosts h01; 1\/1 done, 0 failed\)/);
  } finally {
    b.close();
    await rx.close();
  }
});

test('health check against a real local HTTP endpoint and as a command', async () => {
  const rx = await receiver((n) => (n === 1 ? 503 : 200));
  try {
    const srv = rx.srv;
    srv.removeAllListeners('request');
    const seen: string[] = [];
    let n = 0;
    srv.on('request', (req, res) => (seen.push(req.url!), res.writeHead(++n === 1 ? 503 : 200).end()));
    assert.deepEqual(await checkHealth(`${rx.base}/health?h={host}&a={address}`, { name: 'web-1', address: '10.0.0.5' }), { ok: false, error: 'HTTP 503' });
    assert.deepEqual(await checkHealth(`${rx.base}/health?h={host}`, { name: 'web 1&x' }), { ok: true });
    assert.deepEqual(seen, ['/health?h=web-1&a=10.0.0.5', '/health?h=web%201%26x']);
    assert.deepEqual(await checkHealth('test "$FLEETBOOT_HOST" = "h;rm -rf /"', { name: 'h;rm -rf /' }), { ok: true });
    assert.deepEqual(await checkHealth('echo broken >&2; exit 3', { name: 'x' }), { ok: false, error: 'exit 3: broken' });
    const slow = await checkHealth('sleep 5', { name: 'x' }, 200);
    assert.equal(slow.ok, false);
    assert.match(slow.error!, /killed \(SIGKILL\) after 0.2 s/);
    const gone = await receiver(() => 200);
    await gone.close(); // a port that just closed: nothing listens there
    const down = await checkHealth(`${gone.base}/`, { name: 'x' }, 1000);
    assert.deepEqual(down, { ok: false, error: 'ECONNREFUSED' });
  } finally {
    await rx.close();
  }
});
