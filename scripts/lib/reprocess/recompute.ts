// The recomputation at the heart of `npm run reprocess`: input records of one job's input stream →
// the final results of its windows in an event-time range, computed by the production core — the
// mapper's decode/schema/event-time/map/window assignment (MapperBatch), the reducer's fold
// (groupPartials, foldPartials) and the closer's steps (nextCloseStep) — never a copy of them.
//
// Differences from the live pipeline, on purpose:
// - no watermark: every event of the retained input counts, including those the live pipeline sent
//   to late/ (a reprocess says what the windows hold given all the input that arrived);
// - input is deduplicated as the live pipeline's fence does it, by position: per shard, a record at
//   or before the last sequence number already read is a repeat (a resumed read, an overlap of the
//   archive and the stream);
// - rejected events are counted, not written again (the live pipeline wrote them to rejected/).
import type { InputRecord } from '../../../functions/core/input-decoding';
import type { Job } from '../../../functions/core/job';
import { MapperBatch } from '../../../functions/core/mapper-batch';
import { compareSequenceNumbers } from '../../../functions/core/positions';
import { nextCloseStep } from '../../../functions/core/protocol/closing';
import { foldPartials, groupPartials } from '../../../functions/core/protocol/fold';
import { itemId } from '../../../functions/core/protocol/ports';
import type { ResultRecord } from '../../../functions/core/output-records';
import type { Bundle } from '../../../functions/core/shuffle-format';
import type { WindowItem } from '../../../functions/core/window-item';

export interface EventTimeRange {
  /** Inclusive, epoch ms: windows starting at or after it. */
  readonly fromMs: number;
  /** Exclusive, epoch ms: windows starting before it. */
  readonly toMs: number;
}

export interface RecomputeStats {
  records: number;
  /** Records skipped as repeats of a position already read. */
  duplicates: number;
  events: number;
  rejected: number;
  /** Window contributions outside the range (dropped before folding). */
  outside: number;
}

export class Recompute {
  readonly stats: RecomputeStats = { records: 0, duplicates: 0, events: 0, rejected: 0, outside: 0 };
  private readonly items = new Map<string, WindowItem>();
  private readonly lastSequence = new Map<string, string>();

  /**
   * @param nowMs the run's clock: the mapper's future-skew check and every result's emittedAt, fixed
   *   per run so that a resumed run emits identical rows.
   */
  constructor(
    private readonly job: Job,
    private readonly range: EventTimeRange,
    private readonly nowMs: number,
  ) {}

  /** Fold one shard's records (in shard order; any number of calls per shard). */
  add(shardId: string, records: readonly InputRecord[]): void {
    const batch = new MapperBatch(this.job, shardId, { watermark: Number.NEGATIVE_INFINITY, nowMs: this.nowMs });
    let fed = 0;
    for (const record of records) {
      this.stats.records++;
      const last = this.lastSequence.get(shardId);
      if (last !== undefined && compareSequenceNumbers(record.sequenceNumber, last) <= 0) {
        this.stats.duplicates++;
        continue;
      }
      this.lastSequence.set(shardId, record.sequenceNumber);
      batch.add(record);
      fed++;
    }
    if (fed === 0) return;
    const out = batch.finish();
    this.stats.events += out.stats.events;
    this.stats.rejected += out.stats.rejected;
    const session = this.job.window.type === 'session';
    const bundles: Bundle[] = out.segments.map((segment) => ({
      job: this.job.name,
      origin: segment.origin,
      bucket: 0,
      progress: segment.maxEventTime ?? null,
      // Fixed windows outside the range are dropped here; sessions merge first and are filtered at the end.
      partials: session
        ? segment.partials
        : segment.partials.flatMap((p) => {
            const windows = p.windows.filter((w) => this.inRange(w.start));
            this.stats.outside += p.windows.length - windows.length;
            return windows.length > 0 ? [{ ...p, windows }] : [];
          }),
    }));
    for (const group of groupPartials(this.job, bundles)) {
      const id = itemId(group.pk, group.sk);
      const outcome = foldPartials(this.job, this.items.get(id), group, Number.NEGATIVE_INFINITY, this.nowMs);
      if (outcome.changed) this.items.set(id, outcome.item);
    }
  }

  private inRange(start: number): boolean {
    return start >= this.range.fromMs && start < this.range.toMs;
  }

  /** Windows (sessions: open sessions) held so far. */
  get size(): number {
    return this.items.size;
  }

  /**
   * The final result of every window in the range, as the closer would emit it at an infinite
   * watermark, tagged with `revision` (and state version 1); sorted by window start, then key, so that chunks of them are
   * the same in every run over the same input.
   */
  results(revision: number): ResultRecord[] {
    const out: ResultRecord[] = [];
    for (const first of this.items.values()) {
      let item: WindowItem = first;
      for (let steps = 0; steps < 4; steps++) {
        const step = nextCloseStep(this.job, item, Number.POSITIVE_INFINITY, this.nowMs);
        if (step.kind === 'nothing-due') break;
        if (step.kind !== 'freeze') out.push(...step.results);
        if (step.kind === 'emit-then-flip') break;
        item = step.next;
      }
    }
    return out
      .filter((r) => this.inRange(Date.parse(r.windowStart)))
      // version 1: the state version counts folds, which depends on how the input was paged; a
      // reprocess row is identified by its revision, and a resumed run must emit identical rows.
      .map((r) => ({ ...r, version: 1, revision }))
      .sort((a, b) => (a.windowStart < b.windowStart ? -1 : a.windowStart > b.windowStart ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : a.windowEnd < b.windowEnd ? -1 : 1));
  }
}
