// IPv4 arithmetic and dynamic-pool allocation. The pool keeps only a cursor in memory; which
// addresses are taken is always read from the lease store, so a restart loses nothing.
import type { Lease, LeaseStore } from './leases.js';

export function ipToNum(ip: string): number {
  const p = ip.split('.').map(Number);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

export function numToIp(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function sameSubnet(a: string, b: string, mask: string): boolean {
  const m = ipToNum(mask);
  return ((ipToNum(a) & m) >>> 0) === ((ipToNum(b) & m) >>> 0);
}

export function broadcastOf(ip: string, mask: string): string {
  const m = ipToNum(mask);
  return numToIp(((ipToNum(ip) & m) | (~m >>> 0)) >>> 0);
}

/** Is the lease still holding its address at `now`? */
export function isLive(l: Lease | undefined, now: number): l is Lease {
  return !!l && l.expiresAt > now;
}

export class Pool {
  private readonly lo: number;
  private readonly hi: number;
  private cursor: number;

  constructor(
    start: string,
    end: string,
    /** addresses that are never handed out dynamically (our own, reservations, router...) */
    private readonly excluded: (ip: string) => boolean,
  ) {
    this.lo = ipToNum(start);
    this.hi = ipToNum(end);
    this.cursor = this.lo;
  }

  get start(): string {
    return numToIp(this.lo);
  }

  get size(): number {
    return this.hi - this.lo + 1;
  }

  contains(ip: string): boolean {
    const n = ipToNum(ip);
    return n >= this.lo && n <= this.hi;
  }

  /** Can `mac` have `ip` right now? (in the pool, not excluded, not held by someone else) */
  available(ip: string, mac: string, leases: LeaseStore, now: number): boolean {
    if (!this.contains(ip) || this.excluded(ip)) return false;
    const l = leases.byIp(ip);
    return !isLive(l, now) || (l.mac === mac && l.state !== 'declined');
  }

  /**
   * An address for `mac`: its previous one if still free (clients like getting the same
   * address back, and installers log it), else the next free one after the cursor. The
   * rotating cursor keeps allocation O(1) in the common case and spreads reuse of expired
   * addresses instead of handing the same one out again at once.
   */
  allocate(mac: string, leases: LeaseStore, now: number): string | undefined {
    const prev = leases.byMac(mac);
    if (prev && this.available(prev.ip, mac, leases, now)) return prev.ip;
    const n = this.size;
    for (let i = 0; i < n; i++) {
      const cand = this.cursor;
      this.cursor = cand >= this.hi ? this.lo : cand + 1;
      const ip = numToIp(cand);
      if (this.available(ip, mac, leases, now)) return ip;
    }
    return undefined;
  }
}
