// One closer run, as the protocol runs it:
//   1. the watermark from the progress partition (or +∞ with { drain: true }: end of a bounded
//      input), recorded as the new floor before it is acted on — mappers and reducers then never
//      decide with less
//   2. the open-windows index → the items whose close time has come
//   3. each item through the steps of closing.ts: windows emit-then-flip (batched: one read, one
//      emission, one write per window), sessions freeze → emit → forget
import { openPartitions } from '../../contract/table';
import { forEachLimit } from '../concurrency';
import type { Job } from '../job';
import { iso } from '../output-records';
import { openGaps, progressView } from '../progress';
import { fromStoredItem, isSessionItem, toStoredItem, type WindowItem } from '../window-item';
import { nextCloseStep } from './closing';
import type { ItemKey, OutputPort, StatePort } from './ports';

export interface CloserSetup {
  readonly job: Job;
  readonly shuffleBuckets: number;
  readonly closedRetentionDays: number;
}

export interface CloserPorts {
  readonly state: Pick<StatePort, 'readProgress' | 'raiseWatermark' | 'dueItems' | 'getMany' | 'get' | 'putIfVersion'>;
  readonly output: OutputPort;
  /** Wall clock (emittedAt, expiry): the tests pass a simulated one. */
  readonly now: () => number;
}

export interface CloserSummary {
  watermark: string | null;
  due: number;
  closed: number;
  emitted: number;
  races: number;
  /** Open gaps over every input shard (each holds the watermark until `npm run replay`). */
  openGaps: number;
}

/** Lost races on one item in a row before the run fails (the next run retries). */
export const MAX_CLOSE_ATTEMPTS = 8;
const WRITE_CONCURRENCY = 16;

export async function closeRun(ports: CloserPorts, setup: CloserSetup, options: { drain?: boolean } = {}): Promise<CloserSummary> {
  const { job } = setup;
  const { state, output, now } = ports;
  const view = progressView(await state.readProgress(job.name), setup.shuffleBuckets, now(), job);
  const watermark = options.drain ? Number.POSITIVE_INFINITY : view.watermark;
  if (Number.isFinite(watermark) && watermark > view.floor) await state.raiseWatermark(job.name, watermark);
  const summary: CloserSummary = {
    watermark: Number.isFinite(watermark) ? iso(watermark) : options.drain ? 'drain' : null,
    due: 0,
    closed: 0,
    emitted: 0,
    races: 0,
    openGaps: view.mappers.reduce((n, m) => n + openGaps(m).length, 0),
  };
  if (watermark === Number.NEGATIVE_INFINITY) return summary;

  const due: ItemKey[] = [];
  for (const partition of openPartitions(job.name)) due.push(...(await state.dueItems(partition, watermark)));
  summary.due = due.length;
  const stored = (item: WindowItem) => toStoredItem(job, item, now(), setup.closedRetentionDays);

  /** Close one item step by step; a lost race reads it again. */
  async function closeItem(key: ItemKey, first?: WindowItem): Promise<void> {
    const read = async () => {
      const found = await state.get(key);
      return found ? fromStoredItem(job, found) : undefined;
    };
    let item = first ?? (await read());
    for (let attempt = 1; item; ) {
      const step = nextCloseStep(job, item, watermark, now());
      if (step.kind === 'nothing-due') return;
      if (step.kind !== 'freeze') {
        await output.deliver('results', step.results);
        summary.emitted += step.results.length;
      }
      if (await state.putIfVersion(stored(step.next), item.version)) {
        if (step.kind !== 'freeze') summary.closed += step.results.length;
        item = step.next;
        continue;
      }
      summary.races++;
      if (++attempt > MAX_CLOSE_ATTEMPTS) throw new Error(`closing ${key.pk} ${key.sk}: lost ${MAX_CLOSE_ATTEMPTS} races in a row; the next run retries`);
      item = await read();
    }
  }

  // Windows, batched: one read, one emission, then one conditional write each.
  const windows = due.filter((key) => !isSessionItem(key));
  const items = [...(await state.getMany(windows)).values()].map((s) => fromStoredItem(job, s));
  const emittedAt = now();
  const flips = items.flatMap((item) => {
    const step = nextCloseStep(job, item, watermark, emittedAt);
    return step.kind === 'emit-then-flip' ? [{ item, step }] : [];
  });
  await output.deliver('results', flips.flatMap((f) => f.step.results));
  summary.emitted += flips.length;
  await forEachLimit(flips, WRITE_CONCURRENCY, async ({ item, step }) => {
    if (await state.putIfVersion(stored(step.next), item.version)) {
      summary.closed++;
    } else {
      summary.races++;
      await closeItem(item);
    }
  });
  for (const key of due.filter((k) => isSessionItem(k))) await closeItem(key);
  return summary;
}
