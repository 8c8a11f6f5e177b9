// TFTP packet codec (RFC 1350 packets, RFC 2347 option extension, OACK). Pure: no sockets,
// no clock. decode() never throws on bad input — it returns { ok: false } so a hostile or
// broken datagram can only ever become a counter increment, never an exception in a handler.
// encode() throws RangeError on packets we could not put on the wire faithfully (a NUL inside
// a string, a block number out of range): that is a bug on our side, not client input.

export const Op = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

export const ErrorCode = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  /** RFC 2347: the client refuses the OACK; EDK2 uses it to end its tsize probe */
  OPTION_REFUSED: 8,
} as const;

/** Options in wire order, names as sent (RFC 2347 says names are case-insensitive; options.ts folds). */
export type OptionList = Array<[name: string, value: string]>;

export type RequestPacket = { op: 'rrq' | 'wrq'; filename: string; mode: string; options: OptionList };

export type Packet =
  | RequestPacket
  | { op: 'data'; block: number; data: Buffer }
  | { op: 'ack'; block: number }
  | { op: 'error'; code: number; message: string }
  | { op: 'oack'; options: OptionList };

export type DecodeResult = { ok: true; packet: Packet } | { ok: false; reason: string };

const fail = (reason: string): DecodeResult => ({ ok: false, reason });

/**
 * Splits a NUL-terminated string sequence. Returns null when the last string has no NUL:
 * RFC 1350 requires the terminator and a missing one usually means a truncated datagram.
 */
function splitStrings(buf: Buffer, start: number): string[] | null {
  const out: string[] = [];
  let i = start;
  while (i < buf.length) {
    const z = buf.indexOf(0, i);
    if (z < 0) return null;
    // latin1: every byte maps to one char, so odd bytes in a filename survive to the jail
    // (which refuses what it must) instead of being replaced by U+FFFD
    out.push(buf.toString('latin1', i, z));
    i = z + 1;
  }
  return out;
}

function decodeOptions(strings: string[]): OptionList | null {
  // Some PXE ROMs pad requests with NUL bytes; trailing empty strings are padding, not options
  // (but an empty *value* of a last option is legal: strip only what cannot be a value).
  let end = strings.length;
  while (end > 0 && strings[end - 1] === '' && (end % 2 === 1 || strings[end - 2] === '')) end--;
  const s = strings.slice(0, end);
  if (s.length % 2 !== 0) return null;
  const out: OptionList = [];
  for (let i = 0; i < s.length; i += 2) {
    if (s[i] === '') return null;
    out.push([s[i], s[i + 1]]);
  }
  return out;
}

export function decode(buf: Buffer): DecodeResult {
  if (!Buffer.isBuffer(buf) || buf.length < 2) return fail('shorter than an opcode');
  const op = buf.readUInt16BE(0);
  switch (op) {
    case Op.RRQ:
    case Op.WRQ: {
      const strings = splitStrings(buf, 2);
      if (!strings || strings.length < 2) return fail('request without NUL-terminated filename and mode');
      const [filename, mode, ...rest] = strings;
      if (filename === '') return fail('empty filename');
      if (mode === '') return fail('empty mode');
      const options = decodeOptions(rest);
      if (!options) return fail('option without value');
      return { ok: true, packet: { op: op === Op.RRQ ? 'rrq' : 'wrq', filename, mode, options } };
    }
    case Op.DATA:
      if (buf.length < 4) return fail('DATA shorter than 4 bytes');
      return { ok: true, packet: { op: 'data', block: buf.readUInt16BE(2), data: buf.subarray(4) } };
    case Op.ACK:
      // Trailing bytes after the block number are tolerated (some embedded stacks pad to a
      // minimum frame size); fewer than 4 bytes is not an ACK.
      if (buf.length < 4) return fail('ACK shorter than 4 bytes');
      return { ok: true, packet: { op: 'ack', block: buf.readUInt16BE(2) } };
    case Op.ERROR: {
      if (buf.length < 4) return fail('ERROR shorter than 4 bytes');
      // A missing terminator on the message is tolerated: the code is what matters.
      const z = buf.indexOf(0, 4);
      const message = buf.toString('latin1', 4, z < 0 ? buf.length : z);
      return { ok: true, packet: { op: 'error', code: buf.readUInt16BE(2), message } };
    }
    case Op.OACK: {
      const strings = splitStrings(buf, 2);
      if (!strings) return fail('OACK option without NUL terminator');
      const options = decodeOptions(strings);
      if (!options) return fail('OACK option without value');
      return { ok: true, packet: { op: 'oack', options } };
    }
    default:
      return fail(`unknown opcode ${op}`);
  }
}

function str(s: string, what: string): Buffer {
  if (s.includes('\0')) throw new RangeError(`${what} contains NUL`);
  return Buffer.from(s + '\0', 'latin1');
}

function u16(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError(`${what} ${n} out of range`);
  return n;
}

function header(op: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt16BE(op, 0);
  b.writeUInt16BE(n, 2);
  return b;
}

function encodeOptions(options: OptionList): Buffer[] {
  return options.flatMap(([k, v]) => {
    if (k === '') throw new RangeError('empty option name');
    return [str(k, 'option name'), str(v, 'option value')];
  });
}

/** DATA header only: the transfer sends [header, slice-of-file] without copying the payload. */
export function dataHeader(block: number): Buffer {
  return header(Op.DATA, u16(block, 'block'));
}

export function encode(p: Packet): Buffer {
  switch (p.op) {
    case 'rrq':
    case 'wrq': {
      if (p.filename === '') throw new RangeError('empty filename');
      const op = Buffer.alloc(2);
      op.writeUInt16BE(p.op === 'rrq' ? Op.RRQ : Op.WRQ, 0);
      return Buffer.concat([op, str(p.filename, 'filename'), str(p.mode, 'mode'), ...encodeOptions(p.options)]);
    }
    case 'data':
      return Buffer.concat([dataHeader(p.block), p.data]);
    case 'ack':
      return header(Op.ACK, u16(p.block, 'block'));
    case 'error':
      return Buffer.concat([header(Op.ERROR, u16(p.code, 'error code')), str(p.message, 'error message')]);
    case 'oack': {
      const op = Buffer.alloc(2);
      op.writeUInt16BE(Op.OACK, 0);
      return Buffer.concat([op, ...encodeOptions(p.options)]);
    }
  }
}
