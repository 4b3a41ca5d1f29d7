// One mapper invocation over a batch of one input shard, as the protocol runs it:
//   1. read the job's progress partition: the watermark, and this shard's recorded ends
//   2. decode → validate → event time → map → window → combine, cut into segments at every
//      recorded end the batch spans (mapper-batch.ts; the handler feeds records one by one)
//   3. write-ahead: this attempt's end and max event time (write-ahead.ts), before emitting
//   4. pack partials per shuffle bucket into bundles and put them, in order (packing.ts)
//   5. rejected and late events to their deliveries
// Any failure throws: Lambda retries the batch, the retry cuts at this attempt's end, and the
// reducer's fence drops the partials it already applied.
import type { InputRecord } from '../input-decoding';
import type { Job } from '../job';
import { MapperBatch, type MapperOutput } from '../mapper-batch';
import { progressView, type MapperProgress } from '../progress';
import { packBundles, type ReplayMarker } from './packing';
import type { OutputPort, ShufflePort, StatePort } from './ports';
import { completeReplay, gapCovers, planReplay, recordReplayEnd, type ReplayPlan } from './replay';
import { completeAttempt, planAttempt, recordAttempt, type AttemptPlan } from './write-ahead';

export interface MapperSetup {
  readonly job: Job;
  readonly shuffleBuckets: number;
}

export interface MapperPorts {
  readonly state: Pick<StatePort, 'readProgress' | 'updateMapperProgress'>;
  readonly shuffle: ShufflePort;
  readonly output: OutputPort;
}

export interface MapperReport {
  readonly stats: MapperOutput['stats'];
  readonly segments: number;
  readonly shuffleRecords: number;
  readonly watermark: number;
  /** Gaps this attempt found and recorded (runs the event source mapping skipped). */
  readonly gapsRecorded: number;
}

/** A replay attempt over part of a gap (replay.ts); undefined plan fields: a live attempt. */
interface ReplayMode {
  readonly gap: NonNullable<Extract<ReplayPlan, { kind: 'replay' }>['gap']>;
}

/** Thrown for every record after one that failed: it was not looked at. */
export class RecordAfterFailure extends Error {
  constructor(failedAt: string) {
    super(`not processed: record ${failedAt} before it failed`);
    this.name = 'RecordAfterFailure';
  }
}

export class MapperAttempt {
  private batch: MapperBatch;
  private readonly added: InputRecord[] = [];
  private failedAt: string | undefined;

  private constructor(
    private readonly setup: MapperSetup,
    private readonly shardId: string,
    private readonly shard: MapperProgress | undefined,
    private readonly plan: AttemptPlan,
    private readonly watermark: number,
    private readonly nowMs: number,
    private readonly replay?: ReplayMode,
  ) {
    this.batch = this.newBatch();
  }

  /** Step 1: read the progress partition for a batch of `shardId` starting at `firstSequenceNumber`. */
  static async begin(state: MapperPorts['state'], setup: MapperSetup, shardId: string, firstSequenceNumber: string, nowMs: number): Promise<MapperAttempt> {
    const view = progressView(await state.readProgress(setup.job.name), setup.shuffleBuckets, nowMs, setup.job);
    const shard = view.mappers.find((m) => m.shardId === shardId);
    return new MapperAttempt(setup, shardId, shard, planAttempt(shard, firstSequenceNumber), view.watermark, nowMs);
  }

  /**
   * A replay of records [first, last] of `shardId` (replay.ts) — a whole failure record's range, or
   * a range inside a recorded gap: the gap's plan, or why there is nothing to do. Then add the
   * range's records in order, all of them or a contiguous chunk (a long range is replayed in
   * chunks, each its own attempt planned with the whole range).
   */
  static async beginReplay(
    state: MapperPorts['state'],
    setup: MapperSetup,
    shardId: string,
    range: { first: string; last: string; fromFailureRecord: boolean },
    nowMs: number,
  ): Promise<{ attempt: MapperAttempt; plan: ReplayPlan } | { attempt: undefined; plan: ReplayPlan }> {
    const view = progressView(await state.readProgress(setup.job.name), setup.shuffleBuckets, nowMs, setup.job);
    const shard = view.mappers.find((m) => m.shardId === shardId);
    const plan = planReplay(shard, range.first, range.last, range.fromFailureRecord);
    if (plan.kind !== 'replay') return { attempt: undefined, plan };
    // Cut at the gap's ends, classified with their watermarks: the skipped attempt's segments.
    const attemptPlan: AttemptPlan = { cutAfter: plan.gap.ends, olderEnds: [], progressBefore: Number.NEGATIVE_INFINITY, newGaps: [] };
    return { attempt: new MapperAttempt(setup, shardId, shard, attemptPlan, view.watermark, nowMs, { gap: plan.gap }), plan };
  }

  private newBatch(): MapperBatch {
    return new MapperBatch(this.setup.job, this.shardId, { watermark: this.watermark, nowMs: this.nowMs, cutAfter: this.plan.cutAfter });
  }

  /**
   * Step 2, per record, in shard order. Bad data never throws (it is rejected with a reason); an
   * unexpected error does, and so does every record after it: nothing past a failure is emitted,
   * so Lambda resumes from the failed record.
   */
  add(record: InputRecord): void {
    if (this.failedAt !== undefined) throw new RecordAfterFailure(this.failedAt);
    if (this.replay && !gapCovers(this.replay.gap, record.sequenceNumber, record.sequenceNumber)) {
      throw new Error(`record ${record.sequenceNumber} is outside the gap being replayed (${this.replay.gap.after ?? 'start'}..${this.replay.gap.to})`);
    }
    try {
      this.batch.add(record);
      this.added.push(record);
    } catch (error) {
      this.failedAt = record.sequenceNumber;
      // The failed record may have been half-folded: rebuild from the records before it.
      this.batch = this.newBatch();
      for (const ok of this.added) this.batch.add(ok);
      throw error;
    }
  }

  /** Steps 3–5 for the records added. */
  async finish(ports: MapperPorts): Promise<MapperReport> {
    const { job, shuffleBuckets } = this.setup;
    const output = this.batch.finish();
    const first = this.added[0];
    const last = this.added[this.added.length - 1];
    let shuffleRecords = 0;
    const progress = { lastSequenceNumber: last?.sequenceNumber ?? '', maxEventTime: output.maxEventTime, lastSegmentWatermark: this.batch.lastSegmentWatermark(), nowMs: this.nowMs };
    if (last !== undefined) {
      // Write-ahead (with any gap found before the batch), then emit.
      await ports.state.updateMapperProgress(job.name, this.shardId, (current) =>
        this.replay
          ? recordReplayEnd(current, this.shardId, this.replay.gap, { end: last.sequenceNumber, watermark: Number.isFinite(progress.lastSegmentWatermark) ? progress.lastSegmentWatermark : null, maxEventTime: null })
          : recordAttempt(this.shardId, current, this.plan, progress),
      );
      const marker: ReplayMarker | undefined = this.replay && { gap: this.replay.gap.to, traced: this.replay.gap.traced };
      const records = packBundles(job.name, shuffleBuckets, output, this.plan.progressBefore, marker);
      await ports.shuffle.put(records);
      shuffleRecords = records.length;
    }
    await ports.output.deliver('rejected', output.rejected);
    await ports.output.deliver('late', output.late);
    if (first !== undefined && last !== undefined) {
      // Every effect is done: the end is completed (an end never completed is a gap to the next attempt).
      const replay = this.replay;
      await ports.state.updateMapperProgress(job.name, this.shardId, (current) =>
        current && (replay ? completeReplay(current, replay.gap.to, last.sequenceNumber) : completeAttempt(current, first.sequenceNumber, last.sequenceNumber)),
      );
    }
    return { stats: output.stats, segments: output.segments.length, shuffleRecords, watermark: this.watermark, gapsRecorded: this.replay ? 0 : this.plan.newGaps.length };
  }
}
