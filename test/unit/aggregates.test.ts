// Exact aggregates (count, sum, min, max, mean, variance, stddev, first, last) and AccumulatorSet:
// fold(all) equals the merge of folds of random partitions in random merge order (with partials
// round-tripped through JSON on the way), results equal independent references, wrong types
// are rejected with readable reasons, and empty windows give the documented results.
import fc from 'fast-check';
import {
  AccumulatorSet,
  count,
  distinct,
  first,
  last,
  max,
  mean,
  min,
  quantile,
  stddev,
  sum,
  topK,
  variance,
  type Aggregate,
  type Json,
} from '../../functions/core/aggregates';

const RUNS = { numRuns: 1000 };
const MIN_NORMAL = 2.2250738585072014e-308;

type Event = readonly [value: unknown, time: number, group: number];

interface Plan {
  picks: number[];
  roundTrips: boolean[];
}

const planArb: fc.Arbitrary<Plan> = fc.record({
  picks: fc.array(fc.nat(), { minLength: 16, maxLength: 16 }),
  roundTrips: fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
});

function roundTrip<A>(agg: Aggregate<A>, acc: A): A {
  return agg.decode(JSON.parse(JSON.stringify(agg.encode(acc))) as Json);
}

function fold<A>(agg: Aggregate<A>, events: readonly Event[]): A {
  let acc = agg.zero();
  for (const [value, time] of events) acc = agg.add(acc, value, time);
  return acc;
}

/** Folds each of 6 groups (some may be empty), then merges pairs picked by the plan until one is left. */
function foldAndMerge<A>(agg: Aggregate<A>, events: readonly Event[], plan: Plan): A {
  const pool = [0, 1, 2, 3, 4, 5].map((g) => fold(agg, events.filter((e) => e[2] === g)));
  for (let step = 0; pool.length > 1; step++) {
    const pick = (k: number) => plan.picks[(2 * step + k) % plan.picks.length] as number;
    let a = pool.splice(pick(0) % pool.length, 1)[0] as A;
    let b = pool.splice(pick(1) % pool.length, 1)[0] as A;
    if (plan.roundTrips[(2 * step) % plan.roundTrips.length]) a = roundTrip(agg, a);
    if (plan.roundTrips[(2 * step + 1) % plan.roundTrips.length]) b = roundTrip(agg, b);
    const before = JSON.stringify(agg.encode(b));
    pool.push(agg.merge(a, b));
    expect(JSON.stringify(agg.encode(b))).toBe(before); // merge never mutates b
  }
  return pool[0] as A;
}

const group = fc.nat({ max: 5 });
const finite = fc.oneof(
  fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ min: -(2 ** 960), max: 2 ** 960, noNaN: true }),
  fc.constantFrom(0, -0, 1, -1, 0.1, -0.1, 0.3, 1e100, -1e100, 2 ** 53, -(2 ** 53), 1 + 2 ** -52, 5e-324, -5e-324, 1e-300, 2 ** 960),
);
const maybeFinite = fc.oneof({ weight: 12, arbitrary: finite }, { weight: 1, arbitrary: fc.constantFrom(null, undefined) });
const numericEvents = fc.array(fc.tuple(maybeFinite, fc.integer({ min: 0, max: 10 }), group), { maxLength: 120 });

// ---- exact reference sum: every double is an integer multiple of 2^-1074 ----

function scaled(x: number): bigint {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const exponent = (hi >>> 20) & 0x7ff;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  if (exponent > 0) mantissa = (mantissa | (1n << 52n)) << BigInt(exponent - 1);
  return hi >>> 31 ? -mantissa : mantissa;
}

/** Round S·2^-1074 to the nearest double, ties to even. */
function unscale(s: bigint): number {
  if (s === 0n) return 0;
  const sign = s < 0n ? -1 : 1;
  const a = s < 0n ? -s : s;
  const shift = Math.max(0, a.toString(2).length - 53);
  let q = a >> BigInt(shift);
  if (shift > 0) {
    const rest = a - (q << BigInt(shift));
    const half = 1n << BigInt(shift - 1);
    if (rest > half || (rest === half && (q & 1n) === 1n)) q += 1n;
  }
  // q ≤ 2^53 and 2^(shift−1074) is a representable power of two, so the product is exact.
  return sign * Number(q) * 2 ** (shift - 1074);
}

const numbersOf = (events: readonly Event[]): number[] => events.map((e) => e[0]).filter((v): v is number => typeof v === 'number');
const exactSum = (xs: readonly number[]): number => unscale(xs.reduce((s, x) => s + scaled(x), 0n));

describe('reference exact sum (sanity of the test oracle)', () => {
  it('rounds known sums correctly', () => {
    expect(exactSum([0.1, 0.2])).toBe(0.30000000000000004);
    expect(exactSum([1e100, 1, -1e100])).toBe(1);
    expect(exactSum([2 ** 53, 1])).toBe(2 ** 53); // tie → even
    expect(exactSum([2 ** 53, 1, 2 ** -60])).toBe(2 ** 53 + 2); // just past the tie
    expect(exactSum([5e-324, 5e-324])).toBe(1e-323);
    expect(exactSum([-3.5])).toBe(-3.5);
    expect(exactSum([2 ** 960, 2 ** 960])).toBe(2 ** 961);
    expect(exactSum([Number.MAX_VALUE / 2, 1])).toBe(Number.MAX_VALUE / 2);
  });
});

describe('exact aggregates: any split and merge order gives the fold of all events', () => {
  const cases: [string, () => Aggregate<unknown>, fc.Arbitrary<Event[]>][] = [
    ['count', count as () => Aggregate<unknown>, numericEvents],
    ['sum', () => sum('x') as Aggregate<unknown>, numericEvents],
    ['min', () => min('x') as Aggregate<unknown>, numericEvents],
    ['max', () => max('x') as Aggregate<unknown>, numericEvents],
    ['mean', () => mean('x') as Aggregate<unknown>, numericEvents],
  ];
  it.each(cases)('%s: result and encoding equal fold(all)', (_name, make, events) => {
    const agg = make();
    fc.assert(
      fc.property(events, planArb, (evs, plan) => {
        const all = fold(agg, evs);
        const merged = foldAndMerge(agg, evs, plan);
        expect(agg.result(merged)).toStrictEqual(agg.result(all));
        expect(agg.encode(merged)).toStrictEqual(agg.encode(all));
      }),
      RUNS,
    );
  });

  it('sum is the correctly rounded exact sum, and mean is that over the count', () => {
    const s = sum('x');
    const m = mean('x');
    fc.assert(
      fc.property(numericEvents, planArb, (evs, plan) => {
        const xs = numbersOf(evs);
        const exact = exactSum(xs);
        expect(s.result(foldAndMerge(s, evs, plan))).toBe(exact);
        expect(m.result(foldAndMerge(m, evs, plan))).toBe(xs.length === 0 ? null : exact / xs.length);
      }),
      RUNS,
    );
  });

  it('sum survives catastrophic cancellation where naive and Kahan summation do not', () => {
    const s = sum('x');
    const xs = [1e100, 1, -1e100, 1e-100, 2 ** 53, 1, 1, -(2 ** 53)];
    expect(s.result(fold(s, xs.map((x) => [x, 0, 0] as const)))).toBe(3 + 1e-100);
    expect(xs.reduce((a, b) => a + b, 0)).not.toBe(3 + 1e-100);
  });

  it('count, min, max match direct computation', () => {
    fc.assert(
      fc.property(numericEvents, planArb, (evs, plan) => {
        const xs = numbersOf(evs);
        expect(count().result(foldAndMerge(count(), evs, plan))).toBe(evs.length);
        expect(min('x').result(foldAndMerge(min('x'), evs, plan))).toBe(xs.length ? Math.min(...xs) + 0 : null);
        expect(max('x').result(foldAndMerge(max('x'), evs, plan))).toBe(xs.length ? Math.max(...xs) + 0 : null);
      }),
      RUNS,
    );
  });

  it('round trips preserve the result, the encoding and later merges', () => {
    const aggs = [count(), sum('x'), min('x'), max('x'), mean('x')] as Aggregate<unknown>[];
    fc.assert(
      fc.property(numericEvents, numericEvents, (g1, g2) => {
        for (const agg of aggs) {
          const a = fold(agg, g1);
          const rt = roundTrip(agg, a);
          expect(agg.result(rt)).toStrictEqual(agg.result(a));
          expect(agg.encode(rt)).toStrictEqual(agg.encode(a));
          expect(agg.result(agg.merge(rt, fold(agg, g2)))).toStrictEqual(agg.result(agg.merge(a, fold(agg, g2))));
        }
      }),
      RUNS,
    );
  });
});

describe('sum state size', () => {
  it('stays within maxStateBytes even for parts spread over the whole exponent range', () => {
    const s = sum('x');
    const acc = s.zero();
    for (let e = 960; e > -1074; e -= 54) s.add(acc, 2 ** e, 0);
    s.add(acc, 5e-324, 0);
    const parts = s.encode(acc) as number[];
    expect(parts.length).toBeGreaterThan(30);
    expect(Buffer.byteLength(JSON.stringify(parts))).toBeLessThanOrEqual(s.maxStateBytes);
    expect(s.result(roundTrip(s, acc))).toBe(s.result(acc));
  });
});

// ---- first / last ----

type Scalar = number | string | boolean;
const rank = (v: Scalar): number => (typeof v === 'boolean' ? 0 : typeof v === 'number' ? 1 : 2);
const cmp = (a: Scalar, b: Scalar): number => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);

const scalarEvents = fc.array(
  fc.tuple(
    fc.oneof(
      { weight: 6, arbitrary: fc.oneof(fc.boolean(), fc.integer({ min: -3, max: 3 }), fc.constantFrom('a', 'b', 'B', '', 'ab'), fc.double({ noNaN: true, noDefaultInfinity: true })) },
      { weight: 1, arbitrary: fc.constantFrom(null, undefined) },
    ),
    fc.integer({ min: -3, max: 3 }), // few distinct times: many ties
    group,
  ),
  { maxLength: 60 },
);

describe('first / last by event time', () => {
  it.each([
    ['first', first, -1],
    ['last', last, 1],
  ] as const)('%s equals the earliest/latest (time, value) under any split and merge order', (_name, make, sign) => {
    const agg = make('x') as Aggregate<unknown>;
    fc.assert(
      fc.property(scalarEvents, planArb, (evs, plan) => {
        const present = evs.filter((e) => e[0] !== null && e[0] !== undefined).map(([v, t]) => [(v as Scalar) === 0 ? 0 : (v as Scalar), t] as const);
        let expected: Scalar | null = null;
        let bestT = NaN;
        for (const [v, t] of present) {
          if (expected === null || (t - bestT) * sign > 0 || (t === bestT && cmp(v, expected) * sign > 0)) {
            expected = v;
            bestT = t;
          }
        }
        const merged = foldAndMerge(agg, evs, plan);
        expect(agg.result(merged)).toBe(expected);
        expect(agg.encode(merged)).toStrictEqual(agg.encode(fold(agg, evs)));
      }),
      RUNS,
    );
  });

  it('keeps strings, as a page path would be', () => {
    const f = first('page');
    const l = last('page');
    const evs: Event[] = [
      ['/checkout', 30, 0],
      ['/home', 10, 0],
      ['/cart', 20, 0],
    ];
    expect(f.result(fold(f, evs))).toBe('/home');
    expect(l.result(fold(l, evs))).toBe('/checkout');
  });
});

// ---- variance / stddev ----

describe('variance / stddev (Welford + Chan merge)', () => {
  const moderate = fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: -1e100, max: 1e100, noNaN: true }), fc.integer({ min: -5, max: 5 }));
  const events = fc.array(fc.tuple(moderate, fc.constant(0), group), { maxLength: 120 });

  it('merged results are within 1e-12·max|x|² of fold(all) (variance) and 1e-6·max|x| (stddev)', () => {
    const v = variance('x');
    const sd = stddev('x');
    fc.assert(
      fc.property(events, planArb, (evs, plan) => {
        const scale = Math.max(0, ...numbersOf(evs).map(Math.abs));
        const all = v.result(fold(v, evs)) as number | null;
        const merged = v.result(foldAndMerge(v, evs, plan));
        if (all === null) return expect(merged).toBeNull();
        // scale² underflows for tiny inputs (|x| < 1e-154): then allow a few subnormal ulps.
        expect(Math.abs((merged as number) - all)).toBeLessThanOrEqual(Math.max(1e-12 * scale * scale, 4 * Number.MIN_VALUE));
        const sdAll = sd.result(fold(sd, evs)) as number;
        // In the normal range √ of the variance is exact; below it the variance itself underflows.
        if (all >= MIN_NORMAL) expect(sdAll).toBe(Math.sqrt(all));
        expect(Math.abs((sd.result(foldAndMerge(sd, evs, plan)) as number) - sdAll)).toBeLessThanOrEqual(Math.max(1e-6 * scale, 4 * Number.MIN_VALUE));
      }),
      RUNS,
    );
  });

  it('stddev of tiny and huge values equals the stddev of the same values scaled by an exact power of two', () => {
    // Multiplying by 2^k is exact, so an independent reference is the result at a comfortable scale.
    const sd = stddev('x');
    const magnitude = fc.oneof(fc.double({ min: 1e-320, max: 1e-150, noNaN: true }), fc.double({ min: 1e100, max: 1e145, noNaN: true }));
    fc.assert(
      fc.property(fc.array(fc.tuple(magnitude, fc.boolean(), group), { minLength: 2, maxLength: 60 }), planArb, (raw, plan) => {
        const evs: Event[] = raw.map(([m, negative, g]) => [negative ? -m : m, 0, g]);
        const scale = Math.max(...numbersOf(evs).map(Math.abs));
        const k = -Math.round(Math.log2(scale)); // brings the largest value near 1
        const reference = sd.result(fold(sd, evs.map(([x, t, g]) => [(x as number) * 2 ** k, t, g] as Event))) as number;
        const got = sd.result(foldAndMerge(sd, evs, plan)) as number;
        expect(Math.abs(got * 2 ** k - reference)).toBeLessThanOrEqual(1e-9 * Math.max(reference, 2 ** -40));
      }),
      RUNS,
    );
  });

  it('regression: values around 2.7e-162 merge to the stddev of the whole (was off by 2.2e-162)', () => {
    // The shape fast-check found (seeds 658479818 and -1028814850 of the earlier suite): tiny values
    // whose squared differences underflow, folded in groups and merged.
    const sd = stddev('x');
    const xs = [2.7e-162, -2.7e-162, 1.3e-162, 2.6e-162, -1e-163, 2.7e-162];
    const evs: Event[] = xs.map((x, i) => [x, 0, i % 3]);
    const scaled = fold(sd, evs.map(([x, t, g]) => [(x as number) * 2 ** 540, t, g] as Event));
    const reference = (sd.result(scaled) as number) * 2 ** -540;
    const plan: Plan = { picks: Array.from({ length: 16 }, (_, i) => i * 7), roundTrips: Array.from({ length: 16 }, (_, i) => i % 2 === 0) };
    const merged = sd.result(foldAndMerge(sd, evs, plan)) as number;
    const whole = sd.result(fold(sd, evs)) as number;
    expect(reference).toBeGreaterThan(1e-162);
    expect(Math.abs(merged - reference)).toBeLessThanOrEqual(1e-12 * reference);
    expect(Math.abs(whole - reference)).toBeLessThanOrEqual(1e-12 * reference);
  });

  it('reads the three-element state of accumulators written before scaling', () => {
    const v = variance('x');
    const acc = v.decode([3, 2, 2]);
    expect(v.result(acc)).toBe(1);
    expect(v.result(v.merge(acc, fold(v, [[2, 0, 0]])))).toBeCloseTo(2 / 3, 15);
  });

  it('equals the exact sample variance of integer data (relative 1e-12)', () => {
    const v = variance('x');
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: -100_000, max: 100_000 }), fc.constant(0), group), { minLength: 2, maxLength: 150 }), planArb, (evs, plan) => {
        const xs = numbersOf(evs).map(BigInt);
        const n = BigInt(xs.length);
        const s1 = xs.reduce((a, b) => a + b, 0n);
        const s2 = xs.reduce((a, b) => a + b * b, 0n);
        const expected = Number(n * s2 - s1 * s1) / Number(n * (n - 1n));
        const got = v.result(foldAndMerge(v, evs, plan)) as number;
        expect(Math.abs(got - expected)).toBeLessThanOrEqual(1e-12 * Math.max(expected, 1));
      }),
      RUNS,
    );
  });

  it('is null below two values (sample variance is undefined) and 0 for equal values', () => {
    const v = variance('x');
    expect(v.result(fold(v, [[5, 0, 0]]))).toBeNull();
    expect(v.result(fold(v, [[5, 0, 0], [5, 0, 0]]))).toBe(0);
    expect(stddev('x').result(fold(stddev('x'), [[1, 0, 0], [3, 0, 0]]))).toBe(Math.SQRT2);
  });

  it('round trips exactly', () => {
    const v = variance('x');
    fc.assert(
      fc.property(events, (evs) => {
        const acc = fold(v, evs);
        expect(v.encode(roundTrip(v, acc))).toStrictEqual(v.encode(acc));
      }),
      RUNS,
    );
  });
});

// ---- rejects, empties, factory validation ----

describe('wrong types', () => {
  const numeric = [sum('temperature'), mean('temperature'), min('temperature'), max('temperature'), variance('temperature'), stddev('temperature'), quantile('temperature', 0.5)] as Aggregate<unknown>[];

  it.each(numeric.map((a) => [a.kind, a] as const))('%s rejects non-numbers with a readable reason, and check() agrees', (_kind, agg) => {
    const acc = agg.zero();
    const cases: [unknown, string][] = [
      ['abc', 'string "abc"'],
      [NaN, 'NaN'],
      [Infinity, 'Infinity'],
      [-Infinity, '-Infinity'],
      [true, 'boolean true'],
      [{ a: 1 }, 'object {"a":1}'],
      [[1], 'array [1]'],
      [12n, 'bigint 12n'],
    ];
    for (const [value, shown] of cases) {
      const reason = `field 'temperature' must be a finite number, got ${shown}`;
      expect(() => agg.add(acc, value, 0)).toThrow(new TypeError(reason));
      expect(agg.check?.(value)).toBe(reason);
    }
    expect(agg.check?.(21.5)).toBeUndefined();
    expect(agg.check?.(null)).toBeUndefined();
    expect(agg.encode(acc)).toStrictEqual(agg.encode(agg.zero())); // rejected values left no trace
  });

  it('skips null and undefined', () => {
    for (const agg of [...numeric, first('x'), last('x'), distinct('x'), topK('x', 3)] as Aggregate<unknown>[]) {
      const acc = agg.zero();
      agg.add(acc, null, 0);
      agg.add(acc, undefined, 0);
      expect(agg.encode(acc)).toStrictEqual(agg.encode(agg.zero()));
    }
  });

  it('rejects values too large to sum exactly or to square', () => {
    expect(() => sum('x').add(sum('x').zero(), 1e300, 0)).toThrow(/at most 9\.7e\+288 in magnitude/);
    expect(sum('x').check?.(2 ** 960)).toBeUndefined();
    expect(mean('x').check?.(-1e300)).toMatch(/^field 'x' must be at most/);
    expect(variance('x').check?.(1e200)).toMatch(/^field 'x' must be at most 1\.0e\+145 in magnitude for variance/);
  });

  it('distinct, topK, first and last take strings, numbers and booleans but not objects', () => {
    for (const agg of [distinct('user'), topK('user', 3), first('user'), last('user')] as Aggregate<unknown>[]) {
      const acc = agg.zero();
      for (const ok of ['u1', 7, true, -0.5]) expect(() => agg.add(acc, ok, 1)).not.toThrow();
      expect(() => agg.add(acc, { id: 1 }, 1)).toThrow(new TypeError(`field 'user' must be a string, finite number or boolean, got object {"id":1}`));
      expect(() => agg.add(acc, NaN, 1)).toThrow(TypeError);
      expect(agg.check?.([1])).toMatch(/^field 'user' must be a string/);
    }
    expect(topK('url', 3).check?.('x'.repeat(129))).toMatch(/129 characters long, over the 128 allowed/);
    expect(first('page').check?.('x'.repeat(257))).toMatch(/over the 256 allowed/);
  });
});

describe('empty windows', () => {
  it('give the documented results', () => {
    const results = (aggs: Aggregate<unknown>[]) => aggs.map((a) => a.result(a.zero()));
    expect(results([mean('x'), variance('x'), stddev('x'), min('x'), max('x'), first('x'), last('x'), quantile('x', 0.5)] as Aggregate<unknown>[])).toEqual([
      null, null, null, null, null, null, null, null,
    ]);
    expect(count().result(count().zero())).toBe(0);
    expect(sum('x').result(sum('x').zero())).toBe(0);
    expect(distinct('x').result(distinct('x').zero())).toBe(0);
    expect(topK('x', 5).result(topK('x', 5).zero())).toEqual([]);
  });

  it('and empty states round trip', () => {
    for (const agg of [count(), sum('x'), mean('x'), variance('x'), min('x'), max('x'), first('x'), last('x'), distinct('x'), topK('x', 2), quantile('x', 0.9)] as Aggregate<unknown>[]) {
      expect(agg.result(roundTrip(agg, agg.zero()))).toStrictEqual(agg.result(agg.zero()));
    }
  });
});

describe('factory validation', () => {
  it('names the fix', () => {
    expect(() => sum('')).toThrow(/sum\(field\): field must be the non-empty name/);
    expect(() => mean(3 as unknown as string)).toThrow(TypeError);
    expect(() => quantile('latency', 1)).toThrow(new RangeError("quantile('latency', 1): q must be strictly between 0 and 1, e.g. 0.95 for the 95th percentile; use min('latency') or max('latency') for the extremes"));
    expect(() => quantile('latency', 0)).toThrow(RangeError);
    expect(() => quantile('latency', NaN)).toThrow(RangeError);
    expect(() => quantile('latency', 95)).toThrow(/strictly between 0 and 1/);
    expect(() => topK('tag', 0)).toThrow(new RangeError("topK('tag', 0): k must be a whole number from 1 to 100, e.g. topK('tag', 10)"));
    expect(() => topK('tag', 2.5)).toThrow(RangeError);
    expect(() => topK('tag', 101)).toThrow(RangeError);
    expect(() => topK('tag', 10, { capacity: 5 })).toThrow(/capacity must be a whole number from k \(10\)/);
  });

  it('decode rejects foreign state', () => {
    expect(() => count().decode(-1)).toThrow(/count: cannot decode state -1/);
    expect(() => sum('x').decode([1, 'a'])).toThrow(/sum: cannot decode/);
    expect(() => mean('x').decode([1.5])).toThrow(/mean: cannot decode/);
    expect(() => variance('x').decode([2, 1, -1])).toThrow(/variance: cannot decode/);
    expect(() => min('x').decode('1')).toThrow(/min: cannot decode/);
    expect(() => first('x').decode([1, { a: 1 }])).toThrow(/first: cannot decode/);
  });
});

describe('documented state sizes', () => {
  it('bound the worst-case encodings', () => {
    const bytes = (j: Json) => Buffer.byteLength(JSON.stringify(j));
    expect(bytes(count().encode({ n: Number.MAX_SAFE_INTEGER }))).toBeLessThanOrEqual(count().maxStateBytes);
    expect(bytes(min('x').encode({ v: -2.2250738585072014e-308 }))).toBeLessThanOrEqual(min('x').maxStateBytes);
    const v = variance('x');
    expect(bytes(v.encode({ n: Number.MAX_SAFE_INTEGER, mean: -1e145 * (1 + 2 ** -52), m2: 1.7976931348623157e308, e: -1074 }))).toBeLessThanOrEqual(v.maxStateBytes);
    const f = first('x');
    const worst = f.decode([-2.2250738585072014e-308, '\u0001'.repeat(256)]);
    expect(bytes(f.encode(worst))).toBeLessThanOrEqual(f.maxStateBytes);
    for (const agg of [count(), sum('x'), min('x'), mean('x'), variance('x'), first('x'), distinct('x'), topK('x', 10), quantile('x', 0.5)]) {
      expect(agg.stateSize).toMatch(/\d+ (B|KiB)/);
      expect(agg.maxStateBytes).toBeLessThan(400_000);
    }
  });
});

// ---- AccumulatorSet ----

describe('AccumulatorSet', () => {
  const make = () =>
    new AccumulatorSet({
      count: count(),
      temperature_avg: mean('temperature'),
      temperature_max: max('temperature'),
      humidity_p50: quantile('humidity', 0.5),
      sensors: distinct('sensor'),
    });

  it('folds, merges, encodes and decodes all aggregates together', () => {
    const set = make();
    expect(set.names).toEqual(['count', 'temperature_avg', 'temperature_max', 'humidity_p50', 'sensors']);
    const a = set.zeroAll();
    set.addAll(a, { temperature: 20, humidity: 50, sensor: 's1' }, 1);
    set.addAll(a, { temperature: 22, sensor: 's2' }, 2);
    const b = set.zeroAll();
    set.addAll(b, { temperature: 30, humidity: 70, sensor: 's1' }, 3);
    const decoded = set.decodeAll(JSON.parse(JSON.stringify(set.encodeAll(a))) as Record<string, Json>);
    set.mergeAll(decoded, b);
    expect(set.resultAll(decoded)).toEqual({ count: 3, temperature_avg: 24, temperature_max: 30, humidity_p50: expect.closeTo(50, 0) as number, sensors: 2 });
    expect(Math.abs((set.resultAll(decoded).humidity_p50 as number) - 50)).toBeLessThanOrEqual(0.5);
    expect(set.maxStateBytes).toBeGreaterThan(count().maxStateBytes + quantile('h', 0.5).maxStateBytes);
  });

  it('rejects an event whole: no accumulator changes when one value is bad', () => {
    const set = make();
    const accs = set.zeroAll();
    set.addAll(accs, { temperature: 20, humidity: 50, sensor: 's1' }, 1);
    const before = JSON.stringify(set.encodeAll(accs));
    expect(() => set.addAll(accs, { temperature: 21, humidity: 'wet', sensor: 's9' }, 2)).toThrow(
      new TypeError(`humidity_p50: field 'humidity' must be a finite number, got string "wet"`),
    );
    expect(JSON.stringify(set.encodeAll(accs))).toBe(before);
  });

  it('names the aggregate whose state is missing or malformed', () => {
    const set = make();
    const state = set.encodeAll(set.zeroAll());
    const { sensors: _sensors, ...missing } = state;
    expect(() => set.decodeAll(missing)).toThrow(/aggregate 'sensors' \(distinct\): no state/);
    expect(() => set.decodeAll({ ...state, count: 'x' })).toThrow(/aggregate 'count': count: cannot decode/);
  });
});
