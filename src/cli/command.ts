// One shape for every CLI command, so that parsing (node:util parseArgs, strict), per-command
// help, --json and bash completion come from one table (src/cli/registry.ts; src/cli/main.ts
// dispatches on it).
import type { ParseArgsConfig } from 'node:util';
import type { LoadedConfig, LoadOptions } from '../config/load.js';
import { didYouMean, UsageError } from './hint.js';

export type CommandOptions = NonNullable<ParseArgsConfig['options']>;

export interface CommandContext {
  /** values and positionals from parseArgs({ strict: true }) over this command's options */
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
  /** present when needsConfig (config + inventory loaded and validated) */
  loaded?: LoadedConfig;
  loadOptions?: LoadOptions;
}

export interface CommandSpec {
  /** the command word, e.g. "image"; sub-commands are positionals[0] ("image build ROLE") */
  name: string;
  /** one line for the top-level usage */
  summary: string;
  /** full help, printed by `fleetboot NAME --help` (exit 0) */
  usage: string;
  options: CommandOptions;
  allowPositionals: boolean;
  needsConfig: boolean;
  /** sub-command words (positionals[0]); used for "did you mean" and bash completion */
  subcommands?: string[];
  /** exit code: 0 ok, 1 failed, 2 usage error (throw UsageError for one with a hint) */
  run(ctx: CommandContext): Promise<number>;
}

/** Options every command accepts: --config FILE (also before the command word) and -h/--help. */
export const COMMON_OPTIONS: CommandOptions = {
  help: { type: 'boolean', short: 'h' },
  config: { type: 'string', short: 'c' },
};

export function optionsOf(spec: CommandSpec): CommandOptions {
  return { ...COMMON_OPTIONS, ...spec.options };
}

/** The first line of the usage plus where to read more: what a usage error prints. */
function usageHint(spec: CommandSpec): string {
  const first = spec.usage.split('\n').find((l) => l.trim()) ?? `fleetboot ${spec.name}`;
  return `${first.trim()}\n(see: fleetboot ${spec.name} --help)`;
}

/** Turns a parseArgs error into one line naming the flag, with "did you mean" where it helps. */
export function explainParseError(e: Error & { code?: string }, options: CommandOptions): string {
  // "Option '-y, --yes' does not take an argument": name the long form
  const flag = /'(?:-\w, )?(-{1,2}[^' ]+)/.exec(e.message)?.[1];
  const names = Object.keys(options);
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const bare = (flag ?? '').replace(/^-+/, '').split('=')[0];
      return `unknown option ${flag}${didYouMean(bare, names, '--')}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      if (/argument missing|ambiguous/.test(e.message)) return `option ${flag} needs a value (${flag} VALUE or ${flag}=VALUE)`;
      if (/does not take an argument/.test(e.message)) return `option ${flag} takes no value`;
      return e.message.split('\n')[0];
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': {
      const word = /'([^']*)'/.exec(e.message)?.[1] ?? '';
      return `unexpected argument "${word}" (this command takes none)`;
    }
    default:
      return e.message.split('\n')[0];
  }
}

/**
 * Parses argv (the words after the command) strictly against the spec, handles -h/--help,
 * loads the configuration when the command needs it (and the caller did not), runs it.
 */
export async function runSpec(spec: CommandSpec, argv: string[], loaded?: LoadedConfig, loadOptions?: LoadOptions): Promise<number> {
  const { parseArgs } = await import('node:util');
  const options = optionsOf(spec);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: spec.allowPositionals, strict: true });
  } catch (e) {
    console.error(`fleetboot ${spec.name}: ${explainParseError(e as Error, options)}\n${usageHint(spec)}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(spec.usage);
    return 0;
  }
  if (spec.subcommands && spec.subcommands.length) {
    const sub = parsed.positionals[0];
    if (sub === undefined || !spec.subcommands.includes(sub)) {
      const what = sub === undefined ? 'name a sub-command' : `unknown sub-command "${sub}"${didYouMean(sub, spec.subcommands)}`;
      console.error(`fleetboot ${spec.name}: ${what} (${spec.subcommands.join(', ')})\n${usageHint(spec)}`);
      return 2;
    }
  }
  if (spec.needsConfig && !loaded) {
    const { loadConfig, formatError } = await import('../config/load.js');
    const file = typeof parsed.values.config === 'string' ? parsed.values.config : undefined;
    loadOptions = { ...loadOptions, file: file ?? loadOptions?.file ?? process.env.FLEETBOOT_CONFIG };
    const r = loadConfig(loadOptions);
    if (!r.ok) {
      console.error(`fleetboot: configuration has ${r.errors.length} error(s):`);
      for (const err of r.errors) console.error(`  ${formatError(err)}`);
      return 1;
    }
    loaded = r.loaded;
  }
  try {
    return await spec.run({ values: parsed.values as CommandContext['values'], positionals: parsed.positionals, loaded, loadOptions });
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`fleetboot ${spec.name}: ${e.message}\n${usageHint(spec)}`);
    return 2;
  }
}
