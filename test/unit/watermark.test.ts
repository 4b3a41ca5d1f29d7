// Unit tests for the watermark and lateness rules (functions/core/watermark.ts).
// Times are plain numbers: processing time ("now") and event time are passed in, no timers.
import fc from 'fast-check';
import {
  advanceShardProgress,
  closeTime,
  computeWatermark,
  isWindowClosed,
  lateReasonFor,
  openWindowsFor,
  ShardProgress,
  WatermarkOptions,
} from '../../functions/core/watermark';
import { assignWindows, hopping, session, tumbling } from '../../functions/core/windows';

const opts: WatermarkOptions = { outOfOrdernessMs: 5_000, idleTimeoutMs: 60_000 };
const NOW = 10_000_000;

function shard(shardId: string, maxEventTime: number, updatedAt: number): ShardProgress {
  return { shardId, maxEventTime, updatedAt };
}

describe('computeWatermark', () => {
  it('is −∞ with no shards', () => {
    expect(computeWatermark([], NOW, opts)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('is the min over active shards minus the out-of-orderness bound', () => {
    const shards = [shard('a', 1_000_000, NOW - 1_000), shard('b', 900_000, NOW), shard('c', 1_200_000, NOW - 59_999)];
    expect(computeWatermark(shards, NOW, opts)).toBe(900_000 - 5_000);
    expect(computeWatermark(shards, NOW, { ...opts, outOfOrdernessMs: 0 })).toBe(900_000);
  });

  it('leaves idle shards out so they do not hold the watermark back', () => {
    const shards = [shard('busy', 1_000_000, NOW - 1_000), shard('quiet', 100, NOW - 60_001)];
    expect(computeWatermark(shards, NOW, opts)).toBe(995_000);
  });

  it('counts a shard as active at exactly idleTimeout since its last batch', () => {
    const shards = [shard('busy', 1_000_000, NOW), shard('edge', 100, NOW - 60_000)];
    expect(computeWatermark(shards, NOW, opts)).toBe(100 - 5_000);
  });

  it('counts a shard whose updatedAt is in the future (clock skew) as active', () => {
    const shards = [shard('busy', 1_000_000, NOW), shard('skewed', 500, NOW + 10_000)];
    expect(computeWatermark(shards, NOW, opts)).toBe(500 - 5_000);
  });

  it('when all shards are idle, falls back to the max event time seen minus the bound', () => {
    const shards = [shard('a', 1_000_000, NOW - 120_000), shard('b', 2_000_000, NOW - 61_000)];
    expect(computeWatermark(shards, NOW, opts)).toBe(2_000_000 - 5_000);
  });

  it('does not take its value from the wall clock when everything is idle', () => {
    const shards = [shard('a', 1_000_000, NOW - 120_000)];
    expect(computeWatermark(shards, NOW, opts)).toBe(computeWatermark(shards, NOW * 1_000, opts));
  });

  it('is held at −∞ by an active shard that has seen no valid event yet', () => {
    const fresh = advanceShardProgress(undefined, undefined, NOW, 'fresh');
    expect(computeWatermark([shard('a', 1_000_000, NOW), fresh], NOW, opts)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('rejects negative options', () => {
    expect(() => computeWatermark([], NOW, { outOfOrdernessMs: -1, idleTimeoutMs: 1 })).toThrow(/outOfOrdernessMs/);
    expect(() => computeWatermark([], NOW, { outOfOrdernessMs: 0, idleTimeoutMs: -1 })).toThrow(/idleTimeoutMs/);
  });

  it('never exceeds the max event time of any active shard minus the bound (property)', () => {
    const shardArb = fc.record({
      shardId: fc.string(),
      maxEventTime: fc.integer({ min: 0, max: 2_000_000_000_000 }),
      updatedAt: fc.integer({ min: NOW - 200_000, max: NOW }),
    });
    fc.assert(
      fc.property(fc.array(shardArb, { minLength: 1, maxLength: 10 }), (shards) => {
        const wm = computeWatermark(shards, NOW, opts);
        const active = shards.filter((s) => NOW - s.updatedAt <= opts.idleTimeoutMs);
        const pool = active.length > 0 ? active : shards;
        expect(pool.some((s) => s.maxEventTime - opts.outOfOrdernessMs === wm)).toBe(true);
        for (const s of active) expect(wm <= s.maxEventTime - opts.outOfOrdernessMs).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('window close predicate', () => {
  it('closes exactly when watermark reaches end + allowed lateness', () => {
    expect(closeTime(60_000, 10_000)).toBe(70_000);
    expect(isWindowClosed(60_000, 10_000, 69_999)).toBe(false);
    expect(isWindowClosed(60_000, 10_000, 70_000)).toBe(true);
    expect(isWindowClosed(60_000, 0, 59_999)).toBe(false);
    expect(isWindowClosed(60_000, 0, 60_000)).toBe(true);
  });

  it('closes nothing at watermark −∞', () => {
    expect(isWindowClosed(-1e15, 0, Number.NEGATIVE_INFINITY)).toBe(false);
  });
});

describe('event lateness (openWindowsFor: the rule the mapper applies)', () => {
  const isLate = (spec: Parameters<typeof openWindowsFor>[0], t: number, lateness: number, watermark: number) => openWindowsFor(spec, t, lateness, watermark).open.length === 0;

  it('tumbling: late exactly when its window has closed, and the reason says why', () => {
    const spec = tumbling('1m');
    // Event at 30s is in [0, 60s); with 10s lateness that closes at watermark 70s.
    expect(isLate(spec, 30_000, 10_000, 69_999)).toBe(false);
    const { closed } = openWindowsFor(spec, 30_000, 10_000, 70_000);
    expect(closed).toEqual([{ start: 0, end: 60_000 }]);
    const reason = lateReasonFor(closed[0]!, 10_000, 70_000);
    expect(reason).toContain('1970-01-01T00:01:00.000Z');
    expect(reason).toMatch(/allowed lateness 10000ms/);
    expect(reason).toMatch(/watermark is 1970-01-01T00:01:10.000Z/);
  });

  it('an event whose time equals the watermark is on time (watermark asserts only t < watermark)', () => {
    const spec = tumbling('1m');
    expect(isLate(spec, 60_000, 0, 60_000)).toBe(false);
    expect(isLate(spec, 59_999, 0, 60_000)).toBe(true);
  });

  it('hopping: not late while its last window is open, late once that closes', () => {
    const spec = hopping('3m', '1m');
    // Event at 150s: windows [0,180s), [60s,240s), [120s,300s); the last closes at 300s.
    expect(isLate(spec, 150_000, 0, 299_999)).toBe(false);
    expect(openWindowsFor(spec, 150_000, 0, 300_000).closed.at(-1)).toEqual({ start: 120_000, end: 300_000 });
    expect(isLate(spec, 150_000, 0, 300_000)).toBe(true);
  });

  it('session: late when its proto-session [t, t + gap) has closed', () => {
    const spec = session('30s');
    expect(isLate(spec, 100_000, 5_000, 134_999)).toBe(false);
    expect(openWindowsFor(spec, 100_000, 5_000, 135_000)).toEqual({ open: [], closed: [{ start: 100_000, end: 130_000 }] });
  });

  it('nothing is late before any watermark exists', () => {
    expect(isLate(tumbling('1m'), 0, 0, Number.NEGATIVE_INFINITY)).toBe(false);
  });
});

describe('openWindowsFor', () => {
  it('splits a partially-late hopping event into open and closed windows', () => {
    const spec = hopping('3m', '1m');
    // Event at 150s; watermark 240s closes [0,180s) and [60s,240s) but not [120s,300s).
    const { open, closed } = openWindowsFor(spec, 150_000, 0, 240_000);
    expect(closed).toEqual([
      { start: 0, end: 180_000 },
      { start: 60_000, end: 240_000 },
    ]);
    expect(open).toEqual([{ start: 120_000, end: 300_000 }]);
    // Allowed lateness keeps the middle window open too.
    expect(openWindowsFor(spec, 150_000, 1, 240_000).open).toHaveLength(2);
  });

  it('single-window specs are all open or all closed', () => {
    expect(openWindowsFor(tumbling('1m'), 30_000, 0, 59_999)).toEqual({ open: [{ start: 0, end: 60_000 }], closed: [] });
    expect(openWindowsFor(session('10s'), 30_000, 0, 40_000)).toEqual({ open: [], closed: [{ start: 30_000, end: 40_000 }] });
  });

  it('partitions assignWindows, closed ones first in time, by isWindowClosed (property)', () => {
    const specArb = fc.oneof(
      fc.integer({ min: 1, max: 100_000 }).map((sizeMs) => tumbling(`${sizeMs}ms`)),
      fc
        .tuple(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 20 }))
        .map(([slide, ratio]) => hopping(`${slide * ratio}ms`, `${slide}ms`)),
      fc.integer({ min: 1, max: 100_000 }).map((gapMs) => session(`${gapMs}ms`)),
    );
    fc.assert(
      fc.property(
        specArb,
        fc.integer({ min: 0, max: 2_000_000_000_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: -300_000, max: 300_000 }),
        (spec, t, lateness, offset) => {
          const watermark = t + offset;
          const { open, closed } = openWindowsFor(spec, t, lateness, watermark);
          expect([...closed, ...open]).toEqual(assignWindows(spec, t));
          for (const w of closed) expect(watermark >= w.end + lateness).toBe(true);
          for (const w of open) expect(watermark < w.end + lateness).toBe(true);
          for (const w of closed) expect(isWindowClosed(w.end, lateness, watermark)).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('advanceShardProgress', () => {
  it('starts a shard from its first batch', () => {
    expect(advanceShardProgress(undefined, 1_000, NOW, 's-1')).toEqual(shard('s-1', 1_000, NOW));
  });

  it('keeps the max event time, never decreasing', () => {
    const p1 = advanceShardProgress(undefined, 5_000, NOW, 's-1');
    const p2 = advanceShardProgress(p1, 3_000, NOW + 1, 's-1');
    expect(p2).toEqual(shard('s-1', 5_000, NOW + 1));
    expect(advanceShardProgress(p2, 7_000, NOW + 2, 's-1').maxEventTime).toBe(7_000);
  });

  it('refreshes updatedAt on a batch without valid events', () => {
    const p1 = advanceShardProgress(undefined, 5_000, NOW, 's-1');
    expect(advanceShardProgress(p1, undefined, NOW + 30_000, 's-1')).toEqual(shard('s-1', 5_000, NOW + 30_000));
    expect(advanceShardProgress(undefined, undefined, NOW, 's-1')).toEqual(shard('s-1', Number.NEGATIVE_INFINITY, NOW));
  });

  it('never moves updatedAt back (lagging clock on another invocation)', () => {
    const p1 = advanceShardProgress(undefined, 5_000, NOW, 's-1');
    expect(advanceShardProgress(p1, 6_000, NOW - 1_000, 's-1').updatedAt).toBe(NOW);
  });

  it('refuses another shard’s progress and non-finite event times', () => {
    const p1 = advanceShardProgress(undefined, 5_000, NOW, 's-1');
    expect(() => advanceShardProgress(p1, 6_000, NOW, 's-2')).toThrow(/'s-1'.*'s-2'/);
    expect(() => advanceShardProgress(p1, Number.NaN, NOW, 's-1')).toThrow(/finite/);
  });

  it('is the running max whatever the batch order (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: 0, max: 2_000_000_000_000 }), { nil: undefined }), { minLength: 1 }), (batches) => {
        let p: ShardProgress | undefined;
        batches.forEach((max, i) => {
          p = advanceShardProgress(p, max, NOW + i, 's');
        });
        const seen = batches.filter((b): b is number => b !== undefined);
        expect(p?.maxEventTime).toBe(seen.length > 0 ? Math.max(...seen) : Number.NEGATIVE_INFINITY);
        expect(p?.updatedAt).toBe(NOW + batches.length - 1);
      }),
      { numRuns: 1000 },
    );
  });
});
