// A small, strict argument parser shared by every Riffle command: declared options only, typed
// values, `--help` from the same declarations, and errors that say what to do.
import { parseArgs } from 'node:util';

export interface OptionSpec {
  type: 'string' | 'boolean';
  description: string;
  /** Shown in --help; parsed by the caller. */
  default?: string | boolean;
  short?: string;
  /** For numeric strings: validated here (integer ≥ min). */
  integer?: { min: number; max?: number };
  choices?: readonly string[];
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  examples?: string[];
  /** Whether positional arguments are accepted. */
  positionals?: { name: string; description: string };
}

export class UsageError extends Error {}

export function helpText(spec: CommandSpec): string {
  const lines = [`${spec.name} — ${spec.summary}`, '', `Usage: ${spec.usage}`, '', 'Options:'];
  if (spec.positionals) lines.splice(4, 0, `  ${spec.positionals.name}  ${spec.positionals.description}`, '');
  const width = Math.max(...Object.entries(spec.options).map(([k, o]) => k.length + 2 + (o.type === 'string' ? 8 : 0))) + 4;
  for (const [name, o] of Object.entries(spec.options)) {
    const flag = `--${name}${o.type === 'string' ? ' <value>' : ''}`;
    const extra = [o.choices ? `one of: ${o.choices.join(', ')}` : '', o.default !== undefined ? `default: ${String(o.default)}` : ''].filter(Boolean).join('; ');
    lines.push(`  ${flag.padEnd(width)}${o.description}${extra ? ` (${extra})` : ''}`);
  }
  lines.push(`  ${'--help'.padEnd(width)}Show this help`);
  if (spec.examples?.length) lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Parse argv; prints help and exits 0 on --help; throws UsageError with a fix on bad input. */
export function parseCommand(spec: CommandSpec, argv: string[] = process.argv.slice(2)): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, o] of Object.entries(spec.options)) options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}) };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: Boolean(spec.positionals), strict: true });
  } catch (error) {
    const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(`${message}\nRun '${spec.name} --help' for the options.`);
  }
  if (parsed.values.help) {
    console.log(helpText(spec));
    process.exit(0);
  }
  for (const [name, o] of Object.entries(spec.options)) {
    const value = parsed.values[name];
    if (typeof value !== 'string') continue;
    if (o.integer) {
      const n = Number(value.replace(/_/g, ''));
      if (!Number.isInteger(n) || n < o.integer.min || (o.integer.max !== undefined && n > o.integer.max)) {
        throw new UsageError(`--${name} must be a whole number ${o.integer.max !== undefined ? `from ${o.integer.min} to ${o.integer.max}` : `≥ ${o.integer.min}`}, got '${value}' (e.g. --${name} ${o.integer.min === 0 ? 1000 : Math.max(o.integer.min, 1000)})`);
      }
    }
    if (o.choices && !o.choices.includes(value)) {
      throw new UsageError(`--${name} must be one of ${o.choices.join(', ')}, got '${value}'`);
    }
  }
  return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
}

export function intOption(parsed: Parsed, name: string, fallback: number): number {
  const value = parsed.values[name];
  return typeof value === 'string' ? Number(value.replace(/_/g, '')) : fallback;
}

/** Run a command's main; usage errors print without a stack and exit 2, other errors exit 1. */
export function runMain(spec: CommandSpec, main: (parsed: Parsed) => Promise<void | number>): void {
  let parsed: Parsed;
  try {
    parsed = parseCommand(spec);
  } catch (error) {
    console.error(`${spec.name}: ${(error as Error).message}`);
    process.exit(2);
  }
  main(parsed).then(
    (code) => process.exit(typeof code === 'number' ? code : 0),
    (error: unknown) => {
      if (error instanceof UsageError) {
        console.error(`${spec.name}: ${error.message}`);
        process.exit(2);
      }
      console.error(`${spec.name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      process.exit(1);
    },
  );
}
