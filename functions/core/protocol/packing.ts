// Putting a mapper attempt's partials on the shuffle stream, in the order the fence relies on.
//
// All partials of a key go to one shuffle bucket (one partition key → one shard → in order). Each
// segment's partials are packed per bucket into bundles — one Kinesis record per (segment, bucket),
// more only when a bundle would exceed the record size — and every bucket gets a bundle, an empty
// one too: it carries the shard's progress, without which that bucket's watermark would stall.
//
// A partly failed PutRecords could reorder a retried entry after a later one, so planPutCalls puts
// at most one bundle per bucket in each call, and the sender starts a call only once every entry of
// the previous one is in.
import { KINESIS } from '../../contract/limits';
import { fnv1a } from '../hash';
import type { MapperOutput } from '../mapper-batch';
import { encodeBundleFromJson, partialJson } from '../shuffle-format';

/** Bundles of a replay carry the gap they replay (its `to`) and whether it was traced (replay.ts). */
export interface ReplayMarker {
  readonly gap: string;
  readonly traced: boolean;
}

export interface ShuffleRecord {
  partitionKey: string;
  data: Buffer;
}

/** Uncompressed JSON per bundle; compressed it is far below Kinesis' 1 MiB record limit. */
export const BUNDLE_JSON_BYTES = 900 * 1024;

/** The shuffle bucket of a result key. Every partial of a key goes to one bucket → one shard → in order. */
export function bucketOf(key: string, buckets: number): number {
  return fnv1a(key) % buckets;
}

/** Partition key of a bucket on the shuffle stream. */
export function bucketPartitionKey(bucket: number): string {
  return `bucket-${bucket}`;
}

/**
 * The shuffle records of an attempt: per segment, one or more bundles per bucket. A segment's
 * bundles carry the max event time of every record up to its end (`progressBefore`: the records
 * before the attempt), the in-band watermark of progress.ts.
 */
export function packBundles(job: string, buckets: number, output: MapperOutput, progressBefore: number, replay?: ReplayMarker): ShuffleRecord[] {
  const records: ShuffleRecord[] = [];
  for (const segment of output.segments) {
    const byBucket: string[][] = Array.from({ length: buckets }, () => []);
    for (const partial of segment.partials) (byBucket[bucketOf(partial.key, buckets)] as string[]).push(partialJson(partial));
    const max = Math.max(progressBefore, segment.maxEventTime ?? Number.NEGATIVE_INFINITY);
    // A replay's bundles carry no progress: the gap holds the watermark until it is closed.
    const header = { job, origin: segment.origin, progress: !replay && Number.isFinite(max) ? max : null, ...(replay ? { replay } : {}) };
    byBucket.forEach((texts, bucket) => {
      let chunk: string[] = [];
      let bytes = 0;
      const flush = () => {
        records.push({ partitionKey: bucketPartitionKey(bucket), data: encodeBundleFromJson({ ...header, bucket }, chunk) });
        chunk = [];
        bytes = 0;
      };
      for (const text of texts) {
        if (chunk.length > 0 && bytes + text.length > BUNDLE_JSON_BYTES) flush();
        chunk.push(text);
        bytes += text.length + 1;
      }
      flush();
    });
  }
  return records;
}

/** Group records into PutRecords calls of distinct partition keys, preserving per-key order. */
export function planPutCalls(records: readonly ShuffleRecord[]): ShuffleRecord[][] {
  const calls: ShuffleRecord[][] = [];
  const sizes: number[] = [];
  const keysPerCall: Set<string>[] = [];
  const lastCallOfKey = new Map<string, number>();
  for (const record of records) {
    const size = record.data.length + Buffer.byteLength(record.partitionKey);
    // The earliest call after this key's previous record that still has room.
    let index = (lastCallOfKey.get(record.partitionKey) ?? -1) + 1;
    while (
      index < calls.length &&
      ((calls[index] as ShuffleRecord[]).length >= KINESIS.putRecordsMaxRecords || (sizes[index] as number) + size > KINESIS.putRecordsMaxBytes || (keysPerCall[index] as Set<string>).has(record.partitionKey))
    )
      index++;
    if (index === calls.length) {
      calls.push([]);
      sizes.push(0);
      keysPerCall.push(new Set());
    }
    (calls[index] as ShuffleRecord[]).push(record);
    sizes[index] = (sizes[index] as number) + size;
    (keysPerCall[index] as Set<string>).add(record.partitionKey);
    lastCallOfKey.set(record.partitionKey, index);
  }
  return calls;
}
