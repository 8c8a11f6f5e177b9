// `fleetboot hosts`: the inventory with each host's install state.
import type { CommandSpec } from './command.js';
import { STATES } from '../web/states.js';
import { checkSelectors, stateContext, str } from './state.js';

export const hostsCommand: CommandSpec = {
  name: 'hosts',
  summary: 'list hosts with their install state',
  usage: `usage: fleetboot hosts [--role R] [--label L] [--state S] [--name SUBSTRING] [--json]

Lists every inventory host with its install state. Filters combine (AND):
  --role R        hosts with role R
  --label L       hosts with label L
  --state S       one of: ${STATES.join(', ')}
  --name TEXT     host names containing TEXT
  --json          print a JSON array`,
  options: { role: { type: 'string' }, label: { type: 'string' }, state: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' } },
  allowPositionals: false,
  needsConfig: true,
  async run({ values, loaded, loadOptions }) {
    const f = { role: str(values.role), label: str(values.label), state: str(values.state), name: str(values.name) };
    checkSelectors(loaded!, f);
    const { hostRows } = await import('../install/view.js');
    const s = stateContext(loaded!, loadOptions);
    let rows;
    try {
      rows = hostRows(s.holder, s.store, f);
    } finally {
      s.db.close();
    }
    if (values.json) {
      console.log(JSON.stringify(rows, null, 2));
      return 0;
    }
    const table = [['NAME', 'MACS', 'ROLES', 'ADDRESS', 'MARKED', 'STATE', 'STAGE', 'PROGRESS']].concat(
      rows.map((h) => [h.name, h.macs.join(','), h.roles.join(','), h.address ?? '-', h.marked ? 'yes' : '-', h.state, h.stage ?? '-', `${h.progress}%`]),
    );
    const w = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
    for (const r of table) console.log(r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd());
    return 0;
  },
};
