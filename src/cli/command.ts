// One shape for every CLI command, so that parsing (node:util parseArgs, strict), per-command
// help, --json and bash completion come from one table (src/cli/main.ts dispatches on it).
import type { ParseArgsConfig } from 'node:util';
import type { LoadedConfig, LoadOptions } from '../config/load.js';

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
  /** exit code: 0 ok, 1 failed, 2 usage error */
  run(ctx: CommandContext): Promise<number>;
}

/** Parses argv (the words after the command) strictly against the spec, handles -h/--help, runs it. */
export async function runSpec(spec: CommandSpec, argv: string[], loaded?: LoadedConfig, loadOptions?: LoadOptions): Promise<number> {
  const { parseArgs } = await import('node:util');
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: { ...spec.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: spec.allowPositionals, strict: true });
  } catch (e) {
    console.error(`fleetboot ${spec.name}: ${(e as Error).message}\n\n${spec.usage}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(spec.usage);
    return 0;
  }
  return spec.run({ values: parsed.values as CommandContext['values'], positionals: parsed.positionals, loaded, loadOptions });
}
