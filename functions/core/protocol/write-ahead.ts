// Write-ahead ends: the mapper's half of the exactly-once protocol.
//
// The fence alone is not enough: if an attempt over records 1–100 gets some of its bundles out and
// fails, Lambda may retry with records 1–150 (or bisect to 1–50). A partial for 1–150 would then
// straddle a mark of 100 that some item already holds, and be double counted (or, skipped, lost).
// So before emitting anything, the mapper records the attempt's last sequence number in its
// shard's progress item; a later attempt cuts its batch into segments at every recorded end it
// spans (mapper-batch.ts), and no partial ever straddles a mark.
//
// Each end also keeps the watermark its last segment was classified with — a retry classifies
// late/on-time exactly as the attempt it repeats, whose partials the reducer may already have
// applied — and the max event time of the records up to it, so a retry's bundles never claim more
// progress than the records they follow (the in-band watermark, progress.ts).
import { compareSequenceNumbers } from '../positions';
import type { Gap, MapperProgress, PendingEnd } from '../progress';
import { advanceShardProgress } from '../watermark';

/** Recorded ends already passed by the checkpoint that are kept anyway, for redeliveries of old batches. */
export const KEEP_OLD_ENDS = 8;

export interface AttemptPlan {
  /** Recorded ends at or after the batch's first record: the batch is cut at each. */
  readonly cutAfter: readonly PendingEnd[];
  /** Ends before the batch (attempts that completed), the last KEEP_OLD_ENDS of them. */
  readonly olderEnds: readonly PendingEnd[];
  /** Max event time of the records before this batch (all of them were processed): where this batch's progress starts. */
  readonly progressBefore: number;
  /** Runs before the batch that were skipped (an end never completed): recorded with the write-ahead. */
  readonly newGaps: readonly Gap[];
}

/** Closed gaps kept on the shard's item, so that replaying an old failure record again changes nothing. */
export const KEEP_CLOSED_GAPS = 64;

const isDone = (p: PendingEnd): boolean => p.done !== false;
const bySequence = (a: PendingEnd, b: PendingEnd): number => compareSequenceNumbers(a.end, b.end);

/**
 * Ends before the batch that were never completed: the event source mapping skipped their attempt.
 * Each run of them between completed ends becomes a gap from the completed end before it.
 */
function skippedRuns(before: readonly PendingEnd[], known: readonly Gap[]): { gaps: Gap[]; done: PendingEnd[] } {
  const gaps: Gap[] = [];
  const done: PendingEnd[] = [];
  let run: PendingEnd[] = [];
  let previous: PendingEnd | undefined;
  const flush = () => {
    const last = run[run.length - 1];
    // A gap recorded before (by an earlier attempt, or a replay) ends a run too.
    const head = run[0];
    for (const g of known) {
      if (head && compareSequenceNumbers(g.to, head.end) < 0 && (previous === undefined || compareSequenceNumbers(g.to, previous.end) > 0)) {
        previous = { end: g.to, watermark: null, maxEventTime: g.ends[g.ends.length - 1]?.maxEventTime ?? g.progressBefore };
      }
    }
    if (last) gaps.push({ after: previous?.end ?? null, to: last.end, ends: run.map((p) => ({ end: p.end, watermark: p.watermark, maxEventTime: p.maxEventTime ?? null })), progressBefore: previous?.maxEventTime ?? null, replayedThrough: null, traced: true });
    run = [];
  };
  for (const p of before) {
    if (isDone(p)) {
      flush();
      done.push(p);
      previous = p;
    } else {
      run.push(p);
    }
  }
  flush();
  return { gaps, done };
}

function finiteOrNull(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

/** What an attempt starting at `firstSequenceNumber` must respect, from its shard's progress item. */
export function planAttempt(shard: MapperProgress | undefined, firstSequenceNumber: string): AttemptPlan {
  const recorded = [...(shard?.pendingEnds ?? [])].sort(bySequence);
  // Ends a replay already moved into a gap are the gap's (a replay may record it before any later batch).
  const inGap = (p: PendingEnd) => (shard?.gaps ?? []).some((g) => (g.after === null || compareSequenceNumbers(p.end, g.after) > 0) && compareSequenceNumbers(p.end, g.to) <= 0);
  const { gaps: newGaps, done: before } = skippedRuns(
    recorded.filter((p) => compareSequenceNumbers(p.end, firstSequenceNumber) < 0 && !inGap(p)),
    [...(shard?.gaps ?? [])].sort((a, b) => compareSequenceNumbers(a.to, b.to)),
  );
  // Every record before the batch was processed; the ends it passed, and what earlier ends were
  // folded into, bound their max event time. Items written before ends carried it start at −∞
  // (a lower progress only holds the watermark back).
  let progressBefore = shard?.checkpointMaxEventTime ?? Number.NEGATIVE_INFINITY;
  for (const p of before) progressBefore = Math.max(progressBefore, p.maxEventTime ?? Number.NEGATIVE_INFINITY);
  for (const g of newGaps) for (const p of g.ends) progressBefore = Math.max(progressBefore, p.maxEventTime ?? Number.NEGATIVE_INFINITY);
  return {
    cutAfter: recorded.filter((p) => compareSequenceNumbers(p.end, firstSequenceNumber) >= 0),
    olderEnds: before.slice(-KEEP_OLD_ENDS),
    progressBefore,
    newGaps,
  };
}

/**
 * The shard's progress item to write before emitting an attempt that ends at `lastSequenceNumber`:
 * its end recorded (once: a retry over the same records keeps the first watermark), the max event
 * time and activity advanced.
 */
export function recordAttempt(
  shardId: string,
  shard: MapperProgress | undefined,
  plan: AttemptPlan,
  attempt: { lastSequenceNumber: string; maxEventTime: number | undefined; lastSegmentWatermark: number; nowMs: number },
): MapperProgress {
  const advanced = advanceShardProgress(shard && { shardId, maxEventTime: shard.maxEventTime, updatedAt: shard.updatedAt }, attempt.maxEventTime, attempt.nowMs, shardId);
  const known = plan.cutAfter.some((p) => p.end === attempt.lastSequenceNumber);
  const end: PendingEnd = {
    end: attempt.lastSequenceNumber,
    watermark: finiteOrNull(attempt.lastSegmentWatermark),
    maxEventTime: finiteOrNull(Math.max(plan.progressBefore, attempt.maxEventTime ?? Number.NEGATIVE_INFINITY)),
    done: false,
  };
  return {
    ...advanced,
    pendingEnds: known ? [...plan.olderEnds, ...plan.cutAfter] : [...plan.olderEnds, ...plan.cutAfter, end],
    checkpointMaxEventTime: plan.progressBefore,
    gaps: withGaps(shard?.gaps, plan.newGaps),
  };
}

/** Existing gaps plus new ones (a gap is its shard and `to`), keeping the last KEEP_CLOSED_GAPS closed ones. */
export function withGaps(existing: readonly Gap[] | undefined, added: readonly Gap[]): Gap[] {
  const all = [...(existing ?? [])];
  const inside = (g: Gap, e: Gap) => (e.after === null || compareSequenceNumbers(g.to, e.after) > 0) && compareSequenceNumbers(g.to, e.to) <= 0;
  for (const g of added) if (!all.some((e) => inside(g, e))) all.push(g);
  const closed = all.filter((g) => g.closed !== undefined);
  const drop = new Set(closed.slice(0, Math.max(0, closed.length - KEEP_CLOSED_GAPS)));
  return all.filter((g) => !drop.has(g));
}

/**
 * After every effect of an attempt over [first, last] is done: its ends, and every earlier end it
 * re-emitted, are completed. An end that stays incomplete was skipped, and becomes a gap.
 */
export function completeAttempt(shard: MapperProgress, first: string, last: string): MapperProgress {
  return {
    ...shard,
    pendingEnds: shard.pendingEnds.map((p) =>
      !isDone(p) && compareSequenceNumbers(p.end, first) >= 0 && compareSequenceNumbers(p.end, last) <= 0 ? { end: p.end, watermark: p.watermark, maxEventTime: p.maxEventTime ?? null } : p,
    ),
  };
}
