// Bench helper: apt-cacher-ng started by hand in the foreground with its own config, cache and
// log directories on a loopback port (never the host's service), remapping /fbtest to the
// loopback upstream so both caches fetch from the same server.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';

// apt-cacher-ng (3.7.4) fails to bind ports above 32767 ("Error resolving address for
// binding", "Connection refused" to such a backend), so the ephemeral range is out for
// it and for the upstream it fetches from: probe a free port below it.
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const ok = await new Promise<boolean>((r) => {
      const s = net.createServer().once('error', () => r(false)).listen(port, '127.0.0.1', () => s.close(() => r(true)));
    });
    if (ok) return port;
  }
}

export async function startAcng(dir: string, upstreamUrl: string): Promise<{ base: string; stop: () => Promise<void>; proc: ChildProcess }> {
  for (const d of ['conf', 'cache', 'log']) mkdirSync(join(dir, d), { recursive: true });
  const port = await freePort();
  writeFileSync(
    join(dir, 'conf/acng.conf'),
    [
      `CacheDir: ${join(dir, 'cache')}`, `LogDir: ${join(dir, 'log')}`, `Port: ${port}`, 'BindAddress: 127.0.0.1', 'ForeGround: 1',
      `SocketPath: ${join(dir, 'socket')}`, `PidFile: ${join(dir, 'pid')}`, 'AllowUserPorts: 0', 'ExThreshold: 4',
      `Remap-fbtest: /fbtest ; ${upstreamUrl}`, '',
    ].join('\n'),
  );
  const proc = spawn('apt-cacher-ng', ['-c', join(dir, 'conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (c) => (err += c));
  const base = `http://127.0.0.1:${port}/fbtest`;
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => (s.end(), r(true))).on('error', () => r(false));
    });
    if (up) break;
    if (i > 100 || proc.exitCode !== null) throw new Error(`apt-cacher-ng did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    base, proc,
    stop: async () => {
      if (proc.exitCode !== null) return;
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    },
  };
}
