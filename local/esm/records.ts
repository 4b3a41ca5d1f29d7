// Pure pieces of the Kinesis event source mapping: the Lambda event shape, batch assembly under
// BatchSize and the 6 MB invocation limit, partial batch responses, bisecting, record age, the
// on-failure invocation record and its S3 key. No I/O here, so all of it is unit-tested.
import { randomUUID } from 'node:crypto';

/** Lambda caps a synchronous invocation payload (and so a batch) at 6 MB. */
export const MAX_BATCH_BYTES = 6 * 1024 * 1024;
const EVENT_ENVELOPE_BYTES = '{"Records":[]}'.length;

/** A fetched Kinesis record, its Lambda event JSON pre-serialized once. */
export interface StreamRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  /** ApproximateArrivalTimestamp in epoch ms. */
  readonly arrivalMs: number;
  /** JSON of this record's entry in the event's `Records` array. */
  readonly json: string;
}

export interface EventContext {
  readonly region: string;
  readonly streamArn: string;
  readonly invokeIdentityArn: string;
}

/**
 * One entry of a Kinesis event's `Records`, in the field order Lambda uses
 * (see events/samples/kinesis-event.json).
 */
export function kinesisEventRecord(
  ctx: EventContext,
  r: { shardId: string; sequenceNumber: string; partitionKey: string; data: Uint8Array; arrivalMs: number },
): Record<string, unknown> {
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: r.partitionKey,
      sequenceNumber: r.sequenceNumber,
      data: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength).toString('base64'),
      approximateArrivalTimestamp: r.arrivalMs / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${r.shardId}:${r.sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: ctx.invokeIdentityArn,
    awsRegion: ctx.region,
    eventSourceARN: ctx.streamArn,
  };
}

export function toStreamRecord(
  ctx: EventContext,
  r: { shardId: string; sequenceNumber: string; partitionKey: string; data: Uint8Array; arrivalMs: number },
): StreamRecord {
  return {
    shardId: r.shardId,
    sequenceNumber: r.sequenceNumber,
    partitionKey: r.partitionKey,
    arrivalMs: r.arrivalMs,
    json: JSON.stringify(kinesisEventRecord(ctx, r)),
  };
}

/** The invocation payload for a batch: `{"Records":[...]}`. */
export function eventPayload(records: readonly StreamRecord[]): string {
  return `{"Records":[${records.map((r) => r.json).join(',')}]}`;
}

/**
 * How many records from the head of `queue` go into the next batch: at most `batchSize`, and
 * the payload stays within `maxBytes` (always at least one record).
 */
export function batchLength(queue: readonly StreamRecord[], batchSize: number, maxBytes = MAX_BATCH_BYTES): number {
  let bytes = EVENT_ENVELOPE_BYTES;
  let n = 0;
  for (const r of queue) {
    if (n >= batchSize) break;
    const add = Buffer.byteLength(r.json) + (n > 0 ? 1 : 0);
    if (n > 0 && bytes + add > maxBytes) break;
    bytes += add;
    n += 1;
  }
  return n;
}

/** Sequence numbers compared as integers (they are up to 128 digits; never compare as strings). */
export function compareSequence(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export type BatchResponse =
  /** Every record succeeded: checkpoint past the batch. */
  | { readonly kind: 'success' }
  /** Resume from (and retry) the record with this sequence number; the ones before it succeeded. */
  | { readonly kind: 'partial'; readonly resumeFrom: string }
  /** The response marks the whole batch failed. */
  | { readonly kind: 'failure'; readonly reason: string };

/**
 * Interprets a function response under ReportBatchItemFailures, as Lambda does for streams:
 * a null/empty response or an empty/null `batchItemFailures` is a complete success; an item
 * with a null or empty `itemIdentifier`, a missing (misspelt) key, or an identifier that is not
 * a sequence number of the batch fails the whole batch; otherwise Lambda checkpoints before the
 * LOWEST failed sequence number and retries from there.
 */
export function parseBatchItemFailures(responsePayload: string, batchSequenceNumbers: ReadonlySet<string>): BatchResponse {
  let response: unknown;
  try {
    response = responsePayload === '' ? null : JSON.parse(responsePayload);
  } catch {
    return { kind: 'success' }; // not JSON: no failure report (only `null`-like responses reach here)
  }
  if (response === null || typeof response !== 'object' || Array.isArray(response)) return { kind: 'success' };
  const failures = (response as Record<string, unknown>)['batchItemFailures'];
  if (failures === undefined || failures === null) return { kind: 'success' };
  if (!Array.isArray(failures)) {
    if (failures === '' || failures === false || failures === 0) return { kind: 'success' };
    return { kind: 'failure', reason: 'batchItemFailures is not a list' };
  }
  if (failures.length === 0) return { kind: 'success' };
  let lowest: string | undefined;
  for (const item of failures) {
    if (item === null || typeof item !== 'object' || !('itemIdentifier' in item)) {
      return { kind: 'failure', reason: 'a batch item failure has no itemIdentifier' };
    }
    const id = (item as { itemIdentifier: unknown }).itemIdentifier;
    if (typeof id !== 'string' || id === '') return { kind: 'failure', reason: 'a batch item failure has a null or empty itemIdentifier' };
    if (!batchSequenceNumbers.has(id)) return { kind: 'failure', reason: `itemIdentifier ${id} is not a record of the batch` };
    if (lowest === undefined || compareSequence(id, lowest) < 0) lowest = id;
  }
  return lowest === undefined ? { kind: 'success' } : { kind: 'partial', resumeFrom: lowest };
}

/** Splits a failed batch in two halves (BisectBatchOnFunctionError); the first half gets the extra record. */
export function bisect<T>(records: readonly T[]): [T[], T[]] {
  const mid = Math.ceil(records.length / 2);
  return [records.slice(0, mid), records.slice(mid)];
}

/**
 * Records older than MaximumRecordAgeInSeconds (-1 = infinite) at `nowMs`, and the rest. Lambda
 * discards expired records (to the on-failure destination) and invokes with the others.
 */
export function splitExpired<T extends { readonly arrivalMs: number }>(
  records: readonly T[],
  nowMs: number,
  maxRecordAgeSeconds: number,
): { expired: T[]; fresh: T[] } {
  if (maxRecordAgeSeconds < 0) return { expired: [], fresh: [...records] };
  const cutoff = nowMs - maxRecordAgeSeconds * 1000;
  const expired: T[] = [];
  const fresh: T[] = [];
  for (const r of records) (r.arrivalMs < cutoff ? expired : fresh).push(r);
  return { expired, fresh };
}

/** Which of ParallelizationFactor lanes a partition key goes to (same key → same lane, in order). */
export function laneOf(partitionKey: string, lanes: number): number {
  if (lanes <= 1) return 0;
  // FNV-1a: cheap, stable, well spread for short keys.
  let h = 0x811c9dc5;
  for (let i = 0; i < partitionKey.length; i++) {
    h ^= partitionKey.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % lanes;
}

export type FailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

export interface FailureRecordInput {
  readonly condition: FailureCondition;
  readonly functionArn: string;
  readonly streamArn: string;
  readonly shardId: string;
  readonly records: readonly StreamRecord[];
  readonly approximateInvokeCount: number;
  /** The last invocation's function error ('Unhandled'), or null when it returned a failure report. */
  readonly functionError: string | null;
  readonly nowMs: number;
  readonly requestId?: string;
  /** S3 destinations also get the whole event as `payload`. */
  readonly includePayload: boolean;
}

/**
 * The invocation record Lambda sends to an on-failure destination for a Kinesis batch (shape as
 * recorded from AWS: `requestContext`, `responseContext` (absent for RecordAgeExceeded),
 * `version`, `timestamp`, `KinesisBatchInfo`, and for S3 the event itself as `payload`).
 */
export function failureRecord(input: FailureRecordInput): Record<string, unknown> {
  const first = input.records[0];
  const last = input.records[input.records.length - 1];
  if (!first || !last) throw new Error('failureRecord: empty batch');
  const out: Record<string, unknown> = {
    requestContext: {
      requestId: input.requestId ?? randomUUID(),
      functionArn: input.functionArn,
      condition: input.condition,
      approximateInvokeCount: input.approximateInvokeCount,
    },
  };
  if (input.condition === 'RetryAttemptsExhausted') {
    out['responseContext'] = { statusCode: 200, executedVersion: '$LATEST', functionError: input.functionError };
  }
  out['version'] = '1.0';
  out['timestamp'] = new Date(input.nowMs).toISOString();
  out['KinesisBatchInfo'] = {
    shardId: input.shardId,
    startSequenceNumber: first.sequenceNumber,
    endSequenceNumber: last.sequenceNumber,
    approximateArrivalOfFirstRecord: new Date(first.arrivalMs).toISOString(),
    approximateArrivalOfLastRecord: new Date(last.arrivalMs).toISOString(),
    batchSize: input.records.length,
    streamArn: input.streamArn,
  };
  if (input.includePayload) out['payload'] = JSON.parse(eventPayload(input.records)) as unknown;
  return out;
}

/** AWS's key for an S3 on-failure object: aws/lambda/<ESM-UUID>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>. */
export function failureObjectKey(esmUuid: string, shardId: string, nowMs: number, id: string = randomUUID()): string {
  const iso = new Date(nowMs).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const day = iso.slice(0, 10);
  const time = iso.slice(11, 19).replace(/:/g, '.');
  return `aws/lambda/${esmUuid}/${shardId}/${day.replace(/-/g, '/')}/${day}T${time}-${id}`;
}
