// The DHCP decision engine: one decoded request in, an outcome (decision + optional reply and
// where to send it) out. No sockets, no clock of its own (injected), no logging: server.ts
// does I/O, logs and counts what this returns, and unit tests drive it directly.
import { chooseLoader, type LoaderChoice } from '../boot/loader.js';
import { classify, type DhcpClient } from './classify.js';
import { BROADCAST_FLAG, replyTo, type DhcpPacket } from './codec.js';
import { DEFAULT_NETMASK, type DhcpConfig } from './config.js';
import type { LeaseStore } from './leases.js';
import {
  getMessageType, getRequestedIp, getServerId, getHostname, getClientId, ipToBuf, ipsToBuf, macOf, messageTypeName,
  MessageType, Opt, pxeVendorOptions, u32, getUserClasses, encodeSubOptions,
} from './options.js';

/** iPXE encapsulated option 175 sub-option "no-pxedhcp" */
const IPXE_NO_PXEDHCP = 176;
import { broadcastOf, isLive, Pool, sameSubnet } from './pool.js';

export interface HostLookup {
  byMac(mac: string): { name: string; address?: string } | undefined;
  /** optional: true for addresses reserved in the inventory, so the pool never hands them out */
  reserved?(ip: string): boolean;
}

export interface BootTargets {
  httpBase: string;
  tftpServer: string;
}

export interface EngineDeps {
  config: DhcpConfig;
  /** resolved server address (config.serverAddress or the interface's) */
  serverAddress: string;
  leases: LeaseStore;
  hosts: HostLookup;
  boot: BootTargets;
  now: () => number;
  /** resolved subnet mask (config.netmask, else the interface's); default config.netmask or /24 */
  netmask?: string;
}

export interface Incoming {
  packet: DhcpPacket;
  /** local port the request arrived on: config.port or config.proxyPort */
  port: number;
  from: { address: string; port: number };
}

export type ReplyType = 'offer' | 'ack' | 'nak';

export interface Outcome {
  type: string; // request message type name
  decision: string; // offer | ack | nak | inform | release | decline | ignore-*
  reason: string;
  client?: DhcpClient;
  mac?: string;
  ip?: string;
  host?: string;
  /** the MAC is not in the inventory: report it through onDiscovered */
  unknown?: boolean;
  /** the host's reserved address is held by another MAC (logged at warn and counted) */
  conflict?: { reserved: string; heldBy: string; state: string; until: number };
  reply?: { packet: DhcpPacket; type: ReplyType; to: { address: string; port: number } };
}

/**
 * Reply options that may be left out when a reply exceeds the client's maximum message size
 * (fit.ts), least important first: the domain and hostname are conveniences, 28/58/59 are
 * derivable from mask and lease time, 66 repeats siaddr, 175.176 only saves iPXE ~2 s, 97 is
 * an echo few ROMs check. Never dropped: 53, 54, 51, 1, 3, 6, 43, 60, 67, 82.
 */
export const OPTIONAL_REPLY_OPTIONS: readonly number[] = [Opt.DOMAIN, Opt.HOSTNAME, Opt.BROADCAST, Opt.REBINDING, Opt.RENEWAL, Opt.TFTP_SERVER, Opt.IPXE_ENCAP, Opt.CLIENT_UUID];

const ZERO = '0.0.0.0';
const BCAST = '255.255.255.255';

export class DhcpEngine {
  private readonly pool?: Pool;
  private readonly netmask: string;

  constructor(private readonly d: EngineDeps) {
    const c = d.config;
    this.netmask = d.netmask ?? c.netmask ?? DEFAULT_NETMASK;
    if (c.pool) {
      const fixed = new Set([d.serverAddress, ...(c.router ? [c.router] : []), ...c.dns]);
      this.pool = new Pool(c.pool.start, c.pool.end, (ip) => fixed.has(ip) || !!d.hosts.reserved?.(ip));
    }
  }

  handle(inc: Incoming): Outcome {
    const p = inc.packet;
    const mt = getMessageType(p);
    const type = messageTypeName(mt);
    if (p.op !== 1) return { type, decision: 'ignore-not-request', reason: 'BOOTREPLY on a server port' };
    const mac = macOf(p);
    if (!mac) return { type, decision: 'ignore-not-ethernet', reason: `htype ${p.htype} hlen ${p.hlen}` };
    if (mt === undefined) return { type: 'bootp', decision: 'ignore-bootp', reason: 'plain BOOTP is not served', mac };
    const client = classify(p);
    const host = this.d.hosts.byMac(mac);
    const base: Outcome = { type, decision: '', reason: '', client, mac, unknown: !host };
    if (host) base.host = host.name;
    const loader = chooseLoader({
      client,
      known: !!host,
      unknownPolicy: this.d.config.unknownPolicy,
      tftpServer: this.d.boot.tftpServer,
      httpBase: this.d.boot.httpBase,
      files: this.d.config.loader,
    });
    if (this.d.config.mode === 'proxy') return this.proxy(inc, base, loader);
    if (inc.port === this.d.config.proxyPort) return { ...base, decision: 'ignore-proxy-port', reason: 'full mode does not serve 4011' };
    if (loader.action === 'ignore') return { ...base, decision: 'ignore-unknown', reason: loader.reason };
    if (p.giaddr !== ZERO && !sameSubnet(p.giaddr, this.pool?.start ?? this.d.serverAddress, this.netmask)) {
      return { ...base, decision: 'ignore-relay-subnet', reason: `relay ${p.giaddr} is not on the pool's subnet` };
    }
    switch (mt) {
      case MessageType.DISCOVER:
        return this.discover(p, base, host, loader);
      case MessageType.REQUEST:
        return this.request(p, base, host, loader);
      case MessageType.DECLINE:
        return this.decline(p, base);
      case MessageType.RELEASE:
        return this.release(p, base);
      case MessageType.INFORM:
        return this.inform(p, base, host, loader);
      default:
        return { ...base, decision: 'ignore-type', reason: `message type ${mt} is not a client message` };
    }
  }

  // ---- full mode ----

  /**
   * The host's reservation, unless another MAC holds a live lease on it (the reservation was
   * added or moved, e.g. by an inventory reload, while that lease ran). Two hosts must never
   * share an address, so the reserved host is then served like an unreserved one (a pool
   * address, as dnsmasq and Kea do) until the holder's lease ends: its next renewal is NAKed
   * (the address is reserved now), and the reserved host's own next renewal of the pool
   * address is NAKed too, which moves it onto its reservation.
   */
  private reservation(o: Outcome, host: ReturnType<HostLookup['byMac']>, now: number): { ip?: string; conflict?: Outcome['conflict'] } {
    if (!host?.address) return {};
    const cur = this.d.leases.byIp(host.address);
    if (isLive(cur, now) && cur.mac !== o.mac) return { conflict: { reserved: host.address, heldBy: cur.mac, state: cur.state, until: cur.expiresAt } };
    return { ip: host.address };
  }

  private discover(p: DhcpPacket, o: Outcome, host: ReturnType<HostLookup['byMac']>, loader: LoaderChoice): Outcome {
    const now = this.d.now();
    const mac = o.mac!;
    const res = this.reservation(o, host, now);
    if (res.conflict) o = { ...o, conflict: res.conflict };
    let ip = res.ip;
    let how = 'reservation';
    if (!ip) {
      const wanted = getRequestedIp(p);
      how = res.conflict ? `reservation ${res.conflict.reserved} held by ${res.conflict.heldBy}: pool meanwhile` : 'pool';
      ip = wanted && wanted !== res.conflict?.reserved && this.pool?.available(wanted, mac, this.d.leases, now) ? wanted : this.pool?.allocate(mac, this.d.leases, now);
    }
    if (!ip && res.conflict) return { ...o, decision: 'ignore-reservation-conflict', reason: `${how}, but no free pool address` };
    if (!ip) return { ...o, decision: 'ignore-pool-exhausted', reason: 'no free address in the pool' };
    const cur = this.d.leases.byIp(ip);
    // keep a live binding as it is: a client that re-DISCOVERs while bound must not lose it
    if (!(isLive(cur, now) && cur.mac === mac && cur.state === 'bound')) {
      this.d.leases.put(this.lease(p, mac, ip, 'offered', now + this.d.config.offerSeconds * 1000, now));
    }
    const reply = this.addressReply(p, MessageType.OFFER, ip, host, loader);
    return { ...o, ip, decision: 'offer', reason: `${how}; ${loader.reason}`, reply: { packet: reply, type: 'offer', to: this.destination(p, reply) } };
  }

  private request(p: DhcpPacket, o: Outcome, host: ReturnType<HostLookup['byMac']>, loader: LoaderChoice): Outcome {
    const now = this.d.now();
    const mac = o.mac!;
    const sid = getServerId(p);
    const ours = this.d.serverAddress;
    if (sid && sid !== ours) {
      // the client took another server's offer: free what we held for it (RFC 2131 §4.3.2)
      const l = this.d.leases.byMac(mac);
      if (l && l.state === 'offered') this.d.leases.remove(l.ip);
      return { ...o, decision: 'ignore-other-server', reason: `server id ${sid} is not ours` };
    }
    const target = getRequestedIp(p) ?? (p.ciaddr !== ZERO ? p.ciaddr : undefined);
    const phase = sid ? 'selecting' : p.ciaddr !== ZERO ? 'renewing' : 'init-reboot';
    if (!target) return { ...o, decision: 'ignore-malformed', reason: 'REQUEST without requested address or ciaddr' };
    const res = this.reservation(o, host, now);
    if (res.conflict) o = { ...o, conflict: res.conflict };
    // a reserved host outside a conflict may only have its reservation (a REQUEST for anything
    // else is NAKed, so it moves there); in a conflict it may keep a pool address
    const ok = res.ip ? target === res.ip : target !== res.conflict?.reserved && !!this.pool?.available(target, mac, this.d.leases, now);
    if (!ok) {
      // INIT-REBOOT/RENEWING for an address we never managed: silence unless authoritative
      if (phase !== 'selecting' && !this.d.config.authoritative) return { ...o, ip: target, decision: 'ignore-not-ours', reason: `${phase}: ${target} not ours (not authoritative)` };
      const reply = this.nak(p, `${target} is not available to ${mac}`);
      return { ...o, ip: target, decision: 'nak', reason: `${phase}: ${target} not available`, reply: { packet: reply, type: 'nak', to: this.destination(p, reply) } };
    }
    this.d.leases.put(this.lease(p, mac, target, 'bound', now + this.d.config.leaseSeconds * 1000, now));
    const reply = this.addressReply(p, MessageType.ACK, target, host, loader);
    return { ...o, ip: target, decision: 'ack', reason: `${phase}; ${loader.reason}`, reply: { packet: reply, type: 'ack', to: this.destination(p, reply) } };
  }

  private decline(p: DhcpPacket, o: Outcome): Outcome {
    const ip = getRequestedIp(p);
    const sid = getServerId(p);
    if (!ip || (sid && sid !== this.d.serverAddress)) return { ...o, decision: 'ignore-decline', reason: 'not for us' };
    const l = this.d.leases.byIp(ip);
    if (!l || l.mac !== o.mac) return { ...o, ip, decision: 'ignore-decline', reason: `${ip} is not leased to this client` };
    const now = this.d.now();
    // someone else answers ARP for this address: keep it out of the pool for a while
    this.d.leases.put({ ip, mac: o.mac!, state: 'declined', expiresAt: now + this.d.config.declineSeconds * 1000, updatedAt: now });
    return { ...o, ip, decision: 'decline', reason: 'address in use on the wire' };
  }

  private release(p: DhcpPacket, o: Outcome): Outcome {
    const sid = getServerId(p);
    if (sid && sid !== this.d.serverAddress) return { ...o, decision: 'ignore-release', reason: 'not for us' };
    const l = this.d.leases.byIp(p.ciaddr);
    if (!l || l.mac !== o.mac || l.state !== 'bound') return { ...o, ip: p.ciaddr, decision: 'ignore-release', reason: 'no such lease' };
    // expire rather than delete: the MAC gets the same address back next time if still free
    const now = this.d.now();
    this.d.leases.put({ ...l, expiresAt: now, updatedAt: now });
    return { ...o, ip: l.ip, decision: 'release', reason: 'released by client' };
  }

  private inform(p: DhcpPacket, o: Outcome, host: ReturnType<HostLookup['byMac']>, loader: LoaderChoice): Outcome {
    // RFC 2131 §3.4: configuration only, no lease, no yiaddr; sent to ciaddr
    const reply = this.addressReply(p, MessageType.ACK, ZERO, host, loader, false);
    return { ...o, ip: p.ciaddr, decision: 'inform', reason: loader.reason, reply: { packet: reply, type: 'ack', to: this.destination(p, reply) } };
  }

  // ---- proxy mode ----

  private proxy(inc: Incoming, o: Outcome, loader: LoaderChoice): Outcome {
    const p = inc.packet;
    const mt = getMessageType(p);
    if (loader.action !== 'boot') {
      const d = o.client!.kind === 'other' ? 'ignore-not-pxe' : 'ignore-unknown';
      return { ...o, decision: d, reason: `proxy: ${loader.reason}` };
    }
    const onProxyPort = inc.port === this.d.config.proxyPort;
    const sid = getServerId(p);
    let rtype: ReplyType;
    if (!onProxyPort && mt === MessageType.DISCOVER) rtype = 'offer';
    else if (mt === MessageType.REQUEST && (onProxyPort || sid === this.d.serverAddress)) rtype = 'ack';
    else if (onProxyPort && mt === MessageType.INFORM) rtype = 'ack';
    else return { ...o, decision: 'ignore-proxy', reason: `proxy: ${o.type} on port ${inc.port} is for the address server` };
    const reply = replyTo(p);
    reply.options.set(Opt.MESSAGE_TYPE, Buffer.from([rtype === 'offer' ? MessageType.OFFER : MessageType.ACK]));
    reply.options.set(Opt.SERVER_ID, ipToBuf(this.d.serverAddress));
    // PXE ROMs and iPXE recognise a proxyDHCP offer by option 60 "PXEClient" with no yiaddr
    this.bootInfo(p, reply, loader, loader.vendorClass ?? 'PXEClient');
    let to: { address: string; port: number };
    if (onProxyPort) {
      // PXE spec 2.1 §2.2.4: the boot server answers to the request's source address and port
      reply.ciaddr = p.ciaddr;
      to = { address: p.ciaddr !== ZERO ? p.ciaddr : inc.from.address, port: inc.from.port };
      if (to.address === ZERO) to = { address: BCAST, port: this.d.config.clientPort };
    } else {
      to = this.destination(p, reply);
    }
    return { ...o, decision: rtype === 'offer' ? 'proxy-offer' : 'proxy-ack', reason: loader.reason, reply: { packet: reply, type: rtype, to } };
  }

  // ---- reply building ----

  private lease(p: DhcpPacket, mac: string, ip: string, state: 'offered' | 'bound', expiresAt: number, now: number) {
    const hostname = getHostname(p);
    const clientId = getClientId(p);
    return { ip, mac, state, expiresAt, updatedAt: now, ...(hostname ? { hostname } : {}), ...(clientId ? { clientId } : {}) };
  }

  private addressReply(p: DhcpPacket, mt: number, ip: string, host: ReturnType<HostLookup['byMac']>, loader: LoaderChoice, withLease = true): DhcpPacket {
    const c = this.d.config;
    const r = replyTo(p);
    r.yiaddr = ip;
    if (mt === MessageType.ACK && p.ciaddr !== ZERO) r.ciaddr = p.ciaddr;
    r.options.set(Opt.MESSAGE_TYPE, Buffer.from([mt]));
    r.options.set(Opt.SERVER_ID, ipToBuf(this.d.serverAddress));
    if (withLease) {
      r.options.set(Opt.LEASE_TIME, u32(c.leaseSeconds));
      r.options.set(Opt.RENEWAL, u32(Math.floor(c.leaseSeconds / 2)));
      r.options.set(Opt.REBINDING, u32(Math.floor((c.leaseSeconds * 7) / 8)));
    }
    r.options.set(Opt.SUBNET_MASK, ipToBuf(this.netmask));
    // a relayed client's default gateway is normally its relay
    const router = c.router ?? (p.giaddr !== ZERO ? p.giaddr : undefined);
    if (router) r.options.set(Opt.ROUTER, ipToBuf(router));
    // d-i stops at a "no DNS server" prompt without option 6, so it is always sent when configured
    if (c.dns.length) r.options.set(Opt.DNS, ipsToBuf(c.dns));
    if (c.domain) r.options.set(Opt.DOMAIN, Buffer.from(c.domain, 'latin1'));
    if (ip !== ZERO) r.options.set(Opt.BROADCAST, ipToBuf(broadcastOf(ip, this.netmask)));
    if (host) r.options.set(Opt.HOSTNAME, Buffer.from(host.name.split('.')[0], 'latin1'));
    if (loader.action === 'boot') this.bootInfo(p, r, loader, loader.vendorClass);
    // Quirk: iPXE keeps re-sending DISCOVER for ~2 s waiting for a ProxyDHCP offer unless the
    // server says there is none: iPXE option 175.176 "no-pxedhcp" (ipxe.org/cfg/no-pxedhcp).
    if (p.options.has(Opt.IPXE_ENCAP) || getUserClasses(p).includes('iPXE')) {
      r.options.set(Opt.IPXE_ENCAP, encodeSubOptions([[IPXE_NO_PXEDHCP, Buffer.from([1])]], false));
    }
    return r;
  }

  private bootInfo(p: DhcpPacket, r: DhcpPacket, loader: LoaderChoice & { action: 'boot' }, vendorClass?: string): void {
    if (loader.nextServer) {
      r.siaddr = loader.nextServer;
      r.options.set(Opt.TFTP_SERVER, Buffer.from(loader.nextServer, 'latin1'));
    }
    // the file field holds 127 bytes; option 67 carries longer URLs (iPXE and EDK2 prefer 67)
    if (Buffer.byteLength(loader.file, 'latin1') < 128) r.file = loader.file;
    r.options.set(Opt.BOOTFILE, Buffer.from(loader.file, 'latin1'));
    if (vendorClass) r.options.set(Opt.VENDOR_CLASS, Buffer.from(vendorClass, 'latin1'));
    if (loader.pxeDiscoveryControl !== undefined || vendorClass === 'PXEClient') {
      r.options.set(Opt.VENDOR_SPECIFIC, pxeVendorOptions({ discoveryControl: loader.pxeDiscoveryControl ?? 8 }));
    }
    // PXE spec: echo the client machine identifier; some Intel ROMs drop offers without it
    const uuid = p.options.get(Opt.CLIENT_UUID);
    if (uuid) r.options.set(Opt.CLIENT_UUID, Buffer.from(uuid));
  }

  private nak(p: DhcpPacket, message: string): DhcpPacket {
    const r = replyTo(p);
    r.options.set(Opt.MESSAGE_TYPE, Buffer.from([MessageType.NAK]));
    r.options.set(Opt.SERVER_ID, ipToBuf(this.d.serverAddress));
    r.options.set(Opt.MESSAGE, Buffer.from(message, 'latin1'));
    // RFC 2131 §4.3.2: a NAK through a relay carries the broadcast bit so the relay broadcasts it
    if (p.giaddr !== ZERO) r.flags |= BROADCAST_FLAG;
    return r;
  }

  /**
   * RFC 2131 §4.1: relayed -> the relay's server port; NAK -> broadcast; ciaddr set -> unicast
   * to it; otherwise broadcast. The RFC's "unicast to yiaddr/chaddr" case needs an ARP entry
   * or a raw socket for a client with no address yet; Node's dgram can do neither, so such
   * replies are broadcast (every client accepts that; it is what the broadcast flag asks for).
   */
  destination(req: DhcpPacket, reply: DhcpPacket): { address: string; port: number } {
    const relay82 = req.options.get(Opt.RELAY_AGENT);
    if (req.giaddr !== ZERO) {
      // RFC 3046 §2.2: relay agent information goes back to the relay unchanged
      if (relay82) reply.options.set(Opt.RELAY_AGENT, Buffer.from(relay82));
      return { address: req.giaddr, port: this.d.config.port };
    }
    if (getMessageType(reply) === MessageType.NAK) return { address: BCAST, port: this.d.config.clientPort };
    if (req.ciaddr !== ZERO) return { address: req.ciaddr, port: this.d.config.clientPort };
    return { address: BCAST, port: this.d.config.clientPort };
  }
}
