// Sketch aggregates: distinct (HyperLogLog), topK (mergeable Misra–Gries/Space-Saving) and quantile
// (DDSketch). Each is checked against its documented error bound, and for merge/round-trip
// behaviour over random partitions, merge orders and JSON round trips.
import fc from 'fast-check';
import { distinct, quantile, topK, type Aggregate, type Json, type TopKEntry } from '../../functions/core/aggregates';
import { MAX_TOPK_VALUE_LENGTH } from '../../functions/core/aggregates/topk';

const RUNS = { numRuns: 1000 };

function roundTrip<A>(agg: Aggregate<A>, acc: A): A {
  return agg.decode(JSON.parse(JSON.stringify(agg.encode(acc))) as Json);
}

function foldValues<A>(agg: Aggregate<A>, values: readonly unknown[]): A {
  let acc = agg.zero();
  for (const v of values) acc = agg.add(acc, v, 0);
  return acc;
}

// Bound once: global lookups are slow inside Jest's vm context.
const { imul, floor } = Math;

/** Small deterministic PRNG (mulberry32) so large inputs are derived from one fast-check seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = imul(a ^ (a >>> 15), 1 | a);
    t = (t + imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Splits values into `groups` random groups, folds each, then merges random pairs (round-tripping
 * through JSON at random) until one is left — checking on the way that merge never mutates b.
 */
function splitFoldMerge<A>(agg: Aggregate<A>, values: readonly unknown[], seed: number, groups = 6): A {
  const rand = prng(seed);
  const parts: unknown[][] = Array.from({ length: groups }, () => []);
  for (const v of values) parts[floor(rand() * groups)]?.push(v);
  const pool = parts.map((p) => foldValues(agg, p));
  while (pool.length > 1) {
    let a = pool.splice(Math.floor(rand() * pool.length), 1)[0] as A;
    let b = pool.splice(Math.floor(rand() * pool.length), 1)[0] as A;
    if (rand() < 0.5) a = roundTrip(agg, a);
    if (rand() < 0.5) b = roundTrip(agg, b);
    const before = JSON.stringify(agg.encode(b));
    pool.push(agg.merge(a, b));
    expect(JSON.stringify(agg.encode(b))).toBe(before);
  }
  return pool[0] as A;
}

function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j] as T, xs[i] as T];
  }
  return xs;
}

const bytes = (json: Json): number => Buffer.byteLength(JSON.stringify(json));

// ---------------------------------------------------------------- distinct (HyperLogLog)

describe('distinct (HyperLogLog, p = 14)', () => {
  const d = distinct('user');
  const sigma = d.relativeError; // 1.04/√16384

  it('is within 2% at 10^6 distinct values (strings and numbers)', () => {
    const strings = d.zero();
    const numbers = d.zero();
    for (let i = 0; i < 1_000_000; i++) {
      d.add(strings, `user-${i}`, 0);
      d.add(numbers, i, 0);
    }
    expect(Math.abs((d.result(strings) as number) / 1e6 - 1)).toBeLessThan(0.02);
    expect(Math.abs((d.result(numbers) as number) / 1e6 - 1)).toBeLessThan(0.02);
    expect(bytes(d.encode(strings))).toBeLessThanOrEqual(d.maxStateBytes);
    expect(d.result(roundTrip(d, strings))).toBe(d.result(strings));
  });

  it('is within 3σ at random small cardinalities, and within ±2 up to 1000 (sparse mode)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), fc.string({ maxLength: 6 }), (n, prefix) => {
        const acc = d.zero();
        for (let i = 0; i < n; i++) d.add(acc, `${prefix}:${i}`, 0);
        const estimate = d.result(acc) as number;
        expect(Math.abs(estimate - n)).toBeLessThanOrEqual(3 * sigma * n + (n <= 1000 ? 2 : 0));
        if (n <= 1000) expect(Math.abs(estimate - n)).toBeLessThanOrEqual(2);
      }),
      RUNS,
    );
  });

  it('counts a value once however often it repeats, and 1 and "1" as the same value', () => {
    const acc = foldValues(d, ['a', 'a', 'b', 1, '1', true, 'true', 'a']);
    expect(d.result(acc)).toBe(4); // a, b, 1, true
  });

  it('any split and merge order gives the identical state (sparse, dense and the switch between)', () => {
    let dense = 0;
    fc.assert(
      // noBias: fast-check otherwise favours small sizes, and few runs would reach dense mode.
      fc.property(fc.noBias(fc.integer({ min: 0, max: 6000 })), fc.noBias(fc.integer({ min: 0, max: 100 })), fc.nat(), (n, spread, seed) => {
        const rand = prng(seed ^ 0x5bd1e995);
        const domain = 1 + floor(n * (0.5 + spread / 40));
        const values = Array.from({ length: n }, () => `v${floor(rand() * domain)}`);
        const all = foldValues(d, values);
        const merged = splitFoldMerge(d, values, seed, 4);
        expect(d.result(merged)).toBe(d.result(all));
        const state = d.encode(merged);
        expect(state).toStrictEqual(d.encode(all));
        if ('d' in (state as object)) dense++;
      }),
      RUNS,
    );
    expect(dense).toBeGreaterThan(150); // not vacuous: many runs crossed into dense mode
    expect(dense).toBeLessThan(800);
  });

  it('round trips sparse and dense states, including further merges', () => {
    const small = foldValues(d, ['x', 'y', 'z']);
    const large = foldValues(d, Array.from({ length: 20_000 }, (_, i) => i));
    expect(Object.keys(d.encode(small) as object)).toEqual(['s']);
    expect(Object.keys(d.encode(large) as object)).toEqual(['d']);
    expect(bytes(d.encode(small))).toBeLessThan(30);
    for (const acc of [small, large]) {
      expect(d.encode(roundTrip(d, acc))).toStrictEqual(d.encode(acc));
    }
    const both = d.merge(roundTrip(d, small), roundTrip(d, large));
    expect(d.result(both)).toBe(d.result(d.merge(foldValues(d, ['x', 'y', 'z']), foldValues(d, Array.from({ length: 20_000 }, (_, i) => i)))));
  });

  it('stays within maxStateBytes at the sparse limit and when dense', () => {
    const rand = prng(7);
    const nearLimit = foldValues(d, Array.from({ length: 3072 }, () => rand()));
    expect(Object.keys(d.encode(nearLimit) as object)).toEqual(['s']);
    expect(bytes(d.encode(nearLimit))).toBeLessThanOrEqual(d.maxStateBytes);
    expect(bytes(d.encode(foldValues(d, Array.from({ length: 5000 }, (_, i) => i))))).toBeLessThanOrEqual(d.maxStateBytes);
  });

  it('rejects malformed state', () => {
    expect(() => d.decode({ s: '!!!!' })).toThrow(/distinct: cannot decode/);
    expect(() => d.decode({ s: 'AAAA' })).toThrow(/distinct: cannot decode/); // zero deltas
    expect(() => d.decode({ d: 'AAAA' })).toThrow(/12288 bytes/);
    expect(() => d.decode({ d: Buffer.alloc(12288, 0xff).toString('base64') })).toThrow(/registers ≤ 51/);
    expect(() => d.decode([])).toThrow(/distinct: cannot decode/);
  });
});

// ---------------------------------------------------------------- topK

interface Truth {
  n: number;
  freq: Map<string, number>;
}

function truthOf(values: readonly string[]): Truth {
  const freq = new Map<string, number>();
  for (const v of values) freq.set(v, (freq.get(v) ?? 0) + 1);
  return { n: values.length, freq };
}

function exactTopK(truth: Truth, k: number): { value: string; count: number }[] {
  return [...truth.freq]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, k)
    .map(([value, count]) => ({ value, count }));
}

describe('topK (mergeable Misra–Gries / Space-Saving)', () => {
  it('is exact while no more distinct values than its capacity have been seen', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.integer({ min: 0, max: 63 }), { maxLength: 300 }),
        fc.nat(),
        (k, ids, seed) => {
          const agg = topK('tag', k); // capacity 64
          const values = ids.map((i) => `#tag${i % 7 === 0 ? i : i % 13}`);
          const got = agg.result(splitFoldMerge(agg, values, seed));
          expect(got).toEqual(exactTopK(truthOf(values), k));
          expect(agg.result(foldValues(agg, values))).toEqual(got);
        },
      ),
      RUNS,
    );
  });

  it('with heavy hitters among many rare values, keeps them with counts within n/(capacity+1)', () => {
    let pruned = 0;
    let heavyReported = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 200, max: 1500 }), fc.nat(), (k, heavy, light, seed) => {
        const agg = topK('tag', k);
        const capacity = Math.max(64, 4 * k);
        const rand = prng(seed);
        const values: string[] = [];
        for (let h = 0; h < heavy; h++) {
          const f = 30 + Math.floor(rand() * 400);
          for (let i = 0; i < f; i++) values.push(`heavy${h}`);
        }
        for (let l = 0; l < light; l++) {
          const f = 1 + Math.floor(rand() * 2);
          for (let i = 0; i < f; i++) values.push(`rare${l}`);
        }
        shuffle(values, rand);
        const truth = truthOf(values);
        const bound = truth.n / (capacity + 1);
        const acc = splitFoldMerge(agg, values, seed);
        const got = agg.result(acc) as unknown as TopKEntry[];

        // Shape: at most k entries, by count descending then value ascending.
        expect(got.length).toBeLessThanOrEqual(k);
        for (let i = 1; i < got.length; i++) {
          const [p, c] = [got[i - 1], got[i]] as [TopKEntry, TopKEntry];
          expect(p.count > c.count || (p.count === c.count && p.value < c.value)).toBe(true);
        }
        // Every reported count is a lower bound within the error bound.
        for (const { value, count } of got) {
          const f = truth.freq.get(value) ?? 0;
          expect(count).toBeLessThanOrEqual(f);
          expect(count).toBeGreaterThanOrEqual(f - bound);
        }
        // Every value that beats the (k+1)-th true frequency by more than the bound is reported.
        const sorted = [...truth.freq.values()].sort((a, b) => b - a);
        const next = sorted[k] ?? 0;
        for (const [value, f] of truth.freq) {
          if (f > next + bound) {
            expect(got.map((e) => e.value)).toContain(value);
            if (value.startsWith('heavy')) heavyReported++;
          }
        }
        // The encoded error bound obeys Agarwal et al.'s (n − Σ counts)/(C + 1).
        const state = agg.encode(acc) as { e: number; c: (string | number)[] };
        const kept = state.c.filter((x): x is number => typeof x === 'number').reduce((a, b) => a + b, 0);
        expect(state.e).toBeLessThanOrEqual((truth.n - kept) / (capacity + 1));
        if (state.e > 0) pruned++;
      }),
      RUNS,
    );
    // Not vacuous: most runs had to prune, and heavy hitters were checked.
    expect(pruned).toBeGreaterThan(900);
    expect(heavyReported).toBeGreaterThan(1000);
  });

  it('prunes exactly by the (capacity+1)-th largest count, keeping `capacity` counters', () => {
    for (const k of [1, 5, 20]) {
      const agg = topK('v', k);
      const capacity = Math.max(64, 4 * k);
      // Value i occurs i times (distinct counts, no ties); capacity + 10 values fit the 2·capacity batch.
      const values: string[] = [];
      for (let i = 1; i <= capacity + 10; i++) for (let j = 0; j < i; j++) values.push(`v${i}`);
      const acc = foldValues(agg, shuffle(values, prng(k)));
      expect(agg.result(acc)).toEqual(Array.from({ length: k }, (_, j) => ({ value: `v${capacity + 10 - j}`, count: capacity + 10 - j })));
      const state = agg.encode(acc) as { e: number; c: Json[] };
      expect(state.e).toBe(10); // the (capacity+1)-th largest count
      expect(state.c).toHaveLength(2 * capacity);
      expect(state.c.slice(0, 2)).toEqual([`v${capacity + 10}`, capacity]);
      expect(state.c.slice(-2)).toEqual(['v11', 1]);
      expect(agg.result(roundTrip(agg, acc))).toEqual(Array.from({ length: k }, (_, j) => ({ value: `v${capacity + 10 - j}`, count: capacity - j })));
    }
  });

  it('prunes during add once 2·capacity distinct values are held', () => {
    const agg = topK('v', 3); // capacity 64
    const acc = foldValues(agg, Array.from({ length: 128 }, (_, i) => `s${i}`));
    expect((agg.encode(acc) as { e: number }).e).toBe(1); // 128 singletons, 65th largest is 1
    agg.add(acc, 's128', 0); // the 129th distinct value triggers the prune in add
    expect(agg.result(acc)).toEqual([]);
    expect(agg.encode(acc)).toEqual({ e: 1, c: [] });
  });

  it('round trips: the encoding is a fixed point and results survive when nothing was pruned', () => {
    const agg = topK('tag', 3);
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 300 }), fc.boolean(), fc.string({ maxLength: 3 })), { maxLength: 400 }), (values) => {
        const acc = foldValues(agg, values);
        const encoded = agg.encode(acc);
        expect(agg.encode(roundTrip(agg, acc))).toStrictEqual(encoded);
        if ((encoded as { e: number }).e === 0) expect(agg.result(roundTrip(agg, acc))).toEqual(agg.result(acc));
      }),
      RUNS,
    );
  });

  it('stringifies numbers and booleans, and 1 and "1" are one value', () => {
    const agg = topK('v', 3);
    expect(agg.result(foldValues(agg, [1, '1', true, 'true', 'x', 1]))).toEqual([
      { value: '1', count: 3 },
      { value: 'true', count: 2 },
      { value: 'x', count: 1 },
    ]);
  });

  it('stays within maxStateBytes with worst-case values and counts', () => {
    for (const k of [1, 10, 100]) {
      const agg = topK('v', k);
      const capacity = Math.max(64, 4 * k);
      const c: Json[] = [];
      for (let i = 0; i < capacity; i++) c.push(`${String(i).padStart(4, '0')}${'\u0001'.repeat(MAX_TOPK_VALUE_LENGTH - 4)}`, 2 ** 52);
      const worst = agg.encode(agg.decode({ e: 2 ** 52, c }));
      expect((worst as { c: Json[] }).c).toHaveLength(2 * capacity);
      expect(bytes(worst)).toBeLessThanOrEqual(agg.maxStateBytes);
    }
    expect(topK('v', 100).maxStateBytes).toBeLessThan(400_000);
  });

  it('rejects malformed state', () => {
    const agg = topK('v', 2);
    expect(() => agg.decode({ e: 0, c: ['a'] })).toThrow(/topK: cannot decode/);
    expect(() => agg.decode({ e: 0, c: ['a', 0] })).toThrow(/topK: cannot decode/);
    expect(() => agg.decode({ e: -1, c: [] })).toThrow(/topK: cannot decode/);
    expect(() => agg.decode({ e: 0, c: ['a', 1, 'a', 2] })).toThrow(/topK: cannot decode/);
  });
});

// ---------------------------------------------------------------- quantile (DDSketch)

const positive = fc.oneof(fc.double({ min: 1e-6, max: 1e9, noNaN: true }), fc.integer({ min: 1, max: 1000 }), fc.constantFrom(1, 2, 3, 1e-6, 1e9));
const signed = fc.oneof({ weight: 8, arbitrary: fc.tuple(positive, fc.boolean()).map(([x, neg]) => (neg ? -x : x)) }, { weight: 1, arbitrary: fc.constantFrom(0, -0) });
const qArb = fc.oneof(fc.double({ min: 1e-9, max: 1 - 1e-9, noNaN: true }), fc.constantFrom(0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999));

/** The value at rank ⌊q·(n−1)⌋ of the sorted values: what DDSketch approximates. */
function trueQuantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}

describe('quantile (DDSketch, 1% relative accuracy)', () => {
  it('is within 1% of the true rank value, for positive, negative and zero values, after any merges', () => {
    fc.assert(
      fc.property(fc.array(signed, { minLength: 1, maxLength: 300 }), qArb, fc.nat(), (values, q, seed) => {
        const agg = quantile('latency', q);
        const exact = trueQuantile(values, q);
        const merged = splitFoldMerge(agg, values, seed);
        const got = agg.result(merged) as number;
        expect(Math.abs(got - exact)).toBeLessThanOrEqual(0.01 * (1 + 1e-9) * Math.abs(exact));
        // The state is a function of the values' bins, so the merge gives fold(all) exactly.
        const all = foldValues(agg, values);
        expect(got).toBe(agg.result(all));
        expect(agg.encode(merged)).toStrictEqual(agg.encode(all));
      }),
      RUNS,
    );
  });

  it('beyond 2048 bins folds the smallest magnitudes, identically in any merge order, within maxStateBytes', () => {
    const wide = fc.tuple(fc.double({ min: -300, max: 300, noNaN: true }), fc.boolean()).map(([e, neg]) => (neg ? -1 : 1) * 10 ** e);
    fc.assert(
      fc.property(fc.array(wide, { minLength: 1, maxLength: 200 }), qArb, fc.nat(), (values, q, seed) => {
        const agg = quantile('x', q);
        const all = foldValues(agg, values);
        const merged = splitFoldMerge(agg, values, seed);
        expect(agg.result(merged)).toBe(agg.result(all));
        expect(agg.encode(merged)).toStrictEqual(agg.encode(all));
        expect(bytes(agg.encode(all))).toBeLessThanOrEqual(agg.maxStateBytes);
        const got = agg.result(all) as number;
        expect(got).toBeGreaterThanOrEqual(Math.min(...values));
        expect(got).toBeLessThanOrEqual(Math.max(...values));
      }),
      RUNS,
    );
  });

  it('keeps high quantiles accurate when tiny values force folding', () => {
    const agg = quantile('x', 0.99);
    const values = [...Array.from({ length: 50 }, () => 1e-300), ...Array.from({ length: 950 }, (_, i) => i + 1)];
    const acc = foldValues(agg, values);
    const p99 = trueQuantile(values, 0.99);
    expect(Math.abs((agg.result(acc) as number) - p99)).toBeLessThanOrEqual(0.01 * p99);
    const p01 = quantile('x', 0.01);
    expect(p01.result(foldValues(p01, values)) as number).toBeGreaterThan(1e-300); // folded upwards, as documented
  });

  it('merges negative values (sketches-js 2.1.1 merge() drops them: DataDog/sketches-js#22)', () => {
    const agg = quantile('x', 0.5);
    const a = foldValues(agg, [-10, -20, -30]);
    const b = foldValues(agg, [-40, -50]);
    const merged = agg.result(agg.merge(a, b)) as number;
    expect(Math.abs(merged - -30)).toBeLessThanOrEqual(0.3);
  });

  it('handles zeros and mixed signs at the boundaries between stores', () => {
    const values = [-5, -1, 0, 0, 0, 2, 7];
    for (const [q, expected] of [
      [0.01, -5],
      [0.2, -1],
      [0.4, 0],
      [0.6, 0],
      [0.75, 0],
      [0.85, 2],
      [1 - 1e-9, 2],
    ] as const) {
      const agg = quantile('x', q);
      const got = agg.result(roundTrip(agg, foldValues(agg, values))) as number;
      expect(Math.abs(got - expected)).toBeLessThanOrEqual(0.01 * Math.abs(expected));
    }
  });

  it('encodes compactly: a single value in a few bytes, 3 decades in ~1 KiB', () => {
    const agg = quantile('x', 0.5);
    expect(bytes(agg.encode(foldValues(agg, [42])))).toBeLessThan(40);
    const rand = prng(1);
    const spread = foldValues(agg, Array.from({ length: 100_000 }, () => 10 ** (rand() * 3)));
    expect(bytes(agg.encode(spread))).toBeLessThan(1600);
  });

  it('stays within maxStateBytes for the worst-case state', () => {
    const agg = quantile('x', 0.5);
    const run = [-35_000, ...Array.from({ length: 2048 }, () => 2 ** 52)];
    const worst = agg.encode(agg.decode({ p: run, n: run, z: 2 ** 52, lo: -1.7976931348623157e308, hi: 1.7976931348623157e308 }));
    expect(bytes(worst)).toBeLessThanOrEqual(agg.maxStateBytes);
  });

  it('rejects malformed state', () => {
    const agg = quantile('x', 0.5);
    expect(() => agg.decode({ p: [1, 1] })).toThrow(/quantile: cannot decode/); // no lo/hi
    expect(() => agg.decode({ p: [1], lo: 1, hi: 1 })).toThrow(/quantile: cannot decode/);
    expect(() => agg.decode({ p: [1, 0.5], lo: 1, hi: 1 })).toThrow(/quantile: cannot decode/);
    expect(() => agg.decode({ p: [1e9, 1], lo: 1, hi: 1 })).toThrow(/quantile: cannot decode/);
    expect(() => agg.decode([1])).toThrow(/quantile: cannot decode/);
  });
});
