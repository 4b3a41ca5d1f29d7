// The environment through which the CDK stack configures each function — the only input a
// handler reads besides its events. Both sides use this module: infra/ builds each function's
// variables with roleEnvironment(), the handlers read them with readRoleSettings(), and zod
// checks the values on both sides against the same limits (limits.ts), so a value the stack
// writes is one the function accepts.
import { z } from 'zod';
import { CLOSED_RETENTION_DAYS, SHUFFLE_BUCKETS } from './limits';
import { METRICS_NAMESPACE, serviceName, type FunctionRole } from './metrics';

const name = z.string().min(1, 'must not be empty');

function wholeNumber(range: { min: number; max: number }) {
  const allowed = `a whole number ${range.min}–${range.max}`;
  return z
    .string()
    .regex(/^\d+$/, `must be ${allowed}`)
    .transform(Number)
    .pipe(z.number().int().min(range.min, `must be ${allowed}`).max(range.max, `must be ${allowed}`));
}

interface Setting<S extends z.ZodType<unknown, string>> {
  readonly variable: string;
  readonly schema: S;
  readonly doc: string;
  /** Used when the variable is absent (as the string the stack would write). */
  readonly fallback?: string;
  /** Absent means "none" (the value is undefined). */
  readonly optional?: true;
}

/** Every Riffle variable: its name, its value's schema and what it configures. */
export const ENV_SETTINGS = {
  job: { variable: 'RIFFLE_JOB', schema: name, doc: 'Job name; the function bundles only this job (jobs/<name>.ts).' },
  stateTable: { variable: 'RIFFLE_STATE_TABLE', schema: name, doc: 'DynamoDB table of window state and progress.' },
  shuffleStream: { variable: 'RIFFLE_SHUFFLE_STREAM', schema: name, doc: 'Kinesis shuffle stream (mapper → reducer).' },
  shuffleBuckets: { variable: 'RIFFLE_SHUFFLE_BUCKETS', schema: wholeNumber(SHUFFLE_BUCKETS), doc: 'Shuffle partition keys partials are packed into.' },
  resultsDelivery: { variable: 'RIFFLE_RESULTS_DELIVERY', schema: name, doc: 'Firehose delivery stream for results/.' },
  lateDelivery: { variable: 'RIFFLE_LATE_DELIVERY', schema: name, doc: 'Firehose delivery stream for late/.' },
  rejectedDelivery: { variable: 'RIFFLE_REJECTED_DELIVERY', schema: name, doc: 'Firehose delivery stream for rejected/.' },
  archiveDelivery: { variable: 'RIFFLE_ARCHIVE_DELIVERY', schema: name, doc: 'Firehose delivery stream for archive/ (the archiver, with inputArchive on).' },
  closerFunction: { variable: 'RIFFLE_CLOSER_FUNCTION', schema: name, optional: true, doc: 'Closer function the reducer nudges after its batches (none: only the schedule runs it).' },
  closedRetentionDays: {
    variable: 'RIFFLE_CLOSED_RETENTION_DAYS',
    schema: wholeNumber(CLOSED_RETENTION_DAYS),
    fallback: String(CLOSED_RETENTION_DAYS.default),
    doc: 'Days a CLOSED window item is kept before TTL removes it.',
  },
} as const satisfies Record<string, Setting<z.ZodType<unknown, string>>>;

type Settings = typeof ENV_SETTINGS;
export type SettingName = keyof Settings;

/** The variables each role reads (docs/CONTRACTS.md has the same table). */
export const ROLE_SETTINGS = {
  mapper: ['job', 'stateTable', 'shuffleStream', 'shuffleBuckets', 'lateDelivery', 'rejectedDelivery'],
  reducer: ['job', 'stateTable', 'shuffleBuckets', 'resultsDelivery', 'lateDelivery', 'closerFunction'],
  closer: ['job', 'stateTable', 'shuffleBuckets', 'resultsDelivery', 'closedRetentionDays'],
} as const satisfies Record<FunctionRole, readonly SettingName[]>;

type ValueOf<K extends SettingName> = Settings[K] extends { optional: true } ? z.output<Settings[K]['schema']> | undefined : z.output<Settings[K]['schema']>;

/** A role's configuration as the handler uses it. */
export type RoleSettings<R extends FunctionRole> = { readonly [K in (typeof ROLE_SETTINGS)[R][number]]: ValueOf<K> };
export type MapperSettings = RoleSettings<'mapper'>;
export type ReducerSettings = RoleSettings<'reducer'>;
export type CloserSettings = RoleSettings<'closer'>;

/** What the stack passes for a role: strings may be CDK tokens; numbers are checked here, at synth. */
export type RoleValues<R extends FunctionRole> = { readonly [K in (typeof ROLE_SETTINGS)[R][number]]: Settings[K] extends { optional: true } ? string | number | undefined : string | number };

export class EnvironmentError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.length === 1 ? (problems[0] as string) : `invalid Riffle function environment:\n  ${problems.join('\n  ')}`);
    this.name = 'EnvironmentError';
  }
}

function parseValue(key: SettingName, raw: string): { ok: true; value: unknown } | { ok: false; problem: string } {
  const s = ENV_SETTINGS[key];
  const parsed = s.schema.safeParse(raw);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, problem: `${s.variable}: '${raw}' ${parsed.error.issues[0]?.message ?? 'is not valid'}` };
}

/** A handler's configuration from its environment; every problem is named in one EnvironmentError. */
export function readRoleSettings<R extends FunctionRole>(role: R, env: Readonly<Record<string, string | undefined>> = process.env): RoleSettings<R> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const key of ROLE_SETTINGS[role] as readonly SettingName[]) {
    const s: Setting<z.ZodType<unknown, string>> = ENV_SETTINGS[key];
    const raw = env[s.variable];
    if (raw === undefined || raw === '') {
      if (s.optional) continue;
      if (s.fallback === undefined) {
        problems.push(`${s.variable} is not set; the Riffle CDK stack (infra/constructs/riffle-job.ts) sets it for the ${role}`);
        continue;
      }
    }
    const result = parseValue(key, raw === undefined || raw === '' ? (s.fallback as string) : raw);
    if (result.ok) out[key] = result.value;
    else problems.push(result.problem);
  }
  if (problems.length > 0) throw new EnvironmentError(problems);
  return out as RoleSettings<R>;
}

/** A role's variables as the stack writes them; numbers are validated with the schema the function uses. */
export function roleEnvironment<R extends FunctionRole>(role: R, values: RoleValues<R>): Record<string, string> {
  const env: Record<string, string> = {};
  const problems: string[] = [];
  for (const key of ROLE_SETTINGS[role] as readonly SettingName[]) {
    const value = (values as Record<string, string | number | undefined>)[key];
    const s: Setting<z.ZodType<unknown, string>> = ENV_SETTINGS[key];
    if (value === undefined) {
      if (!s.optional) problems.push(`${s.variable}: no value for the ${role}`);
      continue;
    }
    const text = String(value);
    if (typeof value === 'number') {
      const result = parseValue(key, text);
      if (!result.ok) problems.push(result.problem);
    }
    env[s.variable] = text;
  }
  if (problems.length > 0) throw new EnvironmentError(problems);
  return env;
}

/**
 * The archiver's variables (one function per source, not per job, so it is no FunctionRole): the
 * archive delivery stream only. Checked with the same schema on both sides.
 */
export function archiverEnvironment(archiveDelivery: string): Record<string, string> {
  return { [ENV_SETTINGS.archiveDelivery.variable]: archiveDelivery };
}

export function readArchiverSettings(env: Readonly<Record<string, string | undefined>> = process.env): { readonly archiveDelivery: string } {
  const s = ENV_SETTINGS.archiveDelivery;
  const raw = env[s.variable];
  if (raw === undefined || raw === '') throw new EnvironmentError([`${s.variable} is not set; the Riffle CDK stack (infra/constructs/archive.ts) sets it for the archiver`]);
  return { archiveDelivery: raw };
}

/** Powertools' own variables: the metrics namespace and the `service` dimension the alarms match. */
export function powertoolsEnvironment(role: FunctionRole, logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR'): Record<string, string> {
  return {
    POWERTOOLS_SERVICE_NAME: serviceName(role),
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    POWERTOOLS_LOG_LEVEL: logLevel,
  };
}
