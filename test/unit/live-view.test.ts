// The live view's item → row logic (scripts/lib/live/rows.ts): state items built by the reducer's own
// fold (accumulate) and stored as DynamoDB holds them (toStoredItem, through JSON) must give rows whose
// aggregate values equal plain arithmetic over the events — for every aggregate kind and every window
// kind — with the result records' columns, `final: false`, and the live columns (state, closeAt,
// watermark, updatedAt). Closed items and frozen sessions give no row; the table keeps column order.
import { z } from 'zod';
import { count, distinct, first, last, max, mean, min, quantile, stddev, sum, topK, variance } from '../../functions/core/aggregates';
import type { Duration } from '../../functions/core/duration';
import { defineJob, type Job } from '../../functions/core/job';
import { makeResult, resultId } from '../../functions/core/output-records';
import { hopping, session, tumbling, type WindowSpec } from '../../functions/core/windows';
import { accumulate, emptyItem, itemKeyFor, toStoredItem, type StoredItem, type WindowAccumulation } from '../../functions/core/window-item';
import { compareLiveRows, LIVE_COLUMNS, liveRows, liveTable, newestEntries, resultColumnsOf, type LiveRow } from '../../scripts/lib/live/rows';

const T0 = Date.parse('2026-06-01T12:00:00Z');
const MIN = 60_000;
const NOW = T0 + 30 * MIN;

function job(window: WindowSpec, allowedLateness: Duration = '1m'): Job {
  return defineJob({
    name: 'live-test',
    schema: z.object({ k: z.string(), t: z.number(), x: z.number(), tag: z.string() }),
    eventTime: (e) => e.t,
    map: (e) => [[e.k, { x: e.x, tag: e.tag }]],
    window,
    allowedLateness,
    aggregates: {
      n: count(),
      total: sum('x'),
      avg: mean('x'),
      lo: min('x'),
      hi: max('x'),
      var: variance('x'),
      sd: stddev('x'),
      first_tag: first('tag'),
      last_tag: last('tag'),
      tags: distinct('tag'),
      top: topK('tag', 3),
      p90: quantile('x', 0.9),
    },
  });
}

interface Event {
  t: number;
  x: number;
  tag: string;
}

/** Deterministic events: 40 values over 4 minutes, tags with known frequencies. */
const EVENTS: Event[] = Array.from({ length: 40 }, (_, i) => ({ t: T0 + i * 6_000, x: ((i * 37) % 23) - 5.5, tag: ['a', 'b', 'b', 'c', 'c', 'c'][i % 6] as string }));

/** An item folded like the reducer folds (accumulate) and stored as DynamoDB holds it. */
function stored(j: Job, key: string, windows: { start: number; end: number; events: Event[] }[], options: { closing?: { start: number; end: number; events: Event[] }[]; version?: number } = {}): StoredItem {
  const fold = (w: { start: number; end: number; events: Event[] }): WindowAccumulation => {
    let acc: WindowAccumulation | undefined;
    for (const e of w.events) acc = accumulate(j, acc, { start: w.start, end: w.end, n: 1, raw: { t: e.t, values: { x: e.x, tag: e.tag } } });
    return acc as WindowAccumulation;
  };
  const first = windows[0] as { start: number; end: number };
  const { pk, sk } = itemKeyFor(j, key, first);
  const item = emptyItem(pk, sk, key);
  item.version = options.version ?? 3;
  if (j.window.type === 'session') {
    item.sessions = windows.map(fold);
    item.closing = (options.closing ?? []).map(fold);
  } else {
    item.window = fold(windows[0] as { start: number; end: number; events: Event[] });
  }
  return JSON.parse(JSON.stringify(toStoredItem(j, item, T0 + 5 * MIN))) as StoredItem;
}

/** Plain arithmetic over the events: what each aggregate's result must be. */
function oracle(events: readonly Event[]) {
  const xs = events.map((e) => e.x);
  const n = xs.length;
  const mu = xs.reduce((a, b) => a + b, 0) / n;
  const variance = xs.reduce((a, b) => a + (b - mu) ** 2, 0) / (n - 1);
  const byTime = [...events].sort((a, b) => a.t - b.t);
  const counts = new Map<string, number>();
  for (const e of events) counts.set(e.tag, (counts.get(e.tag) ?? 0) + 1);
  const sorted = [...xs].sort((a, b) => a - b);
  return {
    n,
    total: xs.reduce((a, b) => a + b, 0),
    avg: mu,
    lo: Math.min(...xs),
    hi: Math.max(...xs),
    var: variance,
    sd: Math.sqrt(variance),
    first_tag: byTime[0]?.tag,
    last_tag: byTime[byTime.length - 1]?.tag,
    tags: counts.size,
    top: [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 3).map(([value, c]) => ({ value, count: c })),
    p90: sorted[Math.floor(0.9 * (n - 1))] as number,
  };
}

function expectValues(row: LiveRow, events: readonly Event[]): void {
  const o = oracle(events);
  expect(row.n).toBe(o.n);
  expect(row.eventCount).toBe(o.n);
  expect(row.total).toBeCloseTo(o.total, 9);
  expect(row.avg).toBeCloseTo(o.avg, 9);
  expect(row.lo).toBe(o.lo);
  expect(row.hi).toBe(o.hi);
  expect(row.var).toBeCloseTo(o.var, 9);
  expect(row.sd).toBeCloseTo(o.sd, 9);
  expect(row.first_tag).toBe(o.first_tag);
  expect(row.last_tag).toBe(o.last_tag);
  expect(row.tags).toBe(o.tags);
  expect(row.top).toEqual(o.top);
  // DDSketch: within 1% of the value at rank ⌊q·(n−1)⌋.
  expect(Math.abs((row.p90 as number) - o.p90)).toBeLessThanOrEqual(0.01 * Math.abs(o.p90) + 1e-9);
}

describe('live rows: item → row', () => {
  it('tumbling: one row with every aggregate kind right, provisional, with the live columns', () => {
    const j = job(tumbling('5m'));
    const start = T0;
    const end = T0 + 5 * MIN;
    const events = EVENTS.filter((e) => e.t < end);
    const rows = liveRows(j, stored(j, 'k1', [{ start, end, events }]), { watermark: T0 + 2 * MIN, nowMs: NOW });
    expect(rows).toHaveLength(1);
    const row = rows[0] as LiveRow;
    expectValues(row, events);
    expect(row).toMatchObject({
      resultId: resultId('live-test', 'k1', start, end),
      job: 'live-test',
      key: 'k1',
      windowStart: '2026-06-01T12:00:00.000Z',
      windowEnd: '2026-06-01T12:05:00.000Z',
      final: false,
      version: 3,
      emittedAt: new Date(NOW).toISOString(),
      state: 'open',
      closeAt: '2026-06-01T12:06:00.000Z',
      watermark: '2026-06-01T12:02:00.000Z',
      updatedAt: new Date(T0 + 5 * MIN).toISOString(),
    });
    // The result record's own columns, in its order (from the builder), then the live columns.
    const built = makeResult({ job: 'live-test', key: 'k1', start, end, values: {}, final: false, version: 3, eventCount: 0, nowMs: NOW });
    const ownColumns = Object.keys(row).filter((c) => !(LIVE_COLUMNS as readonly string[]).includes(c));
    for (const column of Object.keys(built)) expect(ownColumns).toContain(column);
    expect(ownColumns).toEqual(resultColumnsOf(j));
    expect(Object.keys(row).slice(-LIVE_COLUMNS.length)).toEqual([...LIVE_COLUMNS]);
  });

  it("hopping: each window's item gives its own row", () => {
    const j = job(hopping('4m', '2m'));
    const windows = [T0 - 2 * MIN, T0, T0 + 2 * MIN].map((start) => ({ start, end: start + 4 * MIN, events: EVENTS.filter((e) => e.t >= start && e.t < start + 4 * MIN) }));
    for (const w of windows) {
      const [row] = liveRows(j, stored(j, 'k2', [w]), { watermark: Number.NEGATIVE_INFINITY, nowMs: NOW });
      expectValues(row as LiveRow, w.events);
      expect(row).toMatchObject({ windowStart: new Date(w.start).toISOString(), windowEnd: new Date(w.end).toISOString(), state: 'open', watermark: null });
    }
  });

  it('sessions: a row per open session; frozen (closing) sessions and CLOSED items give none', () => {
    const j = job(session('1m'), '0s');
    const a = EVENTS.slice(0, 10); // 12:00:00 – 12:00:54
    const b = EVENTS.slice(20, 30); // 12:02:00 – 12:02:54
    const frozen = EVENTS.slice(35, 40);
    const span = (es: Event[]) => ({ start: (es[0] as Event).t, end: (es[es.length - 1] as Event).t + MIN, events: es });
    const item = stored(j, 'u1', [span(a), span(b)], { closing: [span(frozen)] });
    const rows = liveRows(j, item, { watermark: span(a).end, nowMs: NOW });
    expect(rows.map((r) => r.windowStart)).toEqual([new Date(span(a).start).toISOString(), new Date(span(b).start).toISOString()]);
    expectValues(rows[0] as LiveRow, a);
    expectValues(rows[1] as LiveRow, b);
    // The first session's close time has been reached: the closer will close it at its next run.
    expect(rows.map((r) => r.state)).toEqual(['due', 'open']);
    expect(rows[0]?.closeAt).toBe(new Date(span(a).end).toISOString());

    const t = job(tumbling('5m'));
    const closed = toStoredItem(t, { ...emptyItem('J#live-test#K#k', 'W#x', 'k'), status: 'CLOSED', window: { start: T0, end: T0 + 5 * MIN, n: 4, accs: [] } }, NOW, 7);
    expect(liveRows(t, JSON.parse(JSON.stringify(closed)) as StoredItem, { watermark: T0 + 10 * MIN, nowMs: NOW })).toEqual([]);
  });
});

describe('live table', () => {
  const j = job(tumbling('5m'));
  const rowsOf = (key: string, start: number) => liveRows(j, stored(j, key, [{ start, end: start + 5 * MIN, events: EVENTS.slice(0, 3) }]), { watermark: T0, nowMs: NOW });

  it('orders newest windows first, then by key; columns are the rows\' then the live ones; numbers typed numeric', () => {
    const rows = [...rowsOf('b', T0), ...rowsOf('a', T0), ...rowsOf('c', T0 + 5 * MIN)].sort(compareLiveRows);
    expect(rows.map((r) => `${r.key}@${r.windowStart.slice(11, 16)}`)).toEqual(['c@12:05', 'a@12:00', 'b@12:00']);
    const table = liveTable(rows);
    expect(table.columns).toEqual(resultColumnsOf(j).concat(LIVE_COLUMNS));
    expect(table.types[table.columns.indexOf('avg')]).toBe('DOUBLE');
    expect(table.types[table.columns.indexOf('key')]).toBe('VARCHAR');
    expect(table.rows[0]?.[table.columns.indexOf('key')]).toBe('c');
  });

  it('with no rows, shows the columns the job would have', () => {
    expect(liveTable([], resultColumnsOf(j)).columns).toEqual(resultColumnsOf(j).concat(LIVE_COLUMNS));
    expect(resultColumnsOf(j)).toEqual(expect.arrayContaining(['resultId', 'key', 'windowStart', 'final', 'version', 'n', 'p90']));
  });

  it('newestEntries keeps the latest close times, ties by key', () => {
    const entries = [
      { pk: 'b', sk: 's', closeAt: 5 },
      { pk: 'a', sk: 's', closeAt: 9 },
      { pk: 'c', sk: 's', closeAt: 9 },
      { pk: 'd', sk: 's', closeAt: 1 },
    ];
    expect(newestEntries(entries, 3).map((e) => e.pk)).toEqual(['a', 'c', 'b']);
    expect(newestEntries(entries, 10)).toHaveLength(4);
  });
});
