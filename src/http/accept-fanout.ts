// More than one accept per event-loop iteration on the HTTP port.
//
// Why: libuv >= 1.45 (Node 20 ships 1.46) accepts ONE connection per listening descriptor per
// event-loop iteration (libuv#3696, "unix: don't accept() connections in a loop"). In a boot
// storm 500 machines connect at once while the loop also answers DHCP, TFTP requests and
// kernel bodies: at 1–2 ms an iteration the last of them waited 0.5–1 s in the kernel's accept
// queue before fleetboot even saw it (docs/performance.md, "Where the latency came from").
// Several descriptors for the SAME listening socket, each registered with the loop, each take
// one connection per iteration: the queue drains N times as fast. The kernel keeps one queue,
// so the order, backlog and address stay those of the one socket.
//
// How: Node 20 has no dup() and no SO_REUSEPORT (net's `reusePort` arrives in 22.12). Passing a
// handle over an IPC channel duplicates its descriptor (SCM_RIGHTS), so a throwaway helper
// process sends the handle straight back N-1 times. It is sent as the raw TCP handle
// (`server._handle`, the type Node calls 'net.Native'), never as a net.Server: the helper must
// not start accepting on it, or a connection could land in a process that drops it.
import { spawn } from 'node:child_process';
import { Server as NetServer, type Socket } from 'node:net';
import type { Logger } from '../log.js';

const HELPER = [
  "process.on('message', (m, h) => process.send(m, h));",
  // the daemon dies or is done: never outlive it holding a copy of the port
  "process.on('disconnect', () => process.exit(0));",
].join('\n');

/**
 * `extra` more descriptors for `server`'s listening socket (already listening), each a
 * net.Server whose connections are handed to `server` as if it had accepted them (so the
 * server's own 'connection' handling — limits, HTTP parsing — applies unchanged). Resolves to
 * [] (one descriptor, as before) when the helper cannot run; the daemon never fails over this.
 */
export async function fanOutAccepts(server: NetServer, extra: number, log: Logger, timeoutMs = 10_000): Promise<NetServer[]> {
  const handle = (server as unknown as { _handle?: object })._handle;
  if (extra <= 0 || !handle) return [];
  const helper = spawn(process.execPath, ['-e', HELPER], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: {} });
  let stderr = '';
  helper.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  const handles: object[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      helper.on('error', (e) => (clearTimeout(t), reject(e)));
      helper.on('exit', (code) => (clearTimeout(t), reject(new Error(`helper exited (${code}) ${stderr.trim()}`))));
      helper.on('message', (_m, h) => {
        if (h) handles.push(h as object);
        if (handles.length === extra) (clearTimeout(t), resolve());
      });
      for (let i = 0; i < extra; i++) helper.send({ i }, handle as never);
    });
  } catch (err) {
    log.warn({ err: (err as Error).message, extra }, 'HTTP: could not add accepting descriptors; accepting on one (slower in a boot storm)');
    for (const h of handles) (h as { close?: () => void }).close?.();
    return [];
  } finally {
    if (helper.connected) helper.disconnect();
    helper.kill();
  }
  return handles.map((h) => {
    const s = new NetServer({ pauseOnConnect: false });
    // the connection was accepted on this descriptor; `server` handles it from here
    s.on('connection', (c: Socket) => server.emit('connection', c));
    s.on('error', (err) => log.error({ err }, 'HTTP: extra accepting descriptor failed'));
    // a handle that is already bound and listening: listen() only registers it with this loop
    s.listen(h as never);
    return s;
  });
}
