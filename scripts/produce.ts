// `npm run produce` — send events to a job's input stream on any target: generated ones (per
// example job, deterministic given --seed, with optional disorder, late events, duplicates and
// malformed records) or a JSONL/CSV file replayed as-is. PutRecords in batches of ≤ 500 records /
// 5 MiB, retrying only the failed entries with jittered exponential backoff; optional KPL
// aggregation; a progress line; a summary; a non-zero exit when any record was not accepted.
// `--log FILE` records exactly what was sent (one JSON line per user record, with the shard and
// sequence number Kinesis assigned) for the correctness verifier.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, statSync, type WriteStream } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { KinesisClient, ListShardsCommand, PutRecordsCommand, type ListShardsCommandOutput } from '@aws-sdk/client-kinesis';
import { z } from 'zod';
import { parseDuration } from '../functions/core/duration';
import { parseEventTime } from '../functions/core/event-time';
import { encodeAggregate } from '../functions/core/kpl';
import { jobs } from '../jobs';
import { type CommandSpec, type Parsed, parseCommand, runMain, UsageError } from './lib/cli';
import { GENERATORS, generateRecords, type ProducedRecord, type RecordFlag } from './lib/generators';
import { endpointWarning, explainError, isTargetName, jobOutput, resolveTarget, TARGET_NAMES, type Target, type TargetName } from './lib/targets';

export const PUT_RECORDS_MAX_RECORDS = 500;
export const PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024;
/** Data + partition key of one Kinesis record. */
export const RECORD_MAX_BYTES = 1024 * 1024;
/** KPL's default AggregationMaxSize. */
export const AGGREGATE_MAX_BYTES = 51_200;
const MAX_ATTEMPTS = 10;
const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 5_000;
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

// ---------------------------------------------------------------------------------------------
// Options

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

// ---------------------------------------------------------------------------------------------
// Sources

/** Generated records, or the lines of --file. */
export function recordSource(options: ProduceOptions): AsyncIterable<ProducedRecord> | Iterable<ProducedRecord> {
  if (options.file !== undefined) return fileRecords(options.file, options.job, options.keyField, options.count);
  return generateRecords({
    job: options.job,
    count: options.count as number,
    durationMs: options.durationMs,
    endMs: options.endMs,
    seed: options.seed,
    maxDelayMs: options.maxDelayMs,
    lateFraction: options.lateFraction,
    duplicateFraction: options.duplicateFraction,
    badFraction: options.badFraction,
  });
}

/** What a CSV cell becomes, per schema field: numbers and booleans where the schema takes them. */
type CellType = 'number' | 'boolean' | 'string';

function fieldTypes(schema: unknown): Map<string, Set<CellType>> {
  const types = new Map<string, Set<CellType>>();
  if (!(schema instanceof z.ZodObject)) return types;
  const collect = (t: unknown, into: Set<CellType>): void => {
    if (t instanceof z.ZodOptional || t instanceof z.ZodNullable) collect(t.unwrap(), into);
    else if (t instanceof z.ZodUnion) for (const o of t.options) collect(o, into);
    else if (t instanceof z.ZodNumber) into.add('number');
    else if (t instanceof z.ZodBoolean) into.add('boolean');
    else into.add('string');
  };
  for (const [name, t] of Object.entries(schema.shape as Record<string, unknown>)) {
    const set = new Set<CellType>();
    collect(t, set);
    types.set(name, set);
  }
  return types;
}

const NUMERIC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** One CSV row → the event object; empty cells are left out (optional fields). */
export function csvRowToEvent(header: readonly string[], cells: readonly string[], types: Map<string, Set<CellType>>): Record<string, unknown> {
  const event: Record<string, unknown> = {};
  header.forEach((name, i) => {
    const cell = cells[i] ?? '';
    if (cell === '') return;
    const accepts = types.get(name);
    if (accepts?.has('number') && NUMERIC.test(cell)) event[name] = Number(cell);
    else if (accepts?.has('boolean') && (cell === 'true' || cell === 'false')) event[name] = cell === 'true';
    else event[name] = cell;
  });
  return event;
}

/** RFC 4180 fields of one record (quotes doubled inside quoted fields). */
export function parseCsvRecord(text: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"' && cell === '') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else cell += c;
  }
  cells.push(cell);
  return cells;
}

function keyFieldOf(job: string, keyField: string | undefined): string | undefined {
  return keyField ?? GENERATORS[job]?.keyField;
}

function partitionKeyOf(event: unknown, field: string | undefined, line: number): string {
  const value = field !== undefined && event && typeof event === 'object' ? (event as Record<string, unknown>)[field] : undefined;
  const key = typeof value === 'string' || typeof value === 'number' ? String(value) : '';
  // Kinesis partition keys are 1–256 characters; lines without one spread by line number.
  return key.length > 0 && key.length <= 256 ? key : `line-${line}`;
}

async function* fileRecords(file: string, job: string, keyField: string | undefined, limit: number | undefined): AsyncGenerator<ProducedRecord> {
  const csv = path.extname(file).toLowerCase() === '.csv';
  const field = keyFieldOf(job, keyField);
  const types = fieldTypes(jobs[job]?.schema);
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  let header: string[] | undefined;
  let pending = '';
  let lineNo = 0;
  let n = 0;
  for await (const raw of lines) {
    lineNo++;
    if (limit !== undefined && n >= limit) break;
    if (!csv) {
      if (raw.trim() === '') continue;
      let event: unknown;
      try {
        event = JSON.parse(raw);
      } catch {
        // Sent as-is all the same: replaying a file must not fix it (the mapper rejects it with a reason).
      }
      const t = event && typeof event === 'object' ? parseEventTime((event as Record<string, unknown>).ts) : undefined;
      yield { n: n++, partitionKey: partitionKeyOf(event, field, lineNo), data: Buffer.from(raw), flag: 'ok', ...(t?.ok ? { eventTime: t.ms } : {}) };
      continue;
    }
    // A quoted CSV field may span lines: gather until the quotes balance.
    pending = pending === '' ? raw : `${pending}\n${raw}`;
    if ((pending.match(/"/g)?.length ?? 0) % 2 === 1) continue;
    const record = pending;
    pending = '';
    if (record.trim() === '') continue;
    const cells = parseCsvRecord(record);
    if (header === undefined) {
      header = cells.map((c) => c.trim());
      if (field !== undefined && !header.includes(field)) {
        throw new UsageError(`--file ${file}: the header has no '${field}' column for the partition key (header: ${header.join(', ')}); add it or pass --key-field <column>`);
      }
      continue;
    }
    const event = csvRowToEvent(header, cells, types);
    const t = parseEventTime(event.ts);
    yield { n: n++, partitionKey: partitionKeyOf(event, field, lineNo), data: Buffer.from(JSON.stringify(event)), flag: 'ok', ...(t.ok ? { eventTime: t.ms } : {}) };
  }
  if (pending.trim() !== '') throw new UsageError(`--file ${file}: unterminated quoted field at the end of the file (line ${lineNo}); close the quote`);
}

// ---------------------------------------------------------------------------------------------
// Sending

/** One Kinesis record: a user record, or a KPL aggregate of several. */
interface Entry {
  partitionKey: string;
  data: Buffer;
  members: ProducedRecord[];
  aggregated: boolean;
  error?: string;
}

export interface ShardRange {
  shardId: string;
  start: bigint;
  end: bigint;
}

/** Open shards and their hash-key ranges (for grouping aggregates by the shard Kinesis will pick). */
export async function openShards(kinesis: KinesisClient, stream: string): Promise<ShardRange[]> {
  const shards: ShardRange[] = [];
  let token: string | undefined;
  do {
    const page: ListShardsCommandOutput = await kinesis.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: stream }));
    for (const s of page.Shards ?? []) {
      if (s.SequenceNumberRange?.EndingSequenceNumber !== undefined || !s.ShardId || !s.HashKeyRange) continue;
      shards.push({ shardId: s.ShardId, start: BigInt(s.HashKeyRange.StartingHashKey ?? '0'), end: BigInt(s.HashKeyRange.EndingHashKey ?? '0') });
    }
    token = page.NextToken;
  } while (token);
  return shards;
}

/** The shard Kinesis routes a partition key to: MD5 of the key as a 128-bit integer, in a shard's range. */
export function shardFor(partitionKey: string, shards: readonly ShardRange[]): string {
  const hash = BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);
  return (shards.find((s) => hash >= s.start && hash <= s.end) ?? shards[0])?.shardId ?? 'unknown';
}

function entryBytes(e: { partitionKey: string; data: Buffer }): number {
  return e.data.length + Buffer.byteLength(e.partitionKey);
}

/** KPL-style aggregation: one open aggregate per shard, flushed at AGGREGATE_MAX_BYTES. */
export function aggregateRecords(records: readonly ProducedRecord[], shards: readonly ShardRange[], maxBytes = AGGREGATE_MAX_BYTES): Entry[] {
  const open = new Map<string, { members: ProducedRecord[]; bytes: number }>();
  const out: Entry[] = [];
  const flush = (shard: string) => {
    const a = open.get(shard);
    if (!a || a.members.length === 0) return;
    open.delete(shard);
    const first = a.members[0] as ProducedRecord;
    // The aggregate's own key is its first member's: it routes to the shard every member maps to.
    out.push({ partitionKey: first.partitionKey, data: encodeAggregate(a.members.map((m) => ({ partitionKey: m.partitionKey, data: m.data }))), members: a.members, aggregated: true });
  };
  for (const r of records) {
    const shard = shardFor(r.partitionKey, shards);
    // Per member: data, key index, framing, and (worst case) a new key-table entry.
    const size = r.data.length + Buffer.byteLength(r.partitionKey) + 16;
    const a = open.get(shard);
    if (a && a.bytes + size > maxBytes) flush(shard);
    const b = open.get(shard) ?? { members: [], bytes: 20 };
    b.members.push(r);
    b.bytes += size;
    open.set(shard, b);
  }
  for (const shard of [...open.keys()]) flush(shard);
  return out;
}

/** Split entries into PutRecords calls: ≤ 500 records and ≤ 5 MiB each, in order. */
export function putRecordsBatches<T extends { partitionKey: string; data: Buffer }>(entries: readonly T[]): T[][] {
  const batches: T[][] = [];
  let batch: T[] = [];
  let bytes = 0;
  for (const e of entries) {
    const size = entryBytes(e);
    if (batch.length > 0 && (batch.length >= PUT_RECORDS_MAX_RECORDS || bytes + size > PUT_RECORDS_MAX_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(e);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** Full-jitter exponential backoff (AWS architecture blog): uniform in [0, min(cap, base·2^attempt)]. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  return random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
}

const RETRYABLE = new Set(['ProvisionedThroughputExceededException', 'KMSThrottlingException', 'LimitExceededException', 'ThrottlingException', 'InternalFailure', 'ServiceUnavailable', 'TimeoutError', 'RequestTimeout', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

function isRetryable(error: unknown): boolean {
  const e = error as { name?: string; code?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  return RETRYABLE.has(e.name ?? '') || RETRYABLE.has(e.code ?? '') || e.$retryable !== undefined || (e.$metadata?.httpStatusCode ?? 0) >= 500;
}

export interface ProduceStats {
  /** User records accepted by Kinesis. */
  sent: number;
  /** User records sent again after a failed attempt. */
  retried: number;
  /** User records not accepted after every attempt. */
  failed: number;
  /** Kinesis records accepted (aggregates count once). */
  kinesisRecords: number;
  bytes: number;
  putRecordsCalls: number;
  byFlag: Record<RecordFlag, number>;
}

export interface ProduceSummary extends ProduceStats {
  seconds: number;
  interrupted: boolean;
}

export interface SendOptions {
  kinesis: KinesisClient;
  stream: string;
  records: AsyncIterable<ProducedRecord> | Iterable<ProducedRecord>;
  aggregate?: boolean;
  ratePerSec?: number;
  concurrency?: number;
  maxAttempts?: number;
  /** Write what was sent (JSON lines) here. */
  log?: WriteStream;
  onProgress?: (stats: ProduceStats) => void;
  /** Polled between calls; true stops sending (in-flight calls finish). */
  shouldStop?: () => boolean;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One log line per user record: what was sent, and where Kinesis put it. */
export function logLine(record: ProducedRecord, entry: { aggregated: boolean; error?: string }, index: number, shardId?: string, sequenceNumber?: string): string {
  const line: Record<string, unknown> = { n: record.n, flag: record.flag };
  if (record.badKind !== undefined) line.badKind = record.badKind;
  if (record.duplicateOf !== undefined) line.duplicateOf = record.duplicateOf;
  line.partitionKey = record.partitionKey;
  if (sequenceNumber !== undefined) {
    line.shardId = shardId;
    line.sequenceNumber = sequenceNumber;
    // The mapper identifies user records by (sequence number, sub-sequence): 0 when not aggregated.
    line.subSequenceNumber = entry.aggregated ? index : 0;
  } else {
    line.error = entry.error ?? 'not accepted';
  }
  line.aggregated = entry.aggregated;
  if (record.eventTime !== undefined) line.eventTime = record.eventTime;
  // Text payloads stay readable (and DuckDB can json_extract them); bad or binary ones are base64.
  if (record.flag !== 'bad' && isUtf8(record.data)) line.payload = record.data.toString('utf8');
  else line.payloadBase64 = record.data.toString('base64');
  return `${JSON.stringify(line)}\n`;
}

/** Sends every record; resolves with the counts. Throws on a non-retryable error (missing stream, access denied). */
export async function sendRecords(options: SendOptions): Promise<ProduceSummary> {
  const started = Date.now();
  const sleep = options.sleep ?? defaultSleep;
  const maxAttempts = options.maxAttempts ?? MAX_ATTEMPTS;
  const concurrency = options.concurrency ?? 1;
  const stats: ProduceStats = { sent: 0, retried: 0, failed: 0, kinesisRecords: 0, bytes: 0, putRecordsCalls: 0, byFlag: { ok: 0, late: 0, duplicate: 0, bad: 0 } };
  const shards = options.aggregate ? await openShards(options.kinesis, options.stream) : [];
  if (options.aggregate && shards.length === 0) throw new Error(`stream ${options.stream} has no open shards to aggregate for`);
  // Records taken per round: a fifth of a second's worth when rate-limited (smooth pacing), else
  // enough for full PutRecords calls (many more when aggregating: ~600 readings fit in 50 KiB).
  const chunk = options.ratePerSec !== undefined ? Math.max(1, Math.min(options.aggregate ? 20_000 : 500, Math.ceil(options.ratePerSec / 5))) : options.aggregate ? 20_000 : 500;
  const inFlight = new Set<Promise<void>>();
  let dispatched = 0;
  let fatal: unknown;
  let interrupted = false;

  const writeLog = async (entry: Entry, shardId?: string, seq?: string) => {
    if (!options.log) return;
    const text = entry.members.map((m, i) => logLine(m, entry, i, shardId, seq)).join('');
    if (!options.log.write(text)) await new Promise<void>((resolve) => options.log?.once('drain', resolve));
  };

  const put = async (batch: Entry[]) => {
    let pending = batch;
    for (let attempt = 1; pending.length > 0; attempt++) {
      let failed: Entry[] = [];
      try {
        stats.putRecordsCalls++;
        const response = await options.kinesis.send(new PutRecordsCommand({ StreamName: options.stream, Records: pending.map((e) => ({ PartitionKey: e.partitionKey, Data: e.data })) }));
        const results = response.Records ?? [];
        for (let j = 0; j < pending.length; j++) {
          const e = pending[j] as Entry;
          const r = results[j];
          if (!r || r.ErrorCode || !r.SequenceNumber) {
            e.error = r ? `${r.ErrorCode ?? 'Error'}: ${r.ErrorMessage ?? ''}`.trim() : 'missing from the PutRecords response';
            failed.push(e);
            continue;
          }
          stats.sent += e.members.length;
          stats.kinesisRecords++;
          stats.bytes += e.data.length;
          for (const m of e.members) stats.byFlag[m.flag]++;
          await writeLog(e, r.ShardId, r.SequenceNumber);
        }
      } catch (error) {
        if (!isRetryable(error)) throw error;
        const message = `${(error as Error).name}: ${(error as Error).message}`;
        for (const e of pending) e.error = message;
        failed = pending;
      }
      if (failed.length === 0) return;
      const failedUsers = failed.reduce((n, e) => n + e.members.length, 0);
      if (attempt >= maxAttempts) {
        stats.failed += failedUsers;
        for (const e of failed) await writeLog(e);
        return;
      }
      stats.retried += failedUsers;
      options.onProgress?.(stats);
      await sleep(backoffMs(attempt));
      pending = failed;
    }
  };

  const dispatch = async (batch: Entry[]) => {
    const users = batch.reduce((n, e) => n + e.members.length, 0);
    if (options.ratePerSec !== undefined) {
      const due = started + ((dispatched + users) / options.ratePerSec) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
    }
    dispatched += users;
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (fatal !== undefined) return;
    const p: Promise<void> = put(batch).then(
      () => {
        inFlight.delete(p);
        options.onProgress?.(stats);
      },
      (error: unknown) => {
        inFlight.delete(p);
        fatal ??= error;
      },
    );
    inFlight.add(p);
  };

  let buffer: ProducedRecord[] = [];
  const flush = async () => {
    const records = buffer;
    buffer = [];
    for (const r of records) {
      if (entryBytes(r) > RECORD_MAX_BYTES) throw new UsageError(`record ${r.n + 1} is ${entryBytes(r).toLocaleString()} bytes with its partition key; Kinesis records are at most 1 MiB — split it`);
    }
    const entries: Entry[] = options.aggregate ? aggregateRecords(records, shards) : records.map((r) => ({ partitionKey: r.partitionKey, data: r.data, members: [r], aggregated: false }));
    for (const batch of putRecordsBatches(entries)) {
      if (fatal !== undefined) return;
      await dispatch(batch);
    }
  };

  for await (const record of options.records as AsyncIterable<ProducedRecord>) {
    buffer.push(record);
    if (buffer.length >= chunk) await flush();
    if (fatal !== undefined) break;
    if (options.shouldStop?.()) {
      interrupted = true;
      break;
    }
  }
  if (fatal === undefined && buffer.length > 0) await flush();
  await Promise.all(inFlight);
  if (fatal !== undefined) throw fatal;
  return { ...stats, seconds: (Date.now() - started) / 1000, interrupted };
}

// ---------------------------------------------------------------------------------------------
// Progress and summary

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A live progress line on a TTY (redrawn in place), plain periodic lines otherwise. */
export class ProgressLine {
  /** Starts now: the first plain line comes after one interval, not with 0 records sent. */
  private last: number;
  private readonly samples: { at: number; sent: number }[] = [];
  private drawn = false;
  constructor(
    private readonly out: { write(text: string): unknown; isTTY?: boolean },
    private readonly total: number | undefined,
    private readonly label: string,
    private readonly now: () => number = Date.now,
  ) {
    this.last = now();
  }

  /** Records per second over the last ~2 s. */
  rate(sent: number): number {
    const at = this.now();
    this.samples.push({ at, sent });
    while (this.samples.length > 2 && at - (this.samples[0] as { at: number }).at > 2_000) this.samples.shift();
    const first = this.samples[0] as { at: number; sent: number };
    return at > first.at ? ((sent - first.sent) * 1000) / (at - first.at) : 0;
  }

  update(stats: ProduceStats, force = false): void {
    const at = this.now();
    const rate = this.rate(stats.sent);
    const interval = this.out.isTTY ? 100 : 5_000;
    if (!force && at - this.last < interval) return;
    this.last = at;
    const done = stats.sent + stats.failed;
    const pct = this.total ? Math.min(100, (100 * done) / this.total) : undefined;
    const counts = `${fmt(stats.sent)}${this.total ? `/${fmt(this.total)}` : ''} · ${fmt(rate)} rec/s · retried ${fmt(stats.retried)} · failed ${fmt(stats.failed)}`;
    if (this.out.isTTY) {
      const width = 24;
      const filled = pct === undefined ? 0 : Math.round((pct / 100) * width);
      const bar = pct === undefined ? '' : `▕${'█'.repeat(filled)}${'░'.repeat(width - filled)}▏ ${pct.toFixed(0).padStart(3)}% `;
      const eta = pct !== undefined && rate > 0 && this.total ? ` · ETA ${Math.ceil((this.total - done) / rate)}s` : '';
      this.out.write(`\r\x1b[2K${this.label} ${bar}${counts}${eta}`);
      this.drawn = true;
    } else {
      this.out.write(`${this.label}: ${pct !== undefined ? `${pct.toFixed(0)}% ` : ''}${counts}\n`);
    }
  }

  finish(): void {
    if (this.drawn) this.out.write('\r\x1b[2K');
  }
}

export function summaryText(s: ProduceSummary, context: { stream: string; target: string; aggregate: boolean; log?: string; seed?: number; file?: string }): string {
  const rate = s.seconds > 0 ? s.sent / s.seconds : s.sent;
  const events = s.byFlag.ok + s.byFlag.late + s.byFlag.duplicate;
  const lines = [
    `${s.interrupted ? 'interrupted: ' : ''}sent ${fmt(s.sent)} records to ${context.stream} (--target ${context.target}) in ${s.seconds.toFixed(1)} s — ${fmt(rate)} records/s`,
    `  events ${fmt(events)} (late ${fmt(s.byFlag.late)}, duplicates ${fmt(s.byFlag.duplicate)}) · malformed ${fmt(s.byFlag.bad)} · ${fmt(s.kinesisRecords)} Kinesis records${context.aggregate ? ' (KPL aggregates)' : ''} in ${fmt(s.putRecordsCalls)} PutRecords calls`,
    `  retried ${fmt(s.retried)} · failed ${fmt(s.failed)}`,
  ];
  if (context.seed !== undefined && context.file === undefined) lines.push(`  seed ${context.seed} (the same --seed, --end and options give the same records)`);
  if (context.log !== undefined) lines.push(`  log: ${context.log}`);
  if (s.failed > 0) {
    lines.push(
      `produce: ${fmt(s.failed)} records were not accepted after ${MAX_ATTEMPTS} attempts (see "error" in the log${context.log ? '' : ': rerun with --log FILE'}); the stream is throttling — lower --rate, add shards, or retry`,
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// The command

export interface ProduceIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  /** Directory the outputs files are relative to. */
  cwd?: string;
  /** Resolve the target with these outputs instead of the file (tests). */
  target?: Target;
  shouldStop?: () => boolean;
}

/** Runs a produce with validated options; resolves to the exit code (0: every record accepted). */
export async function produce(options: ProduceOptions, io: ProduceIo): Promise<number> {
  const warning = endpointWarning(options.target);
  if (warning) io.stderr.write(`${warning}\n`);
  const target =
    io.target ??
    resolveTarget(options.target, {
      ...(io.cwd ? { cwd: io.cwd } : {}),
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.region ? { region: options.region } : {}),
      ...(options.outputs ? { outputsFile: options.outputs } : {}),
      // With --stream nothing is looked up, so no outputs file is needed.
      ...(options.stream ? { outputs: {} } : {}),
    });
  const stream = options.stream ?? jobOutput(target, options.job, 'InputStream');
  const kinesis = new KinesisClient(target.clientConfig());
  const log = options.log !== undefined ? createWriteStream(options.log) : undefined;
  const progress = new ProgressLine(io.stderr, options.file === undefined ? options.count : undefined, `produce ${options.job}`);
  try {
    const summary = await sendRecords({
      kinesis,
      stream,
      records: recordSource(options),
      aggregate: options.aggregate,
      concurrency: options.concurrency,
      ...(options.ratePerSec !== undefined ? { ratePerSec: options.ratePerSec } : {}),
      ...(log ? { log } : {}),
      onProgress: (stats) => progress.update(stats),
      ...(io.shouldStop ? { shouldStop: io.shouldStop } : {}),
    });
    progress.finish();
    io.stdout.write(`${summaryText(summary, { stream, target: target.name, aggregate: options.aggregate, seed: options.seed, ...(options.log ? { log: options.log } : {}), ...(options.file ? { file: options.file } : {}) })}\n`);
    return summary.failed > 0 ? 1 : summary.interrupted ? 130 : 0;
  } catch (error) {
    progress.finish();
    const explained = explainError(target, error);
    if (explained) throw new UsageError(explained);
    throw error;
  } finally {
    kinesis.destroy();
    if (log) await new Promise<void>((resolve) => log.end(resolve));
  }
}

/** `npm run produce` with an argument list (tests call this; the CLI below passes process.argv). */
export async function runProduce(argv: string[], io: ProduceIo): Promise<number> {
  return produce(produceOptions(parseCommand(produceSpec, argv)), io);
}

if (require.main === module) {
  let stop = false;
  process.once('SIGINT', () => {
    stop = true;
    process.stderr.write('\nstopping: finishing the calls in flight (Ctrl-C again to abort)…\n');
    process.once('SIGINT', () => process.exit(130));
  });
  runMain(produceSpec, async (parsed) => produce(produceOptions(parsed), { stdout: process.stdout, stderr: process.stderr, shouldStop: () => stop }));
}
