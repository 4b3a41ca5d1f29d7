// Unit tests for event-time window assignment (functions/core/windows.ts): epoch alignment,
// boundaries, hopping validation, negative times and session merging, with fast-check
// properties where a handful of examples cannot cover the arithmetic.
import fc from 'fast-check';
import {
  assignWindows,
  describeWindow,
  hopping,
  mergeSessions,
  session,
  SessionEntry,
  sessionsIntersect,
  tumbling,
  Window,
  WindowSpec,
} from '../../functions/core/windows';

const RUNS = { numRuns: 1000 };
const MIN = 60_000;

/** start mod step === 0 without tripping over -0 (Object.is(-0, 0) is false in toBe). */
function isAligned(start: number, step: number): boolean {
  return Math.abs(start % step) === 0;
}

// Event times: near 0 (both signs), around "now", and large (up to year ~33 000).
const eventTime = fc.oneof(
  fc.integer({ min: -100_000, max: 100_000 }),
  fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
  fc.integer({ min: -1_000_000_000_000_000, max: 1_000_000_000_000_000 }),
);

describe('tumbling', () => {
  it('puts an event exactly on a boundary in the window starting there', () => {
    const spec = tumbling('5m');
    expect(assignWindows(spec, 10 * MIN)).toEqual([{ start: 10 * MIN, end: 15 * MIN }]);
    expect(assignWindows(spec, 10 * MIN - 1)).toEqual([{ start: 5 * MIN, end: 10 * MIN }]);
    expect(assignWindows(spec, 0)).toEqual([{ start: 0, end: 5 * MIN }]);
  });

  it.each([
    ['1ms', 1],
    ['250ms', 250],
    ['1s', 1_000],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1.5s', 1_500],
  ] as const)('tumbling(%s) is %d ms', (size, ms) => {
    expect(tumbling(size)).toEqual({ type: 'tumbling', sizeMs: ms });
  });

  it('rejects a zero size and non-durations', () => {
    expect(() => tumbling('0s')).toThrow(/must be positive/);
    expect(() => tumbling('5 minutes' as never)).toThrow(/not a duration/);
  });

  it('assigns exactly one aligned window containing t (property)', () => {
    fc.assert(
      fc.property(eventTime, fc.integer({ min: 1, max: 86_400_000 }), (t, sizeMs) => {
        const windows = assignWindows({ type: 'tumbling', sizeMs }, t);
        expect(windows).toHaveLength(1);
        const [w] = windows as [Window];
        expect(w.start <= t && t < w.end).toBe(true);
        expect(w.end - w.start).toBe(sizeMs);
        expect(isAligned(w.start, sizeMs)).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('negative (pre-1970) event times', () => {
  // assignWindows floors toward −∞ for t < 0, so windows stay epoch-aligned and half-open
  // ([-10, 0) holds -10 … -1). Rejecting pre-1970 events is the event-time parser's job,
  // upstream of window assignment; here we only pin down that the arithmetic is right.
  it('tumbling floors toward −∞', () => {
    const spec: WindowSpec = { type: 'tumbling', sizeMs: 10 };
    expect(assignWindows(spec, -1)).toEqual([{ start: -10, end: 0 }]);
    expect(assignWindows(spec, -10)).toEqual([{ start: -10, end: 0 }]);
    expect(assignWindows(spec, -11)).toEqual([{ start: -20, end: -10 }]);
  });

  it('hopping floors toward −∞', () => {
    const spec: WindowSpec = { type: 'hopping', sizeMs: 20, slideMs: 10 };
    expect(assignWindows(spec, -1)).toEqual([
      { start: -20, end: 0 },
      { start: -10, end: 10 },
    ]);
  });

  it('-0 gives the window starting at +0', () => {
    const [w] = assignWindows({ type: 'tumbling', sizeMs: 10 }, -0) as [Window];
    expect(Object.is(w.start, 0)).toBe(true);
  });

  it('sessions start at the event itself', () => {
    expect(assignWindows(session('10s'), -5)).toEqual([{ start: -5, end: 9_995 }]);
  });
});

describe('fractional event times', () => {
  it('a time just below a boundary falls in the window before it', () => {
    // Regression: the former floor ((t % s) + s) % s rounded to 0 here and returned [t, t + s).
    const t = 10 - 2 ** -49;
    expect(assignWindows({ type: 'tumbling', sizeMs: 10 }, t)).toEqual([{ start: 0, end: 10 }]);
    expect(assignWindows({ type: 'tumbling', sizeMs: 10 }, -1e-20)).toEqual([{ start: -10, end: 0 }]);
  });
});

describe('hopping', () => {
  it('puts a boundary event in the windows starting at or before it, not the one ending there', () => {
    const spec = hopping('2m', '1m');
    expect(assignWindows(spec, MIN)).toEqual([
      { start: 0, end: 2 * MIN },
      { start: MIN, end: 3 * MIN },
    ]);
    expect(assignWindows(spec, MIN - 1)).toEqual([
      { start: -MIN, end: MIN },
      { start: 0, end: 2 * MIN },
    ]);
  });

  it('with slide = size behaves like tumbling', () => {
    const t = 1_700_000_123_456;
    expect(assignWindows(hopping('5m', '5m'), t)).toEqual(assignWindows(tumbling('5m'), t));
  });

  it.each([
    ['10m', '1m', 10],
    ['1h', '5m', 12],
    ['1h', '15m', 4],
    ['1d', '1h', 24],
    ['1s', '250ms', 4],
  ] as const)('hopping(%s, %s) gives %d windows per event', (size, slide, n) => {
    expect(assignWindows(hopping(size, slide), 1_700_000_000_001)).toHaveLength(n);
  });

  it('rejects a slide larger than the size', () => {
    expect(() => hopping('1m', '2m')).toThrow(/larger than the size/);
  });

  it('rejects a size that is not a whole multiple of the slide, suggesting one that is', () => {
    expect(() => hopping('5m', '2m')).toThrow(/not a whole multiple/);
    expect(() => hopping('5m', '2m')).toThrow(/hopping\('6m', '2m'\)/);
  });

  it('rejects zero size or slide', () => {
    expect(() => hopping('0s', '1s')).toThrow(/must be positive/);
    expect(() => hopping('1m', '0s')).toThrow(/must be positive/);
  });

  it('each event is in exactly size/slide sorted, aligned windows, all containing it (property)', () => {
    const specArb = fc
      .record({ slideMs: fc.integer({ min: 1, max: 3_600_000 }), ratio: fc.integer({ min: 1, max: 60 }) })
      .map(({ slideMs, ratio }) => ({ slideMs, sizeMs: slideMs * ratio, ratio }));
    fc.assert(
      fc.property(eventTime, specArb, (t, { slideMs, sizeMs, ratio }) => {
        // Through the factory, so validation accepts every valid combination.
        const spec = hopping(`${sizeMs}ms`, `${slideMs}ms`);
        const windows = assignWindows(spec, t);
        expect(windows).toHaveLength(ratio);
        windows.forEach((w, i) => {
          expect(w.start <= t && t < w.end).toBe(true);
          expect(w.end - w.start).toBe(sizeMs);
          expect(isAligned(w.start, slideMs)).toBe(true);
          if (i > 0) expect(w.start - (windows[i - 1] as Window).start).toBe(slideMs);
        });
        // Complete: the aligned windows just before the first and after the last miss t.
        const first = windows[0] as Window;
        const last = windows[windows.length - 1] as Window;
        expect(first.end - slideMs <= t).toBe(true);
        expect(last.start + slideMs > t).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('session', () => {
  it('rejects a zero gap', () => {
    expect(() => session('0ms')).toThrow(/must be positive/);
  });

  it('assigns the proto-session [t, t + gap)', () => {
    expect(assignWindows(session('30s'), 1_000)).toEqual([{ start: 1_000, end: 31_000 }]);
  });

  it('treats touching windows as intersecting', () => {
    expect(sessionsIntersect({ start: 0, end: 10 }, { start: 10, end: 20 })).toBe(true);
    expect(sessionsIntersect({ start: 10, end: 20 }, { start: 0, end: 10 })).toBe(true);
    expect(sessionsIntersect({ start: 0, end: 10 }, { start: 11, end: 20 })).toBe(false);
  });
});

describe('mergeSessions', () => {
  const sum = (a: number, b: number): number => a + b;

  it('merges touching sessions [0,10) and [10,20)', () => {
    const merged = mergeSessions(
      [
        { start: 0, end: 10, value: 1 },
        { start: 10, end: 20, value: 2 },
      ],
      sum,
    );
    expect(merged).toEqual([{ start: 0, end: 20, value: 3 }]);
  });

  it('keeps sessions with a gap between them apart', () => {
    const input = [
      { start: 21, end: 30, value: 2 },
      { start: 0, end: 20, value: 1 },
    ];
    expect(mergeSessions(input, sum)).toEqual([
      { start: 0, end: 20, value: 1 },
      { start: 21, end: 30, value: 2 },
    ]);
  });

  it('merges a chain a→b→c where a and c only connect through b, in any input order', () => {
    const a = { start: 0, end: 10, value: 1 };
    const b = { start: 8, end: 25, value: 10 };
    const c = { start: 20, end: 30, value: 100 };
    expect(sessionsIntersect(a, c)).toBe(false);
    for (const order of [
      [a, b, c],
      [c, a, b],
      [a, c, b],
      [c, b, a],
    ]) {
      expect(mergeSessions(order, sum)).toEqual([{ start: 0, end: 30, value: 111 }]);
    }
  });

  it('absorbs a session contained in another', () => {
    const merged = mergeSessions(
      [
        { start: 0, end: 100, value: 1 },
        { start: 10, end: 20, value: 2 },
        { start: 50, end: 60, value: 3 },
      ],
      sum,
    );
    expect(merged).toEqual([{ start: 0, end: 100, value: 6 }]);
  });

  it('does not mutate the input array and handles empty input', () => {
    const input = [
      { start: 10, end: 20, value: 1 },
      { start: 0, end: 10, value: 2 },
    ];
    const copy = input.map((e) => ({ ...e }));
    mergeSessions(input, sum);
    expect(input).toEqual(copy);
    expect(mergeSessions([], sum)).toEqual([]);
  });

  // Each session carries the ids of the events in it; ids are combined by sorted union, which is
  // commutative, so any correct merge must produce the same values whatever the input order.
  type Ids = number[];
  const unionIds = (into: Ids, from: Ids): Ids => [...into, ...from].sort((x, y) => x - y);
  const sessionsArb = fc
    .array(fc.record({ start: fc.integer({ min: -50, max: 200 }), length: fc.integer({ min: 1, max: 30 }) }), { maxLength: 25 })
    .map((raw) => raw.map(({ start, length }, id): SessionEntry<Ids> => ({ start, end: start + length, value: [id] })));

  /** Reference: connected components of the "intersects" graph, by brute force. */
  function components(sessions: readonly SessionEntry<Ids>[]): SessionEntry<Ids>[] {
    const parent = sessions.map((_, i) => i);
    const find = (i: number): number => (parent[i] === i ? i : find(parent[i] as number));
    sessions.forEach((a, i) =>
      sessions.forEach((b, j) => {
        if (sessionsIntersect(a, b)) parent[find(i)] = find(j);
      }),
    );
    const groups = new Map<number, SessionEntry<Ids>[]>();
    sessions.forEach((s, i) => groups.set(find(i), [...(groups.get(find(i)) ?? []), s]));
    return [...groups.values()]
      .map((group) => ({
        start: Math.min(...group.map((s) => s.start)),
        end: Math.max(...group.map((s) => s.end)),
        value: group.flatMap((s) => s.value).sort((x, y) => x - y),
      }))
      .sort((x, y) => x.start - y.start);
  }

  it('is order-independent: shuffled input merges like sorted input (property)', () => {
    fc.assert(
      fc.property(
        sessionsArb.chain((sessions) =>
          fc.tuple(fc.constant(sessions), fc.shuffledSubarray(sessions, { minLength: sessions.length, maxLength: sessions.length })),
        ),
        ([sessions, shuffled]) => {
          const sorted = [...sessions].sort((a, b) => a.start - b.start || a.end - b.end);
          const fromShuffled = mergeSessions(shuffled, unionIds);
          expect(fromShuffled).toEqual(mergeSessions(sorted, unionIds));
          expect(fromShuffled).toEqual(components(sessions));
          // Result: sorted, pairwise apart (no two would merge again), every event kept once.
          for (let i = 1; i < fromShuffled.length; i++) {
            expect((fromShuffled[i - 1] as Window).end < (fromShuffled[i] as Window).start).toBe(true);
          }
          expect(fromShuffled.flatMap((s) => s.value).sort((x, y) => x - y)).toEqual(sessions.map((_, id) => id));
        },
      ),
      RUNS,
    );
  });
});

describe('describeWindow', () => {
  it('prints the spec in the largest exact unit', () => {
    expect(describeWindow(tumbling('300s'))).toBe('tumbling(5m)');
    expect(describeWindow(hopping('1h', '15m'))).toBe('hopping(1h, 15m)');
    expect(describeWindow(session('90s'))).toBe('session(90s)');
  });
});
