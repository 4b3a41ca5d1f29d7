// Verifier, workload: the records `npm run verify` sends, built from the producer's own generators
// (scripts/lib/generators.ts: event-time disorder, late events, byte-for-byte duplicates, malformed
// records) plus a hot key (a fraction of the events rewritten onto one result key), split into
// rounds. Each round is sent with the producer's sendRecords — the same PutRecords path and the
// same `--log` lines (shard, sequence and sub-sequence number as Kinesis assigned them) as
// `npm run produce` — so the oracle reads exactly what Kinesis accepted.
import type { WriteStream } from 'node:fs';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { jobs } from '../../../jobs';
import { sendRecords, type ProduceSummary } from '../../produce';
import { generateRecords, seededRng, type ProducedRecord } from '../generators';
import type { JobOracle } from './jobs';

export interface WorkloadOptions {
  job: string;
  events: number;
  seed: number;
  /** Event times span [endMs − durationMs, endMs]. */
  durationMs: number;
  endMs: number;
  maxDelayMs: number;
  lateFraction: number;
  duplicateFraction: number;
  badFraction: number;
  hotKeyFraction: number;
  /** The input is sent in this many rounds; the pipeline drains between rounds (see pipeline.ts). */
  rounds: number;
}

export interface Round {
  index: number;
  /** Records n in [firstN, endN) (the generator's numbering). */
  firstN: number;
  endN: number;
  records: ProducedRecord[];
}

export interface Workload {
  rounds: Round[];
  /** Records per producer flag, and how many events were moved onto the hot key. */
  counts: { records: number; ok: number; late: number; duplicate: number; bad: number; hot: number };
}

/** Default disorder: within the job's out-of-orderness bound, so on-time events stay on time. */
export function defaultMaxDelayMs(job: string): number {
  const j = jobs[job];
  if (!j) throw new Error(`unknown job '${job}'`);
  return Math.floor(j.outOfOrdernessMs * 0.8);
}

/**
 * The generated records, with `hotKeyFraction` of the ok and late events rewritten onto the hot
 * key. The rewrite happens as each record is drawn: the generator keeps the yielded object as a
 * duplicate candidate, so a later duplicate re-sends the rewritten bytes, byte for byte.
 */
/** What a verify or crash run asks for; the rest of WorkloadOptions follows from it. */
export type RunWorkloadOptions = Omit<WorkloadOptions, 'endMs' | 'maxDelayMs'> & { readonly maxDelayMs?: number };

/**
 * The workload of a verify or crash run: the job's default disorder unless one is given, and event
 * times ending a minute before now, so none is rejected as from the future.
 */
export function runWorkload(options: RunWorkloadOptions, oracle: JobOracle, nowMs = Date.now()): Workload {
  const { job, events, seed, durationMs, lateFraction, duplicateFraction, badFraction, hotKeyFraction, rounds } = options;
  const maxDelayMs = options.maxDelayMs ?? defaultMaxDelayMs(job);
  return buildWorkload({ job, events, seed, durationMs, endMs: nowMs - 60_000, maxDelayMs, lateFraction, duplicateFraction, badFraction, hotKeyFraction, rounds }, oracle);
}

export function buildWorkload(options: WorkloadOptions, oracle: JobOracle): Workload {
  const hot = seededRng(options.seed, 'verify-hot-key');
  const counts = { records: 0, ok: 0, late: 0, duplicate: 0, bad: 0, hot: 0 };
  const all: ProducedRecord[] = [];
  for (const record of generateRecords({
    job: options.job,
    count: options.events,
    durationMs: options.durationMs,
    endMs: options.endMs,
    seed: options.seed,
    maxDelayMs: options.maxDelayMs,
    lateFraction: options.lateFraction,
    duplicateFraction: options.duplicateFraction,
    badFraction: options.badFraction,
  })) {
    const roll = hot();
    if ((record.flag === 'ok' || record.flag === 'late') && roll < options.hotKeyFraction) {
      const event = JSON.parse(record.data.toString('utf8')) as Record<string, unknown>;
      record.partitionKey = oracle.hotKey.apply(event, record.partitionKey);
      record.data = Buffer.from(JSON.stringify(event));
      counts.hot++;
    }
    counts.records++;
    counts[record.flag]++;
    all.push(record);
  }
  const rounds: Round[] = [];
  const size = Math.ceil(all.length / Math.max(1, options.rounds));
  for (let i = 0; i * size < all.length; i++) {
    const records = all.slice(i * size, (i + 1) * size);
    const first = records[0] as ProducedRecord;
    rounds.push({ index: i, firstN: first.n, endN: first.n + records.length, records });
  }
  return { rounds, counts };
}

/** Sends one round through the producer's PutRecords path, logging every record as accepted. */
export async function sendRound(kinesis: KinesisClient, stream: string, round: Round, log: WriteStream, aggregate: boolean): Promise<ProduceSummary> {
  const summary = await sendRecords({ kinesis, stream, records: round.records, log, aggregate });
  if (summary.failed > 0) throw new Error(`round ${round.index + 1}: ${summary.failed} records were not accepted by Kinesis after every retry`);
  return summary;
}
