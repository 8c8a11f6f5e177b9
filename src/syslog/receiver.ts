// UDP syslog receiver for installer logs (d-i's log_host=/log_port=, anaconda's inst.syslog=).
// Each datagram is parsed (src/syslog/parse.ts) and every line handed to onLine with the
// sender's IP; mapping the IP to a host's install run is the daemon's business.
// Constructor only assigns; start() binds, stop() closes. The socket is injectable for tests.
import dgram from 'node:dgram';
import client from 'prom-client';
import type { Logger } from '../log.js';
import { parseDatagram, type SyslogLine } from './parse.js';

export type { SyslogLine } from './parse.js';

export interface SyslogReceiverOptions {
  address: string;
  port: number;
  log: Logger;
  onLine: (sourceIp: string, line: SyslogLine) => void;
  socketFactory?: () => dgram.Socket;
  registry?: client.Registry;
  now?: () => number;
}

export class SyslogReceiver {
  private socket?: dgram.Socket;
  private metrics?: { lines: client.Counter<string>; errors: client.Counter<string> };
  private readonly log: Logger;

  constructor(private readonly opts: SyslogReceiverOptions) {
    this.log = opts.log.child({ subsystem: 'syslog' });
  }

  /** The bound port (useful with port 0 in tests). */
  get port(): number {
    const a = this.socket?.address();
    return a && typeof a === 'object' ? a.port : this.opts.port;
  }

  async start(): Promise<void> {
    if (this.socket) return;
    if (this.opts.registry && !this.metrics) {
      const registers = [this.opts.registry];
      this.metrics = {
        lines: new client.Counter({ name: 'fleetboot_syslog_lines_total', help: 'Syslog lines received', registers }),
        errors: new client.Counter({ name: 'fleetboot_syslog_errors_total', help: 'Syslog datagrams that could not be handled', registers }),
      };
    }
    const s = this.opts.socketFactory ? this.opts.socketFactory() : dgram.createSocket({ type: 'udp4', reuseAddr: true });
    this.socket = s;
    s.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address));
    await new Promise<void>((resolve, reject) => {
      const onErr = (e: Error) => reject(e);
      s.once('error', onErr);
      s.bind({ address: this.opts.address, port: this.opts.port }, () => {
        s.off('error', onErr);
        // after bind: a late socket error is logged, never fatal to the daemon
        s.on('error', (e) => this.log.warn({ err: e }, 'syslog socket error'));
        resolve();
      });
    }).catch((e) => {
      this.socket = undefined;
      try { s.close(); } catch { /* already closed */ }
      throw e;
    });
    this.log.info({ address: this.opts.address, port: this.port }, 'syslog receiver listening');
  }

  async stop(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      try { s.close(() => resolve()); } catch { resolve(); }
    });
  }

  private onMessage(msg: Buffer, ip: string): void {
    const at = this.opts.now ? this.opts.now() : Date.now();
    let lines: SyslogLine[];
    try {
      lines = parseDatagram(msg, at);
    } catch (e) {
      // parseDatagram is written never to throw; this guards the daemon if it ever does
      this.metrics?.errors.inc();
      this.log.warn({ err: e, ip }, 'unparseable syslog datagram');
      return;
    }
    for (const line of lines) {
      this.metrics?.lines.inc();
      try {
        this.opts.onLine(ip, line);
      } catch (e) {
        this.metrics?.errors.inc();
        this.log.warn({ err: e, ip }, 'syslog onLine handler failed');
      }
    }
  }
}
