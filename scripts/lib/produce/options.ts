// `npm run produce` options: the command's spec (its --help) and the validation of a parsed
// command line into ProduceOptions; every error is a UsageError saying what to write instead.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseDuration } from '../../../functions/core/duration';
import { parseEventTime } from '../../../functions/core/event-time';
import { jobs } from '../../../jobs';
import { type CommandSpec, type Parsed, UsageError } from '../cli';
import { GENERATORS } from '../generators';
import { isTargetName, TARGET_NAMES, type TargetName } from '../targets';

/** clickstream-sessions reads clickstream's stream; the registry knows every job's source. */
const JOB_NAMES = Object.keys(jobs);

export const produceSpec: CommandSpec = {
  name: 'npm run produce --',
  summary: "send generated or recorded events to a job's input stream (embedded local cloud, LocalStack or AWS)",
  usage: 'npm run produce -- --job <name> --count <n> [options]   |   npm run produce -- --job <name> --file events.jsonl|.csv',
  options: {
    job: { type: 'string', description: `job whose input stream receives the events (${JOB_NAMES.join(', ')})` },
    count: { type: 'string', description: 'records to send (generated), or the most lines to send from --file', integer: { min: 1 } },
    duration: { type: 'string', description: 'event times span this long, ending at --end (generated events)', default: '60m' },
    end: { type: 'string', description: 'ISO-8601 time the event times end at (generated events)', default: 'now' },
    rate: { type: 'string', description: 'send at most this many records per second, e.g. 1000/s (also /m, /h)', default: 'unlimited' },
    'max-delay': { type: 'string', description: 'disorder: each event time is up to this much older than its position', default: '0s' },
    'late-fraction': { type: 'string', description: "fraction of events older than every window + allowed lateness on the stream (0–1 or 1%)", default: '0' },
    'duplicate-fraction': { type: 'string', description: 'fraction of records that resend a recent record byte for byte', default: '0' },
    'bad-fraction': { type: 'string', description: 'fraction of malformed records: bad JSON, wrong types, missing fields, invalid UTF-8, empty', default: '0' },
    aggregate: { type: 'boolean', description: 'pack user records into KPL aggregates (≤ 50 KiB each, grouped by shard)' },
    file: { type: 'string', description: 'replay a .jsonl (one event per line, sent as-is) or .csv (header row) file instead of generating' },
    'key-field': { type: 'string', description: "field whose value is the partition key for --file (default: the job's entity id)" },
    log: { type: 'string', description: 'write every record sent, with its shard and sequence number, to this JSONL file' },
    seed: { type: 'string', description: 'random seed: the same seed, --end and options give the same records', default: 'random', integer: { min: 0, max: 2 ** 31 - 1 } },
    target: { type: 'string', description: 'where to send', default: 'local', choices: TARGET_NAMES },
    endpoint: { type: 'string', description: 'endpoint of the local target (default http://127.0.0.1:4566; LocalStack http://localhost:4566)' },
    region: { type: 'string', description: 'AWS region (default: AWS_REGION or your profile; us-east-1 locally)' },
    outputs: { type: 'string', description: "deploy outputs file to read names from (default: the target's: .riffle/outputs.json, .riffle/localstack-outputs.json, cdk-outputs.json)" },
    stream: { type: 'string', description: "send to this stream instead of the job's input stream from the deploy outputs" },
    concurrency: { type: 'string', description: 'PutRecords calls in flight (more is faster, but reorders records across calls)', default: '1', integer: { min: 1, max: 64 } },
  },
  examples: [
    'npm run produce -- --job clickstream --count 10000',
    'npm run produce -- --job sensor-averages --count 100000 --duration 2h --rate 1000/s --max-delay 20s',
    'npm run produce -- --job trending-hashtags --count 5000 --late-fraction 1% --duplicate-fraction 1% --bad-fraction 1% --log sent.jsonl',
    'npm run produce -- --job sensor-averages --file readings.csv --target localstack',
    'npm run produce -- --job clickstream --count 1000000 --aggregate --target aws',
  ],
};

export interface ProduceOptions {
  job: string;
  target: TargetName;
  endpoint?: string;
  region?: string;
  outputs?: string;
  stream?: string;
  /** Records to send; for --file the most lines to send (undefined: all). */
  count?: number;
  durationMs: number;
  endMs: number;
  /** Records per second; undefined: as fast as the stream takes them. */
  ratePerSec?: number;
  maxDelayMs: number;
  lateFraction: number;
  duplicateFraction: number;
  badFraction: number;
  aggregate: boolean;
  file?: string;
  keyField?: string;
  log?: string;
  seed: number;
  concurrency: number;
}

const GENERATOR_ONLY = ['duration', 'end', 'max-delay', 'late-fraction', 'duplicate-fraction', 'bad-fraction', 'seed'] as const;

function str(parsed: Parsed, name: string): string | undefined {
  const v = parsed.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** '1000/s', '1000', '60000/m', '3.6M/h' (k/M suffixes) → records per second. */
export function parseRate(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKM]?)(?:\/(s|sec|m|min|h|hour))?$/.exec(text.trim());
  const fix = 'write records per second like --rate 1000/s (or per minute/hour: 600/m, 36000/h)';
  if (!m) throw new UsageError(`--rate '${text}' is not a rate; ${fix}`);
  const scale = m[2] === 'k' || m[2] === 'K' ? 1e3 : m[2] === 'M' ? 1e6 : 1;
  const per = m[3] === undefined || m[3] === 's' || m[3] === 'sec' ? 1 : m[3] === 'h' || m[3] === 'hour' ? 3600 : 60;
  const rate = (Number(m[1]) * scale) / per;
  if (!(rate > 0)) throw new UsageError(`--rate must be more than 0; ${fix}`);
  return rate;
}

/** '0.01' or '1%' → 0.01. */
export function parseFraction(name: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(text.trim());
  const value = m ? Number(m[1]) / (m[2] ? 100 : 1) : Number.NaN;
  if (!(value >= 0 && value <= 1)) {
    throw new UsageError(`--${name} must be a fraction from 0 to 1 or a percentage, got '${text}' (e.g. --${name} 0.01 or --${name} 1%)`);
  }
  return value;
}

function parseDurationOption(name: string, text: string): number {
  try {
    return parseDuration(text, `--${name}`);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** ISO-8601 with a zone (or 'now'), for --end. */
function parseEnd(text: string, nowMs: number): number {
  if (text === 'now') return nowMs;
  const parsed = typeof text === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(text) ? parseEventTime(text) : { ok: false as const, reason: 'not an ISO-8601 time' };
  if (!parsed.ok) throw new UsageError(`--end '${text}' is ${parsed.reason}; write an ISO-8601 time with a zone, e.g. --end 2026-01-01T12:00:00Z (default: now)`);
  // Jobs reject events more than 1 h ahead of the wall clock (maxFutureSkew): keep every event valid.
  if (parsed.ms > nowMs + 3_600_000) throw new UsageError(`--end ${text} is more than 1 hour in the future; the jobs would reject those events (maxFutureSkew 1h); use a time up to now`);
  return parsed.ms;
}

/** Validates the parsed command line; every error says what to write instead. */
export function produceOptions(parsed: Parsed, nowMs = Date.now(), randomSeed = () => Math.floor(Math.random() * 2 ** 31)): ProduceOptions {
  const job = str(parsed, 'job');
  if (job === undefined) throw new UsageError(`--job is required: the job whose input stream receives the events (one of: ${JOB_NAMES.join(', ')}), e.g. --job clickstream`);
  if (!jobs[job]) throw new UsageError(`unknown job '${job}'; jobs (defined in jobs/): ${JOB_NAMES.join(', ')}`);
  const target = str(parsed, 'target') ?? 'local';
  if (!isTargetName(target)) throw new UsageError(`--target must be one of ${TARGET_NAMES.join(', ')}, got '${target}'`);
  const file = str(parsed, 'file');
  const count = str(parsed, 'count') === undefined ? undefined : Number((str(parsed, 'count') as string).replace(/_/g, ''));
  if (file !== undefined) {
    for (const name of GENERATOR_ONLY) {
      if (parsed.values[name] !== undefined) throw new UsageError(`--${name} applies to generated events; --file replays the file as-is — remove --${name} or --file`);
    }
    const ext = path.extname(file).toLowerCase();
    if (!['.jsonl', '.ndjson', '.json', '.csv'].includes(ext)) throw new UsageError(`--file ${file}: unknown format '${ext || '(no extension)'}'; use a .jsonl file (one JSON event per line) or a .csv file with a header row`);
    if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`--file ${file}: no such file (paths are relative to ${process.cwd()})`);
  } else {
    if (!GENERATORS[job]) throw new UsageError(`there is no generator for job '${job}' (generators: ${Object.keys(GENERATORS).join(', ')}); send your own events with --file events.jsonl`);
    if (count === undefined) throw new UsageError('--count is required: how many records to generate, e.g. --count 10000 (or replay a file with --file events.jsonl)');
  }
  const lateFraction = parseFraction('late-fraction', str(parsed, 'late-fraction') ?? '0');
  const duplicateFraction = parseFraction('duplicate-fraction', str(parsed, 'duplicate-fraction') ?? '0');
  const badFraction = parseFraction('bad-fraction', str(parsed, 'bad-fraction') ?? '0');
  if (lateFraction + duplicateFraction + badFraction > 1) {
    throw new UsageError(`--late-fraction + --duplicate-fraction + --bad-fraction is ${+(lateFraction + duplicateFraction + badFraction).toFixed(6)}, more than 1; they are shares of the same records, so lower them`);
  }
  const durationMs = parseDurationOption('duration', str(parsed, 'duration') ?? '60m');
  if (durationMs <= 0) throw new UsageError('--duration must be more than 0, e.g. --duration 60m');
  const maxDelayMs = parseDurationOption('max-delay', str(parsed, 'max-delay') ?? '0s');
  if (maxDelayMs > durationMs) throw new UsageError(`--max-delay (${str(parsed, 'max-delay')}) is longer than --duration (${str(parsed, 'duration') ?? '60m'}); lower it or lengthen --duration`);
  const rate = str(parsed, 'rate');
  const endpoint = str(parsed, 'endpoint');
  if (endpoint !== undefined && target === 'aws') throw new UsageError('--endpoint is for --target local or localstack; AWS endpoints follow the region (use --region)');
  const stream = str(parsed, 'stream');
  const keyField = str(parsed, 'key-field');
  if (keyField !== undefined && file === undefined) throw new UsageError("--key-field applies to --file; generated events use the job's entity id as the partition key");
  const log = str(parsed, 'log');
  if (log !== undefined && (log === '' || (existsSync(log) && statSync(log).isDirectory()))) throw new UsageError(`--log ${log}: give a file name, e.g. --log sent.jsonl`);
  if (log !== undefined && !existsSync(path.dirname(path.resolve(log)))) throw new UsageError(`--log ${log}: the directory ${path.dirname(path.resolve(log))} does not exist; create it or write the log elsewhere`);
  const seed = str(parsed, 'seed');
  const region = str(parsed, 'region');
  const outputs = str(parsed, 'outputs');
  return {
    job,
    target,
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(region !== undefined ? { region } : {}),
    ...(outputs !== undefined ? { outputs } : {}),
    ...(stream !== undefined ? { stream } : {}),
    ...(count !== undefined ? { count } : {}),
    durationMs,
    endMs: parseEnd(str(parsed, 'end') ?? 'now', nowMs),
    ...(rate !== undefined ? { ratePerSec: parseRate(rate) } : {}),
    maxDelayMs,
    lateFraction,
    duplicateFraction,
    badFraction,
    aggregate: parsed.values.aggregate === true,
    ...(file !== undefined ? { file } : {}),
    ...(keyField !== undefined ? { keyField } : {}),
    ...(log !== undefined ? { log } : {}),
    seed: seed === undefined ? randomSeed() : Number(seed),
    concurrency: Number(str(parsed, 'concurrency') ?? '1'),
  };
}
