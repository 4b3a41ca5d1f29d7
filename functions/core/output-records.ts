// The records Riffle writes to S3 (docs/CONTRACTS.md "Output records"): results, late events/partials and rejected
// events — their shapes, the deterministic resultId, and the ISO-8601 time formatting.
import { createHash } from 'node:crypto';
import type { Json } from './aggregates/types';

/** ISO-8601 UTC with milliseconds. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Deterministic id of a (job, key, window) result: the first 32 hex digits of SHA-256 over the
 * fields, NUL-separated so no two different triples can collide by concatenation.
 * Session results are identified by their start (a closed session never changes).
 */
export function resultId(job: string, key: string, windowStart: number, windowEnd: number): string {
  return createHash('sha256').update(`${job}\u0000${key}\u0000${windowStart}\u0000${windowEnd}`).digest('hex').slice(0, 32);
}

export interface ResultRecord {
  resultId: string;
  job: string;
  key: string;
  windowStart: string;
  windowEnd: string;
  /** One field per aggregate. */
  [aggregate: string]: Json;
  final: boolean;
  /** State version that produced this result; downstream keeps the highest per resultId. */
  version: number;
  eventCount: number;
  emittedAt: string;
  /** The job definition's `version` that produced the row (rows written before the field: 1). */
  job_version: number;
  /**
   * 0 from the live pipeline; a reprocess run's id (its start, epoch ms) from `npm run reprocess`.
   * Per job, key and window the query views keep the row with the greatest (job_version, revision,
   * version): a later reprocess of the same version supersedes the live rows and earlier runs.
   */
  revision: number;
}

/** The revision of every row the live pipeline writes. */
export const LIVE_REVISION = 0;

export function makeResult(args: {
  job: string;
  key: string;
  start: number;
  end: number;
  values: Record<string, Json>;
  final: boolean;
  version: number;
  eventCount: number;
  nowMs: number;
  /** @default 1 */
  jobVersion?: number;
  /** @default LIVE_REVISION */
  revision?: number;
}): ResultRecord {
  return {
    resultId: resultId(args.job, args.key, args.start, args.end),
    job: args.job,
    key: args.key,
    windowStart: iso(args.start),
    windowEnd: iso(args.end),
    ...args.values,
    final: args.final,
    version: args.version,
    eventCount: args.eventCount,
    emittedAt: iso(args.nowMs),
    job_version: args.jobVersion ?? 1,
    revision: args.revision ?? LIVE_REVISION,
  } as ResultRecord;
}

/** An event that arrived after its window closed (mapper-side: the event itself is kept). */
export interface LateEventRecord {
  kind: 'event';
  job: string;
  key: string;
  windowStart: string;
  windowEnd: string;
  eventTime: string;
  watermark: string | null;
  reason: string;
  shardId: string;
  sequenceNumber: string;
  subSequenceNumber: number;
  /** The event; null when it was over 64 KiB — then `payload` holds its first 64 KiB (base64). */
  event: unknown;
  payload?: string;
  payloadBytes?: number;
  payloadTruncated?: boolean;
  payloadSha256?: string;
  lateAt: string;
}

/**
 * A partial the reducer could not apply because its window had closed meanwhile: the events
 * are already aggregated, so the record carries the aggregates and the input range they cover.
 */
export interface LatePartialRecord {
  kind: 'partial';
  job: string;
  key: string;
  windowStart: string;
  windowEnd: string;
  eventCount: number;
  aggregates: Record<string, Json>;
  watermark: string | null;
  reason: string;
  shardId: string;
  firstSequenceNumber: string;
  lastSequenceNumber: string;
  lateAt: string;
}

export type LateRecord = LateEventRecord | LatePartialRecord;

/** Largest raw payload copied into a rejected record; Firehose takes records ≤ 1,000 KiB. */
export const REJECTED_PAYLOAD_MAX_BYTES = 64 * 1024;

export interface RejectedRecord {
  job: string;
  reason: string;
  shardId: string;
  sequenceNumber: string;
  subSequenceNumber: number;
  partitionKey: string;
  /** The raw bytes, base64; truncated to REJECTED_PAYLOAD_MAX_BYTES (see payloadTruncated). */
  payload: string;
  payloadBytes: number;
  payloadTruncated: boolean;
  payloadSha256: string;
  rejectedAt: string;
}

export function makeRejected(args: {
  job: string;
  reason: string;
  shardId: string;
  seq: string;
  sub: number;
  partitionKey: string;
  raw: Buffer;
  nowMs: number;
}): RejectedRecord {
  const truncated = args.raw.length > REJECTED_PAYLOAD_MAX_BYTES;
  return {
    job: args.job,
    reason: args.reason,
    shardId: args.shardId,
    sequenceNumber: args.seq,
    subSequenceNumber: args.sub,
    partitionKey: args.partitionKey,
    payload: (truncated ? args.raw.subarray(0, REJECTED_PAYLOAD_MAX_BYTES) : args.raw).toString('base64'),
    payloadBytes: args.raw.length,
    payloadTruncated: truncated,
    payloadSha256: createHash('sha256').update(args.raw).digest('hex'),
    rejectedAt: iso(args.nowMs),
  };
}
