// Replaying a run of an input shard that the event source mapping skipped (finite retries or
// record age), exactly once — the mapper's half. The run is a gap on the shard's progress item
// (progress.ts): recorded by the first attempt past it when its own attempt wrote ahead (so part of
// it may have been emitted), or opened here for a failure record no attempt ever wrote ahead for
// (nothing of it was emitted). A replay attempt is cut at the gap's recorded ends and classified
// with their watermarks, so its segments equal what the skipped attempt emitted; its bundles are
// marked as a replay of the gap, and the reducer applies each only past the item's gap mark
// (fold.ts). A replay chunk writes its end into the gap before emitting, like a live attempt, so a
// replay that crashes and runs again with other chunks never straddles what it applied.
import { compareSequenceNumbers } from '../positions';
import type { Gap, MapperProgress, PendingEnd } from '../progress';
import { withGaps } from './write-ahead';

export type ReplayPlan =
  | { readonly kind: 'replay'; readonly gap: Gap }
  | { readonly kind: 'nothing'; readonly reason: string }
  | { readonly kind: 'refused'; readonly reason: string };

const cmp = compareSequenceNumbers;

/** Whether [first, last] lies inside the gap. */
export function gapCovers(gap: Gap, first: string, last: string): boolean {
  return (gap.after === null || cmp(first, gap.after) > 0) && cmp(last, gap.to) <= 0 && cmp(first, last) <= 0;
}

function overlaps(gap: Gap, first: string, last: string): boolean {
  return (gap.after === null || cmp(last, gap.after) > 0) && cmp(first, gap.to) <= 0;
}

/**
 * What replaying records [first, last] of a shard means. `fromFailureRecord`: the range comes from
 * the on-failure destination (the event source mapping says it skipped it); an explicit range must
 * lie in a recorded gap, since nothing else says it was not applied.
 */
export function planReplay(shard: MapperProgress | undefined, first: string, last: string, fromFailureRecord: boolean): ReplayPlan {
  if (cmp(first, last) > 0) return { kind: 'refused', reason: `the range ${first}..${last} is empty (first after last)` };
  const gaps = shard?.gaps ?? [];
  const inside = gaps.find((g) => gapCovers(g, first, last));
  if (inside) {
    if (inside.closed === 'replayed') return { kind: 'nothing', reason: `already replayed (gap up to ${inside.to})` };
    if (inside.closed === 'abandoned') return { kind: 'nothing', reason: `the gap up to ${inside.to} was abandoned` };
    return { kind: 'replay', gap: inside };
  }
  const across = gaps.find((g) => overlaps(g, first, last));
  if (across) return { kind: 'refused', reason: `the range ${first}..${last} straddles the gap ${across.after ?? 'start'}..${across.to}; replay the gap's own range` };
  const ends = (shard?.pendingEnds ?? []).filter((p) => cmp(p.end, first) >= 0 && cmp(p.end, last) <= 0);
  if (ends.some((p) => p.done === false)) {
    if (!fromFailureRecord) return { kind: 'refused', reason: `${first}..${last} has not been skipped yet (no failure record, no later batch); wait until the event source mapping succeeds or skips it` };
    // The event source mapping skipped it before any later batch recorded the gap: record it here.
    // The run starts after the last completed end, or the last gap, before it.
    const before: PendingEnd[] = [
      ...(shard?.pendingEnds ?? []).filter((p) => p.done !== false),
      ...gaps.map((g) => ({ end: g.to, watermark: null, maxEventTime: g.ends[g.ends.length - 1]?.maxEventTime ?? g.progressBefore })),
    ]
      .filter((p) => cmp(p.end, first) < 0)
      .sort((a, b) => cmp(a.end, b.end));
    const previous = before[before.length - 1];
    return {
      kind: 'replay',
      gap: { after: previous?.end ?? null, to: last, ends: ends.map((p) => ({ end: p.end, watermark: p.watermark, maxEventTime: p.maxEventTime ?? null })), progressBefore: previous?.maxEventTime ?? null, replayedThrough: null, traced: true },
    };
  }
  if (ends.length > 0) return { kind: 'nothing', reason: `records up to ${ends[ends.length - 1]?.end} were processed` };
  if (!fromFailureRecord) return { kind: 'refused', reason: `no gap is recorded for ${first}..${last}: only ranges inside a recorded gap, or from the on-failure destination, can be replayed` };
  // No attempt wrote ahead inside the range: nothing of it was ever emitted.
  const after = (BigInt(first) - 1n).toString();
  return { kind: 'replay', gap: { after, to: last, ends: [], progressBefore: null, replayedThrough: null, traced: false } };
}

/** The shard with `gap` recorded (replacing its earlier state); recorded ends inside it now belong to the gap. */
function replaceGap(shard: MapperProgress, gap: Gap): MapperProgress {
  const others = (shard.gaps ?? []).filter((g) => g.to !== gap.to);
  return { ...shard, pendingEnds: shard.pendingEnds.filter((p) => !gapCovers(gap, p.end, p.end)), gaps: withGaps(others, [gap]) };
}

/** The write-ahead of a replay chunk ending at `end`: the gap (opened if new) with that end recorded. */
export function recordReplayEnd(shard: MapperProgress | undefined, shardId: string, gap: Gap, end: PendingEnd): MapperProgress {
  const base: MapperProgress = shard ?? { shardId, maxEventTime: Number.NEGATIVE_INFINITY, updatedAt: 0, pendingEnds: [] };
  const current = (base.gaps ?? []).find((g) => g.to === gap.to) ?? gap;
  if (current.ends.some((p) => p.end === end.end)) return replaceGap(base, current);
  const ends = [...current.ends, { end: end.end, watermark: end.watermark, maxEventTime: end.maxEventTime ?? null }].sort((a, b) => cmp(a.end, b.end));
  return replaceGap(base, { ...current, ends });
}

/** After a replay chunk's effects are done: how far the gap is replayed; closed once it reaches `to`. */
export function completeReplay(shard: MapperProgress, gapTo: string, through: string): MapperProgress {
  const gap = (shard.gaps ?? []).find((g) => g.to === gapTo);
  if (!gap) return shard;
  const replayedThrough = gap.replayedThrough === null || cmp(through, gap.replayedThrough) > 0 ? through : gap.replayedThrough;
  return replaceGap(shard, { ...gap, replayedThrough, ...(cmp(replayedThrough, gap.to) >= 0 ? { closed: 'replayed' as const } : {}) });
}

/** Abandon a gap (its records are past retention): explicit loss; the watermark is released. */
export function abandonGap(shard: MapperProgress, gapTo: string): MapperProgress {
  const gap = (shard.gaps ?? []).find((g) => g.to === gapTo);
  return gap ? replaceGap(shard, { ...gap, closed: 'abandoned' }) : shard;
}

/** The field of a mapper event that makes it a replay (`npm run replay` invokes the mapper with it). */
export const REPLAY_EVENT_FIELD = 'riffleReplay';

/**
 * A replay request: Kinesis-shaped records (the original shard id and sequence numbers) with the
 * range they belong to — a whole failure record, or a range inside a recorded gap.
 */
export interface ReplayRequest {
  readonly shardId: string;
  readonly first: string;
  readonly last: string;
  /** The range is an on-failure destination record's (the event source mapping skipped it). */
  readonly fromFailureRecord: boolean;
}

/** What the mapper answers a replay request with. */
export interface ReplayResponse {
  readonly outcome: 'replayed' | 'nothing' | 'refused';
  readonly reason?: string;
  readonly records: number;
  readonly partials: number;
  readonly shuffleRecords: number;
  /** The chunk reached the gap's end: the gap is closed (its hold ends once the reducers applied it). */
  readonly gapClosed: boolean;
}
