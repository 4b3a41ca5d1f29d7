// Crash verifier (`npm run verify -- --crash`, test/e2e/crash.test.ts): nothing acknowledged is
// lost and nothing is counted twice when the local cloud process dies. The cloud runs as a child
// process (crash-cloud.ts) on one data directory; the harness sends verify's workload round by
// round while the cloud is SIGKILLed at each planned instant — a crash point armed through
// RIFFLE_CRASH_AT (local/crash-points.ts), or a random moment — and started again on the same data
// after every kill; the producer re-sends whatever Kinesis did not acknowledge. At the end of input
// the closer drains and Firehose flushes, Riffle's output is read through `npm run query`'s DuckDB
// views, the input stream is read back (crash-stream.ts: the oracle's input is what the stream
// holds, retry copies included) and verify's independent oracle and comparison give the verdict,
// with rows of its own: every planned kill happened, the stream matches the producer, every late
// and rejected record is in its view exactly once.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { WriteStream } from 'node:fs';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Job } from '../../../functions/core/job';
import { jobs } from '../../../jobs';
import { formatCrashSpec, type CrashPointName } from '../../../local/crash-points';
import { sendRecords } from '../../produce';
import { executeQuery } from '../../query';
import { seededRng } from '../generators';
import { listObjects } from '../output-reader';
import { verdict, type Row, type Verdict, type VerdictInput, type VerdictRow } from './compare';
import { CloudDied, CloudProcess, describeExit, freePort, type ChildExit } from './crash-cloud';
import { readStream, streamLog, type LoggedRecord, type StreamLogCounts } from './crash-stream';
import type { FaultTargets } from './faults';
import { checkedOracle } from './jobs';
import { computeExpected, OracleSession, type OracleResult, type RoundRange } from './oracle';
import { namesOf, synthJob } from './pipeline';
import { runWorkload, type Round, type Workload } from './workload';

/** Whose physical name a crash point's target is. */
export type KillRole = 'inputStream' | 'mapper' | 'reducer' | 'resultsDelivery' | 'lateDelivery' | 'rejectedDelivery';

/** The crash points the harness plans kills at, by the instant they stand for. */
export const CRASH_KINDS = {
  'producer-put': {
    point: 'kinesis.put-records.stored',
    role: 'inputStream',
    description: "mid PutRecords from the producer: records stored, the producer never sees the answer and sends them again",
  },
  'reducer-batch': {
    point: 'esm.batch.invoked',
    role: 'reducer',
    description: 'mid reducer batch: the invocation returned, the shuffle checkpoint has not moved',
  },
  'firehose-buffered': {
    point: 'firehose.put-record-batch.acked',
    role: 'rejectedDelivery',
    description: 'Firehose acknowledged rejected/ records that are still only buffered (mapper batches before it are checkpointed)',
  },
  'closer-emit': {
    point: 'firehose.put-record-batch.acked',
    role: 'resultsDelivery',
    description: "between the closer's emit and close: Firehose acknowledged results, the windows are not CLOSED yet",
  },
} as const satisfies Record<string, { point: CrashPointName; role: KillRole; description: string }>;

export type CrashKind = keyof typeof CRASH_KINDS;

export interface PlannedKill {
  id: string;
  description: string;
  /** A crash point's Nth hit for a role's resource, or a SIGKILL from the harness this long after the cloud is ready. */
  at: { kind: CrashKind; nth: number } | { afterMs: number };
}

export interface CrashPlanOptions {
  /** Kills at each crash point (the Nth hit grows with each round of kills). */
  killsPerPoint: number;
  /** Kills at random instants. */
  randomKills: number;
  seed: number;
}

/**
 * The kills in the order they are armed — each after the previous one happened. Per round of
 * kills: the producer's PutRecords first (only the producer's sending reaches it), then a reducer
 * batch, then buffered rejected/ records (mapper batches), then the closer's results (reached at
 * the latest by the final drain); random kills are spread between the rounds.
 */
export function crashPlan(options: CrashPlanOptions): PlannedKill[] {
  const rng = seededRng(options.seed, 'crash-plan');
  const plan: PlannedKill[] = [];
  const order: CrashKind[] = ['producer-put', 'reducer-batch', 'firehose-buffered', 'closer-emit'];
  const rounds = Math.max(options.killsPerPoint, options.randomKills > 0 ? 1 : 0);
  let random = 0;
  for (let k = 0; k < rounds; k++) {
    if (k < options.killsPerPoint) {
      for (const kind of order) {
        // The producer's 2nd call: records of its 1st are acknowledged and stored by then. The
        // others at their 1st hit: a round's bad records may all be on one shard (one rejected/
        // delivery per round), and a kill must not depend on how batches happen to split.
        const nth = (kind === 'producer-put' ? 2 : 1) + k;
        plan.push({ id: `${kind}#${k + 1}`, description: CRASH_KINDS[kind].description, at: { kind, nth } });
      }
    }
    const share = Math.ceil((options.randomKills - random) / (rounds - k));
    for (let i = 0; i < share; i++, random++) {
      const afterMs = Math.round(1_000 + rng() * 7_000);
      plan.push({ id: `random#${random + 1}`, description: `SIGKILL from outside ${(afterMs / 1000).toFixed(1)} s after the cloud is ready`, at: { afterMs } });
    }
  }
  return plan;
}

export interface CrashOptions {
  job: string;
  events: number;
  seed: number;
  rounds: number;
  inputShards: number;
  durationMs: number;
  /** Default: 80% of the job's out-of-orderness. */
  maxDelayMs?: number;
  lateFraction: number;
  duplicateFraction: number;
  badFraction: number;
  hotKeyFraction: number;
  /** Schedules and asynchronous retries run this much faster (verify's default: 30). */
  timeScale: number;
  /** Firehose buffering intervals are multiplied by this; 1 = the stack's 60 s: acknowledged records stay buffered across kills. */
  firehoseTimeScale: number;
  plan: readonly PlannedKill[];
  /**
   * The reducer's batching window in seconds (default: the stack's). Each restart replays the
   * shuffle stream into a fresh window, so a short one shortens a run with many kills.
   */
  reducerBatchingWindowSeconds?: number;
  /** Deploy this cdk.out instead of synthesizing one (must hold the job with `inputShards`). */
  assembly?: string;
  keep: boolean;
  keepOnFailure?: boolean;
  workDir?: string;
  log?: (line: string) => void;
}

export const CRASH_DEFAULTS = {
  killsPerPoint: 2,
  randomKills: 3,
  firehoseTimeScale: 1,
} as const;

export interface KillOutcome {
  id: string;
  description: string;
  /** RIFFLE_CRASH_AT, or "SIGKILL after N ms". */
  armed: string;
  happened: boolean;
  /** What the run was doing when it happened. */
  during?: string;
  /** The crash point's stderr line, or how the process ended. */
  detail?: string;
  /** From the kill until the restarted cloud was ready. */
  restartMs?: number;
}

export interface CrashReport {
  job: string;
  seed: number;
  events: number;
  rounds: number;
  inputShards: number;
  pass: boolean;
  kills: KillOutcome[];
  /** Cloud processes started (the deploy run, one after each kill, the final one). */
  starts: number;
  stream: StreamLogCounts;
  streamExamples: { unknown: string[]; missing: number[] };
  verdict: Verdict;
  counts: OracleResult['counts'];
  checks: OracleResult['checks'];
  /** What the comparison found missing or extra, itemised. */
  loss: CrashLoss;
  /** Rows in the late and rejected views, and rows written (the views keep one per input record). */
  views: { late: number; lateWrites: number; rejected: number; rejectedWrites: number };
  seconds: { synth: number; run: number; oracle: number; total: number };
  workDir?: string;
}

export interface CrashLoss {
  /** Windows with no result at all, and the events they should have counted. */
  missingWindows: number;
  missingWindowEvents: number;
  /** Windows whose count is short / over, and by how many events in total. */
  shortWindows: number;
  shortEvents: number;
  overWindows: number;
  overEvents: number;
  /** Bad records not in rejected/. */
  rejectedMissing: number;
  /** Records neither counted nor in late/ nor in rejected/ (one-pair-per-event jobs). */
  unaccounted: number | null;
}

export interface CrashRun {
  report: CrashReport;
  expected: OracleResult;
  /** What verdict() was called with (call it again with altered results, then withCrashRows). */
  verdictInput: VerdictInput;
  /** The oracle's input (crash-stream.ts) and the late/rejected rows read back: to recompute `expected` on altered rows. */
  oracleInput: { streamLines: string[]; rounds: RoundRange[]; late: Row[]; rejected: Row[] };
}

const secondsSince = (start: number) => (Date.now() - start) / 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The producer's log as a stream: each line of an accepted record is remembered by position (for
 * crash-stream.ts) and by `n` (what is still to send after a kill), and kept in sent.jsonl.
 * sendRecords only ever calls write() with whole lines and waits for 'drain'.
 */
class ProducerLog extends Writable {
  readonly accepted = new Map<string, LoggedRecord>();
  readonly acceptedN = new Set<number>();
  private readonly lines: string[] = [];

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    for (const line of chunk.toString().split('\n')) {
      if (line.trim() === '') continue;
      this.lines.push(line);
      const record = JSON.parse(line) as LoggedRecord;
      if (record.sequenceNumber === undefined) continue; // not accepted (yet): sent again
      this.accepted.set(`${record.shardId}/${record.sequenceNumber}`, record);
      this.acceptedN.add(record.n);
    }
    callback();
  }

  text(): string {
    return this.lines.map((l) => `${l}\n`).join('');
  }
}

function kinesisClient(endpoint: string): KinesisClient {
  return new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    // A dead cloud must fail a call quickly: the harness restarts it and sends again.
    maxAttempts: 2,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 2_000, requestTimeout: 60_000 }),
  });
}

/** Runs the crash scenario and compares the outcome with the oracle. */
export async function runCrash(options: CrashOptions): Promise<CrashRun> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const oracle = checkedOracle(options.job);
  const job = jobs[options.job] as Job;
  const workDir = options.workDir ?? mkdtempSync(path.join(os.tmpdir(), 'riffle-crash-'));
  mkdirSync(workDir, { recursive: true });
  let keep = options.keep;
  let cloud: CloudProcess | undefined;
  try {
    const workload = runWorkload(options, oracle);
    const w = workload.counts;
    log(`workload: ${w.records.toLocaleString('en-US')} records (ok ${w.ok}, late ${w.late}, duplicates ${w.duplicate}, bad ${w.bad}), ${workload.rounds.length} rounds; ${options.plan.length} kills planned`);

    const assembly = options.assembly ?? path.join(workDir, 'cdk.out');
    const t0 = Date.now();
    if (!options.assembly) {
      log(`synthesizing Riffle-${job.source} (${options.job} only, ${options.inputShards} input shard${options.inputShards === 1 ? '' : 's'})…`);
      await synthJob(assembly, options.job, options.inputShards, options.reducerBatchingWindowSeconds !== undefined ? { reducerBatchingWindow: `${options.reducerBatchingWindowSeconds}s` } : {});
    }
    const synthSeconds = secondsSince(t0);

    const t1 = Date.now();
    cloud = new CloudProcess({
      assembly,
      dataDir: path.join(workDir, 'cloud'),
      port: await freePort(),
      timeScale: options.timeScale,
      firehoseTimeScale: options.firehoseTimeScale,
    });
    const run = await runScenario(cloud, workload, options, log);
    const runSeconds = secondsSince(t1);

    const t2 = Date.now();
    const producerLog = path.join(workDir, 'sent.jsonl');
    writeFileSync(producerLog, run.producerLog);
    const streamFile = path.join(workDir, 'stream.jsonl');
    writeFileSync(streamFile, run.stream.lines.map((l) => `${l}\n`).join(''));
    const files: Record<'results' | 'late' | 'rejected', string> = { results: '', late: '', rejected: '' };
    for (const kind of ['results', 'late', 'rejected'] as const) {
      files[kind] = path.join(workDir, `${kind}.jsonl`);
      writeFileSync(files[kind], run.outputs[kind].map((r) => `${JSON.stringify(r)}\n`).join(''));
    }
    const db = await OracleSession.open();
    let expected: OracleResult;
    try {
      expected = await computeExpected(db, { oracle, job, logFile: streamFile, lateFile: files.late, rejectedFile: files.rejected, rounds: run.stream.rounds });
    } finally {
      db.close();
    }
    const verdictInput: VerdictInput = {
      oracle,
      job,
      expected,
      results: run.outputs.results,
      firehoseErrorObjects: run.firehoseErrorObjects,
      failedBatchObjects: run.failedBatchObjects,
    };
    const base = verdict(verdictInput);
    const result = withCrashRows(base, run.kills, run.stream.counts, expected);
    const oracleSeconds = secondsSince(t2);
    if (!result.pass && options.keepOnFailure) keep = true;
    const report: CrashReport = {
      job: options.job,
      seed: options.seed,
      events: options.events,
      rounds: workload.rounds.length,
      inputShards: options.inputShards,
      pass: result.pass,
      kills: run.kills,
      starts: run.starts,
      stream: run.stream.counts,
      streamExamples: { unknown: run.stream.unknownExamples, missing: run.stream.missingExamples },
      verdict: result,
      counts: expected.counts,
      checks: expected.checks,
      loss: lossOf(result, expected, oracle.onePairPerEvent),
      views: { late: run.outputs.late.length, lateWrites: run.outputs.writes.late, rejected: run.outputs.rejected.length, rejectedWrites: run.outputs.writes.rejected },
      seconds: { synth: synthSeconds, run: runSeconds, oracle: oracleSeconds, total: secondsSince(started) },
      ...(keep ? { workDir } : {}),
    };
    writeFileSync(path.join(workDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    return { report, expected, verdictInput, oracleInput: { streamLines: run.stream.lines, rounds: run.stream.rounds, late: run.outputs.late, rejected: run.outputs.rejected } };
  } catch (error) {
    if (options.keepOnFailure) keep = true;
    throw error;
  } finally {
    await cloud?.kill().catch(() => undefined);
    if (!keep) rmSync(workDir, { recursive: true, force: true });
    else log(`kept: ${workDir} (cdk.out/, cloud/, sent.jsonl = the producer's log, stream.jsonl = the oracle's input, results/late/rejected.jsonl, report.json)`);
  }
}

interface ScenarioOutcome {
  kills: KillOutcome[];
  starts: number;
  producerLog: string;
  stream: ReturnType<typeof streamLog>;
  outputs: Outputs;
  firehoseErrorObjects: number;
  failedBatchObjects: number;
}

/** Deploy, send round by round through the planned kills, drain, read everything back. */
async function runScenario(cloud: CloudProcess, workload: Workload, options: CrashOptions, log: (line: string) => void): Promise<ScenarioOutcome> {
  // A first run only deploys: the stack outputs name the resources the crash points target.
  const t0 = Date.now();
  await cloud.start({ fresh: true });
  log(`  deployed in ${secondsSince(t0).toFixed(1)} s`);
  const names = namesOf(cloud.outputs, options.job);
  const { inputStream, bucket, ...targets } = names;
  const roles: Record<KillRole, string> = { inputStream, ...targets };
  await cloud.stop();

  const kills: KillOutcome[] = options.plan.map((k) => ({
    id: k.id,
    description: k.description,
    armed: 'kind' in k.at ? formatCrashSpec({ point: CRASH_KINDS[k.at.kind].point, target: roles[CRASH_KINDS[k.at.kind].role], nth: k.at.nth }) : `SIGKILL after ${k.at.afterMs} ms`,
    happened: false,
  }));
  let next = 0;
  let phase = 'starting';
  const startNext = async () => {
    const planned = options.plan[next];
    const kill = kills[next];
    await cloud.start({
      fresh: false,
      ...(planned && kill && 'kind' in planned.at ? { crashAt: kill.armed } : {}),
      ...(planned && 'afterMs' in planned.at ? { killAfterMs: planned.at.afterMs } : {}),
    });
  };
  /** A death must be the armed kill; then the cloud starts again (a kill during that start counts too). */
  const restart = async (exit: ChildExit) => {
    for (;;) {
      const kill = kills[next];
      const planned = options.plan[next];
      const expectedDeath = exit.signal === 'SIGKILL' && planned !== undefined && ('kind' in planned.at ? exit.marker !== undefined : exit.killedHere);
      if (!kill || !expectedDeath) {
        throw new Error(`the local cloud died unexpectedly during ${phase} (${describeExit(exit)})${exit.stderr.length ? `; its last stderr lines:\n  ${exit.stderr.slice(-15).join('\n  ')}` : ''}`);
      }
      const killedAt = Date.now();
      kill.happened = true;
      kill.during = phase;
      kill.detail = describeExit(exit);
      next++;
      log(`  kill ${next}/${kills.length} (${kill.id}) during ${phase} at ${secondsSince(t).toFixed(1)} s: ${kill.detail}`);
      try {
        await startNext();
        kill.restartMs = Date.now() - killedAt;
        log(`  restarted in ${(kill.restartMs / 1000).toFixed(1)} s`);
        return;
      } catch (error) {
        if (!(error instanceof CloudDied)) throw error;
        exit = error.exit;
        phase = `${phase} (restarting)`;
      }
    }
  };
  /** Runs `action` on a live cloud, restarting it after every kill until the action completes. */
  const survive = async <T>(what: string, action: () => Promise<T>): Promise<T> => {
    for (;;) {
      phase = what;
      try {
        return await action();
      } catch (error) {
        if (error instanceof CloudDied) await restart(error.exit);
        else if (await cloud.endsWithin(2_000)) await restart(await cloud.exit());
        else throw error;
      }
    }
  };

  const t = Date.now();
  try {
    await startNext();
  } catch (error) {
    if (!(error instanceof CloudDied)) throw error;
    await restart(error.exit);
  }
  const producer = new ProducerLog();
  for (const round of workload.rounds) {
    await survive(`round ${round.index + 1}: sending`, () => sendRound(cloud, inputStream, round, producer));
    // Idle: this round is fully applied (verify's rounds: the oracle's watermark bounds rely on it).
    await survive(`round ${round.index + 1}: processing`, () => cloud.request({ op: 'idle', timeoutMs: 300_000, settleMs: 1_500 }));
    log(`  round ${round.index + 1}/${workload.rounds.length}: ${round.records.length.toLocaleString('en-US')} records accepted, pipeline idle (${secondsSince(t).toFixed(1)} s, ${kills.filter((k) => k.happened).length} kills so far)`);
  }
  const drained = await survive('drain (closer drain, Firehose flush)', () => cloud.request<{ due: number }>({ op: 'drain', targets: targets as FaultTargets }));
  log(`  drained: ${drained.due.toLocaleString('en-US')} windows were open at the end of input`);
  // Whatever is still armed did not happen before the end of input; it must not fire while reading.
  cloud.disarm();
  const read = await survive('reading the output and the input stream', async () => {
    const outputs = await readOutputs(cloud, options.job);
    const kinesis = kinesisClient(cloud.endpoint);
    const s3 = new S3Client({ endpoint: cloud.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, forcePathStyle: true });
    try {
      return {
        outputs,
        stored: await readStream(kinesis, inputStream),
        firehoseErrorObjects: (await listObjects(s3, bucket, 'errors/')).length,
        failedBatchObjects: (await listObjects(s3, bucket, 'aws/lambda/')).length,
      };
    } finally {
      kinesis.destroy();
      s3.destroy();
    }
  });
  await cloud.stop();
  for (const k of kills) if (!k.happened) k.detail = 'not reached before the end of the run';
  return {
    kills,
    starts: cloud.starts,
    producerLog: producer.text(),
    stream: streamLog(read.stored, workload, producer.accepted),
    outputs: read.outputs,
    firehoseErrorObjects: read.firehoseErrorObjects,
    failedBatchObjects: read.failedBatchObjects,
  };
}

/**
 * Sends the round's records that Kinesis has not acknowledged yet. When the cloud dies mid-call
 * the producer stops, its in-flight call fails, and CloudDied tells survive() to restart the
 * cloud and call this again — never two producers at once, so no record is logged twice.
 */
async function sendRound(cloud: CloudProcess, stream: string, round: Round, producer: ProducerLog): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const pending = round.records.filter((r) => !producer.acceptedN.has(r.n));
    if (pending.length === 0) return;
    if (!cloud.alive) throw new CloudDied(await cloud.exit());
    const kinesis = kinesisClient(cloud.endpoint);
    let died = false;
    void cloud.exit().then(() => (died = true));
    try {
      // The log parameter is typed as a file stream; only write() and 'drain' are used.
      await sendRecords({ kinesis, stream, records: pending, log: producer as unknown as WriteStream, maxAttempts: 4, shouldStop: () => died });
    } catch (error) {
      if (!(await cloud.endsWithin(2_000))) throw error;
    } finally {
      kinesis.destroy();
    }
    if (!cloud.alive) throw new CloudDied(await cloud.exit());
    if (attempt >= 5) throw new Error(`round ${round.index + 1}: ${pending.length} records were still not accepted after ${attempt} attempts on a running cloud`);
    await sleep(200);
  }
}

interface Outputs {
  results: Row[];
  late: Row[];
  rejected: Row[];
  /** Rows of late_all and rejected_all: every write, a retried batch's second one included. */
  writes: { late: number; rejected: number };
}

/** results_all, late and rejected through `npm run query`'s own path (listing, cache, DuckDB views). */
async function readOutputs(cloud: CloudProcess, job: string): Promise<Outputs> {
  const outputsFile = path.join(cloud.dataDir, 'outputs.json');
  const query = async (sql: string): Promise<Row[]> => {
    const run = await executeQuery(
      { sql, format: 'json', job, target: 'local', endpoint: cloud.endpoint, outputs: outputsFile, cache: false, athena: false },
      { cwd: cloud.dataDir },
    );
    return JSON.parse(run.text) as Row[];
  };
  const [writes] = await query('SELECT (SELECT count(*) FROM late_all) AS late, (SELECT count(*) FROM rejected_all) AS rejected');
  return {
    results: await query('SELECT * FROM results_all'),
    late: await query('SELECT * FROM late'),
    rejected: await query('SELECT * FROM rejected'),
    writes: { late: Number(writes?.late ?? 0), rejected: Number(writes?.rejected ?? 0) },
  };
}

/** verify's verdict with the crash run's own checks in front. */
export function withCrashRows(base: Verdict, kills: readonly KillOutcome[], stream: StreamLogCounts, expected: OracleResult): Verdict {
  const fmt = (n: number) => n.toLocaleString('en-US');
  const k = expected.checks;
  const happened = kills.filter((x) => x.happened).length;
  const rows: VerdictRow[] = [
    { check: 'planned kills that happened (SIGKILL, restart on the same data)', expected: fmt(kills.length), actual: fmt(happened), pass: happened === kills.length },
    {
      check: 'input stream records from the producer (incl. retry copies)',
      expected: fmt(stream.streamRecords),
      actual: `${fmt(stream.streamRecords - stream.unknown)}${stream.retryCopies ? ` (${fmt(stream.retryCopies)} retry copies)` : ''}`,
      pass: stream.unknown === 0,
    },
    { check: 'producer records in the input stream', expected: fmt(stream.producerRecords), actual: fmt(stream.producerRecords - stream.missing), pass: stream.missing === 0 },
    { check: 'late/ view: each late event row once', expected: '0 copies', actual: `${fmt(k.lateCopies)} copies`, pass: k.lateCopies === 0 },
    { check: 'rejected/ view: each rejected record once', expected: '0 copies', actual: `${fmt(k.rejectedCopies)} copies`, pass: k.rejectedCopies === 0 },
  ];
  const problems = [...base.problems];
  for (const kill of kills) if (!kill.happened && problems.length < 8) problems.push(`kill ${kill.id} (${kill.armed}) was not reached`);
  const all = [...rows, ...base.rows];
  return { ...base, rows: all, problems, pass: all.every((r) => r.pass) };
}

function lossOf(v: Verdict, expected: OracleResult, onePairPerEvent: boolean): CrashLoss {
  const loss: CrashLoss = { missingWindows: 0, missingWindowEvents: 0, shortWindows: 0, shortEvents: 0, overWindows: 0, overEvents: 0, rejectedMissing: expected.counts.bad - expected.checks.badRejected, unaccounted: null };
  for (const p of v.windowProblems) {
    if (!p.counts) continue;
    const d = p.counts.actual - p.counts.expected;
    if (p.counts.actual === 0 && p.problem.startsWith('missing')) {
      loss.missingWindows++;
      loss.missingWindowEvents += p.counts.expected;
    } else if (d < 0) {
      loss.shortWindows++;
      loss.shortEvents -= d;
    } else if (d > 0) {
      loss.overWindows++;
      loss.overEvents += d;
    }
  }
  if (onePairPerEvent) loss.unaccounted = expected.counts.sent - v.counted - expected.counts.lateRecords - expected.checks.rejectedRecords;
  return loss;
}

