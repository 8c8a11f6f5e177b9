// Where a transfer's bytes come from. A transfer asks for block ranges (1-based block numbers,
// absolute, i.e. before 16-bit wrap) and only ever goes back to the oldest unacknowledged
// block, so sources can stream: files are read by byte range with pread, never loaded whole.
import { open, type FileHandle } from 'node:fs/promises';

export interface BlockSource {
  /** bytes the client will receive (for tsize and the final-block computation) */
  readonly size: number;
  /** bytes [offset, offset+length) — shorter only at end of data */
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export class BufferSource implements BlockSource {
  constructor(private readonly buf: Buffer) {}
  get size(): number {
    return this.buf.length;
  }
  /** the bytes served (copied to the transfer thread) */
  get bytes(): Buffer {
    return this.buf;
  }
  async read(offset: number, length: number): Promise<Buffer> {
    return this.buf.subarray(offset, offset + length);
  }
  async close(): Promise<void> {}
}

export class FileSource implements BlockSource {
  private constructor(
    private readonly fh: FileHandle,
    readonly size: number,
  ) {}

  /** The handle behind this source (handed to the transfer thread, which then owns it). */
  get handle(): FileHandle {
    return this.fh;
  }

  /** A source over a handle opened (and size-checked) by open(), e.g. in another thread. */
  static fromHandle(fh: FileHandle, size: number): FileSource {
    return new FileSource(fh, size);
  }

  /** Size is taken from the open handle, so a file replaced after the jail check is still consistent. */
  static async open(path: string): Promise<FileSource> {
    const fh = await open(path, 'r');
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new Error('not a regular file');
      return new FileSource(fh, st.size);
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const len = Math.max(0, Math.min(length, this.size - offset));
    const buf = Buffer.allocUnsafe(len);
    let done = 0;
    while (done < len) {
      const { bytesRead } = await this.fh.read(buf, done, len - done, offset + done);
      if (bytesRead === 0) break; // truncated under us: send what exists, the client sees a short file
      done += bytesRead;
    }
    return done === len ? buf : buf.subarray(0, done);
  }

  close(): Promise<void> {
    return this.fh.close().catch(() => {});
  }
}

/**
 * RFC 1350 netascii: LF -> CR LF, CR -> CR NUL. The converted size is only known after a full
 * pass, which streaming cannot afford, so the input is converted sequentially and converted
 * bytes are kept from `keepFrom` on (the transfer releases acknowledged bytes). The size
 * reported for tsize is the raw file size, as RFC 2349 allows for netascii ("may not be exact").
 */
export class NetasciiSource implements BlockSource {
  private out = Buffer.alloc(0); // converted bytes starting at outStart
  private outStart = 0;
  private inPos = 0;
  private eof = false;
  private static readonly CHUNK = 64 * 1024;

  constructor(private readonly inner: BlockSource) {}

  get size(): number {
    return this.inner.size;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    if (offset < this.outStart) throw new Error('netascii: block already released');
    while (!this.eof && this.outStart + this.out.length < offset + length) {
      const raw = await this.inner.read(this.inPos, NetasciiSource.CHUNK);
      this.inPos += raw.length;
      if (raw.length < NetasciiSource.CHUNK) this.eof = true;
      this.out = Buffer.concat([this.out, NetasciiSource.convert(raw)]);
    }
    const start = offset - this.outStart;
    return this.out.subarray(start, start + length);
  }

  /** Drops converted bytes before `offset` (acknowledged by the client). */
  release(offset: number): void {
    const n = offset - this.outStart;
    if (n <= 0) return;
    this.out = this.out.subarray(Math.min(n, this.out.length));
    this.outStart += n;
  }

  static convert(raw: Buffer): Buffer {
    let extra = 0;
    for (const b of raw) if (b === 0x0a || b === 0x0d) extra++;
    if (extra === 0) return raw;
    const out = Buffer.allocUnsafe(raw.length + extra);
    let j = 0;
    for (const b of raw) {
      if (b === 0x0a) {
        out[j++] = 0x0d;
        out[j++] = 0x0a;
      } else if (b === 0x0d) {
        out[j++] = 0x0d;
        out[j++] = 0x00;
      } else out[j++] = b;
    }
    return out;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
