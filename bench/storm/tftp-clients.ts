// bench/storm's TFTP side, in its own process so that spawning hundreds of atftp clients
// never stalls the event loop that times the HTTP clients. Prints {"ok": n, "failed": n}.
//   node tftp-clients.js PORT COUNT DIR SIZE
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';

const [port, count, dir, size] = process.argv.slice(2);
const TIMEOUT_MS = 60_000;

function atftp(out: string): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn('atftp', ['-g', '-r', 'undionly.kpxe', '-l', out, '127.0.0.1', port], { stdio: 'ignore' });
    const t = setTimeout(() => p.kill('SIGKILL'), TIMEOUT_MS);
    p.on('exit', (code) => {
      clearTimeout(t);
      let ok = false;
      try {
        ok = code === 0 && statSync(out).size === Number(size);
      } catch {
        /* no file: failed */
      }
      resolve(ok);
    });
    p.on('error', () => (clearTimeout(t), resolve(false)));
  });
}

const res = await Promise.all(Array.from({ length: Number(count) }, (_, i) => atftp(join(dir, `t${i}`))));
process.stdout.write(JSON.stringify({ ok: res.filter(Boolean).length, failed: res.filter((x) => !x).length }) + '\n');
