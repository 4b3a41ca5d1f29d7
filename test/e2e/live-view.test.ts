// `npm run query -- --live` on the embedded services: events sent with `npm run produce` (called as a
// function, with its --log) go through the real mapper, reducer and closer of an `update` job
// (test/support/pipeline-harness.ts); the closer closes the windows the watermark has passed. With
// Firehose still buffering (nothing in S3 yet), the live rows must be exactly the windows still open,
// each equal to plain arithmetic over the logged events (scripts/localstack-e2e.ts expectedWindows);
// together with the closed windows' final rows they cover every window once. After more events the
// next read shows the new values at a higher version. The live rows' columns are the results view's,
// and their values those of the update rows Firehose delivers later. Then --watch (including a failed
// read in between), the console's Windows API (the same values) and the CLI's error cases; last, the
// open sessions of a `final` session job.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Job } from '../../functions/core/job';
import { outputKey, stackName } from '../../infra/outputs';
import { jobs } from '../../jobs';
import { checkRoundTrip, readSentLog, reportText, type SentRecord } from '../../scripts/localstack-e2e';
import { LIVE_COLUMNS } from '../../scripts/lib/live/rows';
import { UsageError } from '../../scripts/lib/cli';
import { resolveTarget, type Target } from '../../scripts/lib/targets';
import type { WindowsSnapshot } from '../../console/api';
import { startConsole } from '../../console/server';
import { runProduce } from '../../scripts/produce';
import { executeQuery, runQuery } from '../../scripts/query';
import { PipelineHarness } from '../support/pipeline-harness';

jest.setTimeout(60_000);

const JOB = 'sensor-averages';
const HARNESS_BUCKET = 'riffle-test-output';
const T0 = Date.parse('2026-11-01T00:00:00Z');
const MIN = 60_000;
const SENSORS = 8;
const quiet = { write: () => true };

/** Readings of 8 sensors, round-robin, evenly spaced over [from, to), temperatures from a fixed formula. */
function readings(count: number, from: number, to: number, offset: number): string {
  return Array.from({ length: count }, (_, i) => {
    const n = i + offset;
    const ts = from + Math.floor((i * (to - from)) / count);
    return JSON.stringify({ sensorId: `s${n % SENSORS}`, ts, temperature: Math.round((15 + ((n * 7919) % 1000) / 100) * 100) / 100, ...(n % 9 === 0 ? {} : { humidity: 40 + (n % 30) }) });
  }).join('\n');
}

function capture() {
  let text = '';
  return { stream: { write: (s: string) => ((text += s), true) }, text: () => text };
}

describe('npm run query -- --live', () => {
  let h: PipelineHarness;
  let target: Target;
  let dir: string;
  const sent: SentRecord[] = [];

  const outputsFor = (extra: Record<string, string> = {}) => ({
    [stackName((jobs[JOB] as Job).source)]: { Jobs: JOB, [outputKey(JOB, 'InputStream')]: h.names.input, [outputKey(JOB, 'Bucket')]: HARNESS_BUCKET, [outputKey(JOB, 'StateTable')]: h.names.table, ...extra },
  });

  async function send(name: string, lines: string): Promise<void> {
    const file = path.join(dir, `${name}.jsonl`);
    const log = path.join(dir, `${name}.log.jsonl`);
    writeFileSync(file, `${lines}\n`);
    expect(await runProduce(['--job', JOB, '--file', file, '--log', log], { stdout: quiet, stderr: quiet, target })).toBe(0);
    sent.push(...readSentLog(log).map((r) => ({ ...r, n: r.n + sent.length })));
  }

  async function live(...argv: string[]): Promise<{ rows: Record<string, unknown>[]; stderr: string }> {
    const out = capture();
    const err = capture();
    expect(await runQuery(['--live', '--job', JOB, '--format', 'json', ...argv], { stdout: out.stream, stderr: err.stream, target })).toBe(0);
    return { rows: JSON.parse(out.text()) as Record<string, unknown>[], stderr: err.text() };
  }

  beforeAll(async () => {
    // The registry's job in `update` mode: the live view reads the same state either way, and the
    // update rows Firehose delivers later are what the live rows must equal.
    h = await new PipelineHarness({ job: { ...(jobs[JOB] as Job), emit: 'update' }, inputShards: 1, shuffleBuckets: 2 }).start();
    target = resolveTarget('local', { endpoint: h.server.endpoint, outputs: outputsFor() });
    dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-live-'));
  });

  afterAll(async () => {
    await h?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows exactly the open windows with their current values, before anything reaches S3', async () => {
    // 22 minutes of readings: the watermark ends 30 s (outOfOrderness) before the last one, so the
    // windows ending at +5, +10 and +15 min close (2 min allowed lateness) and +20 and +25 stay open.
    await send('first', readings(320, T0, T0 + 22 * MIN, 0));
    await h.runToEnd({ mapperBatch: 100, reducerBatch: 100, drain: false });

    const { rows, stderr } = await live();
    expect(stderr).toMatch(/^live: sensor-averages: 16 open windows, watermark 2026-11-01T00:21:\d\d\.\d{3}Z; 8 index queries \(16 entries\), 1 BatchGetItem \(16 items, strongly consistent\)/);
    expect(rows).toHaveLength(2 * SENSORS);
    for (const row of rows) expect(row).toMatchObject({ final: false, state: 'open', job: JOB });
    const watermark = Date.parse(String(rows[0]?.watermark));
    for (const row of rows) expect(Date.parse(String(row.closeAt))).toBeGreaterThan(watermark);
    // Nothing of them is in S3: Firehose still buffers (900 s in the harness).
    const inS3 = await executeQuery({ sql: 'SELECT count(*) AS n FROM results', format: 'json', job: JOB, target: 'local', cache: false, athena: false }, { target });
    expect(JSON.parse(inS3.text)).toEqual([{ n: 0 }]);

    // Closed windows' final rows + live rows = every window of the sent events, each once and right.
    await h.server.firehose.flushAll();
    const results = JSON.parse((await executeQuery({ sql: 'SELECT * FROM results', format: 'json', job: JOB, target: 'local', cache: false, athena: false }, { target })).text) as Record<string, unknown>[];
    const finals = results.filter((r) => r.final === true);
    expect(finals).toHaveLength(3 * SENSORS);
    const report = checkRoundTrip({ job: JOB, sent, results: [...finals, ...rows], late: [], rejected: [] });
    if (report.problems.length) console.log(reportText(report));
    expect(report.problems).toEqual([]);
    expect(report.expectedWindows).toBe(5 * SENSORS);

    // Same columns as the results view, and the same values as the update rows delivered since.
    const own = (r: Record<string, unknown>) => Object.keys(r).filter((c) => !(LIVE_COLUMNS as readonly string[]).includes(c));
    expect(own(rows[0] as Record<string, unknown>).sort()).toEqual(Object.keys(results[0] as Record<string, unknown>).sort());
    const byId = new Map(results.map((r) => [r.resultId, r]));
    for (const row of rows) {
      const delivered = byId.get(row.resultId) as Record<string, unknown>;
      for (const column of own(row).filter((c) => c !== 'emittedAt')) expect([column, delivered[column]]).toEqual([column, row[column]]);
    }
  });

  it('a later read shows new events at a higher version, and no window the closer closed since; --key and --limit narrow it', async () => {
    const before = new Map((await live()).rows.map((r) => [r.resultId, r]));
    // Two more minutes of readings, into the +20 window: the watermark moves to ~+23.5 min, which
    // closes the +15 window (due at +22 min).
    await send('second', readings(48, T0 + 22 * MIN, T0 + 24 * MIN, 320));
    await h.pump('mapper', { batchSize: 100 });
    await h.pump('reducer', { batchSize: 100 });
    await h.closer({ drain: false });
    const { rows } = await live();
    expect(rows).toHaveLength(SENSORS);
    expect(new Set(rows.map((r) => r.windowStart))).toEqual(new Set(['2026-11-01T00:20:00.000Z']));
    const report = checkRoundTrip({ job: JOB, sent, results: rows, late: [], rejected: [], watermark: Number.POSITIVE_INFINITY });
    // Every open window equals the oracle over all events sent so far (the closed ones are not in `rows`).
    expect(report.problems.filter((p) => !p.startsWith('missing result'))).toEqual([]);
    expect(report.matchedWindows).toBe(SENSORS);
    for (const r of rows) {
      expect(Number(r.eventCount)).toBeGreaterThan(Number(before.get(r.resultId)?.eventCount));
      expect(Number(r.version)).toBeGreaterThan(Number(before.get(r.resultId)?.version));
    }

    const one = await live('--key', 's3');
    expect(one.rows.map((r) => r.key)).toEqual(['s3']);
    expect(one.stderr).toMatch(/1 index query \(\d+ entr(y|ies)\), 1 BatchGetItem \(1 item,/);
    const newest = await live('--limit', '5');
    expect(newest.rows).toHaveLength(5);
    expect(newest.rows.every((r) => r.windowStart === '2026-11-01T00:20:00.000Z')).toBe(true);
    expect(newest.stderr).toMatch(/more are open: showing the newest 5/);
  });

  it('--watch reads again until stopped; table and csv formats carry the same columns; no --job reads every deployed job', async () => {
    const out = capture();
    const err = capture();
    expect(await runQuery(['--live', '--job', JOB, '--watch', '1', '--key', 's1'], { stdout: out.stream, stderr: err.stream, target, iterations: 2 })).toBe(0);
    expect(out.text().match(/^as of /gm)).toHaveLength(2);
    expect(out.text().match(/^\(1 row\)$/gm)).toHaveLength(2);
    expect(err.text().match(/^live: /gm)).toHaveLength(2);
    const csv = capture();
    expect(await runQuery(['--live', '--job', JOB, '--format', 'csv', '--key', 's1'], { stdout: csv.stream, stderr: quiet, target })).toBe(0);
    const header = csv.text().split('\r\n')[0] as string;
    expect(header.split(',').slice(-LIVE_COLUMNS.length)).toEqual([...LIVE_COLUMNS]);
    expect(header).toMatch(/^resultId,job,key,windowStart,windowEnd,count,temperature_avg,/);
    // Without --job: every deployed job (here the one).
    const all = capture();
    expect(await runQuery(['--live', '--format', 'json'], { stdout: all.stream, stderr: quiet, target })).toBe(0);
    const withoutEmitted = (rows: Record<string, unknown>[]) => rows.map(({ emittedAt: _, ...rest }) => rest);
    expect(withoutEmitted(JSON.parse(all.text()) as Record<string, unknown>[])).toEqual(withoutEmitted((await live()).rows));
  });

  it("the console's Windows API shows the same current values", async () => {
    const names = ['ShuffleStream', 'MapperFunction', 'ReducerFunction', 'CloserFunction', 'ResultsDelivery', 'LateDelivery', 'RejectedDelivery'] as const;
    const full = resolveTarget('local', { endpoint: h.server.endpoint, outputs: outputsFor(Object.fromEntries(names.map((n) => [outputKey(JOB, n), `unused-${n}`]))) });
    const console_ = await startConsole({ target: full, port: 0, cacheDir: path.join(dir, 'console-cache'), log: () => undefined });
    try {
      const response = await fetch(new URL(`/api/windows?job=${JOB}`, console_.url), { headers: { accept: 'application/json' } });
      expect(response.status).toBe(200);
      const snapshot = (await response.json()) as WindowsSnapshot;
      const { rows } = await live('--limit', '20');
      expect(snapshot.liveTruncated).toBe(false);
      expect(snapshot.live).toEqual(
        rows.map((r) => ({
          key: r.key,
          windowStart: Date.parse(String(r.windowStart)),
          windowEnd: Date.parse(String(r.windowEnd)),
          eventCount: r.eventCount,
          version: r.version,
          state: r.state,
          values: Object.fromEntries(Object.keys((jobs[JOB] as Job).aggregates).map((n) => [n, r[n]])),
        })),
      );
    } finally {
      await console_.close();
    }
  });

  it('--watch survives a failed read after the first one: reports it and reads again', async () => {
    const outputs = outputsFor();
    const stack = outputs[stackName((jobs[JOB] as Job).source)] as Record<string, string>;
    const watched = resolveTarget('local', { endpoint: h.server.endpoint, outputs });
    let text = '';
    const errors: string[] = [];
    // The table goes missing once the first read is printed, and is back once the failure is reported.
    const stdout = {
      write: (t: string) => {
        if (text === '') stack[outputKey(JOB, 'StateTable')] = 'gone-table';
        text += t;
        return true;
      },
    };
    const stderr = {
      write: (t: string) => {
        if (/retrying/.test(t)) stack[outputKey(JOB, 'StateTable')] = h.names.table;
        errors.push(t);
        return true;
      },
    };
    expect(await runQuery(['--live', '--job', JOB, '--key', 's1', '--watch', '1'], { stdout, stderr, target: watched, iterations: 3 })).toBe(0);
    expect(text.match(/^\(1 row\)$/gm)).toHaveLength(2);
    expect(errors).toHaveLength(3);
    expect(errors[1]).toMatch(/^live: sensor-averages's state table gone-table: .* it is stale: .* \(retrying in 1 s\)\n$/);
    expect(errors[2]).toMatch(/^live: sensor-averages: 1 open window,/);
  });

  it('errors say what to do: job not deployed, missing table, unreachable endpoint', async () => {
    const fail = async (argv: string[], t: Target): Promise<string> => {
      const error = await runQuery(['--live', ...argv], { stdout: quiet, stderr: quiet, target: t }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(UsageError);
      return (error as Error).message;
    };
    expect(await fail(['--job', 'clickstream'], target)).toMatch(/job 'clickstream' is not deployed on --target local .*restart `npm run local`/);
    const stale = resolveTarget('local', { endpoint: h.server.endpoint, outputs: outputsFor({ [outputKey(JOB, 'StateTable')]: 'no-such-table' }) });
    expect(await fail(['--job', JOB], stale)).toMatch(/^sensor-averages's state table no-such-table: .*names a resource that does not exist on --target local; it is stale/);
    const down = resolveTarget('local', { endpoint: 'http://127.0.0.1:9', outputs: outputsFor() });
    expect(await fail(['--job', JOB], down)).toMatch(/cannot reach the embedded local cloud endpoint http:\/\/127\.0\.0\.1:9/);
  });
});

describe('npm run query -- --live, sessions of a final job', () => {
  it('shows the open sessions; with the sessions closed so far they are every session of the sent events', async () => {
    const job = 'clickstream-sessions';
    const h = await new PipelineHarness({ job: jobs[job] as Job, inputShards: 1, shuffleBuckets: 2 }).start();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-live-sessions-'));
    try {
      const source = (jobs[job] as Job).source;
      const target = resolveTarget('local', {
        endpoint: h.server.endpoint,
        outputs: { [stackName(source)]: { Jobs: job, [outputKey(job, 'InputStream')]: h.names.input, [outputKey(job, 'Bucket')]: HARNESS_BUCKET, [outputKey(job, 'StateTable')]: h.names.table } },
      });
      const log = path.join(dir, 'sent.jsonl');
      const argv = ['--job', job, '--count', '300', '--duration', '2h', '--end', '2026-11-01T02:00:00Z', '--seed', '3', '--log', log];
      expect(await runProduce(argv, { stdout: quiet, stderr: quiet, target })).toBe(0);
      await h.runToEnd({ mapperBatch: 100, reducerBatch: 100, drain: false });
      const out = capture();
      expect(await runQuery(['--live', '--job', job, '--format', 'json'], { stdout: out.stream, stderr: quiet, target })).toBe(0);
      const rows = JSON.parse(out.text()) as Record<string, unknown>[];
      expect(rows.length).toBeGreaterThan(3);
      for (const row of rows) expect(row).toMatchObject({ final: false, state: 'open', job });
      await h.server.firehose.flushAll();
      const finals = JSON.parse((await executeQuery({ sql: 'SELECT * FROM results', format: 'json', job, target: 'local', cache: false, athena: false }, { target })).text) as Record<string, unknown>[];
      expect(finals.length).toBeGreaterThan(3);
      const report = checkRoundTrip({ job, sent: readSentLog(log), results: [...finals, ...rows], late: [], rejected: [] });
      if (report.problems.length) console.log(reportText(report));
      expect(report.problems).toEqual([]);
      expect(report.expectedWindows).toBe(finals.length + rows.length);
    } finally {
      await h.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
