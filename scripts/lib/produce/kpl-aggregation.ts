// `npm run produce --aggregate`: KPL-style aggregation. Records are grouped by the shard Kinesis
// will route their partition key to (MD5 of the key in a shard's hash-key range), one open
// aggregate per shard flushed at KPL's default 50 KiB, so every member of an aggregate lands on
// the shard its own key maps to.
import { createHash } from 'node:crypto';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { listShards } from '../kinesis-shards';
import { encodeAggregate } from '../../../functions/core/kpl';
import type { ProducedRecord } from '../generators';
import type { Entry } from './sender';

/** KPL's default AggregationMaxSize. */
export const AGGREGATE_MAX_BYTES = 51_200;

export interface ShardRange {
  shardId: string;
  start: bigint;
  end: bigint;
}

/** Open shards and their hash-key ranges (for grouping aggregates by the shard Kinesis will pick). */
export async function openShards(kinesis: KinesisClient, stream: string): Promise<ShardRange[]> {
  const shards: ShardRange[] = [];
  for (const s of await listShards(kinesis, stream)) {
    if (s.SequenceNumberRange?.EndingSequenceNumber !== undefined || !s.ShardId || !s.HashKeyRange) continue;
    shards.push({ shardId: s.ShardId, start: BigInt(s.HashKeyRange.StartingHashKey ?? '0'), end: BigInt(s.HashKeyRange.EndingHashKey ?? '0') });
  }
  return shards;
}

/** The shard Kinesis routes a partition key to: MD5 of the key as a 128-bit integer, in a shard's range. */
export function shardFor(partitionKey: string, shards: readonly ShardRange[]): string {
  const hash = BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);
  return (shards.find((s) => hash >= s.start && hash <= s.end) ?? shards[0])?.shardId ?? 'unknown';
}

/** One open aggregate per shard, flushed at `maxBytes`. */
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
