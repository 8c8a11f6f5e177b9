// The TFTP server's metrics (registered once per registry: tests and restarts reuse them).
import client from 'prom-client';
import type { Registry } from 'prom-client';

export type TftpMetrics = ReturnType<typeof metrics>;

export function metrics(registry: Registry) {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    transfers: get('fleetboot_tftp_transfers_total', () => new client.Counter({ name: 'fleetboot_tftp_transfers_total', help: 'TFTP requests by outcome', labelNames: ['result'], registers: [registry] })),
    bytes: get('fleetboot_tftp_bytes_total', () => new client.Counter({ name: 'fleetboot_tftp_bytes_total', help: 'Bytes acknowledged by TFTP clients', registers: [registry] })),
    retransmits: get('fleetboot_tftp_retransmits_total', () => new client.Counter({ name: 'fleetboot_tftp_retransmits_total', help: 'DATA/OACK packets sent more than once', registers: [registry] })),
    active: get('fleetboot_tftp_active_transfers', () => new client.Gauge({ name: 'fleetboot_tftp_active_transfers', help: 'TFTP transfers in progress', registers: [registry] })),
    malformed: get('fleetboot_tftp_malformed_total', () => new client.Counter({ name: 'fleetboot_tftp_malformed_total', help: 'TFTP packets that failed to decode', registers: [registry] })),
    unknownTid: get('fleetboot_tftp_unknown_tid_total', () => new client.Counter({ name: 'fleetboot_tftp_unknown_tid_total', help: 'Packets to a transfer socket from a foreign address/port (answered with ERROR 5)', registers: [registry] })),
  };
}
