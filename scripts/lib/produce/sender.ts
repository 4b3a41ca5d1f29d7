// The producer's sending loop: records → (optionally KPL aggregates) → PutRecords calls of ≤ 500
// records / 5 MiB, paced to --rate, up to --concurrency calls in flight. Entries a call reports as
// failed (throttled shards) are resent alone with backoff (functions/commons/retry.ts: the same
// loop the functions use); whole calls that fail are retried by the AWS SDK's own retry strategy
// (the client's maxAttempts), so an error that reaches here is final and stops the run. Every user
// record is logged as Kinesis accepted it, or with the error it kept failing with.
import type { WriteStream } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { chunkBy, retryFailed, sleep as realSleep } from '../../../functions/commons/retry';
import { KINESIS } from '../../../functions/contract/limits';
import { UsageError } from '../cli';
import type { ProducedRecord, RecordFlag } from '../generators';
import { aggregateRecords, openShards } from './kpl-aggregation';

/** Attempts per entry (the first included), and per call in the SDK client. */
export const MAX_ATTEMPTS = 10;
const BACKOFF = { baseMs: 100, maxMs: 5_000 };

/** One Kinesis record: a user record, or a KPL aggregate of several. */
export interface Entry {
  partitionKey: string;
  data: Buffer;
  members: ProducedRecord[];
  aggregated: boolean;
  error?: string;
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

/** A Kinesis client for producing: the SDK's adaptive retry (backoff plus client-side rate limiting on throttles). */
export function producerKinesisClient(config: ConstructorParameters<typeof KinesisClient>[0]): KinesisClient {
  return new KinesisClient({ ...config, maxAttempts: MAX_ATTEMPTS, retryMode: 'adaptive' });
}

function entryBytes(e: { partitionKey: string; data: Buffer }): number {
  return e.data.length + Buffer.byteLength(e.partitionKey);
}

/** Split entries into PutRecords calls: ≤ 500 records and ≤ 5 MiB each, in order. */
export function putRecordsBatches<T extends { partitionKey: string; data: Buffer }>(entries: readonly T[]): T[][] {
  return chunkBy(entries, KINESIS.putRecordsMaxRecords, KINESIS.putRecordsMaxBytes, entryBytes);
}

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

const users = (entries: readonly Entry[]): number => entries.reduce((n, e) => n + e.members.length, 0);

/** Sends every record; resolves with the counts. Throws what the SDK could not retry away (missing stream, access denied). */
export async function sendRecords(options: SendOptions): Promise<ProduceSummary> {
  const started = Date.now();
  const sleep = options.sleep ?? realSleep;
  const concurrency = options.concurrency ?? 1;
  const stats: ProduceStats = { sent: 0, retried: 0, failed: 0, kinesisRecords: 0, bytes: 0, putRecordsCalls: 0, byFlag: { ok: 0, late: 0, duplicate: 0, bad: 0 } };
  const shards = options.aggregate ? await openShards(options.kinesis, options.stream) : [];
  if (options.aggregate && shards.length === 0) throw new Error(`stream ${options.stream} has no open shards to aggregate for`);
  // Records taken per round: a fifth of a second's worth when rate-limited (smooth pacing), else
  // enough for full PutRecords calls (many more when aggregating: ~600 readings fit in 50 KiB).
  const perCall = options.aggregate ? 20_000 : KINESIS.putRecordsMaxRecords;
  const chunk = options.ratePerSec !== undefined ? Math.max(1, Math.min(perCall, Math.ceil(options.ratePerSec / 5))) : perCall;

  const writeLog = async (entry: Entry, shardId?: string, seq?: string) => {
    if (!options.log) return;
    const text = entry.members.map((m, i) => logLine(m, entry, i, shardId, seq)).join('');
    if (!options.log.write(text)) await new Promise<void>((resolve) => options.log?.once('drain', resolve));
  };

  /** One PutRecords call with its failed entries resent; entries still failing are counted lost. */
  const put = async (batch: Entry[]) => {
    let attempt = 0;
    const outcome = await retryFailed(
      batch,
      async (pending) => {
        if (attempt++ > 0) {
          stats.retried += users(pending);
          options.onProgress?.(stats);
        }
        stats.putRecordsCalls++;
        const response = await options.kinesis.send(new PutRecordsCommand({ StreamName: options.stream, Records: pending.map((e) => ({ PartitionKey: e.partitionKey, Data: e.data })) }));
        const results = response.Records ?? [];
        const failed: number[] = [];
        for (let j = 0; j < pending.length; j++) {
          const e = pending[j] as Entry;
          const r = results[j];
          if (!r || r.ErrorCode || !r.SequenceNumber) {
            e.error = r ? `${r.ErrorCode ?? 'Error'}: ${r.ErrorMessage ?? ''}`.trim() : 'missing from the PutRecords response';
            failed.push(j);
            continue;
          }
          stats.sent += e.members.length;
          stats.kinesisRecords++;
          stats.bytes += e.data.length;
          for (const m of e.members) stats.byFlag[m.flag]++;
          await writeLog(e, r.ShardId, r.SequenceNumber);
        }
        return { failed };
      },
      { attempts: options.maxAttempts ?? MAX_ATTEMPTS, ...BACKOFF, sleep },
    );
    stats.failed += users(outcome.failed);
    for (const e of outcome.failed) await writeLog(e);
  };

  // Up to `concurrency` calls in flight; the first error stops dispatching and is rethrown.
  const inFlight = new Set<Promise<void>>();
  let fatal: unknown;
  let dispatched = 0;
  const dispatch = async (batch: Entry[]) => {
    if (options.ratePerSec !== undefined) {
      const wait = started + ((dispatched + users(batch)) / options.ratePerSec) * 1000 - Date.now();
      if (wait > 0) await sleep(wait);
    }
    dispatched += users(batch);
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (fatal !== undefined) return;
    const call: Promise<void> = put(batch).then(
      () => {
        inFlight.delete(call);
        options.onProgress?.(stats);
      },
      (error: unknown) => {
        inFlight.delete(call);
        fatal ??= error;
      },
    );
    inFlight.add(call);
  };

  let buffer: ProducedRecord[] = [];
  const flush = async () => {
    const records = buffer;
    buffer = [];
    for (const r of records) {
      if (entryBytes(r) > KINESIS.recordMaxBytes) throw new UsageError(`record ${r.n + 1} is ${entryBytes(r).toLocaleString()} bytes with its partition key; Kinesis records are at most 1 MiB — split it`);
    }
    const entries: Entry[] = options.aggregate ? aggregateRecords(records, shards) : records.map((r) => ({ partitionKey: r.partitionKey, data: r.data, members: [r], aggregated: false }));
    for (const batch of putRecordsBatches(entries)) {
      if (fatal !== undefined) return;
      await dispatch(batch);
    }
  };

  let interrupted = false;
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
