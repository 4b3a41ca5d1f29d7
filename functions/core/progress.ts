// Watermark bookkeeping in the state table, pure. The watermark is *in-band*: each shuffle bundle
// carries its input shard's max event time up to the bundle's records, and the reducer records, per
// shuffle bucket, how far each input shard's data has been applied. The job watermark is the min
// over active input shards of the min over buckets of that applied progress (watermark.ts). So a
// window can only close once every partial emitted before the watermark passed it has been folded
// in: a slow reducer delays closing, it never turns on-time events into late ones.
import { parseProgressSk } from '../contract/table';
import { compareSequenceNumbers } from './positions';
import { computeWatermark, type ShardProgress, type WatermarkOptions } from './watermark';

/**
 * The end of an attempt that may have been partly emitted (write-ahead, protocol/write-ahead.ts):
 * the watermark its last segment was classified with, and the max event time of the records up to
 * it.
 */
export interface PendingEnd {
  end: string;
  /** null: −∞ (no watermark yet). */
  watermark: number | null;
  /** Max event time of the shard's records up to `end`; null: none yet (or written before ends carried it). */
  maxEventTime?: number | null;
  /**
   * False from the write-ahead until every effect of the attempt that recorded it is done (shuffle
   * put, deliveries). An end left false that a later attempt starts past was skipped by the event
   * source mapping: a gap. Absent: done (ends written before completion was recorded).
   */
  done?: boolean;
}

/**
 * A run of an input shard the event source mapping skipped after its attempt may have been partly
 * emitted (finite retries or record age), recorded by the first attempt past it before it emits
 * anything. While open, the shard's contribution to the watermark is held at `progressBefore`;
 * `npm run replay` re-drives the run, cut at `ends` and classified with their watermarks, exactly as
 * the skipped attempt did. Identified by (shard, `to`).
 */
export interface Gap {
  /** The last record before the gap (exclusive bound); null: from the shard's first record. */
  after: string | null;
  /** The last record of the gap (a recorded end). */
  to: string;
  /** The recorded ends in (after, to], with the watermarks their segments were classified with. */
  ends: PendingEnd[];
  /** Max event time of the records up to `after`: the watermark is held here while the gap is open. */
  progressBefore: number | null;
  /** How far a replay has got (null: not started). */
  replayedThrough: string | null;
  /**
   * False for a run recorded by the replay itself: no attempt ever recorded an end in it, so nothing
   * of it was emitted before (an attempt writes ahead before it emits).
   */
  traced: boolean;
  /** Set when fully replayed (or abandoned); kept so a second replay changes nothing. */
  closed?: 'replayed' | 'abandoned';
}

/** Mapper item, one per input shard: activity, max event time, and write-ahead range ends. */
export interface MapperProgress {
  shardId: string;
  maxEventTime: number;
  updatedAt: number;
  pendingEnds: PendingEnd[];
  /** Max event time of the records before the latest attempt (folds in the ends pruned since). */
  checkpointMaxEventTime?: number;
  /** Skipped runs: open ones hold the watermark; closed ones are kept so replaying again is a no-op. */
  gaps?: Gap[];
}

/** Reducer item, one per shuffle bucket: applied progress per input shard. */
export interface BucketProgress {
  bucket: number;
  applied: Record<string, number>;
  updatedAt: number;
  /** Per gap ("<shard>@<gap end>"): the last replayed record whose bundle this bucket applied. */
  replayed?: Record<string, string>;
}

export interface ProgressItems {
  mappers: MapperProgress[];
  buckets: BucketProgress[];
  /** The watermark the closer last acted on (−∞ when none). */
  floor: number;
}

const numberOr = (value: unknown, fallback: number): number => (typeof value === 'number' ? value : value === undefined || value === null ? fallback : Number(value));

function parseEnds(value: unknown): PendingEnd[] {
  return ((value as { end?: unknown; watermark?: unknown; maxEventTime?: unknown; done?: unknown }[] | undefined) ?? []).map((p) => ({
    end: String(p.end),
    watermark: typeof p.watermark === 'number' ? p.watermark : null,
    maxEventTime: typeof p.maxEventTime === 'number' ? p.maxEventTime : null,
    ...(p.done === false ? { done: false } : {}),
  }));
}

function parseGap(g: Record<string, unknown>): Gap {
  return {
    after: typeof g.after === 'string' ? g.after : null,
    to: String(g.to),
    ends: parseEnds(g.ends),
    progressBefore: typeof g.progressBefore === 'number' ? g.progressBefore : null,
    replayedThrough: typeof g.replayedThrough === 'string' ? g.replayedThrough : null,
    traced: g.traced !== false,
    ...(g.closed === 'replayed' || g.closed === 'abandoned' ? { closed: g.closed } : {}),
  };
}

/** The gaps of a shard still waiting for a replay. */
export function openGaps(shard: Pick<MapperProgress, 'gaps'> | undefined): Gap[] {
  return (shard?.gaps ?? []).filter((g) => g.closed === undefined);
}

/** Parse the items of the progress partition (one Query) into mapper and bucket progress and the floor. */
export function parseProgressItems(items: readonly Record<string, unknown>[]): ProgressItems {
  const mappers: MapperProgress[] = [];
  const buckets: BucketProgress[] = [];
  let floor = Number.NEGATIVE_INFINITY;
  for (const item of items) {
    const sk = parseProgressSk(String(item.sk));
    if (sk.kind === 'watermark') {
      if (typeof item.watermark === 'number') floor = item.watermark;
    } else if (sk.kind === 'mapper') {
      mappers.push({
        shardId: sk.shardId,
        maxEventTime: numberOr(item.maxEventTime, Number.NEGATIVE_INFINITY),
        updatedAt: numberOr(item.updatedAt, 0),
        pendingEnds: parseEnds(item.pendingEnds),
        ...(typeof item.checkpointMaxEventTime === 'number' ? { checkpointMaxEventTime: item.checkpointMaxEventTime } : {}),
        ...(Array.isArray(item.gaps) && item.gaps.length > 0 ? { gaps: (item.gaps as Record<string, unknown>[]).map(parseGap) } : {}),
      });
    } else if (sk.kind === 'bucket') {
      const applied: Record<string, number> = {};
      for (const [shard, value] of Object.entries((item.applied as Record<string, unknown> | undefined) ?? {})) applied[shard] = Number(value);
      const replayed = item.replayed && typeof item.replayed === 'object' ? { replayed: { ...(item.replayed as Record<string, string>) } } : {};
      buckets.push({ bucket: sk.bucket, applied, updatedAt: numberOr(item.updatedAt, 0), ...replayed });
    }
  }
  return { mappers, buckets, floor };
}

/**
 * The job watermark from the progress partition. An input shard's effective progress is the
 * least applied progress over all `bucketCount` buckets (a bucket that has not yet seen the shard
 * holds it at −∞). Idleness is judged from the mapper item's `updatedAt`. The result never goes
 * below `floor`, the watermark the closer last acted on: the computed value can go back (an idle
 * shard that wakes up holds it again), decisions never do — a window closed, or a partial judged
 * late, stays so on every retry.
 */
export function jobWatermark(
  mappers: readonly MapperProgress[],
  buckets: readonly BucketProgress[],
  bucketCount: number,
  nowMs: number,
  options: WatermarkOptions,
  floor = Number.NEGATIVE_INFINITY,
): number {
  const byBucket = new Map(buckets.map((b) => [b.bucket, b]));
  const shards: ShardProgress[] = mappers.map((m) => {
    let applied = Number.POSITIVE_INFINITY;
    for (let b = 0; b < bucketCount; b++) applied = Math.min(applied, byBucket.get(b)?.applied[m.shardId] ?? Number.NEGATIVE_INFINITY);
    // An open traced gap holds the shard at its progress before the gap, idle or not: no window
    // the skipped records could touch closes until they are replayed (or abandoned) and every
    // bucket has applied the replay through the gap's end (the replay's bundles are in-band too).
    const replayedEverywhere = (g: Gap): boolean => {
      for (let b = 0; b < bucketCount; b++) {
        const at = byBucket.get(b)?.replayed?.[`${m.shardId}@${g.to}`];
        if (at === undefined || compareSequenceNumbers(at, g.to) < 0) return false;
      }
      return true;
    };
    const held = (m.gaps ?? []).filter((g) => g.traced && (g.closed === undefined || (g.closed === 'replayed' && !replayedEverywhere(g))));
    let hold = Number.POSITIVE_INFINITY;
    for (const g of held) hold = Math.min(hold, g.progressBefore ?? Number.NEGATIVE_INFINITY);
    return { shardId: m.shardId, maxEventTime: Math.min(applied, m.maxEventTime, hold), updatedAt: held.length > 0 ? Math.max(nowMs, m.updatedAt) : m.updatedAt };
  });
  return Math.max(floor, computeWatermark(shards, nowMs, options));
}

/** The progress partition as read, and the watermark every decision of this invocation uses. */
export interface ProgressView extends ProgressItems {
  watermark: number;
}

/** Read progress → parse → watermark: what every handler does first. */
export function progressView(items: readonly Record<string, unknown>[], bucketCount: number, nowMs: number, options: WatermarkOptions): ProgressView {
  const parsed = parseProgressItems(items);
  return { ...parsed, watermark: jobWatermark(parsed.mappers, parsed.buckets, bucketCount, nowMs, options, parsed.floor) };
}

/** Merge a reducer batch's bundle progress into the bucket items it read; returns the changed ones. */
export function advanceBuckets(
  read: readonly BucketProgress[],
  seen: readonly { bucket: number; shardId: string; progress: number | null; replay?: { gap: string; last: string } }[],
  nowMs: number,
): BucketProgress[] {
  const byBucket = new Map(read.map((b) => [b.bucket, { ...b, applied: { ...b.applied }, ...(b.replayed ? { replayed: { ...b.replayed } } : {}) }]));
  const changed = new Set<number>();
  for (const s of seen) {
    if (s.replay) {
      const item = byBucket.get(s.bucket) ?? { bucket: s.bucket, applied: {}, updatedAt: nowMs };
      byBucket.set(s.bucket, item);
      const key = `${s.shardId}@${s.replay.gap}`;
      const at = item.replayed?.[key];
      if (at === undefined || compareSequenceNumbers(at, s.replay.last) < 0) {
        item.replayed = { ...item.replayed, [key]: s.replay.last };
        changed.add(s.bucket);
      }
      continue;
    }
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

/** The mapper item as stored (docs/CONTRACTS.md): `rev` orders the live mapper's and a replay's conditional writes. */
export function storedMapperProgress(pk: string, sk: string, p: MapperProgress, rev: number): Record<string, unknown> {
  return {
    pk,
    sk,
    ...(Number.isFinite(p.maxEventTime) ? { maxEventTime: p.maxEventTime } : {}),
    ...(p.checkpointMaxEventTime !== undefined && Number.isFinite(p.checkpointMaxEventTime) ? { checkpointMaxEventTime: p.checkpointMaxEventTime } : {}),
    updatedAt: p.updatedAt,
    pendingEnds: p.pendingEnds,
    ...(p.gaps && p.gaps.length > 0 ? { gaps: p.gaps } : {}),
    rev,
  };
}
