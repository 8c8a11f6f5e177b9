// The CLI's dispatcher: global options (--config, --help, --version) up to the command word,
// then the command's spec from the table in src/cli/registry.ts parses the rest strictly.
// State commands (hosts, reinstall, events) open the SQLite file directly (WAL: safe next to a
// running daemon), so they work whether or not the daemon runs.
import { parseArgs } from 'node:util';
import { COMMANDS, findCommand } from './registry.js';
import { runSpec, explainParseError, type CommandOptions } from './command.js';
import { didYouMean } from './hint.js';
import { fleetbootVersion } from './version.js';

const GLOBAL_OPTIONS: CommandOptions = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
};

export function usage(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return `usage: fleetboot [--config FILE] COMMAND [ARGS]
       fleetboot COMMAND --help      (help for one command)
       fleetboot --version

commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(w)}${c.summary}`).join('\n')}

--config FILE (or FLEETBOOT_CONFIG) names the configuration file; without one, the embedded demo.
Every setting can also be given as FLEETBOOT_<PATH> (see \`fleetboot check --env\`).
Exit status: 0 ok, 1 failed, 2 usage error.`;
}

export async function main(argv: string[]): Promise<number> {
  // global options end at the first positional (the command word)
  const cmdAt = (() => {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      if (a === '--config' || a === '-c') i++;
      else if (a === '--') return i + 1 < argv.length ? i + 1 : -1;
      else if (!a.startsWith('-')) return i;
    }
    return -1;
  })();
  const globalArgs = (cmdAt < 0 ? argv : argv.slice(0, cmdAt)).filter((a) => a !== '--');
  let g: ReturnType<typeof parseArgs>;
  try {
    g = parseArgs({ args: globalArgs, options: GLOBAL_OPTIONS, allowPositionals: false, strict: true });
  } catch (e) {
    // an option of some command given before the command word
    console.error(`fleetboot: ${explainParseError(e as Error, GLOBAL_OPTIONS)}\n\n${usage()}`);
    return 2;
  }
  if (g.values.version) {
    console.log(`fleetboot ${fleetbootVersion()} (node ${process.versions.node})`);
    return 0;
  }
  const word = cmdAt < 0 ? undefined : argv[cmdAt];
  if (word === undefined || word === 'help') {
    if (word === 'help' && argv[cmdAt + 1]) {
      const spec = findCommand(argv[cmdAt + 1]);
      if (spec) return runSpec(spec, ['--help']);
    }
    if (g.values.help || word === 'help') {
      console.log(usage());
      return 0;
    }
    console.error(usage());
    return 2;
  }
  const spec = findCommand(word);
  if (!spec) {
    console.error(`fleetboot: unknown command "${word}"${didYouMean(word, COMMANDS.map((c) => c.name))}\n(see: fleetboot --help)`);
    return 2;
  }
  if (g.values.help) return runSpec(spec, ['--help']);
  const config = typeof g.values.config === 'string' ? g.values.config : undefined;
  return runSpec(spec, argv.slice(cmdAt + 1), undefined, { file: config ?? process.env.FLEETBOOT_CONFIG });
}
