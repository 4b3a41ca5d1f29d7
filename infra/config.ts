// Deploy-time configuration of the CDK app: which jobs to deploy (context `riffle:jobs`) and how
// to size them (context `riffle:config`), validated at synth. Every error names the setting the way
// the user wrote it and says what is allowed, e.g.
//   riffle:config.sensor-averages.mapperBatchSize: 20000 is out of range; use 1–10000
// Pure: no CDK imports, so it is unit-tested without synthesizing anything.
import { CLOSED_RETENTION_DAYS, SHUFFLE_BUCKETS } from '../functions/contract/limits';
import { formatDuration, parseDuration } from '../functions/core/duration';
import { defaultLatencyProfile, LATENCY_PROFILE_NAMES, LATENCY_PROFILES, type LatencyProfile } from './latency-profiles';

/** What the infrastructure needs to know about a job (derived from its definition in jobs/). */
export interface JobDescriptor {
  readonly name: string;
  /** Input stream (and stack) the job reads; jobs with the same source share both. */
  readonly source: string;
  readonly emit: 'final' | 'update';
  /** Output field → aggregate kind ('count', 'mean', 'topK', …); the Glue table has one column per field. */
  readonly aggregates: Readonly<Record<string, { readonly kind: string }>>;
}

/** A configuration problem the user can fix; the message is meant to be printed without a stack trace. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.length === 1 ? (problems[0] as string) : `invalid Riffle configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

// ---------------------------------------------------------------------------------------------
// Setting kinds. parse() returns the value or throws a Problem whose text follows the setting path.

class Problem extends Error {}

type Scope = 'source' | 'job';

interface Setting<T, S extends Scope = Scope> {
  /** 'source' settings size the resources a stack shares (input stream, table, bucket); 'job' settings one job. */
  readonly scope: S;
  /** Allowed values, as shown in errors and docs. */
  readonly allowed: string;
  readonly defaultValue: T;
  readonly doc: string;
  parse(raw: unknown): T;
  /** The value as a user writes it (durations as '5s'). */
  display(value: T): string;
}

const show = (raw: unknown): string => (typeof raw === 'string' ? `'${raw}'` : JSON.stringify(raw) ?? String(raw));

/** Numbers also arrive as strings from `-c riffle:config.<job>.<setting>=500` on the command line. */
function toNumber(raw: unknown): number | undefined {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string' && /^-?\d+(\.\d+)?$/.test(raw.trim())) return Number(raw);
  return undefined;
}

function int<S extends Scope>(scope: S, min: number, max: number, defaultValue: number, doc = ''): Setting<number, S> {
  const allowed = `${min}–${max}`;
  return {
    scope,
    allowed,
    defaultValue,
    doc,
    parse(raw) {
      const value = toNumber(raw);
      if (value === undefined || !Number.isInteger(value)) throw new Problem(`${show(raw)} is not a whole number; use ${allowed}`);
      if (value < min || value > max) throw new Problem(`${show(raw)} is out of range; use ${allowed}`);
      return value;
    },
    display: show,
  };
}

function decimal<S extends Scope>(scope: S, min: number, max: number, defaultValue: number, doc: string): Setting<number, S> {
  const allowed = `${min}–${max}`;
  return {
    scope,
    allowed,
    defaultValue,
    doc,
    parse(raw) {
      const value = toNumber(raw);
      if (value === undefined || !Number.isFinite(value)) throw new Problem(`${show(raw)} is not a number; use ${allowed}`);
      if (value < min || value > max) throw new Problem(`${show(raw)} is out of range; use ${allowed}`);
      return value;
    },
    display: show,
  };
}

/** A duration written like the job API ('5s', '1h'); the value is whole seconds. */
function seconds<S extends Scope>(scope: S, min: number, max: number, defaultValue: number, doc: string): Setting<number, S> {
  const allowed = `${min === 0 ? '0s' : formatDuration(min * 1000)}–${formatDuration(max * 1000)}`;
  return {
    scope,
    allowed,
    defaultValue,
    doc,
    parse(raw) {
      let ms: number;
      try {
        ms = parseDuration(String(raw));
      } catch {
        throw new Problem(`${show(raw)} is not a duration; write e.g. '30s', '5m' or '1h' within ${allowed}`);
      }
      if (ms % 1000 !== 0) throw new Problem(`${show(raw)} is not a whole number of seconds; use ${allowed}`);
      if (ms < min * 1000 || ms > max * 1000) throw new Problem(`${show(raw)} is out of range; use ${allowed}`);
      return ms / 1000;
    },
    display: (value) => `'${formatDuration(value * 1000)}'`,
  };
}

/** A duration in whole minutes ('1m', '5m', '300s'); the value is seconds. EventBridge's rate() takes whole minutes. */
function minutes<S extends Scope>(scope: S, min: number, max: number, defaultMinutes: number, doc: string): Setting<number, S> {
  const base = seconds(scope, min * 60, max * 60, defaultMinutes * 60, doc);
  return {
    ...base,
    parse(raw) {
      const value = base.parse(raw);
      if (value % 60 !== 0) throw new Problem(`${show(raw)} is not a whole number of minutes (an EventBridge rate); use ${base.allowed}, e.g. '2m'`);
      return value;
    },
  };
}

function oneOf<const V extends string | number, S extends Scope>(scope: S, values: readonly V[], defaultValue: V, doc: string): Setting<V, S> {
  const allowed = values.map((v) => show(v)).join(', ').replace(/, ([^,]*)$/, ' or $1');
  return {
    scope,
    allowed,
    defaultValue,
    doc,
    parse(raw) {
      const match = values.find((v) => v === raw || (typeof v === 'number' && toNumber(raw) === v));
      if (match === undefined) throw new Problem(`${show(raw)} is not allowed; use ${allowed}`);
      return match;
    },
    display: show,
  };
}

function bool<S extends Scope>(scope: S, defaultValue: boolean, doc: string): Setting<boolean, S> {
  return {
    scope,
    allowed: 'true or false',
    defaultValue,
    doc,
    parse(raw) {
      if (raw === true || raw === 'true') return true;
      if (raw === false || raw === 'false') return false;
      throw new Problem(`${show(raw)} is not a boolean; use true or false`);
    },
    display: show,
  };
}

function optional<T, S extends Scope>(setting: Setting<T, S>, defaultValue: T | undefined, doc: string): Setting<T | undefined, S> {
  return {
    scope: setting.scope,
    allowed: `${setting.allowed}, or null for none`,
    defaultValue,
    doc,
    parse: (raw) => (raw === null || raw === 'null' || raw === 'none' ? undefined : setting.parse(raw)),
    display: (value) => (value === undefined ? 'none' : setting.display(value)),
  };
}

/** A finite limit, or 'unlimited' (the default: CloudFormation's -1, left out of the template). */
function unlimitedOr<S extends Scope>(setting: Setting<number, S>, doc: string): Setting<number | undefined, S> {
  return {
    scope: setting.scope,
    allowed: `${setting.allowed}, or 'unlimited'`,
    defaultValue: undefined,
    doc,
    parse: (raw) => (raw === null || raw === 'unlimited' || raw === -1 || raw === '-1' ? undefined : setting.parse(raw)),
    display: (value) => (value === undefined ? "'unlimited'" : setting.display(value)),
  };
}

function snsTopicArn<S extends Scope>(scope: S): Setting<string, S> {
  return {
    scope,
    allowed: 'an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)',
    defaultValue: '',
    doc: '',
    parse(raw) {
      if (typeof raw !== 'string' || !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$/.test(raw)) {
        throw new Problem(`${show(raw)} is not an SNS topic ARN; use arn:aws:sns:<region>:<account-id>:<topic-name>`);
      }
      return raw;
    },
    display: show,
  };
}

function isoDate<S extends Scope>(scope: S, defaultValue: string, doc: string): Setting<string, S> {
  return {
    scope,
    allowed: 'a date YYYY-MM-DD',
    defaultValue,
    doc,
    parse(raw) {
      const text = String(raw);
      if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || Number.isNaN(Date.parse(`${text}T00:00:00Z`))) {
        throw new Problem(`${show(raw)} is not a date; write YYYY-MM-DD, e.g. '2025-01-01'`);
      }
      return text;
    },
    display: show,
  };
}

/** CloudWatch Logs accepts only these retention periods. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

const HOUR = 3600;
const DAY = 24 * HOUR;

// ---------------------------------------------------------------------------------------------
// The settings. Ranges are AWS's own limits unless a comment says why they are tighter.

export const SETTINGS = {
  // Source (stack-wide) settings.
  streamMode: oneOf('source', ['provisioned', 'on-demand'] as const, 'provisioned', 'Capacity mode of the input and shuffle streams. Provisioned with 1 shard is the cheapest at rest (~$11/month per stream vs ~$29 on-demand).'),
  inputShards: int('source', 1, 500, 1, "Shards of the input stream (streamMode 'provisioned' only). 1 MB/s or 1000 records/s in per shard."),
  streamRetention: seconds('source', 24 * HOUR, 365 * DAY, 24 * HOUR, 'Retention of the input and shuffle streams; bounds maxRecordAge.'),
  tableEncryption: oneOf('source', ['aws-managed', 'customer-managed'] as const, 'aws-managed', 'KMS key of the state table: the AWS managed key, or a customer managed key with rotation ($1/month).'),
  deletionProtection: bool('source', false, 'DynamoDB deletion protection on the state table (blocks `npm run destroy` while on).'),
  removalPolicy: oneOf('source', ['retain', 'destroy'] as const, 'retain', "What `destroy` does to the state table and the buckets. 'destroy' deletes them (a bucket must be empty first)."),
  rejectedRetentionDays: int('source', 1, 3650, 30, 'Days objects under rejected/ are kept.'),
  lateRetentionDays: int('source', 1, 3650, 30, 'Days objects under late/ are kept.'),
  failedRetentionDays: int('source', 1, 3650, 14, 'Days ESM on-failure records (aws/lambda/) and Firehose error output (errors/) are kept.'),
  queryResultsRetentionDays: int('source', 1, 3650, 7, 'Days Athena query results (athena-results/) are kept.'),
  accessLogRetentionDays: int('source', 1, 3650, 90, 'Days S3 server access logs are kept.'),
  inputArchive: bool('source', false, 'Archive every input record, raw, to archive/ in S3 (an archiver Lambda and a Firehose stream), so `npm run reprocess` can read input older than the stream keeps.'),
  archiveRetentionDays: int('source', 1, 3650, 365, 'Days the input archive (archive/) is kept, when inputArchive is on.'),
  alarmTopicArn: optional(snsTopicArn('source'), undefined, 'SNS topic that alarms notify (alarm and OK). Without it alarms only change state.'),

  // Job settings.
  shuffleShards: int('job', 1, 500, 1, "Shards of the job's shuffle stream (streamMode 'provisioned' only)."),
  // The functions' own limit (functions/contract/limits.ts): a value they would refuse fails here.
  shuffleBuckets: int('job', SHUFFLE_BUCKETS.min, SHUFFLE_BUCKETS.max, 0, `Shuffle partition keys partials are packed into (RIFFLE_SHUFFLE_BUCKETS). Default: max(8, 4 × shuffle shards × reducerParallelization), 4 shards assumed on-demand; at most ${SHUFFLE_BUCKETS.max}.`),
  // The latency profile sets the settings marked "(profile)" below; any of them set explicitly wins.
  latency: oneOf('job', LATENCY_PROFILE_NAMES, 'balanced', "Latency profile (infra/latency-profiles.ts): 'interactive' (update results in ~1 s: no batching windows, enhanced fan-out), 'balanced' or 'economy' (5-minute reducer window, cheapest). Default: 'balanced' for `emit: 'update'` jobs, 'economy' for `emit: 'final'` jobs."),
  mapperBatchSize: int('job', 1, 10_000, LATENCY_PROFILES.balanced.mapperBatchSize, '(profile) Records per mapper invocation (ESM BatchSize). Larger batches combine more per (key, window).'),
  mapperBatchingWindow: seconds('job', 0, 300, LATENCY_PROFILES.balanced.mapperBatchingWindow, '(profile) How long the mapper ESM gathers records before invoking.'),
  reducerBatchSize: int('job', 1, 10_000, LATENCY_PROFILES.balanced.reducerBatchSize, '(profile) Shuffle records per reducer invocation. Larger: fewer DynamoDB writes, more latency.'),
  reducerBatchingWindow: seconds('job', 0, 300, LATENCY_PROFILES.balanced.reducerBatchingWindow, '(profile) How long the reducer ESM gathers records. Trades result latency for DynamoDB cost: one state write per key per batch.'),
  enhancedFanOut: bool('job', LATENCY_PROFILES.balanced.enhancedFanOut, '(profile) Enhanced fan-out consumers for the mapper (input stream) and the reducer (shuffle stream): records pushed in ~70 ms instead of polled about once a second per shard; $0.015 per consumer-shard-hour + $0.013/GB.'),
  closerInterval: minutes('job', 1, 60, LATENCY_PROFILES.balanced.closerIntervalSeconds / 60, "(profile) Period of the closer's schedule (EventBridge rate(), whole minutes). The reducer also nudges the closer after its batches, at most every 5 s."),
  reducerParallelization: int('job', 1, 10, 1, 'Concurrent reducer batches per shuffle shard (ESM ParallelizationFactor). The mapper always uses 1: the exactly-once fence relies on per-shard order.'),
  retryAttempts: unlimitedOr(int('job', 0, 10_000, 10, ''), 'Retries of a failed batch before it goes to the on-failure destination (mapper and reducer; bisecting does not count). Unlimited: a batch is retried until it succeeds or leaves the stream, so an outage shorter than streamRetention loses nothing (a poison record is rejected by the mapper, never retried). A finite value skips batches after that many retries: run `npm run replay`.'),
  maxRecordAge: unlimitedOr(seconds('job', 60, 7 * DAY, HOUR, ''), 'Records older than this skip to the on-failure destination (mapper and reducer). Unlimited: until they leave the stream. At most streamRetention; skipped batches need `npm run replay`.'),
  mapperMemoryMb: int('job', 128, 10_240, 1024, 'Mapper memory (MB); CPU scales with it.'),
  reducerMemoryMb: int('job', 128, 10_240, 1024, 'Reducer memory (MB).'),
  closerMemoryMb: int('job', 128, 10_240, 512, 'Closer memory (MB).'),
  mapperTimeout: seconds('job', 1, 900, 60, 'Mapper timeout.'),
  reducerTimeout: seconds('job', 1, 900, 60, 'Reducer timeout.'),
  closerTimeout: seconds('job', 1, 900, 60, 'Closer timeout.'),
  closerReservedConcurrency: optional(int('job', 1, 1000, 1), 1, 'Reserved concurrency of the closer (default 1: one closer at a time; its conditional writes make more safe but wasteful). null: none — needed on accounts whose concurrency limit is 10.'),
  closedRetentionDays: int('job', CLOSED_RETENTION_DAYS.min, CLOSED_RETENTION_DAYS.max, CLOSED_RETENTION_DAYS.default, 'Days a CLOSED window item is kept for late detection before TTL removes it (RIFFLE_CLOSED_RETENTION_DAYS).'),
  logRetentionDays: oneOf('job', LOG_RETENTION_DAYS, 30, "Retention of the job's function and Firehose log groups."),
  logLevel: oneOf('job', ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const, 'INFO', 'POWERTOOLS_LOG_LEVEL of the functions.'),
  // Dynamic partitioning requires a buffer of at least 64 MiB and 60 s on AWS.
  firehoseBufferInterval: seconds('job', 60, 900, LATENCY_PROFILES.balanced.firehoseBufferInterval, '(profile) Firehose buffering interval: the longest an output record waits before it is written to S3.'),
  firehoseBufferSizeMb: int('job', 64, 128, LATENCY_PROFILES.balanced.firehoseBufferSizeMb, '(profile) Firehose buffering size (MiB).'),
  queryStartDate: isoDate('job', '2025-01-01', "First day Athena's partition projection covers: results of older windows are invisible to Athena. Unfiltered queries list one S3 prefix per hour since this day, so keep it recent."),
  iteratorAgeAlarm: seconds('job', 60, 7 * DAY, 5 * 60, 'Alarm when the mapper or reducer falls this far behind its stream (IteratorAge).'),
  rejectedRateAlarmPercent: decimal('job', 0, 100, 1, 'Alarm when more than this percentage of input records is rejected in 5 minutes.'),
} as const;

type Settings = typeof SETTINGS;
type SettingName = keyof Settings;
type ValueOf<X> = X extends Setting<infer T, Scope> ? T : never;
type SettingsOf<S extends Scope> = {
  readonly [K in SettingName as Settings[K]['scope'] extends S ? K : never]: ValueOf<Settings[K]>;
};

export type SourceSettings = SettingsOf<'source'>;
export type JobSettings = SettingsOf<'job'>;

const NAMES = Object.keys(SETTINGS) as SettingName[];
const SOURCE_NAMES = NAMES.filter((n) => SETTINGS[n].scope === 'source');
const JOB_NAMES = NAMES.filter((n) => SETTINGS[n].scope === 'job');
/** The settings a latency profile sets, and the profile field each one takes its value from. */
const PROFILE_FIELDS = {
  mapperBatchSize: 'mapperBatchSize',
  mapperBatchingWindow: 'mapperBatchingWindow',
  reducerBatchSize: 'reducerBatchSize',
  reducerBatchingWindow: 'reducerBatchingWindow',
  enhancedFanOut: 'enhancedFanOut',
  closerInterval: 'closerIntervalSeconds',
  firehoseBufferInterval: 'firehoseBufferInterval',
  firehoseBufferSizeMb: 'firehoseBufferSizeMb',
} as const satisfies Partial<Record<SettingName, keyof LatencyProfile>>;

/** Settings that size a provisioned stream: setting them with on-demand streams is a mistake worth reporting. */
const SHARD_SETTINGS = new Set<SettingName>(['inputShards', 'shuffleShards']);

// ---------------------------------------------------------------------------------------------
// Plans.

export interface JobPlan {
  readonly job: JobDescriptor;
  readonly settings: JobSettings;
}

export interface SourcePlan {
  readonly source: string;
  readonly stackName: string;
  readonly settings: SourceSettings;
  readonly jobs: readonly JobPlan[];
}

export interface DeploymentPlan {
  readonly sources: readonly SourcePlan[];
}

/** The raw context values, as read from cdk.json or `-c` on the command line. */
export interface RiffleContext {
  /** `riffle:jobs`: array of names, or a comma list / JSON array string from `-c`. */
  readonly jobs: unknown;
  /** `riffle:config`: object, or a JSON string from `-c`. */
  readonly config?: unknown;
  /** Flat overrides `riffle:config.<job-or-source>.<setting>` from `-c`, keyed by the part after `riffle:config.`. */
  readonly overrides?: Readonly<Record<string, unknown>>;
}

export const JOBS_CONTEXT = 'riffle:jobs';
export const CONFIG_CONTEXT = 'riffle:config';
/** Key of riffle:config whose settings apply to every job and source. */
export const ALL_KEY = '*';

/** Stack name for a source: one stack per input stream. */
export function stackName(source: string): string {
  return `Riffle-${source}`;
}

/** Which jobs to deploy: validated names from `riffle:jobs`, in the given order, without duplicates. */
export function selectJobs(raw: unknown, known: readonly string[]): string[] {
  const hint = `set "${JOBS_CONTEXT}" in cdk.json or pass -c ${JOBS_CONTEXT}=<job>[,<job>…]; known jobs: ${known.join(', ')}`;
  let names: unknown[];
  if (raw === undefined || raw === null) throw new ConfigError([`${JOBS_CONTEXT}: no jobs selected; ${hint}`]);
  if (Array.isArray(raw)) names = raw;
  else if (typeof raw === 'string' && raw.trim().startsWith('[')) {
    try {
      names = JSON.parse(raw) as unknown[];
    } catch {
      throw new ConfigError([`${JOBS_CONTEXT}: ${show(raw)} is not a JSON array; write a comma list instead (-c ${JOBS_CONTEXT}=a,b)`]);
    }
    if (!Array.isArray(names)) throw new ConfigError([`${JOBS_CONTEXT}: ${show(raw)} is not a list of job names; ${hint}`]);
  } else if (typeof raw === 'string') names = raw.split(',');
  else throw new ConfigError([`${JOBS_CONTEXT}: ${show(raw)} is not a list of job names; ${hint}`]);

  const selected: string[] = [];
  const problems: string[] = [];
  for (const entry of names) {
    const name = typeof entry === 'string' ? entry.trim() : entry;
    if (name === '') continue;
    if (name === ALL_KEY) {
      for (const job of known) if (!selected.includes(job)) selected.push(job);
    } else if (typeof name !== 'string' || !known.includes(name)) {
      problems.push(`${JOBS_CONTEXT}: unknown job ${show(name)}; known jobs: ${known.join(', ')} (defined in jobs/)`);
    } else if (!selected.includes(name)) selected.push(name);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  if (selected.length === 0) throw new ConfigError([`${JOBS_CONTEXT}: no jobs selected; ${hint}`]);
  return selected;
}

/** riffle:config as an object of objects, merged with the flat command-line overrides. */
function configObject(raw: unknown, overrides: Readonly<Record<string, unknown>>): Record<string, Record<string, unknown>> {
  let config: unknown = raw ?? {};
  if (typeof config === 'string') {
    try {
      config = JSON.parse(config);
    } catch {
      throw new ConfigError([`${CONFIG_CONTEXT}: not valid JSON; pass an object such as -c '${CONFIG_CONTEXT}={"sensor-averages":{"inputShards":2}}'`]);
    }
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ConfigError([`${CONFIG_CONTEXT}: must be an object of job or source names to settings, e.g. { "sensor-averages": { "inputShards": 2 } }`]);
  }
  const merged: Record<string, Record<string, unknown>> = {};
  const problems: string[] = [];
  for (const [key, settings] of Object.entries(config)) {
    if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
      problems.push(`${CONFIG_CONTEXT}.${key}: must be an object of settings, e.g. { "mapperBatchSize": 500 }`);
      continue;
    }
    merged[key] = { ...(settings as Record<string, unknown>) };
  }
  for (const [path, value] of Object.entries(overrides)) {
    const dot = path.lastIndexOf('.');
    if (dot <= 0) {
      problems.push(`${CONFIG_CONTEXT}.${path}: write -c ${CONFIG_CONTEXT}.<job-or-source>.<setting>=<value>`);
      continue;
    }
    (merged[path.slice(0, dot)] ??= {})[path.slice(dot + 1)] = value;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return merged;
}

function closest(name: string, candidates: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  return candidates.find((c) => c.toLowerCase() === lower) ?? candidates.find((c) => c.toLowerCase().startsWith(lower.slice(0, 6)));
}

/**
 * Validate the selection and configuration and group the jobs into one plan per source (stack).
 * Throws a ConfigError listing every problem found.
 */
export function planDeployment(context: RiffleContext, registry: Readonly<Record<string, JobDescriptor>>): DeploymentPlan {
  const selected = selectJobs(context.jobs, Object.keys(registry)).map((name) => registry[name] as JobDescriptor);
  const config = configObject(context.config, context.overrides ?? {});
  const problems: string[] = [];

  const sources = [...new Set(selected.map((job) => job.source))];
  const selectedNames = new Set(selected.map((job) => job.name));

  // Parsed values per key, only for keys that concern this deployment.
  const parsed = new Map<string, Map<SettingName, unknown>>();
  for (const [key, settings] of Object.entries(config)) {
    const isAll = key === ALL_KEY;
    const isJob = selectedNames.has(key);
    const isSource = sources.includes(key);
    if (!isAll && !isJob && !isSource) {
      if (key in registry) continue; // settings for a job that is not deployed this time
      problems.push(`${CONFIG_CONTEXT}.${key}: '${key}' is not a known job or source; jobs: ${Object.keys(registry).join(', ')}; use "${ALL_KEY}" for settings of every job`);
      continue;
    }
    const values = new Map<SettingName, unknown>();
    for (const [name, raw] of Object.entries(settings)) {
      const path = `${CONFIG_CONTEXT}.${key}.${name}`;
      if (!(name in SETTINGS)) {
        const suggestion = closest(name, NAMES);
        problems.push(`${path}: unknown setting; ${suggestion ? `did you mean '${suggestion}'?` : `settings: ${NAMES.join(', ')}`}`);
        continue;
      }
      const setting = SETTINGS[name as SettingName];
      if (setting.scope === 'job' && !isAll && !isJob) {
        if (key in registry) continue; // a job that is not deployed this time, named like the source
        problems.push(`${path}: '${name}' is a job setting and '${key}' is only a source here; set it under the job name (${CONFIG_CONTEXT}.<job>.${name})`);
        continue;
      }
      try {
        values.set(name as SettingName, setting.parse(raw));
      } catch (error) {
        if (!(error instanceof Problem)) throw error;
        problems.push(`${path}: ${error.message}`);
      }
    }
    parsed.set(key, values);
  }

  const plans: SourcePlan[] = [];
  for (const source of sources) {
    const jobs = selected.filter((job) => job.source === source);
    // Source settings may be written under the source name or any of its jobs; they must agree.
    const settingKeys = [...new Set([source, ...jobs.map((j) => j.name)])];
    const sourceSettings: Record<string, unknown> = {};
    const explicit = new Set<SettingName>();
    for (const name of SOURCE_NAMES) {
      let value: unknown = parsed.get(ALL_KEY)?.get(name) ?? SETTINGS[name].defaultValue;
      if (parsed.get(ALL_KEY)?.has(name)) explicit.add(name);
      let from: string | undefined;
      for (const key of settingKeys) {
        const values = parsed.get(key);
        if (!values?.has(name)) continue;
        const candidate = values.get(name);
        if (from !== undefined && candidate !== value) {
          problems.push(`${CONFIG_CONTEXT}.${key}.${name}: ${show(candidate)} conflicts with ${CONFIG_CONTEXT}.${from}.${name}: ${show(value)}; jobs ${jobs.map((j) => j.name).join(' and ')} share the stack of source '${source}', so set it once`);
          continue;
        }
        value = candidate;
        from = key;
        explicit.add(name);
      }
      sourceSettings[name] = value;
    }
    const settings = sourceSettings as unknown as SourceSettings;
    if (settings.streamMode === 'on-demand' && explicit.has('inputShards')) {
      problems.push(`${CONFIG_CONTEXT}.${source}.inputShards: applies only to streamMode 'provisioned'; on-demand streams scale their shards themselves — remove it or set streamMode 'provisioned'`);
    }

    const jobPlans: JobPlan[] = [];
    for (const job of jobs) {
      const jobSettings: Record<string, unknown> = {};
      const own = parsed.get(job.name);
      const all = parsed.get(ALL_KEY);
      /** Where a job setting was written, for error messages. */
      const pathOf = (name: SettingName): string => `${CONFIG_CONTEXT}.${own?.has(name) ? job.name : all?.has(name) ? ALL_KEY : job.name}.${name}`;
      // Precedence: the job's own setting > "*" > the job's latency profile > the setting's default.
      const latency = (own?.get('latency') ?? all?.get('latency') ?? defaultLatencyProfile(job.emit)) as keyof typeof LATENCY_PROFILES;
      const profile = LATENCY_PROFILES[latency];
      for (const name of JOB_NAMES) {
        const fromProfile = name in PROFILE_FIELDS ? profile[PROFILE_FIELDS[name as keyof typeof PROFILE_FIELDS]] : undefined;
        jobSettings[name] = own?.has(name) ? own.get(name) : all?.has(name) ? all.get(name) : name === 'latency' ? latency : (fromProfile ?? SETTINGS[name].defaultValue);
        if (SHARD_SETTINGS.has(name) && settings.streamMode === 'on-demand' && own?.has(name)) {
          problems.push(`${CONFIG_CONTEXT}.${job.name}.${name}: applies only to streamMode 'provisioned'; on-demand streams scale their shards themselves — remove it or set streamMode 'provisioned'`);
        }
      }
      const resolved = jobSettings as { -readonly [K in keyof JobSettings]: JobSettings[K] };
      if (resolved.shuffleBuckets === 0) {
        const shards = settings.streamMode === 'on-demand' ? 4 : resolved.shuffleShards;
        const computed = Math.max(8, 4 * shards * resolved.reducerParallelization);
        if (computed > SHUFFLE_BUCKETS.max) {
          problems.push(
            `${CONFIG_CONTEXT}.${job.name}.shuffleBuckets: the default, 4 × shuffleShards (${shards}) × reducerParallelization (${resolved.reducerParallelization}) = ${computed}, ` +
              `exceeds the ${SHUFFLE_BUCKETS.max} shuffle buckets a mapper accepts (each mapper batch sends one bundle per bucket); ` +
              `set shuffleBuckets to at most ${SHUFFLE_BUCKETS.max} (e.g. "shuffleBuckets": ${SHUFFLE_BUCKETS.max}), or lower shuffleShards or reducerParallelization`,
          );
        }
        resolved.shuffleBuckets = computed;
      }
      if (resolved.maxRecordAge !== undefined && resolved.maxRecordAge > settings.streamRetention) {
        problems.push(`${pathOf('maxRecordAge')}: ${formatDuration(resolved.maxRecordAge * 1000)} exceeds the streams' retention (streamRetention ${formatDuration(settings.streamRetention * 1000)}); records are gone from the stream before then — lower it or raise streamRetention`);
      }
      jobPlans.push({ job, settings: resolved });
    }
    plans.push({ source, stackName: stackName(source), settings, jobs: jobPlans });
  }
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  return { sources: plans };
}

/** The settings as a Markdown table (name, scope, default, allowed, meaning) for the docs. */
export function settingsTable(): string {
  const rows = NAMES.map((name) => {
    const setting = SETTINGS[name] as Setting<unknown>;
    const fallback = name === 'shuffleBuckets' ? '(computed)' : name === 'latency' ? '(from `emit`)' : name in PROFILE_FIELDS ? '(profile)' : setting.display(setting.defaultValue);
    return `| \`${name}\` | ${setting.scope} | ${fallback} | ${setting.allowed} | ${setting.doc} |`;
  });
  return ['| setting | scope | default | allowed | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}
