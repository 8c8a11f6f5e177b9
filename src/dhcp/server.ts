// DHCP server I/O: sockets, logging, metrics around the pure DhcpEngine.
//
// Binding (Node's dgram has neither SO_BINDTODEVICE nor IP_PKTINFO):
//  - A client without an address sends to 255.255.255.255:67. Linux delivers limited
//    broadcasts only to sockets bound to INADDR_ANY, so one socket listens on 0.0.0.0:67.
//  - Replies leave from a second socket bound to <serverAddress>:67 (both use SO_REUSEADDR,
//    which lets a specific and a wildcard bind share the port). For a 255.255.255.255
//    destination with a bound source address Linux routes out of the interface that owns
//    that address (ip_route_output: lbcast + saddr -> __ip_dev_find(saddr)), so broadcasts
//    reach the provisioning segment and not whatever interface the default route uses. The
//    reply source is our server identifier, which relays and clients check. This socket also
//    receives unicasts to <serverAddress>:67 (relays, renewals).
//  - proxy mode adds <serverAddress>:4011 for PXE boot-server requests (always unicast).
// Limits: a broadcast arriving on another interface of a multi-homed host is indistinguishable;
// its reply still goes out the provisioning interface only (so it never reaches that client).
// Unicasts are filtered: the source must be on our subnet or the packet must be relayed.
import dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import client from 'prom-client';
import type { Logger } from '../log.js';
import type { Registry } from 'prom-client';
import type { DhcpClient } from './classify.js';
import { decode, type DhcpPacket } from './codec.js';
import { DEFAULT_NETMASK, poolFits, type DhcpConfig } from './config.js';
import { DhcpEngine, OPTIONAL_REPLY_OPTIONS, type BootTargets, type HostLookup, type Outcome } from './engine.js';
import { fitReply, maxReplyLength, type Fitted } from './fit.js';
import { Opt } from './options.js';
import type { LeaseStore } from './leases.js';
import { sameSubnet } from './pool.js';
import { LogLimiter } from '../log-limit.js';

export type DiscoveredClient = DhcpClient & { vendorClass?: string; userClass?: string };
export type SocketFactory = () => dgram.Socket;

export interface DhcpServerOptions {
  config: DhcpConfig;
  log: Logger;
  registry: Registry;
  leases: LeaseStore;
  hosts: HostLookup;
  boot: BootTargets;
  onDiscovered?: (client: DiscoveredClient) => void;
  socketFactory?: SocketFactory;
  now?: () => number;
}

const PURGE_INTERVAL_MS = 3600_000;
/** packets handled in one transaction at most; a flood is cut into batches of this size */
const MAX_BATCH = 256;
/**
 * SO_RCVBUF asked for. The default (~208 KiB, ~100 queued DHCP packets) overflowed while a
 * batch was being handled at 2,000 DORA/s (docs/performance.md). Linux caps the value at
 * net.core.rmem_max silently; the size obtained is logged at start.
 */
const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

interface Queued { msg: Buffer; rinfo: dgram.RemoteInfo; localPort: number }
interface Handled { out: Outcome; packet: DhcpPacket; localPort: number }
/** expired leases are kept this long so a returning MAC gets its old address back */
const KEEP_EXPIRED_MS = 7 * 86400_000;

function metrics(registry: Registry) {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    requests: get('fleetboot_dhcp_requests_total', () => new client.Counter({ name: 'fleetboot_dhcp_requests_total', help: 'DHCP requests received by message type', labelNames: ['type'], registers: [registry] })),
    replies: get('fleetboot_dhcp_replies_total', () => new client.Counter({ name: 'fleetboot_dhcp_replies_total', help: 'DHCP replies sent by message type', labelNames: ['type'], registers: [registry] })),
    decisions: get('fleetboot_dhcp_decisions_total', () => new client.Counter({ name: 'fleetboot_dhcp_decisions_total', help: 'DHCP decisions', labelNames: ['decision'], registers: [registry] })),
    malformed: get('fleetboot_dhcp_malformed_total', () => new client.Counter({ name: 'fleetboot_dhcp_malformed_total', help: 'Packets that failed to decode', registers: [registry] })),
    sendErrors: get('fleetboot_dhcp_send_errors_total', () => new client.Counter({ name: 'fleetboot_dhcp_send_errors_total', help: 'Replies the socket refused', registers: [registry] })),
    batchSize: get('fleetboot_dhcp_batch_packets', () => new client.Histogram({ name: 'fleetboot_dhcp_batch_packets', help: 'Packets handled per lease-store transaction (one event-loop turn)', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [registry] })),
  };
}

/** First IPv4 address (and netmask) of a named interface. */
export function interfaceAddress(name: string): { address: string; netmask: string } | undefined {
  const a = networkInterfaces()[name]?.find((i) => i.family === 'IPv4' && !i.internal) ?? networkInterfaces()[name]?.find((i) => i.family === 'IPv4');
  return a ? { address: a.address, netmask: a.netmask } : undefined;
}

export class DhcpServer {
  private readonly o: DhcpServerOptions;
  private readonly log: Logger;
  private readonly m: ReturnType<typeof metrics>;
  private engine?: DhcpEngine;
  private sockets: dgram.Socket[] = [];
  private replySocket?: dgram.Socket;
  private proxySocket?: dgram.Socket;
  private purgeTimer?: NodeJS.Timeout;
  private queue: Queued[] = [];
  private flushScheduled = false;
  /** SO_RCVBUF the kernel granted the listening socket (bytes; Linux reports double the request) */
  recvBufferBytes = 0;
  serverAddress?: string;
  /** the subnet mask in use: dhcp.netmask, else the interface's, else /24 */
  netmask = DEFAULT_NETMASK;
  /** per-datagram lines go through this: a junk flood must not become a flood of log lines */
  readonly limiter: LogLimiter;

  constructor(opts: DhcpServerOptions) {
    this.o = opts;
    this.log = opts.log.child({ subsystem: 'dhcp' });
    this.m = metrics(opts.registry);
    this.limiter = new LogLimiter(this.log, { now: opts.now });
  }

  async start(): Promise<void> {
    const c = this.o.config;
    const iface = c.interface ? interfaceAddress(c.interface) : undefined;
    const server = c.serverAddress ?? iface?.address;
    if (!server) throw new Error(c.interface ? `dhcp: interface ${c.interface} has no IPv4 address` : 'dhcp: serverAddress or interface required');
    this.serverAddress = server;
    // the interface's mask only when it is the interface our server address is on
    this.netmask = c.netmask ?? (iface && iface.address === server ? iface.netmask : undefined) ?? DEFAULT_NETMASK;
    if (c.mode === 'full' && c.pool && !poolFits(c.pool, this.netmask)) throw new Error(`dhcp: pool ${c.pool.start}-${c.pool.end} spans more than one subnet of ${this.netmask}`);
    const now = this.o.now ?? Date.now;
    this.engine = new DhcpEngine({ config: c, serverAddress: server, leases: this.o.leases, hosts: this.o.hosts, boot: this.o.boot, now, netmask: this.netmask });
    try {
      const listen = await this.bind(c.listen, c.port, c.port);
      this.replySocket = listen;
      if (c.listen !== server) this.replySocket = await this.bind(server, c.port, c.port);
      if (c.mode === 'proxy') this.proxySocket = await this.bind(server, c.proxyPort, c.proxyPort);
    } catch (err) {
      await this.stop(); // do not leave half the sockets bound
      throw err;
    }
    this.purgeTimer = setInterval(() => this.purge(), PURGE_INTERVAL_MS).unref();
    this.limiter.start();
    this.log.info({ mode: c.mode, serverAddress: server, netmask: this.netmask, listen: c.listen, port: c.port, proxyPort: c.mode === 'proxy' ? c.proxyPort : undefined, unknownPolicy: c.unknownPolicy, recvBufferBytes: this.recvBufferBytes }, 'dhcp server listening');
  }

  async stop(): Promise<void> {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    this.limiter.stop();
    this.queue = []; // not handled: nothing was stored or answered for them
    const socks = this.sockets;
    this.sockets = [];
    this.replySocket = this.proxySocket = undefined;
    await Promise.all(
      socks.map(
        (s) =>
          new Promise<void>((res) => {
            try {
              s.close(() => res());
            } catch {
              res(); // never bound (start() failed on it): nothing to close
            }
          }),
      ),
    );
  }

  private purge(): void {
    try {
      const n = this.o.leases.purge((this.o.now ?? Date.now)() - KEEP_EXPIRED_MS);
      if (n) this.log.info({ purged: n }, 'purged old leases');
    } catch (err) {
      this.log.error({ err }, 'lease purge failed');
    }
  }

  private bind(address: string, port: number, localPort: number): Promise<dgram.Socket> {
    const s = this.o.socketFactory ? this.o.socketFactory() : dgram.createSocket({ type: 'udp4', reuseAddr: true });
    this.sockets.push(s);
    return new Promise((resolve, reject) => {
      s.once('error', reject);
      s.on('message', (msg, rinfo) => this.onMessage(msg, rinfo, localPort));
      s.bind({ address, port, exclusive: false }, () => {
        s.off('error', reject);
        s.on('error', (err) => this.log.error({ err }, 'dhcp socket error'));
        s.setBroadcast(true);
        try {
          s.setRecvBufferSize(RECV_BUFFER_BYTES);
          this.recvBufferBytes = Math.max(this.recvBufferBytes, s.getRecvBufferSize());
        } catch (err) {
          this.log.warn({ err }, 'dhcp: could not enlarge the socket receive buffer');
        }
        resolve(s);
      });
    });
  }

  /**
   * Entry for every datagram. Packets are queued and handled together once per event-loop
   * turn (flush): one SQLite transaction for the whole turn instead of one commit per packet.
   */
  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo, localPort: number): void {
    this.queue.push({ msg, rinfo, localPort });
    if (this.queue.length >= MAX_BATCH) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      // after the poll phase: every datagram libuv read in this turn is in the queue by then
      setImmediate(() => this.flush());
    }
  }

  /**
   * Handles the queued packets inside one lease-store batch, then, once it committed, logs
   * and sends their replies: no reply (an ACK above all) leaves before the lease it announces
   * is durable. If the commit fails, nothing of the batch was stored and nothing is sent;
   * the clients retransmit. Never throws.
   */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0 || !this.engine) return;
    const done: Handled[] = [];
    try {
      this.o.leases.batch(() => {
        for (const item of batch) {
          const h = this.handle(item);
          if (h) done.push(h);
        }
      });
    } catch (err) {
      this.m.decisions.inc({ decision: 'error' }, batch.length);
      this.log.error({ err, packets: batch.length }, 'dhcp: lease store commit failed; no reply sent for this batch');
      return;
    }
    this.m.batchSize.observe(batch.length);
    for (const h of done) {
      this.m.requests.inc({ type: h.out.type });
      this.record(h.out, h.packet.xid);
      if (h.out.reply) this.send(h.out, h.localPort, h.packet);
    }
  }

  /** Decides one packet inside the batch; undefined when it is dropped. Never throws. */
  private handle({ msg, rinfo, localPort }: Queued): Handled | undefined {
    if (rinfo.port === 0) {
      // Legal on the wire, never a DHCP client or relay (68/67), and unanswerable: dgram's
      // send() throws ERR_SOCKET_BAD_PORT for it (proxy mode answers 4011 to the source port).
      this.m.decisions.inc({ decision: 'ignore-source-port-0' });
      this.limiter.write('debug', 'source-port-0', { from: rinfo.address, len: msg.length }, 'dhcp: datagram from source port 0 dropped');
      return undefined;
    }
    try {
      const packet = decode(msg);
      if (packet.op !== 1) return undefined; // a BOOTREPLY on a server port (another server, a relay echo): never ours
      // unicast from off-subnet without a relay: not a client of ours (see the binding note)
      if (rinfo.address !== '0.0.0.0' && packet.giaddr === '0.0.0.0' && !sameSubnet(rinfo.address, this.serverAddress!, this.netmask)) {
        this.m.decisions.inc({ decision: 'ignore-off-subnet' });
        this.limiter.write('debug', 'off-subnet', { from: rinfo.address }, 'dhcp: unicast from off-subnet ignored');
        return undefined;
      }
      const out = this.engine!.handle({ packet, port: localPort, from: { address: rinfo.address, port: rinfo.port } });
      // the discovered record is written in the same batch as the leases
      this.discovered(out);
      return { out, packet, localPort };
    } catch (err) {
      if ((err as Error).name === 'DecodeError') {
        this.m.malformed.inc();
        this.limiter.write('debug', 'malformed', { from: rinfo.address, len: msg.length, err: (err as Error).message }, 'dhcp: malformed packet dropped');
      } else {
        this.m.decisions.inc({ decision: 'error' });
        this.limiter.write('error', 'handling-failed', { err, from: rinfo.address }, 'dhcp: request handling failed');
      }
      return undefined;
    }
  }

  private discovered(out: Outcome): void {
    const cl = out.client;
    // Proxy mode sits on a site LAN next to the real DHCP server: its laptops and phones are
    // nobody's boot clients, and recording them costs an SQLite write per packet. Only
    // network-boot clients (PXE, HTTP boot, iPXE) are reported there.
    const worth = this.o.config.mode !== 'proxy' || cl?.kind !== 'other';
    if (out.unknown && cl && worth && this.o.onDiscovered) {
      try {
        this.o.onDiscovered(out.ip ? { ...cl, ip: out.ip } : cl);
      } catch (err) {
        this.limiter.write('error', 'discovered-failed', { err, mac: cl.mac }, 'onDiscovered failed');
      }
    }
  }

  private record(out: Outcome, xid: number): void {
    this.m.decisions.inc({ decision: out.decision });
    const cl = out.client;
    const fields = {
      mac: out.mac,
      xid: `0x${xid.toString(16).padStart(8, '0')}`,
      arch: cl?.arch,
      kind: cl?.kind,
      ip: out.ip,
      host: out.host,
      type: out.type,
      decision: out.decision,
      vendorClass: cl?.vendorClass,
      userClass: cl?.userClass,
    };
    // a known host's lines keep a key of their own (its boot is worth every line); every MAC
    // not in the inventory shares one per message type and decision, so random MACs cannot
    // multiply the keys
    const kind = `${out.type}:${out.decision}:${out.host ? out.mac : 'unknown-mac'}`;
    this.limiter.write('info', kind, fields, `dhcp ${out.type} -> ${out.decision}: ${out.reason}`);
    if (out.conflict) {
      this.m.decisions.inc({ decision: 'reservation-conflict' });
      const c = out.conflict;
      this.limiter.write('warn', `conflict:${out.mac}`, { ...fields, reserved: c.reserved, heldBy: c.heldBy, leaseState: c.state, until: new Date(c.until).toISOString() }, `dhcp: reserved address ${c.reserved} of ${out.host} is leased to ${c.heldBy}; not handed out until that lease ends`);
    }
  }

  private send(out: Outcome, localPort: number, req: DhcpPacket): void {
    const r = out.reply!;
    const sock = localPort === this.o.config.proxyPort && this.proxySocket ? this.proxySocket : this.replySocket;
    if (!sock) return; // stopped meanwhile
    let buf: Buffer;
    try {
      // option 67 may go too when the file field carries the same name
      const b67 = r.packet.options.get(Opt.BOOTFILE);
      const droppable = r.packet.file && b67?.toString('latin1') === r.packet.file ? [...OPTIONAL_REPLY_OPTIONS, Opt.BOOTFILE] : OPTIONAL_REPLY_OPTIONS;
      const max = maxReplyLength(req);
      const f: Fitted = fitReply(r.packet, max, droppable);
      if (f.overload || f.dropped.length || !f.fits) {
        const fields = { mac: out.mac, max, size: f.buf.length, overload: f.overload, dropped: f.dropped };
        if (f.fits) this.limiter.write('info', 'reply-fitted', fields, 'dhcp: reply fitted into the client\'s maximum message size');
        else this.limiter.write('warn', 'reply-too-big', fields, 'dhcp: reply exceeds the client\'s maximum message size even without optional options; sent anyway');
      }
      buf = f.buf;
    } catch (err) {
      this.m.decisions.inc({ decision: 'error' });
      this.limiter.write('error', 'encode-failed', { err, mac: out.mac }, 'dhcp: reply encoding failed');
      return;
    }
    const failed = (err: Error) => {
      this.m.sendErrors.inc();
      this.limiter.write('warn', 'send-failed', { err, mac: out.mac, to: r.to }, 'dhcp: send failed');
    };
    try {
      // dgram reports some failures through the callback, others (bad port or address) by
      // throwing synchronously; neither may escape the socket handler
      sock.send(buf, r.to.port, r.to.address, (err) => err && failed(err));
    } catch (err) {
      failed(err as Error);
      return;
    }
    this.m.replies.inc({ type: r.type });
  }
}
