// `fleetboot check [--env] [--json]`: validate config + inventory, every error at once.
import type { CommandSpec } from './command.js';

export const checkCommand: CommandSpec = {
  name: 'check',
  summary: 'validate config + inventory; every error at once (--env: list FLEETBOOT_* variables)',
  usage: `usage: fleetboot check [--env] [--json]

Loads the configuration file and inventory and reports every error (exit 1) and warning.
  --env     list every FLEETBOOT_* environment variable that can set a setting
  --json    print the result as JSON ({ ok, hosts, roles, files, warnings, errors })`,
  options: { env: { type: 'boolean' }, json: { type: 'boolean' } },
  allowPositionals: false,
  needsConfig: false,
  async run({ values, loadOptions }) {
    const json = values.json === true;
    if (values.env) {
      const { envLeaves } = await import('../config/env.js');
      const { configSchema } = await import('../config/schema.js');
      const leaves = envLeaves(configSchema);
      if (json) console.log(JSON.stringify(leaves.map((l) => ({ env: l.env, path: l.path.join('.'), kind: l.kind })), null, 2));
      else for (const l of leaves) console.log(`${l.env}  (${l.path.join('.')}, ${l.kind})`);
      return 0;
    }
    const { loadConfig, formatError } = await import('../config/load.js');
    const file = typeof values.config === 'string' ? values.config : (loadOptions?.file ?? process.env.FLEETBOOT_CONFIG);
    const r = loadConfig({ ...loadOptions, file });
    if (!r.ok) {
      if (json) console.log(JSON.stringify({ ok: false, files: r.files, errors: r.errors.map(formatError), warnings: [] }, null, 2));
      else {
        console.error(`fleetboot: configuration has ${r.errors.length} error(s):`);
        for (const e of r.errors) console.error(`  ${formatError(e)}`);
      }
      return 1;
    }
    const { loaded } = r;
    const c = loaded.config;
    if (json) {
      console.log(JSON.stringify({ ok: true, empty: c.hosts.length === 0, hosts: c.hosts.length, roles: Object.keys(c.roles).length, files: loaded.files, warnings: loaded.warnings.map(formatError), errors: [] }, null, 2));
      return 0;
    }
    for (const w of loaded.warnings) console.error(`warning: ${formatError(w)}`);
    // 0 hosts is valid (`hosts: []`) but never "ok" at a glance: it installs nothing
    if (!c.hosts.length) console.error('warning: the inventory has no hosts: no machine will be installed (a running daemon holds a reload to 0 hosts until `fleetboot reload --confirm-shrink`)');
    console.log(`${c.hosts.length ? 'ok' : 'valid but EMPTY'}: ${c.hosts.length} hosts, ${Object.keys(c.roles).length} roles (${loaded.files.join(', ') || 'embedded demo'})`);
    return 0;
  },
};
