// Verifier, end to end (used by scripts/verify.ts and test/e2e/verify.test.ts): build the workload,
// run it on a fresh embedded cloud with faults, compute the oracle in DuckDB, compare, report.
// Returns the pieces as well as the report, so a caller can re-run the comparison on altered
// results (the tests tamper with them to show the verifier can fail).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDuration } from '../../../functions/core/duration';
import type { Job } from '../../../functions/core/job';
import { jobs } from '../../../jobs';
import { verdict, type Verdict, type VerdictInput } from './compare';
import { checkedOracle } from './jobs';
import { computeExpected, OracleSession, type OracleResult } from './oracle';
import { runPipeline, type Observed } from './pipeline';
import type { VerifyReport } from './report';
import { defaultMaxDelayMs, runWorkload } from './workload';

export interface VerifyOptions {
  job: string;
  events: number;
  seed: number;
  faults: boolean;
  /** Fault ids (FAULT_IDS) to leave out of the plan. */
  skipFaults?: readonly string[];
  rounds: number;
  inputShards: number;
  durationMs: number;
  /** Default: 80% of the job's out-of-orderness. */
  maxDelayMs?: number;
  lateFraction: number;
  duplicateFraction: number;
  badFraction: number;
  hotKeyFraction: number;
  aggregate: boolean;
  timeScale: number;
  /** Keep the work directory (assembly, cloud state, sent.jsonl, outputs, report.json). */
  keep: boolean;
  /** Keep it when the verdict fails, even without `keep`. */
  keepOnFailure?: boolean;
  /** Work here instead of a fresh temporary directory. */
  workDir?: string;
  log?: (line: string) => void;
}

export const VERIFY_DEFAULTS = {
  job: 'sensor-averages',
  events: 20_000,
  rounds: 8,
  inputShards: 2,
  durationMs: parseDuration('60m', 'duration'),
  lateFraction: 0.02,
  duplicateFraction: 0.02,
  badFraction: 0.02,
  hotKeyFraction: 0.2,
  timeScale: 30,
} as const;

export interface VerifyRun {
  report: VerifyReport;
  expected: OracleResult;
  observed: Observed;
  /** What verdict() was called with: call it again with other `results` to re-compare. */
  verdictInput: VerdictInput;
  /** Per failing window: the sent events and how late/ classified them. */
  diagnostics: string[];
}

export async function verify(options: VerifyOptions): Promise<VerifyRun> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const oracle = checkedOracle(options.job);
  const job = jobs[options.job] as Job;

  const workDir = options.workDir ?? mkdtempSync(path.join(os.tmpdir(), 'riffle-verify-'));
  mkdirSync(workDir, { recursive: true });
  let keep = options.keep;
  try {
    const workload = runWorkload(options, oracle);
    const w = workload.counts;
    log(
      `workload: ${w.records.toLocaleString('en-US')} records (ok ${w.ok}, late ${w.late}, duplicates ${w.duplicate}, bad ${w.bad}; ${w.hot} on hot key '${oracle.hotKey.key}'), ` +
        `disorder ≤ ${(options.maxDelayMs ?? defaultMaxDelayMs(options.job)) / 1000} s, ${workload.rounds.length} rounds`,
    );
    const observed = await runPipeline({
      job: options.job,
      workDir,
      workload,
      faults: options.faults,
      skipFaults: options.skipFaults ?? [],
      inputShards: options.inputShards,
      aggregate: options.aggregate,
      timeScale: options.timeScale,
      log,
    });

    const t = Date.now();
    const db = await OracleSession.open();
    let expected: OracleResult;
    let result: Verdict;
    let verdictInput: VerdictInput;
    const diagnostics: string[] = [];
    try {
      expected = await computeExpected(db, {
        oracle,
        job,
        logFile: observed.logFile,
        lateFile: path.join(workDir, 'late.jsonl'),
        rejectedFile: path.join(workDir, 'rejected.jsonl'),
        rounds: workload.rounds,
      });
      verdictInput = {
        oracle,
        job,
        expected,
        results: observed.results,
        firehoseErrorObjects: observed.firehoseErrorObjects,
        failedBatchObjects: observed.failedBatchObjects,
        ...(options.faults ? { faults: observed.faults } : {}),
      };
      result = verdict(verdictInput);
      // For the first few failing windows: what was sent there and what late/ said about it.
      const seen = new Set<string>();
      for (const p of result.windowProblems) {
        const id = `${p.key}\u0000${p.start}`;
        if (seen.has(id) || seen.size >= 3) continue;
        seen.add(id);
        const pairs = await db.explainWindow(p.key, p.start);
        const late = pairs.filter((r) => r.late_event === true || r.late_partial === true);
        const notable = pairs.filter((r) => r.intent !== 'ok' || r.flag !== 'ok' || r.late_event === true || r.late_partial === true);
        // The signature of "counted and reported late": the surplus equals events late/ took out.
        const surplus = p.counts ? p.counts.actual - p.counts.expected : 0;
        const hint = surplus > 0 && surplus === late.length ? ` — the surplus equals the ${late.length} events late/ reports for this window: they were counted AND reported late` : '';
        const lateBy = new Map<string, number>();
        for (const r of late) {
          const k = `late/ at ${String(r.late_at ?? '?')} with watermark ${r.wm === null || r.wm === undefined ? '—' : new Date(Number(r.wm)).toISOString()}`;
          lateBy.set(k, (lateBy.get(k) ?? 0) + 1);
        }
        diagnostics.push(
          `${p.key} @ ${new Date(p.start).toISOString()}: ${p.problem}; ${pairs.length} sent events there, ${late.length} in late/${hint}`,
          ...[...lateBy].map(([k, n]) => `    ${n} written ${k}`),
          ...notable.slice(0, 8).map((r) => `    n=${String(r.n)} ${String(r.flag)}${r.intent !== r.flag ? `(of ${String(r.intent)})` : ''} round ${Number(r.round) + 1} ${String(r.shardId)}/${String(r.sequenceNumber)} t=${new Date(Number(r.t)).toISOString()} late_event=${String(r.late_event)} late_partial=${String(r.late_partial)}`),
          ...(notable.length > 8 ? [`    … ${notable.length - 8} more`] : []),
        );
      }
    } finally {
      db.close();
    }
    const oracleSeconds = (Date.now() - t) / 1000;
    if (!result.pass && options.keepOnFailure) keep = true;
    const report: VerifyReport = {
      job: options.job,
      seed: options.seed,
      events: options.events,
      rounds: workload.rounds.length,
      inputShards: options.inputShards,
      faults: options.faults,
      skippedFaults: options.faults ? [...(options.skipFaults ?? [])] : [],
      onePairPerEvent: oracle.onePairPerEvent,
      pass: result.pass,
      verdict: result,
      counts: expected.counts,
      bounds: expected.bounds,
      faultsFired: observed.faults,
      firedLog: observed.firedLog,
      seconds: { ...observed.seconds, oracle: oracleSeconds, total: (Date.now() - started) / 1000 },
      ...(keep ? { workDir } : {}),
    };
    writeFileSync(path.join(workDir, 'report.json'), `${JSON.stringify({ ...report, diagnostics }, null, 2)}\n`);
    return { report, expected, observed, verdictInput, diagnostics };
  } catch (error) {
    if (options.keepOnFailure) keep = true;
    throw error;
  } finally {
    if (!keep) rmSync(workDir, { recursive: true, force: true });
    else log(`kept: ${workDir} (cdk.out/, cloud/, sent.jsonl, results.jsonl, late.jsonl, rejected.jsonl, report.json)`);
  }
}
