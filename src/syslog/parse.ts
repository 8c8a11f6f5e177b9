// Parser for syslog datagrams as installers send them: RFC 3164 ("BSD") lines, RFC 5424 lines,
// and whatever is in between. Pure: no I/O, never throws, whatever the bytes.
//
// Senders seen in practice (golden lines in test/syslog/):
// - d-i's busybox syslogd with log_host= (remote forwarding): "<14>Nov 23 02:43:48 main-menu[259]: msg"
//   — RFC 3164 WITHOUT the HOSTNAME field (busybox leaves it out when forwarding), so the token
//   after the timestamp is already the tag.
// - util-linux `logger -n HOST -d --rfc3164`: "<13>Nov 23 02:43:48 myhost user: msg" (with hostname).
// - util-linux `logger -n HOST -d` (default --rfc5424):
//   "<13>1 2026-11-23T02:43:48.123456+00:00 myhost user - - [timeQuality ...] msg".
// - anaconda/rsyslog forwarders: RFC 5424 with structured data, or 3164 with a hostname.
// The timestamp a sender writes is informational only (installer clocks are often wrong and 3164
// has no year or zone): `at` is the receive time the caller passes in.

export interface SyslogLine {
  /** receive time, ms since the epoch */
  at: number;
  facility?: number;
  severity?: number;
  hostname?: string;
  tag?: string;
  pid?: number;
  /** the sender's own timestamp, verbatim */
  timestamp?: string;
  message: string;
}

/** Longest message kept; the rest is cut (a datagram may be up to 64 KiB). */
export const MAX_MESSAGE = 8192;

const MONTHS = 'Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec';
// "Nov 23 02:43:48" / "Nov  3 02:43:48" (space-padded day), optionally with a year or fraction
const BSD_TS = new RegExp(`^((?:${MONTHS}) [ 0-3]?\\d (?:\\d{4} )?\\d\\d:\\d\\d:\\d\\d(?:\\.\\d+)?) `);
// tag: program name, optionally [pid], then a colon (RFC 3164 section 5.3)
const TAG = /^([^\s[\]:]{1,64})(?:\[(\d{1,10})\])?:(?: |$)/;
const RFC5424 = /^1 (\S+) (\S+) (\S+) (\S+) (\S+) /;

/** Splits a datagram into lines (some senders batch several) and parses each one. */
export function parseDatagram(data: Buffer | string, at: number): SyslogLine[] {
  const text = typeof data === 'string' ? data : data.toString('utf8');
  const out: SyslogLine[] = [];
  for (const raw of text.split(/\r?\n|\0/)) {
    if (raw.trim() === '') continue;
    out.push(parseLine(raw, at));
  }
  return out;
}

export function parseLine(input: string, at: number): SyslogLine {
  let s = stripControl(input);
  const line: SyslogLine = { at, message: '' };
  // <PRI>: 0..191 = facility*8 + severity; anything else is not a PRI and stays in the message
  const pri = /^<(\d{1,3})>/.exec(s);
  if (pri && Number(pri[1]) <= 191) {
    const n = Number(pri[1]);
    line.facility = n >> 3;
    line.severity = n & 7;
    s = s.slice(pri[0].length);
  }
  const m5424 = RFC5424.exec(s);
  if (m5424 && (m5424[1] === '-' || /^\d{4}-\d\d-\d\dT/.test(m5424[1]))) {
    if (m5424[1] !== '-') line.timestamp = m5424[1];
    if (m5424[2] !== '-') line.hostname = m5424[2];
    if (m5424[3] !== '-') line.tag = m5424[3];
    if (m5424[4] !== '-' && /^\d+$/.test(m5424[4])) line.pid = Number(m5424[4]);
    line.message = cut(redactTokenUrls(skipStructuredData(s.slice(m5424[0].length)).replace(/^\uFEFF/, '')));
    return line;
  }
  const ts = BSD_TS.exec(s);
  if (ts) {
    line.timestamp = ts[1];
    s = s.slice(ts[0].length);
  }
  let tag = TAG.exec(s);
  if (!tag && ts) {
    // "HOSTNAME TAG: msg": the hostname is one token without a colon, followed by a tag
    const sp = s.indexOf(' ');
    if (sp > 0 && !s.slice(0, sp).includes(':')) {
      const rest = s.slice(sp + 1);
      const t2 = TAG.exec(rest);
      if (t2) {
        line.hostname = s.slice(0, sp);
        s = rest;
        tag = t2;
      }
    }
  }
  if (tag) {
    line.tag = tag[1];
    if (tag[2] !== undefined) line.pid = Number(tag[2]);
    s = s.slice(tag[0].length);
  }
  line.message = cut(redactTokenUrls(s));
  return line;
}

/** RFC 5424 STRUCTURED-DATA: "-" or one or more [id param="v\]alue"] elements. */
function skipStructuredData(s: string): string {
  if (s.startsWith('- ')) return s.slice(2);
  if (s === '-') return '';
  let i = 0;
  while (s[i] === '[') {
    let inQuote = false;
    i++;
    for (; i < s.length; i++) {
      const c = s[i];
      if (inQuote && c === '\\') { i++; continue; }
      if (c === '"') inQuote = !inQuote;
      else if (c === ']' && !inQuote) { i++; break; }
    }
  }
  if (i === 0) return s;
  return s.slice(i).replace(/^ /, '');
}

function stripControl(s: string): string {
  // keep tabs; drop other C0 controls and DEL (terminal escapes from installer UIs)
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '').trimEnd();
}

function cut(s: string): string {
  return s.length > MAX_MESSAGE ? s.slice(0, MAX_MESSAGE) : s;
}

/**
 * Installers log the URLs they fetch, fleetboot's per-run token included (d-i: "preseed:
 * successfully loaded preseed file from http://server/i/<token>/answer"). Lines are stored as
 * events and shown in the UI, so tokens are cut to a hint like every other log of ours.
 */
export function redactTokenUrls(s: string): string {
  return s.replace(/\/i\/([A-Za-z0-9_-]{16,})(?=\/|$|[\s?"'])/g, (_m, t: string) => `/i/${t.slice(0, 6)}…`);
}

const SEVERITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];
/** "err", "info"...: for events and logs. */
export function severityName(n: number | undefined): string | undefined {
  return n === undefined ? undefined : SEVERITIES[n];
}
