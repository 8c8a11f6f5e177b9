// Syslog parser: golden lines from real senders, and arbitrary bytes never throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MAX_MESSAGE, parseDatagram, parseLine, redactTokenUrls, severityName } from '../../src/syslog/parse.js';

const AT = 1_795_401_828_596;

// Captured from d-i 12 (bookworm, 20230607+deb12u15) booted with log_host=/log_port=: busybox
// syslogd forwards RFC 3164 lines WITHOUT a hostname, the tag right after the timestamp.
const golden: Array<[string, Record<string, unknown>]> = [
  ['<13>Nov 23 02:43:43 udhcpc: Got IP 10.99.0.192 (using enp0s2) and routing through 10.99.0.1',
    { facility: 1, severity: 5, timestamp: 'Nov 23 02:43:43', tag: 'udhcpc', message: 'Got IP 10.99.0.192 (using enp0s2) and routing through 10.99.0.1' }],
  ['<15>Nov 23 02:43:46 netcfg[504]: DEBUG: Reading domain name returned via DHCP',
    { facility: 1, severity: 7, tag: 'netcfg', pid: 504, message: 'DEBUG: Reading domain name returned via DHCP' }],
  ['<14>Nov 23 02:43:48 main-menu[259]: (process:503): udhcpc: started, v1.35.0',
    { facility: 1, severity: 6, tag: 'main-menu', pid: 259, message: '(process:503): udhcpc: started, v1.35.0' }],
  ['<13>Nov 23 02:45:05 preseed: successfully loaded preseed file from http://10.99.0.1:8080/i/tok/answer',
    { tag: 'preseed', message: 'successfully loaded preseed file from http://10.99.0.1:8080/i/tok/answer' }],
  ['<12>Nov 23 02:46:00 anna[3228]: WARNING **: package retrieval failed',
    { severity: 4, tag: 'anna', pid: 3228, message: 'WARNING **: package retrieval failed' }],
  ['<4>Nov 23 02:45:41 kernel: [  188.739607] hrtimer: interrupt took 137587550 ns',
    { facility: 0, severity: 4, tag: 'kernel', message: '[  188.739607] hrtimer: interrupt took 137587550 ns' }],
  ['<15>Nov 23 02:45:09 debconf: Setting debconf/language to ', { tag: 'debconf', message: 'Setting debconf/language to' }],
  // single-digit day is space padded in RFC 3164
  ['<13>Nov  3 02:45:05 fleetboot: progress early_command', { timestamp: 'Nov  3 02:45:05', tag: 'fleetboot', message: 'progress early_command' }],
  // util-linux logger --rfc3164 -n: with a hostname
  ['<13>Nov 23 02:50:01 buildhost fbtest[4242]: hello 3164',
    { hostname: 'buildhost', tag: 'fbtest', pid: 4242, message: 'hello 3164' }],
  ['<131>Nov 23 02:50:01 buildhost root: no tag given', { facility: 16, severity: 3, hostname: 'buildhost', tag: 'root', message: 'no tag given' }],
  // util-linux logger -n (default RFC 5424), with its timeQuality structured data
  ['<13>1 2026-11-23T02:50:01.123456+00:00 buildhost fbtest - - [timeQuality tzKnown="1" isSynced="0"] hello 5424',
    { facility: 1, severity: 5, timestamp: '2026-11-23T02:50:01.123456+00:00', hostname: 'buildhost', tag: 'fbtest', message: 'hello 5424' }],
  // RFC 5424 section 6.5 examples
  ['<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \uFEFF\'su root\' failed for lonvick on /dev/pts/8',
    { facility: 4, severity: 2, hostname: 'mymachine.example.com', tag: 'su', message: '\'su root\' failed for lonvick on /dev/pts/8' }],
  ['<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 1234 ID47 [exampleSDID@32473 iut="3" eventSource="Appl\\]ication" eventID="1011"][examplePriority@32473 class="high"] BOMAn application event',
    { facility: 20, severity: 5, tag: 'evntslog', pid: 1234, message: 'BOMAn application event' }],
  ['<14>1 - - - - - -', { severity: 6, message: '' }],
  // anaconda/rsyslog style 3164 with a hostname
  ['<30>Nov 23 02:50:01 localhost anaconda[1234]: INFO:anaconda: starting', { hostname: 'localhost', tag: 'anaconda', pid: 1234, message: 'INFO:anaconda: starting' }],
  // no PRI, no timestamp: all message
  ['just some text', { message: 'just some text' }],
  // PRI out of range: not a PRI
  ['<999>Nov 23 02:50:01 x: y', { message: '<999>Nov 23 02:50:01 x: y' }],
  // terminal escapes from an installer UI are dropped
  ['<14>Nov 23 02:50:01 installer: \x1b[32mgreen\x1b[0m', { tag: 'installer', message: '[32mgreen[0m' }],
];

test('golden lines: busybox (d-i), util-linux logger 3164/5424, RFC 5424 examples, junk', () => {
  for (const [input, want] of golden) {
    const got = parseLine(input, AT);
    assert.equal(got.at, AT);
    for (const [k, v] of Object.entries(want)) {
      assert.deepEqual((got as unknown as Record<string, unknown>)[k], v, `${k} of ${JSON.stringify(input)}`);
    }
    if (!('tag' in want)) assert.equal(got.tag, undefined, `no tag in ${JSON.stringify(input)}`);
  }
});

test('datagram with several lines, CRLF and NUL terminators; empty datagram gives no line', () => {
  const lines = parseDatagram(Buffer.from('<14>Nov 23 02:50:01 a: one\r\n<14>Nov 23 02:50:02 b[2]: two\n\0<14>Nov 23 02:50:03 c: three\n'), AT);
  assert.deepEqual(lines.map((l) => [l.tag, l.message]), [['a', 'one'], ['b', 'two'], ['c', 'three']]);
  assert.deepEqual(parseDatagram(Buffer.alloc(0), AT), []);
  assert.deepEqual(parseDatagram('\n\n  \n', AT), []);
});

test('long messages are cut, invalid UTF-8 is replaced', () => {
  const long = parseLine(`<14>Nov 23 02:50:01 t: ${'x'.repeat(70_000)}`, AT);
  assert.equal(long.message.length, MAX_MESSAGE);
  const [bad] = parseDatagram(Buffer.concat([Buffer.from('<14>Nov 23 02:50:01 t: a'), Buffer.from([0xff, 0xfe]), Buffer.from('b')]), AT);
  assert.equal(bad.tag, 't');
  assert.match(bad.message, /^a\uFFFD+b$/);
});

test('fleetboot token URLs in installer lines are cut to a hint', () => {
  const tok = 'Vf6UsT3NMPlHdBMueTxbHJie9ho3Ocio';
  const l = parseLine(`<13>Nov 23 03:05:20 preseed: successfully loaded preseed file from http://10.99.0.1:8080/i/${tok}/answer`, AT);
  assert.equal(l.message, 'successfully loaded preseed file from http://10.99.0.1:8080/i/Vf6UsT…/answer');
  assert.equal(redactTokenUrls(`wget "http://h/i/${tok}/files/di-hooks.sh" && x "http://h/i/${tok}"`), 'wget "http://h/i/Vf6UsT…/files/di-hooks.sh" && x "http://h/i/Vf6UsT…"');
  assert.equal(redactTokenUrls('/i/short/answer and /usr/lib/x'), '/i/short/answer and /usr/lib/x');
  assert.ok(!JSON.stringify(parseLine(`<13>1 2026-11-23T03:05:20Z h preseed - - - from /i/${tok}/answer`, AT)).includes(tok));
});

test('severity names', () => {
  assert.equal(severityName(3), 'err');
  assert.equal(severityName(7), 'debug');
  assert.equal(severityName(undefined), undefined);
});

test('malformed input never throws (random bytes and mutated golden lines)', () => {
  const alphabet = '<>[]:- 0123456789TZ"\\=\n\r\0\x1bNov 1 abc@';
  let seed = 42;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  for (let i = 0; i < 3000; i++) {
    const buf = i % 2 ? randomBytes(rnd() % 600) : Buffer.from(Array.from({ length: rnd() % 200 }, () => alphabet[rnd() % alphabet.length]).join(''));
    const lines = parseDatagram(buf, AT);
    for (const l of lines) assert.equal(typeof l.message, 'string');
  }
  for (const [input] of golden) {
    for (let cut = 0; cut <= input.length; cut += 3) {
      parseLine(input.slice(0, cut), AT);
      parseLine(input.slice(cut), AT);
    }
  }
});
