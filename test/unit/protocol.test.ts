// The exactly-once protocol end to end in memory: the production mapper attempt, reducer batch
// and closer run (functions/core/protocol/) over in-memory services (test/support/memory-ports.ts)
// that crash an invocation before any single effect — a state write, one shuffle record, one
// delivered record — under random schedules of mapper retries (longer, bisected, redelivered),
// reducer redeliveries and closer runs interleaved with both. Checked after every schedule:
// - in order (event times never decrease on a shard): nothing is late, and the final results
//   equal an independent one-pass computation;
// - in disorder: every event is counted exactly once or reported late, never both, never lost;
// - always: each window's highest-version emission is final and equals its CLOSED state (emit
//   then flip), and re-emissions of a version are identical.
import fc from 'fast-check';
import { count, max, mean, min, sum } from '../../functions/core/aggregates';
import type { InputRecord } from '../../functions/core/input-decoding';
import { defineJob, type Job } from '../../functions/core/job';
import { mapBatch } from '../../functions/core/mapper-batch';
import { resultId, type LatePartialRecord, type ResultRecord } from '../../functions/core/output-records';
import { closeRun } from '../../functions/core/protocol/close-run';
import { foldPartials, groupPartials } from '../../functions/core/protocol/fold';
import { MapperAttempt } from '../../functions/core/protocol/map-attempt';
import { reduceBatch } from '../../functions/core/protocol/reduce-batch';
import { decodeBundle, type Bundle } from '../../functions/core/shuffle-format';
import { fromStoredItem, type WindowItem } from '../../functions/core/window-item';
import { session, tumbling, type WindowSpec } from '../../functions/core/windows';
import { SensorReading } from '../../events/schemas';
import { openGaps, parseProgressItems, type Gap } from '../../functions/core/progress';
import { inputRecord } from '../support/factories';
import { arm, Crash, MemoryOutput, MemoryShuffle, MemoryTable } from '../support/memory-ports';

const NOW = 1_767_225_600_000;
const T0 = NOW - 2 * 3_600_000;
const SPAN = 30 * 60_000;
const BUCKETS = 3;
const SEED = fc.readConfigureGlobal().seed;

function testJob(window: WindowSpec, idleTimeout: '1m' | '1d'): Job {
  return defineJob({
    name: 'protocol-test',
    schema: SensorReading,
    eventTime: (r) => r.ts,
    map: (r) => [[r.sensorId, { temperature: r.temperature }]],
    window,
    allowedLateness: '1s',
    idleTimeout,
    aggregates: { n: count(), total: sum('temperature'), lo: min('temperature'), hi: max('temperature'), avg: mean('temperature') },
  });
}

interface Ev {
  sensorId: string;
  ts: number;
  temperature: number;
}

// ---- the world: input shards as the ESM feeds them, shuffle shards as the reducer reads them ----

interface InputShard {
  id: string;
  events: Ev[];
  records: InputRecord[];
  checkpoint: number;
  last?: { start: number; length: number };
  /** The batch at the checkpoint failed with this many records (the ESM may give up on it: skip). */
  failing?: number;
  /** Ranges [start, end) the ESM gave up on (its on-failure destination). */
  skipped: { start: number; end: number }[];
}

class World {
  readonly table = new MemoryTable();
  readonly shuffle = new MemoryShuffle(2);
  readonly output = new MemoryOutput();
  readonly readers = [0, 0];
  readonly shards: InputShard[];
  clock = NOW;

  constructor(
    readonly job: Job,
    eventsByShard: Ev[][],
  ) {
    this.shards = eventsByShard.map((events, s) => {
      const id = `shardId-00000000000${s}`;
      return { id, events, records: events.map((e, i) => inputRecord(i, e, id)), checkpoint: 0, skipped: [] };
    });
  }

  private arm(budget: number | undefined, dropMask = 0): void {
    arm(budget, this.table, this.shuffle, this.output);
    this.shuffle.dropMask = dropMask;
  }

  /** One mapper invocation: the batch at the checkpoint (a retry if the last one failed), or a redelivery of the last batch. */
  async map(s: number, length: number, budget?: number, dropMask = 0, redeliver = false): Promise<void> {
    const shard = this.shards[s % this.shards.length] as InputShard;
    const start = redeliver && shard.last ? shard.last.start : shard.checkpoint;
    const batch = shard.records.slice(start, start + (redeliver && shard.last ? shard.last.length : length));
    if (batch.length === 0) return;
    this.arm(budget, dropMask);
    try {
      const attempt = await MapperAttempt.begin(this.table, { job: this.job, shuffleBuckets: BUCKETS }, shard.id, (batch[0] as InputRecord).sequenceNumber, this.clock);
      for (const record of batch) attempt.add(record);
      await attempt.finish({ state: this.table, shuffle: this.shuffle, output: this.output });
      if (!redeliver) {
        shard.last = { start, length: batch.length };
        shard.checkpoint = start + batch.length;
        shard.failing = undefined;
      }
    } catch (error) {
      if (!(error instanceof Crash)) throw error;
      if (!redeliver) shard.failing = batch.length;
    }
  }

  /** The ESM's retries run out on the failing batch of a shard: it goes to the on-failure destination and the shard moves on. */
  skip(s: number): void {
    const shard = this.shards[s % this.shards.length] as InputShard;
    if (shard.failing === undefined) return;
    shard.skipped.push({ start: shard.checkpoint, end: shard.checkpoint + shard.failing });
    shard.checkpoint += shard.failing;
    shard.failing = undefined;
  }

  /**
   * What `npm run replay` does, over the in-memory ports: each on-failure range in shard order,
   * in chunks of `chunk` records, through the production replay attempt. Returns false if it crashed.
   */
  async replay(chunk: number, budget?: number): Promise<boolean> {
    this.arm(budget);
    try {
      for (const shard of this.shards) {
        for (const range of shard.skipped) {
          const first = (shard.records[range.start] as InputRecord).sequenceNumber;
          const last = (shard.records[range.end - 1] as InputRecord).sequenceNumber;
          for (let at = range.start; at < range.end; at += chunk) {
            const records = shard.records.slice(at, Math.min(range.end, at + chunk));
            const { attempt } = await MapperAttempt.beginReplay(this.table, { job: this.job, shuffleBuckets: BUCKETS }, shard.id, { first, last, fromFailureRecord: true }, this.clock);
            if (!attempt) continue;
            for (const record of records) attempt.add(record);
            await attempt.finish({ state: this.table, shuffle: this.shuffle, output: this.output });
          }
        }
      }
      return true;
    } catch (error) {
      if (!(error instanceof Crash)) throw error;
      return false;
    }
  }

  /** Open gaps of every shard (read from the progress partition). */
  async openGaps(): Promise<Gap[]> {
    return parseProgressItems(await this.table.readProgress(this.job.name)).mappers.flatMap((m) => openGaps(m));
  }

  /** One reducer invocation over the next records of a shuffle shard (redelivered after a crash). */
  async reduce(sh: number, length: number, budget?: number): Promise<void> {
    const log = this.shuffle.logs[sh % this.shuffle.shards] as Buffer[];
    const position = this.readers[sh % this.shuffle.shards] as number;
    const bundles = log.slice(position, position + length).map(decodeBundle);
    if (bundles.length === 0) return;
    this.arm(budget);
    try {
      await reduceBatch({ state: this.table, output: this.output }, { job: this.job, shuffleBuckets: BUCKETS }, bundles, this.clock);
      this.readers[sh % this.shuffle.shards] = position + bundles.length;
    } catch (error) {
      if (!(error instanceof Crash)) throw error;
    }
  }

  async close(budget?: number, drain = false): Promise<void> {
    this.arm(budget);
    try {
      await closeRun({ state: this.table, output: this.output, now: () => this.clock }, { job: this.job, shuffleBuckets: BUCKETS, closedRetentionDays: 7 }, { drain });
    } catch (error) {
      if (!(error instanceof Crash)) throw error;
    }
  }

  /** No more failures: map and reduce everything, then close every window. */
  async drain(): Promise<void> {
    for (let s = 0; s < this.shards.length; s++) while ((this.shards[s] as InputShard).checkpoint < (this.shards[s] as InputShard).records.length) await this.map(s, 50);
    for (let sh = 0; sh < this.shuffle.shards; sh++) while ((this.readers[sh] as number) < (this.shuffle.logs[sh] as Buffer[]).length) await this.reduce(sh, 50);
    await this.close(undefined, true);
  }

  windowItems(): WindowItem[] {
    return [...this.table.items.values()].filter((i) => String(i.pk).includes('#K#')).map((i) => fromStoredItem(this.job, i));
  }
}

type Step =
  | { kind: 'map'; shard: number; length: number; budget: number | undefined; dropMask: number; redeliver: boolean }
  | { kind: 'reduce'; shard: number; length: number; budget: number | undefined }
  | { kind: 'close'; budget: number | undefined }
  | { kind: 'tick'; ms: number };

const budgetArb = fc.option(fc.nat({ max: 30 }), { nil: undefined, freq: 3 });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('map' as const), shard: fc.nat({ max: 1 }), length: fc.integer({ min: 1, max: 40 }), budget: budgetArb, dropMask: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat({ max: 0xffff }) }), redeliver: fc.nat({ max: 9 }).map((n) => n === 0) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('reduce' as const), shard: fc.nat({ max: 1 }), length: fc.integer({ min: 1, max: 12 }), budget: budgetArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('close' as const), budget: budgetArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.nat({ max: 40_000 }) }) },
);

async function run(world: World, steps: readonly Step[]): Promise<void> {
  await runSteps(world, steps);
  await world.drain();
}

async function runSteps(world: World, steps: readonly Step[]): Promise<void> {
  for (const step of steps) {
    if (step.kind === 'map') await world.map(step.shard, step.length, step.budget, step.dropMask, step.redeliver);
    else if (step.kind === 'reduce') await world.reduce(step.shard, step.length, step.budget);
    else if (step.kind === 'close') await world.close(step.budget);
    else world.clock += step.ms;
  }
}

const eventArb = fc.record({
  sensorId: fc.constantFrom('a', 'b', 'c', 'd'),
  ts: fc.integer({ min: T0, max: T0 + SPAN }),
  // Quarters keep float sums exact, so results compare strictly.
  temperature: fc.integer({ min: -300, max: 400 }).map((t) => t / 4),
});

/** Events over two input shards; `inOrder` sorts each shard by event time. */
const shardedEventsArb = (inOrder: boolean) =>
  fc.array(fc.tuple(eventArb, fc.nat({ max: 1 })), { minLength: 20, maxLength: 150 }).map((tagged) =>
    [0, 1].map((s) => {
      const events = tagged.filter(([, shard]) => shard === s).map(([e]) => e);
      return inOrder ? events.sort((a, b) => a.ts - b.ts) : events;
    }),
  );

// ---- what the outputs must say ----

/** The final result of each window: its highest-version emission (downstream's rule). */
function finalResults(results: readonly ResultRecord[]): Map<string, ResultRecord> {
  const best = new Map<string, ResultRecord>();
  for (const r of results) {
    const seen = best.get(r.resultId);
    if (seen && seen.version === r.version) expect({ ...r, emittedAt: '' }).toEqual({ ...seen, emittedAt: '' }); // re-emission: identical
    if (!seen || r.version > seen.version) best.set(r.resultId, r);
  }
  return best;
}

/** Independent one-pass results (no Riffle code): window → { n, total, lo, hi, avg }. */
function onePass(job: Job, events: readonly Ev[]): Map<string, Record<string, number>> {
  const groups = new Map<string, { key: string; start: number; end: number; values: number[] }>();
  const byKey = new Map<string, Ev[]>();
  for (const e of events) byKey.set(e.sensorId, [...(byKey.get(e.sensorId) ?? []), e]);
  for (const [key, list] of byKey) {
    const sorted = [...list].sort((a, b) => a.ts - b.ts);
    let current: { key: string; start: number; end: number; values: number[] } | undefined;
    for (const e of sorted) {
      if (job.window.type === 'tumbling') {
        const start = Math.floor(e.ts / job.window.sizeMs) * job.window.sizeMs;
        const id = `${key}|${start}`;
        const g = groups.get(id) ?? { key, start, end: start + job.window.sizeMs, values: [] };
        g.values.push(e.temperature);
        groups.set(id, g);
      } else if (job.window.type === 'session') {
        // Sessions merge when proto-sessions [t, t + gap) overlap or touch.
        if (current && e.ts <= current.end) {
          current.end = Math.max(current.end, e.ts + job.window.gapMs);
          current.values.push(e.temperature);
        } else {
          current = { key, start: e.ts, end: e.ts + job.window.gapMs, values: [e.temperature] };
          groups.set(`${key}|${e.ts}`, current);
        }
      }
    }
  }
  const out = new Map<string, Record<string, number>>();
  for (const g of groups.values()) {
    const total = g.values.reduce((a, b) => a + b, 0);
    out.set(resultId(job.name, g.key, g.start, g.end), { n: g.values.length, total, lo: Math.min(...g.values), hi: Math.max(...g.values), avg: total / g.values.length, eventCount: g.values.length });
  }
  return out;
}

function checkClosedState(world: World, finals: Map<string, ResultRecord>): void {
  for (const item of world.windowItems()) {
    if (item.window) {
      // Emit, then flip: the CLOSED item holds the version and count of the window's final result.
      expect(item.status).toBe('CLOSED');
      const final = finals.get(resultId(world.job.name, item.key, item.window.start, item.window.end));
      expect(final).toMatchObject({ final: true, version: item.version, eventCount: item.window.n });
    } else {
      expect([...(item.sessions ?? []), ...(item.closing ?? [])]).toEqual([]);
    }
  }
  for (const r of finals.values()) expect(r.final).toBe(true);
}

/** Every event is counted once or reported late (by its own record, or inside a late partial's range), never both. */
function checkAccounting(world: World, finals: Map<string, ResultRecord>): void {
  const late = world.output.records.late;
  const covered = new Set<string>();
  for (const shard of world.shards) {
    shard.records.forEach((record, i) => {
      const e = shard.events[i] as Ev;
      const id = `${shard.id}:${record.sequenceNumber}`;
      const seq = BigInt(record.sequenceNumber);
      for (const l of late) {
        if (l.shardId !== shard.id || l.key !== e.sensorId) continue;
        if (l.kind === 'event' ? l.sequenceNumber === record.sequenceNumber : inRange(l, seq, e.ts)) covered.add(id);
      }
    });
  }
  for (const key of new Set(world.shards.flatMap((s) => s.events.map((e) => e.sensorId)))) {
    const total = world.shards.reduce((n, s) => n + s.events.filter((e) => e.sensorId === key).length, 0);
    const counted = [...finals.values()].filter((r) => r.key === key).reduce((n, r) => n + r.eventCount, 0);
    const lateOfKey = [...covered].filter((id) => {
      const [shardId, sequenceNumber] = id.split(':');
      const shard = world.shards.find((s) => s.id === shardId) as InputShard;
      return shard.events[shard.records.findIndex((r) => r.sequenceNumber === sequenceNumber)]?.sensorId === key;
    }).length;
    expect({ key, counted: counted + lateOfKey }).toEqual({ key, counted: total });
  }
}

function inRange(l: LatePartialRecord, seq: bigint, t: number): boolean {
  return BigInt(l.firstSequenceNumber) <= seq && seq <= BigInt(l.lastSequenceNumber) && Date.parse(l.windowStart) <= t && t < Date.parse(l.windowEnd);
}

describe(`exactly-once protocol in memory (fast-check seed ${SEED})`, () => {
  for (const [name, window] of [
    ['tumbling', tumbling('1m')],
    ['session', session('30s')],
  ] as const) {
    it(`${name}, events in order: any failure schedule gives the one-pass results and nothing late`, async () => {
      const job = testJob(window, '1d');
      await fc.assert(
        fc.asyncProperty(shardedEventsArb(true), fc.array(stepArb, { minLength: 10, maxLength: 80 }), async (events, steps) => {
          const world = new World(job, events);
          // Every input shard has reported once: a shard the watermark does not know yet cannot hold it back.
          for (let s = 0; s < events.length; s++) await world.map(s, 1);
          await run(world, steps);
          const finals = finalResults(world.output.records.results);
          expect(world.output.records.late).toEqual([]);
          expect(world.output.records.rejected).toEqual([]);
          const expected = onePass(job, events.flat());
          expect(new Map([...finals].map(([id, r]) => [id, { n: r.n, total: r.total, lo: r.lo, hi: r.hi, avg: r.avg, eventCount: r.eventCount }]))).toEqual(expected);
          checkClosedState(world, finals);
        }),
        { numRuns: 150 },
      );
    });

    it(`${name}, events in disorder, idle shards: every event counted once or reported late`, async () => {
      const job = testJob(window, '1m');
      await fc.assert(
        fc.asyncProperty(shardedEventsArb(false), fc.array(stepArb, { minLength: 10, maxLength: 80 }), async (events, steps) => {
          const world = new World(job, events);
          await run(world, steps);
          const finals = finalResults(world.output.records.results);
          checkClosedState(world, finals);
          checkAccounting(world, finals);
        }),
        { numRuns: 150 },
      );
    });
  }
});

// ---- the cases the properties rest on, one by one ----

const ordered = (n: number, temperature = 1): Ev[] => Array.from({ length: n }, (_, i) => ({ sensorId: 'a', ts: T0 + i * 1000, temperature }));

describe('write-ahead ends', () => {
  it('without the cut a retry straddles what was applied and miscounts; with it the count is exact', () => {
    const job = testJob(tumbling('5m'), '1d');
    const records = ordered(20).map((e, i) => inputRecord(i, e));
    const fold = (outputs: ReturnType<typeof mapBatch>[]) => {
      const bundles: Bundle[] = outputs.flatMap((o) => o.segments).map((s) => ({ job: job.name, origin: s.origin, bucket: 0, progress: null, partials: s.partials }));
      let item: WindowItem | undefined;
      for (const group of groupPartials(job, bundles)) item = foldPartials(job, item, group, Number.NEGATIVE_INFINITY, NOW).item;
      return item?.window?.n;
    };
    // Attempt 1 covers 10 records and gets its bundle out, then fails; attempt 2 covers 20.
    const a1 = mapBatch(job, 's', records.slice(0, 10), { watermark: Number.NEGATIVE_INFINITY, nowMs: NOW });
    const uncut = mapBatch(job, 's', records, { watermark: Number.NEGATIVE_INFINITY, nowMs: NOW });
    expect(fold([a1, uncut])).not.toBe(20); // the straddling partial is dropped whole: wrong either way
    const cut = mapBatch(job, 's', records, { watermark: Number.NEGATIVE_INFINITY, nowMs: NOW, cutAfter: [{ end: records[9]!.sequenceNumber, watermark: null }] });
    expect(cut.segments).toHaveLength(2);
    expect(fold([a1, cut])).toBe(20);
  });

  it('a retry classifies late events as the attempt it repeats: up to the recorded end with its watermark, past it with the new one', () => {
    const job = testJob(tumbling('5m'), '1d');
    const events = [...ordered(10, 1), ...ordered(10, 2)];
    const records = events.map((e, i) => inputRecord(i, e));
    const first = mapBatch(job, 's', records.slice(0, 10), { watermark: Number.NEGATIVE_INFINITY, nowMs: NOW });
    expect(first.late).toHaveLength(0);
    // Meanwhile the first attempt's partials were applied and the watermark moved past the window.
    const end = { end: records[9]!.sequenceNumber, watermark: null };
    const retry = mapBatch(job, 's', records, { watermark: NOW, nowMs: NOW, cutAfter: [end] });
    expect(retry.segments.map((s) => s.partials.length)).toEqual([1, 0]);
    expect(retry.late.map((l) => l.sequenceNumber)).toEqual(records.slice(10).map((r) => r.sequenceNumber));
    // Classified with the fresh watermark instead, the retry would report the already-counted events late.
    expect(mapBatch(job, 's', records, { watermark: NOW, nowMs: NOW, cutAfter: [{ ...end, watermark: NOW }] }).late).toHaveLength(20);
  });

  it("a bisected retry's bundles claim no progress past its own records", async () => {
    const job = testJob(tumbling('5m'), '1d');
    const world = new World(job, [ordered(20), []]);
    // Attempt 1 over 20 records writes its end ahead (max event time: record 19's) and crashes
    // before any bundle is out; the retry is bisected to the first 10 records.
    await world.map(0, 20, 1);
    expect(world.shuffle.logs.flat()).toHaveLength(0);
    await world.map(0, 10);
    const progress = world.shuffle.logs.flat().map((b) => decodeBundle(b).progress);
    expect(progress.length).toBeGreaterThan(0);
    expect(Math.max(...(progress as number[]))).toBe(T0 + 9_000);
  });

  it('a redelivery of an already checkpointed batch is cut at its old ends and skipped by the fence', async () => {
    const job = testJob(tumbling('5m'), '1d');
    const world = new World(job, [ordered(30), []]);
    await world.map(0, 10);
    await world.map(0, 20);
    await world.map(0, 0, undefined, 0, true); // the last batch again
    await world.drain();
    const finals = finalResults(world.output.records.results);
    expect([...finals.values()].reduce((n, r) => n + r.eventCount, 0)).toBe(30);
  });
});

describe('monotone decisions', () => {
  it('a partial the reducer reported late stays late when a woken shard pulls the watermark back', async () => {
    const job = testJob(tumbling('1m'), '1m');
    // Shard 1 reports once, then goes idle; shard 0 sends a (T0 + 70 s), then c (T0 + 5 s, out of order).
    const world = new World(job, [
      [
        { sensorId: 'a', ts: T0 + 70_000, temperature: 1 },
        { sensorId: 'c', ts: T0 + 5_000, temperature: 1 },
      ],
      [
        { sensorId: 'b', ts: T0, temperature: 1 },
        { sensorId: 'b', ts: T0 + 1_000, temperature: 1 },
      ],
    ]);
    await world.map(1, 1);
    for (const sh of [0, 1]) await world.reduce(sh, 100);
    world.clock += 120_000;
    await world.map(0, 1);
    const aBundles = world.shuffle.logs.map((log) => log.length);
    await world.map(0, 1); // c: on time for the mapper, nothing of shard 0 is applied yet
    for (const sh of [0, 1]) await world.reduce(sh, aBundles[sh]! - world.readers[sh]!);
    // The watermark is now a's time: c's window has closed. The reducer reports c late and dies.
    world.output.afterDeliver = async (kind) => {
      if (kind === 'late') throw new Crash();
    };
    for (const sh of [0, 1]) await world.reduce(sh, 100);
    world.output.afterDeliver = undefined;
    expect(world.output.records.late.map((l) => [l.kind, l.key])).toEqual([['partial', 'c']]);
    // Shard 1 wakes up (its progress is T0): the computed watermark goes back below c's window.
    await world.map(1, 1);
    await world.drain();
    const finals = finalResults(world.output.records.results);
    expect([...finals.values()].filter((r) => r.key === 'c')).toEqual([]);
    checkAccounting(world, finals);
  });
});

describe('closing', () => {
  it('a crash between emit and flip re-emits the same version, then flips', async () => {
    const job = testJob(tumbling('5m'), '1d');
    const world = new World(job, [ordered(3), []]);
    await world.map(0, 3);
    for (const sh of [0, 1]) await world.reduce(sh, 10);
    // Draining raises no floor: effect 1 is the emission; the closer dies before its flip.
    await world.close(1, true);
    expect(world.output.records.results).toHaveLength(1);
    await world.close(undefined, true);
    const emitted = world.output.records.results;
    expect(emitted).toHaveLength(2);
    expect(emitted[1]).toEqual({ ...emitted[0], emittedAt: emitted[1]!.emittedAt });
    expect(world.windowItems().map((i) => [i.status, i.version])).toEqual([['CLOSED', emitted[0]!.version]]);
  });

  it('a reducer write between emit and flip fails the flip: the closer emits again with the higher version', async () => {
    const job = testJob(tumbling('5m'), '1d');
    const world = new World(job, [ordered(5), []]);
    await world.map(0, 3);
    for (const sh of [0, 1]) await world.reduce(sh, 10);
    await world.map(0, 2);
    let interleaved = false;
    world.output.afterDeliver = async (kind) => {
      if (kind !== 'results' || interleaved) return;
      interleaved = true;
      for (const sh of [0, 1]) await world.reduce(sh, 10); // the last two events land after the emission
    };
    await world.close(undefined, true);
    const emitted = world.output.records.results.map((r) => [r.version, r.eventCount]);
    expect(emitted).toEqual([
      [1, 3],
      [2, 5],
    ]);
    expect(world.windowItems().map((i) => [i.status, i.version, i.window?.n])).toEqual([['CLOSED', 2, 5]]);
  });

  it('a session frozen and emitted but not forgotten is emitted again, same version, and never grows', async () => {
    const job = testJob(session('2m'), '1d');
    const world = new World(job, [ordered(3), []]);
    await world.map(0, 3);
    for (const sh of [0, 1]) await world.reduce(sh, 10);
    // Effects: the floor is not raised on drain; 1 = freeze, 2 = the emission; die before forgetting.
    await world.close(2, true);
    const [item] = world.windowItems();
    expect(item?.closing).toHaveLength(1);
    expect(world.output.records.results).toHaveLength(1);
    await world.close(undefined, true);
    const results = world.output.records.results;
    expect(results.map((r) => [r.version, r.eventCount])).toEqual([
      [results[0]!.version, 3],
      [results[0]!.version, 3],
    ]);
    expect(world.windowItems()[0]).toMatchObject({ sessions: [], closing: [] });
  });

  it('a frozen session takes no more partials: what would have grown it after its emission is late', async () => {
    const job = testJob(session('2m'), '1d');
    // a's session [T0, T0 + 130 s) is due once b (at T0 + 200 s) is in; a's last event (T0 + 125 s)
    // is on time at the mapper but reaches the reducer only after the session was emitted.
    const events = [
      { sensorId: 'a', ts: T0, temperature: 1 },
      { sensorId: 'a', ts: T0 + 10_000, temperature: 1 },
      { sensorId: 'b', ts: T0 + 200_000, temperature: 1 },
      { sensorId: 'a', ts: T0 + 125_000, temperature: 1 },
    ];
    const world = new World(job, [events, []]);
    await world.map(0, 3);
    const firstBatch = world.shuffle.logs.map((log) => log.length);
    await world.map(0, 1);
    for (const sh of [0, 1]) await world.reduce(sh, firstBatch[sh]!);
    // The closer dies right after emitting a's session.
    world.output.afterDeliver = async (kind) => {
      world.output.afterDeliver = undefined;
      if (kind === 'results') throw new Crash();
    };
    await world.close();
    expect(world.output.records.results.map((r) => [r.key, r.eventCount])).toEqual([['a', 2]]);
    await world.drain();
    const finals = finalResults(world.output.records.results);
    expect([...finals.values()].map((r) => [r.key, r.eventCount]).sort()).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
    expect(world.output.records.late.map((l) => [l.key, l.kind])).toEqual([['a', 'partial']]);
    checkAccounting(world, finals);
  });

  it('a redelivered partial for a CLOSED window is a duplicate, not late', () => {
    const job = testJob(tumbling('5m'), '1d');
    const out = mapBatch(job, 'shard-0', [inputRecord(0, ordered(1)[0])], { watermark: Number.NEGATIVE_INFINITY, nowMs: NOW });
    const [group] = groupPartials(job, [{ job: job.name, origin: out.segments[0]!.origin, bucket: 0, progress: null, partials: out.segments[0]!.partials }]);
    const applied = foldPartials(job, undefined, group!, Number.NEGATIVE_INFINITY, NOW);
    // Closed items are stored without accumulators (window-item.ts toStoredItem).
    const closed: WindowItem = { ...applied.item, status: 'CLOSED', window: { ...applied.item.window!, accs: [] } };
    expect(foldPartials(job, closed, group!, Number.NEGATIVE_INFINITY, NOW)).toMatchObject({ changed: false, duplicates: 1, late: [] });
  });
});

// ---- skipped batches and replay (finite retries: the ESM gives up on a batch) ----

describe('replaying skipped batches', () => {
  const job = testJob(tumbling('1m'), '1d');

  /** Shard 0 fails after a partial emission until the ESM gives up; later batches succeed; then replay. */
  async function skippedAfterPartialEmission(options: { stripGapMarks?: boolean; replays: (world: World) => Promise<void> }) {
    const events = [ordered(60).map((e, i) => ({ ...e, sensorId: 'abcd'[i % 4] as string })), ordered(60).map((e) => ({ ...e, sensorId: 'e' }))];
    const world = new World(job, events);
    for (let s = 0; s < 2; s++) await world.map(s, 1);
    await world.map(0, 20);
    // Write-ahead, then 2 of the bundles are out, then the attempt dies — twice; the ESM gives up.
    await world.map(0, 20, 3);
    await world.map(0, 20, 3);
    world.skip(0);
    expect(world.shards[0]!.skipped).toEqual([{ start: 21, end: 41 }]);
    await world.map(1, 59);
    await world.map(0, 30);
    for (let sh = 0; sh < 2; sh++) await world.reduce(sh, 500);
    const gaps = await world.openGaps();
    expect(gaps).toMatchObject([{ to: world.shards[0]!.records[40]!.sequenceNumber, traced: true }]);
    await world.close();
    // The watermark is held at the gap: no window the skipped records could touch has closed.
    const closedEarly = world.output.records.results.filter((r) => Date.parse(r.windowEnd) > T0 + 21_000);
    expect(closedEarly).toEqual([]);
    if (options.stripGapMarks) for (const item of world.table.items.values()) delete item.gapMarks;
    await options.replays(world);
    expect(await world.openGaps()).toEqual([]);
    await world.drain();
    return { world, events };
  }

  function expectOnePass(world: World, events: Ev[][]): void {
    const finals = finalResults(world.output.records.results);
    expect(world.output.records.late).toEqual([]);
    const got = new Map([...finals].map(([id, r]) => [id, { n: r.n, total: r.total, lo: r.lo, hi: r.hi, avg: r.avg, eventCount: r.eventCount }]));
    expect(got).toEqual(onePass(job, events.flat()));
  }

  it('a batch skipped after a partial emission, replayed once: each event applied exactly once, nothing late', async () => {
    const { world, events } = await skippedAfterPartialEmission({ replays: async (w) => void (await w.replay(7)) });
    expectOnePass(world, events);
  });

  it('replaying twice, or crashing mid-replay and running again with other chunks, changes nothing', async () => {
    for (const budget of [0, 2, 5, 9, 14]) {
      const { world, events } = await skippedAfterPartialEmission({
        replays: async (w) => {
          expect(await w.replay(5, budget)).toBe(false);
          for (let sh = 0; sh < 2; sh++) await w.reduce(sh, 500);
          expect(await w.replay(20)).toBe(true);
          expect(await w.replay(3)).toBe(true);
        },
      });
      expectOnePass(world, events);
    }
  });

  it('without the gap mark an item that crossed the gap cannot tell what it applied: the replay undercounts', async () => {
    const { world, events } = await skippedAfterPartialEmission({ stripGapMarks: true, replays: async (w) => void (await w.replay(7)) });
    const finals = finalResults(world.output.records.results);
    const counted = [...finals.values()].reduce((n, r) => n + r.eventCount, 0);
    expect(counted).toBeLessThan(events.flat().length);
  });

  it('an explicit range outside any recorded gap is refused (nothing says it was not applied)', async () => {
    const world = new World(job, [ordered(10)]);
    await world.map(0, 10);
    const records = world.shards[0]!.records;
    const result = await MapperAttempt.beginReplay(world.table, { job, shuffleBuckets: BUCKETS }, world.shards[0]!.id, { first: records[2]!.sequenceNumber, last: records[4]!.sequenceNumber, fromFailureRecord: false }, NOW);
    expect(result.attempt).toBeUndefined();
    expect(result.plan.kind).toBe('refused');
  });

  it(`any failure schedule with skipped batches, then replay (crashing, then twice): every event counted once or reported late, never both; traced gaps: the one-pass results, nothing late (seed ${SEED})`, async () => {
    const skipArb = fc.record({ kind: fc.constant('skip' as const), shard: fc.nat({ max: 1 }) });
    await fc.assert(
      fc.asyncProperty(shardedEventsArb(true), fc.array(fc.oneof({ weight: 9, arbitrary: stepArb }, { weight: 2, arbitrary: skipArb }), { minLength: 10, maxLength: 80 }), fc.nat({ max: 40 }), fc.integer({ min: 1, max: 30 }), async (events, steps, budget, chunk) => {
        const world = new World(job, events);
        for (let s = 0; s < events.length; s++) await world.map(s, 1);
        for (const step of steps) {
          if (step.kind === 'skip') world.skip(step.shard);
          else await runSteps(world, [step]);
        }
        await world.replay(chunk, budget);
        await world.replay(chunk);
        await world.replay(Math.max(1, chunk - 1));
        expect(await world.openGaps()).toEqual([]);
        await world.drain();
        const finals = finalResults(world.output.records.results);
        checkClosedState(world, finals);
        checkAccounting(world, finals);
        // Every skipped batch that wrote ahead was held by its gap: the one-pass results, nothing
        // late. One skipped before it wrote ahead left no trace (nothing of it was emitted): its gap
        // is opened by the replay, the watermark was not held for it, and its events may be late.
        const gaps = parseProgressItems(await world.table.readProgress(job.name)).mappers.flatMap((m) => m.gaps ?? []);
        if (gaps.every((g) => g.traced)) expectOnePass(world, events);
      }),
      { numRuns: 120 },
    );
  });
});
