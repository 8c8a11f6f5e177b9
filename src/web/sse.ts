// Live updates for the UI over Server-Sent Events. Two sources of change:
//  - InstallService 'change' events from this process (marks, progress, logs), coalesced per
//    host so an installer spamming progress costs one row render per flush;
//  - other processes writing the same SQLite file (the `fleetboot reinstall` CLI): they emit
//    nothing here, so PRAGMA data_version is polled and a full refresh is pushed when it moves.
import type { Request, Response } from 'express';
import type { DB } from '../store/db.js';
import type { RunStore, EventRow } from '../store/runs.js';
import type { ConfigHolder } from '../config/holder.js';
import type { ChangeEvent, InstallService } from '../install/service.js';
import { hostRows } from '../install/view.js';
import type { Logger } from '../log.js';

interface Client {
  res: Response;
  /** re-checked on every heartbeat, on writes by other processes and on recheck(): a stream
   * ends with its session or API token */
  valid: () => boolean;
}

export interface SseOptions {
  db: DB;
  store: RunStore;
  holder: ConfigHolder;
  installs: InstallService;
  log: Logger;
  pollMs?: number;
  flushMs?: number;
  heartbeatMs?: number;
}

export class SseHub {
  private readonly clients = new Set<Client>();
  private pendingHosts = new Set<string>();
  /** events are read back from the table (id > this), not taken from 'change' payloads: one
   * change can carry several rows (progress + state), and other processes' rows come too */
  private lastEventId = 0;
  private flushTimer?: NodeJS.Timeout;
  private poller?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  private dataVersion = 0;
  private readonly onChange = (c: ChangeEvent) => this.queue(c);

  constructor(private readonly o: SseOptions) {}

  get size(): number {
    return this.clients.size;
  }

  start(): void {
    this.o.installs.on('change', this.onChange);
    this.dataVersion = this.readVersion();
    this.lastEventId = this.maxEventId();
    this.poller = setInterval(() => this.poll(), this.o.pollMs ?? 1000);
    this.poller.unref();
    this.heartbeat = setInterval(() => this.beat(), this.o.heartbeatMs ?? 25_000);
    this.heartbeat.unref();
    // a config reload can add or drop hosts: everyone re-reads the table
    this.o.holder.on('reloaded', this.onReload);
  }

  private readonly onReload = () => this.broadcastRefresh();

  stop(): void {
    this.o.installs.off('change', this.onChange);
    this.o.holder.off('reloaded', this.onReload);
    clearInterval(this.poller);
    clearInterval(this.heartbeat);
    clearTimeout(this.flushTimer);
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }

  /** Takes over the response as an event stream. */
  attach(req: Request, res: Response, valid: () => boolean): void {
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      // nginx and friends buffer responses by default, which would hold events back
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    req.socket.setNoDelay(true);
    const c: Client = { res, valid };
    // nobody was listening, so nobody needs the events written meanwhile
    if (!this.clients.size) this.lastEventId = this.maxEventId();
    this.clients.add(c);
    // the page was rendered a moment ago: "refresh" makes it re-read what it shows (one page
    // of hosts, one host), which also covers whatever a reconnecting client missed. The
    // stream never carries the whole inventory: with thousands of hosts that was megabytes.
    res.write(`retry: 2000\n\n`);
    this.send(c, 'refresh', {});
    const drop = () => this.clients.delete(c);
    req.on('close', drop);
    res.on('error', drop);
  }

  private rows() {
    return hostRows(this.o.holder, this.o.store, {});
  }

  private send(c: Client, event: string, data: unknown): void {
    c.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private queue(c: ChangeEvent): void {
    if (!this.clients.size) return;
    this.pendingHosts.add(c.host);
    this.flushTimer ??= setTimeout(() => this.flush(), this.o.flushMs ?? 100);
  }

  private flush(): void {
    this.flushTimer = undefined;
    const hosts = this.pendingHosts;
    this.pendingHosts = new Set();
    try {
      const rows = this.rows().filter((r) => hosts.has(r.name));
      const events = this.newEvents();
      for (const c of this.clients) {
        for (const r of rows) this.send(c, 'host', r);
        for (const e of events) this.send(c, 'event', e);
      }
    } catch (e) {
      this.o.log.error({ err: e }, 'SSE flush failed');
    }
  }

  private maxEventId(): number {
    return (this.o.db.prepare('SELECT COALESCE(MAX(id), 0) m FROM events').get() as { m: number }).m;
  }

  private newEvents(): EventRow[] {
    const events = this.o.store.events({ afterId: this.lastEventId, limit: 2000 });
    // after a burst larger than the limit, skip ahead: clients re-read on 'refresh' anyway
    this.lastEventId = events.length === 2000 ? this.maxEventId() : (events.at(-1)?.id ?? this.lastEventId);
    return events;
  }

  private readVersion(): number {
    return this.o.db.pragma('data_version', { simple: true }) as number;
  }

  private poll(): void {
    try {
      const v = this.readVersion();
      if (v === this.dataVersion) return;
      this.dataVersion = v;
      // another process wrote: maybe `fleetboot user revoke/del` -- credentials first
      this.recheck();
      this.broadcastRefresh();
    } catch (e) {
      // the db is closed during shutdown; the next stop() clears this timer
      this.o.log.debug({ err: e }, 'data_version poll failed');
    }
  }

  private broadcastRefresh(): void {
    if (!this.clients.size) {
      this.lastEventId = this.maxEventId();
      return;
    }
    const events = this.newEvents();
    for (const c of this.clients) {
      this.send(c, 'refresh', { external: true });
      for (const e of events) this.send(c, 'event', e);
    }
  }

  /** Ends every stream whose credentials are gone (revoked token, deleted user, logout...). */
  recheck(): void {
    for (const c of [...this.clients]) {
      let ok = false;
      try {
        ok = c.valid();
      } catch (e) {
        this.o.log.debug({ err: e }, 'SSE credential check failed');
      }
      if (ok) continue;
      this.send(c, 'logout', {});
      c.res.end();
      this.clients.delete(c);
    }
  }

  private beat(): void {
    this.recheck();
    for (const c of this.clients) c.res.write(': keep-alive\n\n');
  }
}
