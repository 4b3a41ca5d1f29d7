// `npm run verify` at a reduced size: 3,000 records in 3 rounds on a fresh embedded
// cloud, every planned fault on, compared with the DuckDB oracle — the verdict must pass. Then the
// same comparison on tampered results (a window dropped, a count doubled, an aggregate nudged past
// its tolerance) must fail: a verifier that cannot fail proves nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Job } from '../../functions/core/job';
import { jobs } from '../../jobs';
import { verdict, type Row } from '../../scripts/lib/verify/compare';
import { jobOracle } from '../../scripts/lib/verify/jobs';
import { computeExpected, OracleSession, type OracleResult } from '../../scripts/lib/verify/oracle';
import { verify, VERIFY_DEFAULTS, type VerifyRun } from '../../scripts/lib/verify/run';

jest.setTimeout(180_000);

let run: VerifyRun;

const failing = (v: ReturnType<typeof verdict>) => v.rows.filter((r) => !r.pass).map((r) => r.check);

/** The result emissions of the busiest window (most events), and its resultId. */
function busiest(): { id: string; rows: Row[] } {
  const top = [...run.observed.results].sort((a, b) => Number(b.eventCount) - Number(a.eventCount))[0] as Row;
  const id = String(top.resultId);
  return { id, rows: run.observed.results.filter((r) => r.resultId === id) };
}

describe('npm run verify, reduced', () => {
  beforeAll(async () => {
    run = await verify({
      ...VERIFY_DEFAULTS,
      job: 'sensor-averages',
      events: 3_000,
      rounds: 3,
      seed: 11,
      faults: true,
      skipFaults: [],
      aggregate: false,
      keep: false,
    });
  });

  it('passes under every planned fault: exact aggregates, nothing lost or double-counted, bad and late records accounted for', () => {
    const { report } = run;
    expect(report.verdict.rows.filter((r) => !r.pass)).toEqual([]);
    expect(report.pass).toBe(true);
    // The run exercised what it claims: every planned fault fired, records of every kind were sent.
    expect(report.faultsFired.filter((f) => f.fired === 0)).toEqual([]);
    const kinds = new Set(report.faultsFired.filter((f) => f.fired > 0).map((f) => f.category));
    expect([...kinds].sort()).toEqual(
      ['DynamoDB throttling', 'Firehose partial failure', 'Kinesis partial failure', 'closer crash', 'duplicate batch delivery', 'function timeout', 'mapper crash mid-batch'].sort(),
    );
    expect(report.counts).toMatchObject({ sent: 3_000 });
    for (const n of [report.counts.duplicates, report.counts.bad, report.counts.lateFlagged, report.counts.lateRecords, report.counts.windows]) expect(n).toBeGreaterThan(0);
    // The closer crash between emit and close re-emitted results with the same version.
    expect(report.verdict.sameVersionReEmissions).toBeGreaterThan(0);
  });

  it('fails when a window is dropped from the output', () => {
    const { id } = busiest();
    const v = verdict({ ...run.verdictInput, results: run.observed.results.filter((r) => r.resultId !== id) });
    expect(v.pass).toBe(false);
    expect(failing(v)).toEqual(expect.arrayContaining(['windows (key × window): one final result each', 'events lost (expected − counted, per window)']));
  });

  it('fails when one window counts an event twice', () => {
    const { id } = busiest();
    const tampered = run.observed.results.map((r) => (r.resultId === id ? { ...r, count: Number(r.count) + 1, eventCount: Number(r.eventCount) + 1 } : r));
    const v = verdict({ ...run.verdictInput, results: tampered });
    expect(v.pass).toBe(false);
    expect(failing(v)).toEqual(expect.arrayContaining(['events double-counted (counted − expected)', 'count (count, exact)']));
    expect(v.problems.join('\n')).toMatch(/eventCount \d+, expected \d+/);
  });

  it('fails when an aggregate is outside its tolerance', () => {
    const { id } = busiest();
    const tampered = run.observed.results.map((r) =>
      r.resultId === id ? { ...r, temperature_avg: Number(r.temperature_avg) * (1 + 1e-7), temperature_p95: Number(r.temperature_p95) * 1.02 } : r,
    );
    const v = verdict({ ...run.verdictInput, results: tampered });
    expect(failing(v)).toEqual(['temperature_avg (mean, ≤ 1e-9 rel.)', 'temperature_p95 (quantile, ≤ 1% rel. of rank ⌊q(n−1)⌋)']);
  });
});

// The oracle on a hand-made log (no cloud, milliseconds): late partials — which the pipeline runs
// above produce only when a closer wins a race — exclude exactly their shard's sequence range for
// their key and window, sequence numbers compare as numbers (not text), and a partial whose
// eventCount disagrees with the log is reported.
describe('the oracle on a hand-made log', () => {
  const W = Date.parse('2026-01-01T00:05:00Z');
  const iso = (ms: number) => new Date(ms).toISOString();
  const event = (n: number, seq: string, sensorId: string, t: number, temperature: number) =>
    JSON.stringify({ n, flag: 'ok', partitionKey: sensorId, shardId: 'shard-a', sequenceNumber: seq, subSequenceNumber: 0, aggregated: false, eventTime: t, payload: JSON.stringify({ sensorId, ts: t, temperature }) });
  const log = [
    event(0, '100', 's1', W + 1_000, 10),
    event(1, '200', 's1', W + 2_000, 20),
    event(2, '300', 's1', W + 3_000, 30),
    event(3, '1000', 's1', W + 4_000, 40), // '1000' < '200' as text: must stay outside [100, 200]
    event(4, '1100', 's2', W + 5_000, 50),
    JSON.stringify({ n: 5, flag: 'bad', badKind: 'empty', partitionKey: 's2', shardId: 'shard-a', sequenceNumber: '1200', subSequenceNumber: 0, aggregated: false, payloadBase64: '' }),
  ];
  const partial = (eventCount: number) =>
    JSON.stringify({ kind: 'partial', job: 'sensor-averages', key: 's1', windowStart: iso(W), windowEnd: iso(W + 300_000), eventCount, watermark: iso(W + 500_000), shardId: 'shard-a', firstSequenceNumber: '100', lastSequenceNumber: '200', lateAt: iso(W + 600_000) });
  const rejected = JSON.stringify({ job: 'sensor-averages', reason: 'empty payload', shardId: 'shard-a', sequenceNumber: '1200', subSequenceNumber: 0, partitionKey: 's2' });

  async function oracleFor(lateLines: string[]): Promise<OracleResult> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-verify-oracle-'));
    try {
      const file = (name: string, lines: string[]) => {
        const f = path.join(dir, name);
        writeFileSync(f, lines.map((l) => `${l}\n`).join(''));
        return f;
      };
      const db = await OracleSession.open();
      try {
        return await computeExpected(db, {
          oracle: jobOracle('sensor-averages'),
          job: jobs['sensor-averages'] as Job,
          logFile: file('sent.jsonl', log),
          lateFile: file('late.jsonl', lateLines),
          rejectedFile: file('rejected.jsonl', [rejected]),
          rounds: [{ index: 0, firstN: 0, endN: 6 }],
        });
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('excludes a late partial\'s range for its key and window, and checks its eventCount', async () => {
    const ok = await oracleFor([partial(2)]);
    expect(ok.windows.map((w) => [w.key, w.n, w.values.count, w.values.temperature_min, w.values.temperature_max])).toEqual([
      ['s1', 2, 2, 30, 40],
      ['s2', 1, 1, 50, 50],
    ]);
    expect(ok.checks).toMatchObject({ latePartials: 1, latePartialCountMismatches: 0, badRejected: 1, validRejected: 0, unknownRejected: 0, eventTimeMismatches: 0 });
    expect(ok.counts).toMatchObject({ sent: 6, valid: 5, bad: 1, latePairs: 2, lateRecords: 2, countedPairs: 3 });

    const wrong = await oracleFor([partial(3)]);
    expect(wrong.checks.latePartialCountMismatches).toBe(1);
  });
});
