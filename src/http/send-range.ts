// Sending a byte range of an open file to an HTTP response from reusable buffers. Node has
// no sendfile; fs.createReadStream allocates a fresh buffer per read (256-512 KiB here), which
// for large files means new memory to fault in and collect for every chunk. Here each
// response alternates two pooled buffers: one is being written while the next chunk is read
// into the other (docs/performance.md). Used by /assets and the package cache's hits.
import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { TurnBudget } from './turn-budget.js';

const CHUNK = 512 * 1024;
/** buffers kept for reuse at most (16 MiB); more are allocated under load and collected */
const POOL_MAX = 32;
const pool: Buffer[] = [];
const take = () => pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
const give = (b: Buffer) => void (pool.length < POOL_MAX && pool.push(b));
/** milliseconds of large-body writes per event-loop turn, all responses together (turn-budget.ts) */
const budget = new TurnBudget(2);

/**
 * Writes bytes start..end (inclusive) of fh to res; does not end it. A buffer handed to
 * res.write() belongs to the socket until its write callback, so it is reused only after.
 * Waits for 'drain' when the socket's buffer is full. Resolves true when every byte was
 * written and called back, false when the client went away first; rejects on a read error
 * or a file shorter than `end`. Never closes fh.
 */
export async function writeRange(fh: FileHandle, res: ServerResponse, start: number, end: number, onBytes?: (n: number) => void): Promise<boolean> {
  if (res.destroyed) return false;
  const bufs = [take(), take()];
  const inFlight: (Promise<unknown> | null)[] = [null, null];
  let reuse = false;
  const c = watchClose(res);
  try {
    let pos = start;
    for (let i = 0; pos <= end && !c.gone(); i ^= 1) {
      if (inFlight[i]) await Promise.race([inFlight[i], c.closed]);
      if (c.gone()) break;
      const { bytesRead } = await fh.read(bufs[i], 0, Math.min(CHUNK, end - pos + 1), pos);
      if (bytesRead === 0) throw new Error(`file shorter than expected (at byte ${pos})`);
      pos += bytesRead;
      onBytes?.(bytesRead);
      const chunk = bytesRead === CHUNK ? bufs[i] : bufs[i].subarray(0, bytesRead);
      if (!(await turnToWrite(c))) break;
      let ok = true;
      inFlight[i] = new Promise((r) => {
        ok = budget.spend(() => res.write(chunk, r));
      });
      if (!ok) await drained(res, c);
    }
    if (!c.gone()) await Promise.race([Promise.all(inFlight), c.closed]);
    reuse = !c.gone(); // every write called back: the socket holds neither buffer any more
    return !c.gone();
  } finally {
    c.dispose();
    if (reuse) bufs.forEach(give);
  }
}

/**
 * Writes `body` (bytes already in memory) to res as one write, once the per-turn write budget
 * allows: the socket takes what fits and libuv sends the rest as the client reads, with no
 * JavaScript in between (slicing it into CHUNK writes cost ~10 % of 2.6 MiB cache hits).
 * Does not end it; resolves false when the client went away first.
 */
export async function writeBytes(res: ServerResponse, body: Buffer): Promise<boolean> {
  if (res.destroyed) return false;
  const c = watchClose(res);
  try {
    if (!(await turnToWrite(c))) return false;
    if (!budget.spend(() => res.write(body))) await drained(res, c);
    return !c.gone();
  } finally {
    c.dispose();
  }
}

interface CloseWatch {
  /** settles when the response closes */
  closed: Promise<void>;
  gone(): boolean;
  dispose(): void;
}

/** A destroyed socket may never call back a pending write or emit 'drain': every wait races this. */
function watchClose(res: ServerResponse): CloseWatch {
  let gone = false;
  let onClose!: () => void;
  const closed = new Promise<void>((r) => (onClose = () => ((gone = true), r())));
  res.once('close', onClose);
  return { closed, gone: () => gone, dispose: () => res.off('close', onClose) };
}

/** Waits until this turn's write budget has room; false when the client went away meanwhile. */
async function turnToWrite(c: CloseWatch): Promise<boolean> {
  for (let w = budget.take(); w && !c.gone(); w = budget.take()) await Promise.race([w, c.closed]);
  return !c.gone();
}

/** After a write the socket could not take whole: its 'drain', or the close. */
async function drained(res: ServerResponse, c: CloseWatch): Promise<void> {
  if (!c.gone()) await Promise.race([new Promise((r) => res.once('drain', r)), c.closed]);
}

/** writeRange, then ends the response; destroys it (and rethrows) on a read error. */
export async function sendRange(fh: FileHandle, res: ServerResponse, start: number, end: number): Promise<void> {
  try {
    if (await writeRange(fh, res, start, end)) res.end();
  } catch (e) {
    res.destroy(e as Error);
    throw e;
  }
}
