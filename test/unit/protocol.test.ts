// The exactly-once protocol, end to end in memory (DESIGN §4): random events, split into random
// mapper batches that fail after emitting a random part of their bundles and are retried with
// longer or bisected ranges; a shuffle log consumed by reducer batches that crash after writing
// a random part of their items and are redelivered. Whatever the schedule, the final state must
// equal one pass over the events.
import fc from 'fast-check';
import { count, max, mean, min, sum } from '../../functions/core/aggregates';
import { mapBatch } from '../../functions/core/mapper-batch';
import { defineJob, type Job } from '../../functions/core/job';
import { bucketOf, type Bundle, decodeBundle, encodeBundle } from '../../functions/core/shuffle-format';
import type { PendingEnd } from '../../functions/core/progress';
import { foldPartials, resultValues, type WindowAccumulation, type WindowItem } from '../../functions/core/state';
import { groupPartials } from '../../functions/reducer';
import { session, tumbling, type WindowSpec } from '../../functions/core/windows';
import { SensorReading } from '../../events/schemas';
import { inputRecord } from '../support/factories';
import type { Json } from '../../functions/core/aggregates/types';

const BUCKETS = 3;
const NOW = 1_767_225_600_000;

function testJob(window: WindowSpec): Job {
  return defineJob({
    name: 'protocol-test',
    schema: SensorReading,
    eventTime: (r) => r.ts,
    map: (r) => [[r.sensorId, { temperature: r.temperature }]],
    window,
    aggregates: { n: count(), total: sum('temperature'), lo: min('temperature'), hi: max('temperature'), avg: mean('temperature') },
  }) as unknown as Job;
}

interface Ev {
  sensorId: string;
  ts: number;
  temperature: number;
}

/** One pass: every event folded exactly once, through the same windowing and state code. */
function onePass(job: Job, events: readonly Ev[]): Map<string, Record<string, Json>> {
  const out = mapBatch(job, 'shard-0', events.map((e, i) => inputRecord(i, e)), { watermark: Number.NEGATIVE_INFINITY, nowMs: 1_767_225_600_000 });
  const bundles: Bundle[] = [{ job: job.name, origin: out.segments[0]!.origin, bucket: 0, progress: null, partials: out.segments.flatMap((s) => s.partials) }];
  return finalResults(job, applyAll(job, new Map(), bundles));
}

function applyAll(job: Job, store: Map<string, WindowItem>, bundles: readonly Bundle[], keep: (i: number) => boolean = () => true): Map<string, WindowItem> {
  groupPartials(job, bundles).forEach((group, i) => {
    const id = `${group.pk}|${group.sk}`;
    const outcome = foldPartials(job, store.get(id), group.pk, group.sk, group.partials, Number.NEGATIVE_INFINITY, 0);
    expect(outcome.late).toHaveLength(0);
    if (outcome.changed && keep(i)) store.set(id, outcome.item);
  });
  return store;
}

function finalResults(job: Job, store: Map<string, WindowItem>): Map<string, Record<string, Json>> {
  const results = new Map<string, Record<string, Json>>();
  for (const item of store.values()) {
    const accs: WindowAccumulation[] = item.window ? [item.window] : (item.sessions ?? []);
    for (const acc of accs) results.set(`${item.key}|${acc.start}|${acc.end}`, { ...resultValues(job, acc), eventCount: acc.n });
  }
  return results;
}

const eventArb = fc.record({
  sensorId: fc.constantFrom('a', 'b', 'c', 'd'),
  ts: fc.integer({ min: 1_767_225_600_000, max: 1_767_225_600_000 + 30 * 60_000 }),
  // Integers (in tenths) keep float sums exact so the comparison can be strict.
  temperature: fc.integer({ min: -300, max: 400 }).map((t) => t / 4),
});

/** A schedule: batch lengths, and per attempt whether it fails and which bundles it got out. */
const scheduleArb = fc.record({
  batchLengths: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 60 }),
  failures: fc.array(fc.record({ fail: fc.boolean(), emitMask: fc.integer({ min: 0, max: 2 ** 12 - 1 }), grow: fc.integer({ min: -20, max: 20 }) }), { minLength: 1, maxLength: 30 }),
  reducerBatch: fc.integer({ min: 1, max: 12 }),
  reducerCrashes: fc.array(fc.record({ crash: fc.boolean(), writeMask: fc.integer({ min: 0, max: 2 ** 16 - 1 }) }), { minLength: 1, maxLength: 20 }),
});

type Schedule = typeof scheduleArb extends fc.Arbitrary<infer T> ? T : never;

function runSchedule(job: Job, events: readonly Ev[], schedule: Schedule) {
  const records = events.map((e, i) => inputRecord(i, e));
  const log: Buffer[] = [];
  let pendingEnds: PendingEnd[] = [];
  let checkpoint = 0;
  let attempt = 0;
  let batchIndex = 0;
  let maxEventTime = Number.NEGATIVE_INFINITY;
  while (checkpoint < records.length) {
    const f = schedule.failures[attempt % schedule.failures.length]!;
    const base = schedule.batchLengths[batchIndex % schedule.batchLengths.length]!;
    // Retries start at the checkpoint with a length that may grow (new records) or shrink (bisect).
    const length = Math.max(1, base + (attempt > 0 ? f.grow : 0));
    const batch = records.slice(checkpoint, checkpoint + length);
    const firstSeq = BigInt(batch[0]!.sequenceNumber);
    const cutAfter = pendingEnds.filter((e) => BigInt(e.end) >= firstSeq);
    const out = mapBatch(job, 'shard-0', batch, { watermark: Number.NEGATIVE_INFINITY, nowMs: 1_767_225_600_000, cutAfter });
    const lastSeq = batch[batch.length - 1]!.sequenceNumber;
    pendingEnds = cutAfter.some((e) => e.end === lastSeq) ? cutAfter : [...cutAfter, { end: lastSeq, watermark: null }]; // write-ahead
    // Bundles go out as the mapper sends them (functions/commons/shuffle.ts): in waves holding at
    // most one bundle per bucket, a wave starting only once the previous one is fully in.
    const waves: Buffer[][] = [];
    const perBucket = new Map<number, number>();
    for (const segment of out.segments) {
      maxEventTime = Math.max(maxEventTime, segment.maxEventTime ?? Number.NEGATIVE_INFINITY);
      for (let b = 0; b < BUCKETS; b++) {
        const partials = segment.partials.filter((p) => bucketOf(p.key, BUCKETS) === b);
        const wave = perBucket.get(b) ?? 0;
        perBucket.set(b, wave + 1);
        (waves[wave] ??= []).push(encodeBundle({ job: job.name, origin: segment.origin, bucket: b, progress: maxEventTime, partials }));
      }
    }
    const failing = f.fail && attempt < 25;
    // A failing attempt gets its first waves out, then any subset of the wave that failed.
    const failedWave = failing ? f.emitMask % (waves.length + 1) : waves.length;
    waves.forEach((wave, w) => {
      wave.forEach((bundle, i) => {
        if (w < failedWave || (w === failedWave && (f.emitMask >> (4 + (i % 8))) & 1)) log.push(bundle);
      });
    });
    attempt++;
    if (!failing) {
      checkpoint += batch.length;
      batchIndex++;
      attempt = 0;
    }
  }
  // Keep per-bucket order: a failed attempt's emitted subset must precede the retry's bundles,
  // which holds because the log is append-only above. Now the reducer consumes the log.
  const store = new Map<string, WindowItem>();
  let position = 0;
  let crashIndex = 0;
  while (position < log.length) {
    const slice = log.slice(position, position + schedule.reducerBatch).map(decodeBundle);
    const crash = schedule.reducerCrashes[crashIndex++ % schedule.reducerCrashes.length]!;
    if (crash.crash && crashIndex < 40) {
      // Crash after writing some items: those writes stick; the batch is redelivered.
      applyAll(job, store, slice, (i) => ((crash.writeMask >> (i % 16)) & 1) === 1);
      continue;
    }
    applyAll(job, store, slice);
    position += schedule.reducerBatch;
  }
  return finalResults(job, store);
}

describe('exactly-once protocol (in memory)', () => {
  for (const [name, window] of [
    ['tumbling', tumbling('5m')],
    ['session', session('2m')],
  ] as const) {
    it(`${name}: any mapper/reducer failure schedule gives the one-pass result`, () => {
      const job = testJob(window);
      fc.assert(
        fc.property(fc.array(eventArb, { minLength: 1, maxLength: 150 }), scheduleArb, (events, schedule) => {
          expect(runSchedule(job, events, schedule)).toEqual(onePass(job, events));
        }),
        { numRuns: 1000 },
      );
    });
  }

  it('detects double counting when the write-ahead cut is skipped (the property can fail)', () => {
    const job = testJob(tumbling('5m'));
    const events = Array.from({ length: 20 }, (_, i) => ({ sensorId: 'a', ts: 1_767_225_600_000 + i * 1000, temperature: 1 }));
    const records = events.map((e, i) => inputRecord(i, e));
    // Attempt 1 covers 10 records and gets its bundle out, then fails; attempt 2 covers 20 records
    // *without* cutting at attempt 1's end: its partial straddles the applied range.
    const a1 = mapBatch(job, 's', records.slice(0, 10), { watermark: Number.NEGATIVE_INFINITY, nowMs: NOW });
    const a2 = mapBatch(job, 's', records, { watermark: Number.NEGATIVE_INFINITY, nowMs: NOW });
    const toBundle = (s: (typeof a1.segments)[number]): Bundle => ({ job: job.name, origin: s.origin, bucket: 0, progress: null, partials: s.partials });
    const store = applyAll(job, new Map(), [...a1.segments, ...a2.segments].map(toBundle));
    const counted = [...finalResults(job, store).values()].reduce((n, r) => n + Number(r.eventCount), 0);
    expect(counted).not.toBe(20); // skipped: the straddling partial is dropped whole — wrong either way
    // With the cut, the retry is split at record 9 and the result is exact.
    const a2cut = mapBatch(job, 's', records, { watermark: Number.NEGATIVE_INFINITY, nowMs: NOW, cutAfter: [{ end: records[9]!.sequenceNumber, watermark: null }] });
    expect(a2cut.segments).toHaveLength(2);
    const exact = applyAll(job, new Map(), [...a1.segments, ...a2cut.segments].map(toBundle));
    expect([...finalResults(job, exact).values()].reduce((n, r) => n + Number(r.eventCount), 0)).toBe(20);
  });
});

describe('fold edge cases', () => {
  it('a redelivered partial for a CLOSED window is a duplicate, not an error', () => {
    const job = testJob(tumbling('5m'));
    const out = mapBatch(job, 'shard-0', [inputRecord(0, { sensorId: 'a', ts: NOW, temperature: 1 })], { watermark: Number.NEGATIVE_INFINITY, nowMs: NOW });
    const bundle: Bundle = { job: job.name, origin: out.segments[0]!.origin, bucket: 0, progress: null, partials: out.segments[0]!.partials };
    const [group] = groupPartials(job, [bundle]);
    const applied = foldPartials(job, undefined, group!.pk, group!.sk, group!.partials, Number.NEGATIVE_INFINITY, NOW);
    // Closed items are stored without accumulators (state.ts toStoredItem).
    const closed: WindowItem = { ...applied.item, status: 'CLOSED', window: { ...applied.item.window!, accs: [] } };
    const again = foldPartials(job, closed, group!.pk, group!.sk, group!.partials, Number.NEGATIVE_INFINITY, NOW);
    expect(again).toMatchObject({ changed: false, duplicates: 1, late: [] });
  });
});

describe('retries classify late events as the attempt they repeat', () => {
  it('a retry with a fresher watermark makes the same decisions up to the recorded end, and uses the new one past it', () => {
    const job = testJob(tumbling('5m'));
    // Ten events in the first window of the day, then ten an hour later.
    const events = [
      ...Array.from({ length: 10 }, (_, i) => ({ sensorId: 'a', ts: NOW - 3_600_000 + i * 1000, temperature: 1 })),
      ...Array.from({ length: 10 }, (_, i) => ({ sensorId: 'a', ts: NOW - 3_600_000 + i * 1000, temperature: 2 })),
    ];
    const records = events.map((e, i) => inputRecord(i, e));
    const first = mapBatch(job, 's', records.slice(0, 10), { watermark: Number.NEGATIVE_INFINITY, nowMs: NOW });
    expect(first.late).toHaveLength(0);
    // Meanwhile the first attempt's partials were applied and the watermark moved past the window.
    const fresh = NOW;
    const end = { end: records[9]!.sequenceNumber, watermark: null };
    const retry = mapBatch(job, 's', records, { watermark: fresh, nowMs: NOW, cutAfter: [end] });
    expect(retry.segments).toHaveLength(2);
    // Records 0–9: classified with the recorded watermark (−∞): counted again (the fence drops the
    // duplicate partial), not reported late. Records 10–19: new, classified with the fresh one: late.
    expect(retry.segments[0]!.partials).toHaveLength(1);
    expect(retry.segments[1]!.partials).toHaveLength(0);
    expect(retry.late.map((l) => l.sequenceNumber)).toEqual(records.slice(10).map((r) => r.sequenceNumber));
    // Without the recorded watermark the retry would report the already-counted events late.
    const naive = mapBatch(job, 's', records, { watermark: fresh, nowMs: NOW, cutAfter: [{ ...end, watermark: fresh }] });
    expect(naive.late).toHaveLength(20);
  });
});
