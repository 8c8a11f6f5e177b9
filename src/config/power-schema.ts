// Inventory schema of a host's BMC: `power: { driver: ipmi|redfish|ssh|manual, address, user, ... }`.
// Credentials never live here: `passwordSecret: BMC_WEB01` names the environment variable
// FLEETBOOT_SECRET_BMC_WEB01 (or FLEETBOOT_SECRET_BMC_WEB01_FILE, a file holding it); see
// src/power/secrets.ts and docs/power.md.
import { z } from 'zod';

/** A secret's name: the part after FLEETBOOT_SECRET_. Upper case, so a literal password is refused. */
export const SECRET_NAME_RE = /^[A-Z][A-Z0-9_]{0,63}$/;
const secretName = z.string().regex(SECRET_NAME_RE, 'names a secret (FLEETBOOT_SECRET_<NAME>): upper-case letters, digits and _; never the password itself');

// host name, IPv4 or bracket-less IPv6 literal; no scheme, no path, no whitespace or shell metacharacters
const ADDRESS_RE = /^[A-Za-z0-9]([A-Za-z0-9.:-]{0,252})$/;
const address = z.string().regex(ADDRESS_RE, 'a host name or IP address (no scheme, port or path)');
// argv words handed to ipmitool/ssh: no option injection ("-o ProxyCommand=..."), no control characters
const safeWord = z.string().min(1).max(128).regex(/^[A-Za-z0-9_.@%+=:,-]+$/, 'letters, digits and _ . @ % + = : , - only').refine((s) => !s.startsWith('-'), 'must not start with "-"');

const common = {
  /** seconds one BMC call may take (each try), then it is an error on this host */
  timeoutSeconds: z.number().positive().max(300).default(10),
  /** further tries after a failed call that is safe to repeat */
  retries: z.number().int().min(0).max(10).default(2),
};

export const ipmiPowerSchema = z
  .object({
    driver: z.literal('ipmi'),
    address,
    port: z.number().int().min(1).max(65535).default(623),
    user: safeWord.optional(),
    passwordSecret: secretName.optional(),
    /** ipmitool -L: the privilege level asked for (operator suffices for chassis control) */
    privilege: z.enum(['CALLBACK', 'USER', 'OPERATOR', 'ADMINISTRATOR']).default('ADMINISTRATOR'),
    /** ipmitool -C: RMCP+ cipher suite; 3 (AES-128, HMAC-SHA1) is what most BMCs accept */
    cipherSuite: z.number().int().min(0).max(17).default(3),
    ...common,
  })
  .strict();

export const redfishPowerSchema = z
  .object({
    driver: z.literal('redfish'),
    address,
    port: z.number().int().min(1).max(65535).default(443),
    user: z.string().min(1).max(128).optional(),
    passwordSecret: secretName.optional(),
    /** the ComputerSystem's Id under /redfish/v1/Systems; default: the only member */
    systemId: z.string().min(1).max(128).regex(/^[A-Za-z0-9_.-]+$/).optional(),
    /** PEM file of the CA (or the BMC's own certificate) to verify against */
    caFile: z.string().min(1).optional(),
    /** skip certificate verification: must be said explicitly, per host */
    insecure: z.boolean().default(false),
    /** session: POST SessionService/Sessions once per call and use X-Auth-Token; basic: Authorization: Basic */
    auth: z.enum(['basic', 'session']).default('basic'),
    ...common,
  })
  .strict();

const command = z.string().min(1).max(1024);
export const sshPowerSchema = z
  .object({
    driver: z.literal('ssh'),
    /** where the commands run (a jump host, a PDU, a hypervisor, the BMC's own shell) */
    address,
    port: z.number().int().min(1).max(65535).default(22),
    user: safeWord.optional(),
    /** private key file for ssh -i; otherwise ssh's own defaults/agent */
    identityFile: z.string().min(1).optional(),
    /** ssh -o UserKnownHostsFile=...: the known_hosts to check the target against */
    knownHostsFile: z.string().min(1).optional(),
    commands: z
      .object({
        /** prints "on" or "off" (first word of stdout); anything else is "unknown" */
        status: command.optional(),
        on: command.optional(),
        off: command.optional(),
        cycle: command.optional(),
        /** one-time network boot; fleetboot cycles (or powers on) after it */
        pxe: command.optional(),
      })
      .strict(),
    ...common,
  })
  .strict();

export const manualPowerSchema = z
  .object({
    driver: z.literal('manual'),
    address: address.optional(),
    /** shown to the operator instead of acting ("rack 4, unit 12: hold the power button ...") */
    instructions: z.string().max(2000).optional(),
    ...common,
  })
  .strict();

export const powerSchema = z.discriminatedUnion('driver', [ipmiPowerSchema, redfishPowerSchema, sshPowerSchema, manualPowerSchema]);

export type PowerConfig = z.infer<typeof powerSchema>;
export type IpmiPowerConfig = z.infer<typeof ipmiPowerSchema>;
export type RedfishPowerConfig = z.infer<typeof redfishPowerSchema>;
export type SshPowerConfig = z.infer<typeof sshPowerSchema>;
export type ManualPowerConfig = z.infer<typeof manualPowerSchema>;
export type PowerDriverName = PowerConfig['driver'];
