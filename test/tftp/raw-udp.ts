// Sends UDP datagrams with a hand-written UDP header, so the source port can be 0 — which no
// ordinary socket API (Node's dgram included) lets a sender choose, but which the kernel
// delivers and any host on the LAN can emit. Needs root (a raw socket); loopback only here.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

// IPPROTO_UDP raw socket without IP_HDRINCL: the kernel writes the IP header, we write the
// 8-byte UDP header (checksum 0 = none, legal for IPv4) and the payload.
const SCRIPT = `
import socket, struct, sys
dst, dport, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
for h in sys.argv[4:]:
    p = bytes.fromhex(h)
    s.sendto(struct.pack('!HHHH', sport, dport, 8 + len(p), 0) + p, (dst, 0))
`;

/** Sends each payload from `address` source port `sourcePort` (default 0) to 127.0.0.1:`port`. */
export async function sendRawUdp(port: number, payloads: Buffer[], sourcePort = 0, address = '127.0.0.1'): Promise<void> {
  if (!address.startsWith('127.')) throw new Error('raw UDP test sender is loopback-only');
  await run('/usr/bin/python3', ['-c', SCRIPT, address, String(port), String(sourcePort), ...payloads.map((p) => p.toString('hex'))], { timeout: 10_000 });
}
