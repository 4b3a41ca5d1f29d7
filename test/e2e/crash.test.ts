// `npm run verify -- --crash` at a reduced size: the synthesized stack on the local cloud, run as a
// child process and SIGKILLed once at each crash point — the producer's PutRecords after the
// records are stored, a reducer batch whose result arrived before its checkpoint, Firehose right
// after acknowledging rejected/ records, the closer between emitting results and closing windows —
// restarted on the same data after each kill. 2,000 records in 2 rounds, fixed seed, the reducer's
// batching window shortened to 1 s (run time; the protocol does not depend on it). Nothing may
// be lost or counted twice (relative to what the input stream holds, the producer's retry copies
// included) and every late and rejected record must be in its query view exactly once. Then the
// same comparison on altered output must fail: a verdict that cannot fail proves nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { verdict } from '../../scripts/lib/verify/compare';
import { crashPlan, runCrash, withCrashRows, type CrashRun } from '../../scripts/lib/verify/crash';
import { formatCrashReport } from '../../scripts/lib/verify/crash-report';
import { computeExpected, OracleSession } from '../../scripts/lib/verify/oracle';
import { VERIFY_DEFAULTS } from '../../scripts/lib/verify/run';

jest.setTimeout(300_000);

const SEED = 11;
let run: CrashRun;

const failing = (v: { rows: { check: string; pass: boolean }[] }) => v.rows.filter((r) => !r.pass).map((r) => r.check);

describe('crash run: SIGKILL at every crash point, restart on the same data', () => {
  beforeAll(async () => {
    run = await runCrash({
      ...VERIFY_DEFAULTS,
      job: 'sensor-averages',
      events: 2_000,
      rounds: 2,
      seed: SEED,
      firehoseTimeScale: 1,
      // Each restart replays the shuffle stream into a fresh batching window: 1 s instead of 5 s.
      reducerBatchingWindowSeconds: 1,
      plan: crashPlan({ killsPerPoint: 1, randomKills: 0, seed: SEED }),
      keep: false,
    });
    // The whole report in the test output: on a FAIL it says what was lost, where, and which kill preceded it.
    console.log(formatCrashReport(run.report));
  });

  it('killed the cloud once at each crash point, each time by the crash point itself', () => {
    const { kills } = run.report;
    expect(kills.map((k) => [k.id, k.happened])).toEqual([
      ['producer-put#1', true],
      ['reducer-batch#1', true],
      ['firehose-buffered#1', true],
      ['closer-emit#1', true],
    ]);
    expect(kills.map((k) => /\[riffle crash point\] (\S+)/.exec(k.detail ?? '')?.[1])).toEqual([
      'kinesis.put-records.stored',
      'esm.batch.invoked',
      'firehose.put-record-batch.acked',
      'firehose.put-record-batch.acked',
    ]);
    // The deploy run, the four restarts after the kills, and the first armed one.
    expect(run.report.starts).toBe(6);
    // The kill mid-PutRecords stored a whole call that the producer then sent again: both copies are input.
    expect(run.report.stream).toMatchObject({ producerRecords: 2_000, unknown: 0, missing: 0 });
    expect(run.report.stream.retryCopies).toBeGreaterThan(0);
  });

  it('lost nothing and counted nothing twice; every late and rejected record is in its view exactly once', () => {
    const { report } = run;
    expect(failing(report.verdict)).toEqual([]);
    expect(report.pass).toBe(true);
    expect(report.loss).toEqual({ missingWindows: 0, missingWindowEvents: 0, shortWindows: 0, shortEvents: 0, overWindows: 0, overEvents: 0, rejectedMissing: 0, unaccounted: 0 });
    expect(report.checks).toMatchObject({ lateCopies: 0, rejectedCopies: 0, badRejected: report.counts.bad, validRejected: 0, unknownRejected: 0, unknownLateEvents: 0 });
    for (const n of [report.counts.bad, report.counts.lateRecords, report.counts.windows]) expect(n).toBeGreaterThan(0);
  });

  it('fails when a window result is missing, as when Firehose loses an acknowledged delivery', () => {
    const top = [...run.verdictInput.results].sort((a, b) => Number(b.eventCount) - Number(a.eventCount))[0];
    const results = run.verdictInput.results.filter((r) => r.resultId !== top?.resultId);
    const v = withCrashRows(verdict({ ...run.verdictInput, results }), run.report.kills, run.report.stream, run.expected);
    expect(v.pass).toBe(false);
    expect(failing(v)).toEqual(expect.arrayContaining(['windows (key × window): one final result each', 'events lost (expected − counted, per window)']));
  });

  it('fails when a planned kill did not happen', () => {
    const kills = run.report.kills.map((k, i) => (i === 2 ? { ...k, happened: false } : k));
    const v = withCrashRows(verdict(run.verdictInput), kills, run.report.stream, run.expected);
    expect(failing(v)).toEqual(['planned kills that happened (SIGKILL, restart on the same data)']);
  });

  it('fails when a rejected record is missing or in the view twice, or a late row is repeated', async () => {
    const { streamLines, rounds, late, rejected } = run.oracleInput;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-crash-oracle-'));
    const write = (name: string, lines: readonly string[]) => {
      const file = path.join(dir, name);
      writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
      return file;
    };
    const rows = (list: readonly Record<string, unknown>[]) => list.map((r) => JSON.stringify(r));
    const db = await OracleSession.open();
    try {
      const altered = await computeExpected(db, {
        oracle: run.verdictInput.oracle,
        job: run.verdictInput.job,
        logFile: write('stream.jsonl', streamLines),
        lateFile: write('late.jsonl', rows([...late, late.find((r) => r.kind === 'event') as Record<string, unknown>])),
        rejectedFile: write('rejected.jsonl', rows([...rejected.slice(2), rejected[2] as Record<string, unknown>])),
        rounds,
      });
      const v = withCrashRows(verdict({ ...run.verdictInput, expected: altered }), run.report.kills, run.report.stream, altered);
      expect(failing(v)).toEqual(expect.arrayContaining(['late/ view: each late event row once', 'rejected/ view: each rejected record once', 'rejected/: every bad record, with a reason']));
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
