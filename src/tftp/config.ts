// The `tftp:` configuration section. Defaults live here so `fleetboot check` and the running
// server agree; the main config schema imports tftpConfigSchema.
import { z } from 'zod';

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export const tftpConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    /**
     * Listen address, and the address every transfer socket binds to. Unset: listen on all
     * addresses (0.0.0.0) and bind transfer sockets to the daemon's `server.address` (the
     * next-server DHCP hands out), so replies leave from the address PXE clients asked. Node
     * has no IP_PKTINFO to learn which local address an RRQ arrived on; see docs/tftp.md.
     */
    address: z.string().regex(IPV4_RE, 'must be an IPv4 address like 10.0.0.5').optional(),
    /** 0 = ephemeral (tests) */
    port: z.number().int().min(0).max(65535).default(69),
    /**
     * Largest blksize we accept (RFC 2348 allows up to 65464). Default 1468 = 1500-byte
     * Ethernet MTU - 20 IP - 8 UDP - 4 TFTP: the largest block that is not IP-fragmented.
     * Bigger blocks are fragmented, one lost fragment loses the whole block, and several PXE
     * ROMs / UEFI network stacks reassemble poorly. It is also exactly what EDK2 asks for.
     * Raise it on jumbo-frame or loopback setups; a client asking for more gets this value.
     */
    maxBlksize: z.number().int().min(8).max(65464).default(1468),
    /** Largest RFC 7440 windowsize we accept; 64 x 1468 B = ~94 KiB in flight per transfer. */
    maxWindowsize: z.number().int().min(1).max(65535).default(64),
    /** First retransmission timeout when the client sends no `timeout` option; doubled per retry. */
    timeoutMs: z.number().int().min(10).max(255_000).default(1000),
    /** Retransmissions of one window/OACK before the transfer is abandoned. */
    retries: z.number().int().min(0).max(100).default(6),
    /** Concurrent transfers; requests beyond it get no answer, so clients retransmit them later (an ERROR would end a PXE boot). */
    maxTransfers: z.number().int().min(1).max(65535).default(256),
  })
  .strict();

export type TftpConfig = z.infer<typeof tftpConfigSchema>;
export type TftpConfigInput = z.input<typeof tftpConfigSchema>;
