// The lease store: a narrow interface the DHCP engine talks to, with a SQLite implementation
// (the `leases` table from db/002_leases.sql, on the daemon's better-sqlite3 handle) and an
// in-memory one for unit tests. One row per address; a MAC holds at most one offered/bound row.
import type { DB } from '../store/db.js';
import { ipToNum } from './pool.js';

export type LeaseState = 'offered' | 'bound' | 'declined';

export interface Lease {
  ip: string;
  mac: string;
  state: LeaseState;
  expiresAt: number; // ms since epoch
  updatedAt: number;
  hostname?: string;
  clientId?: string;
}

export interface LeaseStore {
  /** the MAC's most recent offered/bound lease (expired or not) */
  byMac(mac: string): Lease | undefined;
  byIp(ip: string): Lease | undefined;
  /** stores the lease for its address and drops any other offered/bound row of the same MAC */
  put(lease: Lease): void;
  remove(ip: string): void;
  list(): Lease[];
  /** deletes rows that expired before `before`; returns how many */
  purge(before: number): number;
  /**
   * Runs fn as one unit of durability: everything it writes (leases, and anything else on the
   * same database, e.g. discovered MACs) is committed together when it returns, or not at all
   * when it throws. The DHCP server handles a whole event-loop turn of packets inside one
   * batch and sends their replies only after it returned (docs/performance.md).
   */
  batch<T>(fn: () => T): T;
}

interface Row {
  ip: string;
  mac: string;
  state: LeaseState;
  expires_at: number;
  updated_at: number;
  hostname: string | null;
  client_id: string | null;
}

function fromRow(r: Row | undefined): Lease | undefined {
  if (!r) return undefined;
  const l: Lease = { ip: r.ip, mac: r.mac, state: r.state, expiresAt: r.expires_at, updatedAt: r.updated_at };
  if (r.hostname !== null) l.hostname = r.hostname;
  if (r.client_id !== null) l.clientId = r.client_id;
  return l;
}

/**
 * SQLite-backed store. Offers are held in memory only: an offer lives at most offerSeconds,
 * and after a restart the client simply repeats DISCOVER (or its REQUEST finds the address
 * free and is ACKed). That halves the commits per DORA; bound and declined leases, the ones
 * that must survive a restart, are written through.
 */
export class SqliteLeaseStore implements LeaseStore {
  private readonly q;
  private readonly offers = new MemoryLeaseStore();
  private readonly putTx: (l: Lease) => void;

  constructor(private readonly db: DB) {
    // statements are prepared once; better-sqlite3 statements are cheap to keep
    this.q = {
      byMac: db.prepare(`SELECT * FROM leases WHERE mac = ? AND state != 'declined' ORDER BY updated_at DESC LIMIT 1`),
      byIp: db.prepare(`SELECT * FROM leases WHERE ip = ?`),
      dropMac: db.prepare(`DELETE FROM leases WHERE mac = ? AND ip != ? AND state != 'declined'`),
      upsert: db.prepare(
        `INSERT INTO leases (ip, ip_num, mac, state, expires_at, updated_at, hostname, client_id)
         VALUES (@ip, @ipNum, @mac, @state, @expiresAt, @updatedAt, @hostname, @clientId)
         ON CONFLICT(ip) DO UPDATE SET mac = excluded.mac, state = excluded.state, expires_at = excluded.expires_at,
           updated_at = excluded.updated_at, hostname = excluded.hostname, client_id = excluded.client_id`,
      ),
      remove: db.prepare(`DELETE FROM leases WHERE ip = ?`),
      list: db.prepare(`SELECT * FROM leases ORDER BY ip_num`),
      purge: db.prepare(`DELETE FROM leases WHERE expires_at < ?`),
    };
    this.putTx = db.transaction((l: Lease) => {
      if (l.state !== 'declined') this.q.dropMac.run(l.mac, l.ip);
      this.q.upsert.run({
        ip: l.ip,
        ipNum: ipToNum(l.ip),
        mac: l.mac,
        state: l.state,
        expiresAt: l.expiresAt,
        updatedAt: l.updatedAt,
        hostname: l.hostname ?? null,
        clientId: l.clientId ?? null,
      });
    });
  }

  byMac(mac: string): Lease | undefined {
    const offer = this.offers.byMac(mac);
    const row = fromRow(this.q.byMac.get(mac) as Row | undefined);
    if (offer && row) return offer.updatedAt >= row.updatedAt ? offer : row;
    return offer ?? row;
  }

  byIp(ip: string): Lease | undefined {
    return this.offers.byIp(ip) ?? fromRow(this.q.byIp.get(ip) as Row | undefined);
  }

  put(l: Lease): void {
    if (l.state === 'offered') {
      this.offers.put(l);
      return;
    }
    this.offers.dropMac(l.mac);
    this.offers.remove(l.ip);
    this.putTx(l);
  }

  remove(ip: string): void {
    this.offers.remove(ip);
    this.q.remove.run(ip);
  }

  list(): Lease[] {
    const rows = (this.q.list.all() as Row[]).map((r) => fromRow(r)!);
    const offered = this.offers.list();
    const seen = new Set(offered.map((l) => l.ip));
    return [...offered, ...rows.filter((r) => !seen.has(r.ip))].sort((a, b) => ipToNum(a.ip) - ipToNum(b.ip));
  }

  purge(before: number): number {
    return this.offers.purge(before) + this.q.purge.run(before).changes;
  }

  batch<T>(fn: () => T): T {
    // one commit for the batch: with WAL + synchronous=NORMAL a commit is one WAL append, and
    // committed means it survives the process being killed (not a power cut: see db.ts)
    return this.db.transaction(fn)();
  }
}

/** In-memory store (tests, and the offer overlay above); indexed by address and by MAC. */
export class MemoryLeaseStore implements LeaseStore {
  private readonly rows = new Map<string, Lease>();
  /** mac -> its offered/bound address (at most one, as put() guarantees) */
  private readonly macs = new Map<string, string>();

  byMac(mac: string): Lease | undefined {
    const ip = this.macs.get(mac);
    const l = ip === undefined ? undefined : this.rows.get(ip);
    return l && { ...l };
  }

  byIp(ip: string): Lease | undefined {
    const l = this.rows.get(ip);
    return l && { ...l };
  }

  dropMac(mac: string): void {
    const ip = this.macs.get(mac);
    if (ip !== undefined) this.remove(ip);
  }

  put(l: Lease): void {
    const prev = this.rows.get(l.ip);
    if (prev && prev.state !== 'declined' && this.macs.get(prev.mac) === l.ip) this.macs.delete(prev.mac);
    if (l.state !== 'declined') {
      this.dropMac(l.mac);
      this.macs.set(l.mac, l.ip);
    }
    this.rows.set(l.ip, { ...l });
  }

  remove(ip: string): void {
    const l = this.rows.get(ip);
    if (l && this.macs.get(l.mac) === ip) this.macs.delete(l.mac);
    this.rows.delete(ip);
  }

  list(): Lease[] {
    return [...this.rows.values()].sort((a, b) => ipToNum(a.ip) - ipToNum(b.ip)).map((l) => ({ ...l }));
  }

  batch<T>(fn: () => T): T {
    return fn();
  }

  purge(before: number): number {
    let n = 0;
    for (const [ip, l] of this.rows) if (l.expiresAt < before) (this.remove(ip), n++);
    return n;
  }
}
