// The pure parts of `npm run reprocess`: which ranges are closed and where their input starts,
// the recomputation (the production core over input records) against plain arithmetic — including
// repeats of a position and a session job — and the results view's precedence of job versions and
// revisions over the live rows.
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { count, max, sum } from '../../functions/core/aggregates';
import type { InputRecord } from '../../functions/core/input-decoding';
import { defineJob } from '../../functions/core/job';
import { hopping, session, tumbling } from '../../functions/core/windows';
import { QuerySession, plainRows } from '../../scripts/lib/duckdb';
import { latestResults } from '../../scripts/lib/output-reader';
import { lastClosedBoundary, latestWindowEnd, openWindowProblem, readStart } from '../../scripts/lib/reprocess/range';
import { Recompute } from '../../scripts/lib/reprocess/recompute';

const MIN = 60_000;
const T0 = Date.parse('2026-03-01T10:00:00Z');
const Reading = z.object({ id: z.string(), ts: z.number(), v: z.number() });
const definition = {
  name: 'readings',
  schema: Reading,
  eventTime: (r: z.infer<typeof Reading>) => r.ts,
  map: (r: z.infer<typeof Reading>) => [[r.id, { v: r.v }]] as [string, { v: number }][],
  window: tumbling('5m'),
  allowedLateness: '1m',
  aggregates: { n: count(), total: sum('v'), top: max('v') },
} as const;
const job = defineJob(definition);

let seq = 0;
const record = (shardId: string, body: unknown): InputRecord => ({
  shardId,
  sequenceNumber: String(1_000_000 + ++seq).padStart(20, '0'),
  partitionKey: 'p',
  data: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
  arrivalTime: T0,
});

describe('range', () => {
  test('a range is closed when its last window ends (plus lateness) at or before the live watermark', () => {
    const range = { fromMs: T0, toMs: T0 + 30 * MIN };
    expect(latestWindowEnd(job, range)).toBe(T0 + 30 * MIN);
    expect(openWindowProblem(job, range, T0 + 31 * MIN)).toBeUndefined();
    const problem = openWindowProblem(job, range, T0 + 30 * MIN);
    expect(problem).toContain('close at watermark 2026-03-01T10:31:00.000Z');
    expect(problem).toContain('Reprocess up to --to 2026-03-01T10:25:00.000Z');
    expect(openWindowProblem(job, range, Number.NEGATIVE_INFINITY)).toContain('not set yet');
    expect(lastClosedBoundary(job, T0 + 31 * MIN)).toBe(T0 + 30 * MIN);
    expect(lastClosedBoundary(job, T0 + 30 * MIN + 59_999)).toBe(T0 + 25 * MIN);
  });

  test('hopping windows starting before `to` end a full size after the last slide; sessions read everything', () => {
    const hop = defineJob({ ...definition, window: hopping('10m', '5m') });
    expect(latestWindowEnd(hop, { fromMs: T0, toMs: T0 + 30 * MIN })).toBe(T0 + 35 * MIN);
    expect(lastClosedBoundary(hop, T0 + 36 * MIN)).toBe(T0 + 30 * MIN);
    expect(readStart(job, { fromMs: T0, toMs: T0 + MIN })).toBe(T0 - 60 * MIN - 5 * MIN);
    expect(readStart(defineJob({ ...definition, window: session('5m') }), { fromMs: T0, toMs: T0 + MIN })).toBeUndefined();
  });
});

describe('recompute', () => {
  test('windows in the range, equal to plain arithmetic; late input counted, repeats and bad records not', () => {
    const events = Array.from({ length: 300 }, (_, i) => ({ id: `k${i % 4}`, ts: T0 - 10 * MIN + i * 20_000, v: (i * 7) % 13 }));
    const records = events.map((e) => record('shard-0', e));
    const recompute = new Recompute(job, { fromMs: T0, toMs: T0 + 60 * MIN }, T0 + 3 * 3_600_000);
    recompute.add('shard-0', records.slice(0, 120));
    // A resumed read hands back records it already had: they are repeats of a position.
    recompute.add('shard-0', records.slice(100, 300));
    recompute.add('shard-0', [record('shard-0', 'not json'), record('shard-0', { id: 'x' })]);
    expect(recompute.stats).toMatchObject({ records: 322, duplicates: 20, events: 300, rejected: 2 });

    const expected = new Map<string, { n: number; total: number; top: number }>();
    for (const e of events) {
      const start = Math.floor(e.ts / (5 * MIN)) * 5 * MIN;
      if (start < T0 || start >= T0 + 60 * MIN) continue;
      const id = `${e.id}|${new Date(start).toISOString()}`;
      const w = expected.get(id) ?? { n: 0, total: 0, top: -Infinity };
      expected.set(id, { n: w.n + 1, total: w.total + e.v, top: Math.max(w.top, e.v) });
    }
    const results = recompute.results(42);
    expect(Object.fromEntries(results.map((r) => [`${r.key}|${r.windowStart}`, { n: r.n, total: r.total, top: r.top }]))).toEqual(Object.fromEntries(expected));
    expect(results.every((r) => r.revision === 42 && r.job_version === 1 && r.version === 1 && r.final && r.emittedAt === new Date(T0 + 3 * 3_600_000).toISOString())).toBe(true);
    // Sorted by window, then key: the order chunks are delivered in, the same in every run.
    expect(results.map((r) => `${r.windowStart}|${r.key}`)).toEqual(results.map((r) => `${r.windowStart}|${r.key}`).sort());
  });

  test('sessions merge across reads and are kept by their start', () => {
    const sessions = defineJob({ ...definition, window: session('5m'), version: 3 });
    const recompute = new Recompute(sessions, { fromMs: T0, toMs: T0 + 60 * MIN }, T0 + 3 * 3_600_000);
    // k: one session from T0-2m to T0+8m (starts before the range: not re-emitted); j: two sessions.
    const ks = [-2, 1, 4, 7].map((m) => ({ id: 'k', ts: T0 + m * MIN, v: 1 }));
    const js = [10, 12, 30].map((m) => ({ id: 'j', ts: T0 + m * MIN, v: 2 }));
    recompute.add('a', [...ks.slice(0, 2), ...js.slice(0, 1)].map((e) => record('a', e)));
    recompute.add('b', [...ks.slice(2), ...js.slice(1)].map((e) => record('b', e)));
    const results = recompute.results(7).map((r) => ({ key: r.key, start: r.windowStart, end: r.windowEnd, n: r.n, job_version: r.job_version }));
    expect(results).toEqual([
      { key: 'j', start: '2026-03-01T10:10:00.000Z', end: '2026-03-01T10:17:00.000Z', n: 2, job_version: 3 },
      { key: 'j', start: '2026-03-01T10:30:00.000Z', end: '2026-03-01T10:35:00.000Z', n: 1, job_version: 3 },
    ]);
  });
});

test('the results view: a newer job version, then a later revision, then a higher state version; rows without the fields are version 1, revision 0', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-reprocess-view-'));
  try {
    const row = (key: string, extra: Record<string, unknown>) => ({ resultId: key, job: 'readings', key, windowStart: '2026-03-01T10:00:00.000Z', windowEnd: '2026-03-01T10:05:00.000Z', final: true, eventCount: 1, emittedAt: '2026-03-01T10:06:00.000Z', n: 0, ...extra });
    const lines = [
      // a: live (old rows, no fields), then a reprocess of version 1, then a later one
      row('a', { version: 9, n: 1 }),
      row('a', { version: 1, job_version: 1, revision: 100, n: 2 }),
      row('a', { version: 1, job_version: 1, revision: 200, n: 3 }),
      // b: a version-2 reprocess beats a later version-1 revision and any state version
      row('b', { version: 1, job_version: 2, revision: 100, n: 4 }),
      row('b', { version: 50, job_version: 1, revision: 300, n: 5 }),
      // c: live only, highest state version
      row('c', { version: 1, job_version: 1, revision: 0, n: 6 }),
      row('c', { version: 2, job_version: 1, revision: 0, n: 7 }),
    ];
    const file = path.join(dir, 'results.json');
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n'));
    const session = await QuerySession.open({ files: { results: [file] }, filter: {}, resultColumns: { n: 'BIGINT' } });
    try {
      const rows = plainRows(await session.run('SELECT key, n, job_version, revision FROM results ORDER BY key'));
      expect(rows).toEqual([
        { key: 'a', n: 3, job_version: 1, revision: 200 },
        { key: 'b', n: 4, job_version: 2, revision: 100 },
        { key: 'c', n: 7, job_version: 1, revision: 0 },
      ]);
      expect(plainRows(await session.run('SELECT count(*) AS n FROM results_all'))).toEqual([{ n: 7 }]);
      // The tools' own dedup (verify, tests) keeps the same rows.
      expect(latestResults(lines).map((r) => [r.key, r.n]).sort()).toEqual([['a', 3], ['b', 4], ['c', 7]]);
    } finally {
      session.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
