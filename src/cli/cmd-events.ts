// `fleetboot events HOST`: the host's latest install run, one line per event.
import type { CommandSpec } from './command.js';
import { UsageError } from './hint.js';
import { checkHostNames, stateContext } from './state.js';

export const eventsCommand: CommandSpec = {
  name: 'events',
  summary: "the host's latest install run, one line per event",
  usage: `usage: fleetboot events HOST [--json]

Prints HOST's latest install run and its events (time, offset from the run's start, kind, stage).
  --json    print { host, run, events } as JSON`,
  options: { json: { type: 'boolean' } },
  allowPositionals: true,
  needsConfig: true,
  async run({ values, positionals, loaded, loadOptions }) {
    if (positionals.length !== 1) throw new UsageError(positionals.length ? 'name exactly one host' : 'name a host');
    const host = positionals[0];
    checkHostNames(loaded!, [host]);
    const { timeline, publicRun } = await import('../install/view.js');
    const s = stateContext(loaded!, loadOptions);
    let run, events;
    try {
      run = s.store.latestRun(host);
      events = run ? s.store.events({ runId: run.id, limit: 100000 }) : [];
    } finally {
      s.db.close();
    }
    if (values.json) console.log(JSON.stringify({ host, run: run ? publicRun(run) : null, events }, null, 2));
    else if (!run) console.log(`${host}: no install runs`);
    else {
      console.log(`${host}: run ${run.id} (${run.role}) state=${run.state}${run.stage ? ` stage=${run.stage}` : ''}`);
      for (const line of timeline(events)) console.log(line);
    }
    return 0;
  },
};
