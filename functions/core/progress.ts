// Watermark bookkeeping in the state table (DESIGN §3), pure. The watermark is *in-band*: each
// shuffle bundle carries its input shard's max event time, and the reducer records, per shuffle
// bucket, how far each input shard's data has been applied. The job watermark is the min over
// active input shards of the min over buckets of that applied progress. So a window can only
// close once every partial emitted before the watermark passed it has been folded in: a slow
// reducer delays closing, it never turns on-time events into late ones.
import { computeWatermark, ShardProgress, WatermarkOptions } from './watermark';

/**
 * The end of an attempt that may have been partly emitted, and the watermark its last segment
 * was classified with. A retry cuts its batch at these ends and classifies each segment with the
 * recorded watermark, so it makes the same late/on-time decisions as the attempt whose partials
 * the reducer may already have applied (a fresher watermark would report counted events late).
 */
export interface PendingEnd {
  end: string;
  /** null: −∞ (no watermark yet). */
  watermark: number | null;
}

/** Mapper item, one per input shard: activity, max event time, and write-ahead range ends. */
export interface MapperProgress {
  shardId: string;
  maxEventTime: number;
  updatedAt: number;
  pendingEnds: PendingEnd[];
}

/** Reducer item, one per shuffle bucket: applied progress per input shard. */
export interface BucketProgress {
  bucket: number;
  applied: Record<string, number>;
  updatedAt: number;
}

export function progressPk(job: string): string {
  return `J#${job}#PROGRESS`;
}
export function mapperSk(shardId: string): string {
  return `M#${shardId}`;
}
export function bucketSk(bucket: number): string {
  return `R#${bucket}`;
}

/** Sort key of the watermark the closer last acted on (the floor every later decision uses). */
export const WATERMARK_SK = 'WM';

/**
 * Parse the items of the progress partition (one Query) into mapper and bucket progress, and the
 * recorded watermark floor (−∞ when none).
 */
export function parseProgressItems(items: readonly Record<string, unknown>[]): { mappers: MapperProgress[]; buckets: BucketProgress[]; floor: number } {
  const mappers: MapperProgress[] = [];
  const buckets: BucketProgress[] = [];
  let floor = Number.NEGATIVE_INFINITY;
  for (const item of items) {
    const sk = String(item.sk);
    if (sk === WATERMARK_SK) {
      if (typeof item.watermark === 'number') floor = item.watermark;
      continue;
    }
    if (sk.startsWith('M#')) {
      mappers.push({
        shardId: sk.slice(2),
        maxEventTime: item.maxEventTime === undefined ? Number.NEGATIVE_INFINITY : Number(item.maxEventTime),
        updatedAt: Number(item.updatedAt ?? 0),
        pendingEnds: ((item.pendingEnds as { end?: unknown; watermark?: unknown }[] | undefined) ?? []).map((p) => ({
          end: String(p.end),
          watermark: typeof p.watermark === 'number' ? p.watermark : null,
        })),
      });
    } else if (sk.startsWith('R#')) {
      const applied: Record<string, number> = {};
      for (const [shard, value] of Object.entries((item.applied as Record<string, unknown> | undefined) ?? {})) applied[shard] = Number(value);
      buckets.push({ bucket: Number(sk.slice(2)), applied, updatedAt: Number(item.updatedAt ?? 0) });
    }
  }
  return { mappers, buckets, floor };
}

/**
 * The job watermark from the progress partition. An input shard's effective progress is the
 * least applied progress over all `bucketCount` buckets (a bucket that has not yet seen the shard
 * holds it at −∞). Idleness is judged from the mapper item's `updatedAt`.
 */
export function jobWatermark(
  mappers: readonly MapperProgress[],
  buckets: readonly BucketProgress[],
  bucketCount: number,
  nowMs: number,
  options: WatermarkOptions,
  /**
   * The watermark the closer last acted on. The computed value can go back (an idle shard that
   * wakes up holds it again); decisions never do: a window closed, or a partial judged late, stays
   * so on every retry, because every decision uses at least this floor.
   */
  floor = Number.NEGATIVE_INFINITY,
): number {
  const byBucket = new Map(buckets.map((b) => [b.bucket, b]));
  const shards: ShardProgress[] = mappers.map((m) => {
    let applied = Number.POSITIVE_INFINITY;
    for (let b = 0; b < bucketCount; b++) {
      applied = Math.min(applied, byBucket.get(b)?.applied[m.shardId] ?? Number.NEGATIVE_INFINITY);
    }
    return { shardId: m.shardId, maxEventTime: Math.min(applied, m.maxEventTime), updatedAt: m.updatedAt };
  });
  return Math.max(floor, computeWatermark(shards, nowMs, options));
}

/** Merge a reducer batch's bundle progress into the bucket items it read; returns the changed ones. */
export function advanceBuckets(
  read: readonly BucketProgress[],
  seen: readonly { bucket: number; shardId: string; progress: number | null }[],
  nowMs: number,
): BucketProgress[] {
  const byBucket = new Map(read.map((b) => [b.bucket, { ...b, applied: { ...b.applied } }]));
  const changed = new Set<number>();
  for (const s of seen) {
    if (s.progress === null) continue;
    const item = byBucket.get(s.bucket) ?? { bucket: s.bucket, applied: {}, updatedAt: nowMs };
    byBucket.set(s.bucket, item);
    if (!(s.shardId in item.applied) || (item.applied[s.shardId] as number) < s.progress) {
      item.applied[s.shardId] = s.progress;
      changed.add(s.bucket);
    }
  }
  return [...changed].map((b) => ({ ...(byBucket.get(b) as BucketProgress), updatedAt: nowMs }));
}
