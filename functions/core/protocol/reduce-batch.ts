// One reducer invocation over a batch of shuffle bundles, as the protocol runs it:
//   1. read the job's progress partition: the watermark for late checks
//   2. group partials by state item, in arrival order; read every item once
//   3. fold each group through the fence (fold.ts) and send the late partials — before any state
//      write: once a write lands, the fence skips that partial on a retry, and its late windows
//      could not be rebuilt. A partial judged late by the watermark first raises the recorded floor
//      to it, as the closer does: a retry (or a redelivery of the same range) after the computed
//      watermark went back — an idle shard woke up — must not count what was reported late
//   4. per item: write once, on the condition that the version is still the one read; a lost race
//      reads again and folds again (new late partials are sent after)
//   5. 'update' mode: the new results
//   6. record the applied progress per bucket — only now: progress must never run ahead of state
import type { Job } from '../job';
import type { LatePartialRecord, ResultRecord } from '../output-records';
import { advanceBuckets, openGaps, progressView } from '../progress';
import type { Bundle } from '../shuffle-format';
import { forEachLimit } from '../concurrency';
import { fromStoredItem, toStoredItem, type WindowItem } from '../window-item';
import { currentResults, foldPartials, groupPartials, newLate, type OpenGapsByShard } from './fold';
import { itemId, type OutputPort, type StatePort } from './ports';

export interface ReducerSetup {
  readonly job: Job;
  readonly shuffleBuckets: number;
}

export interface ReducerPorts {
  readonly state: Pick<StatePort, 'readProgress' | 'raiseWatermark' | 'getMany' | 'get' | 'putIfVersion' | 'writeBucketProgress'>;
  readonly output: OutputPort;
}

export interface ReduceReport {
  readonly groups: number;
  readonly writes: number;
  readonly duplicates: number;
  readonly late: number;
  readonly watermark: number;
}

/** Attempts at one item's conditional write before the batch fails (and Lambda retries it). */
export const MAX_WRITE_ATTEMPTS = 8;
/** Items folded and written concurrently: enough to hide latency, few enough for a cold on-demand table. */
export const WRITE_CONCURRENCY = 16;

export async function reduceBatch(ports: ReducerPorts, setup: ReducerSetup, bundles: readonly Bundle[], nowMs: number): Promise<ReduceReport> {
  const { job } = setup;
  const { buckets, watermark, floor, mappers } = progressView(await ports.state.readProgress(job.name), setup.shuffleBuckets, nowMs, job);
  // Open traced gaps: an item crossing one records its gap mark (fold.ts). Read after the bundles
  // were put, so a gap recorded before a bundle past it is always seen with that bundle.
  const gaps: OpenGapsByShard = new Map(mappers.map((m) => [m.shardId, openGaps(m).filter((g) => g.traced).map((g) => g.to)] as const).filter(([, ends]) => ends.length > 0));
  let floorRaised = false;
  const sendLate = async (records: readonly LatePartialRecord[]): Promise<void> => {
    if (records.length === 0) return;
    if (!floorRaised && Number.isFinite(watermark) && watermark > floor) await ports.state.raiseWatermark(job.name, watermark);
    floorRaised = true;
    await ports.output.deliver('late', records);
  };
  const groups = groupPartials(job, bundles);
  const current = await ports.state.getMany(groups);
  const read = (stored: Record<string, unknown> | undefined): WindowItem | undefined => (stored ? fromStoredItem(job, stored) : undefined);

  const folded = groups.map((group) => {
    const item = read(current.get(itemId(group.pk, group.sk)));
    return { group, item, outcome: foldPartials(job, item, group, watermark, nowMs, gaps) };
  });
  const late: LatePartialRecord[] = folded.flatMap((f) => f.outcome.late);
  const updates: ResultRecord[] = [];
  let duplicates = 0;
  for (const { item, outcome } of folded) {
    duplicates += outcome.duplicates;
    // A redelivered batch changes nothing, but its first delivery may have died between the
    // write and the emission: emit the current result again (same version, deduplicated).
    if (job.emit === 'update' && item && !outcome.changed && outcome.duplicates > 0) updates.push(...currentResults(job, item, nowMs));
  }
  await sendLate(late);

  let writes = 0;
  const lateAfterRaces: LatePartialRecord[] = [];
  await forEachLimit(folded, WRITE_CONCURRENCY, async ({ group, item: firstRead, outcome: firstOutcome }) => {
    let item = firstRead;
    let outcome = firstOutcome;
    const reported = [...firstOutcome.late];
    for (let attempt = 1; outcome.changed; attempt++) {
      writes++;
      if (await ports.state.putIfVersion(toStoredItem(job, outcome.item, nowMs), item?.version)) {
        if (job.emit === 'update') updates.push(...currentResults(job, outcome.item, nowMs));
        return;
      }
      if (attempt >= MAX_WRITE_ATTEMPTS) throw new Error(`state item ${group.pk} ${group.sk}: lost ${attempt} write races in a row; failing the batch so Lambda retries it`);
      item = read(await ports.state.get(group));
      outcome = foldPartials(job, item, group, watermark, nowMs, gaps);
      // A race lost to the closer turns the rest into late partials; send only the new ones.
      const fresh = newLate(reported, outcome.late);
      reported.push(...fresh);
      lateAfterRaces.push(...fresh);
    }
  });
  await sendLate(lateAfterRaces);
  await ports.output.deliver('results', updates);
  await ports.state.writeBucketProgress(job.name, advanceBuckets(buckets, bundles.map((b) => ({ bucket: b.bucket, shardId: b.origin.shardId, progress: b.progress, ...(b.replay ? { replay: { gap: b.replay.gap, last: b.origin.last } } : {}) })), nowMs));
  return { groups: groups.length, writes, duplicates, late: late.length + lateAfterRaces.length, watermark };
}
