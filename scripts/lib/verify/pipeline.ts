// Verifier, the run: synthesize the one job's stack (with the requested input shards) into the
// work directory, start a fresh embedded cloud on a free port, send the workload round by round —
// arming the round's faults first and waiting for the pipeline to go idle after — then drain
// (end of a bounded input), flush Firehose and read back everything Riffle wrote to S3.
//
// Why rounds: the watermark only advances when reducer batches land (their batching window is
// 5 s, unscaled), so a workload sent in one burst is mapped against a watermark that is still
// far behind and almost nothing is late. Draining between rounds makes the watermark at the start
// of each round known from what was sent before it (oracle.ts turns that into per-round bounds),
// so "this event must be late" and "this event must be counted" become checkable claims.
import { createWriteStream, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jobs } from '../../../jobs';
import { outputKey, stackName, type JobOutput } from '../../../infra/outputs';
import { startLocalCloud, type LocalCloud } from '../../../local/cloud';
import { listObjects, readJsonLines } from '../output-reader';
import { synth } from '../synth';
import { armRound, CLOSER_CRASH, drain, faultReport, type DrainOutcome, type FaultReportRow, type FaultTargets, type PlannedFault } from './faults';
import { sendRound, type Workload } from './workload';


export interface PipelineOptions {
  job: string;
  workDir: string;
  workload: Workload;
  faults: boolean;
  /** Fault ids (faults.ts FAULT_IDS) left out of the plan. */
  skipFaults: readonly string[];
  inputShards: number;
  /** Send KPL aggregates instead of one Kinesis record per event. */
  aggregate: boolean;
  /** Local cloud time scale (closer schedule, Firehose buffering). */
  timeScale: number;
  log: (line: string) => void;
}

export type Row = Record<string, unknown>;

export interface Observed {
  /** Every result emission (all versions). */
  results: Row[];
  late: Row[];
  rejected: Row[];
  /** Objects under errors/ (Firehose could not partition) and aws/lambda/ (batches that exhausted their retries). */
  firehoseErrorObjects: number;
  failedBatchObjects: number;
  faults: FaultReportRow[];
  /** cloud.faults.fired(), condensed: "kind target" → times. */
  firedLog: Record<string, number>;
  drain: DrainOutcome;
  /** The producer's log (one JSON line per record Kinesis accepted). */
  logFile: string;
  sent: number;
  seconds: { synth: number; produceAndProcess: number; drain: number };
}

/**
 * `cdk synth` of one job's stack into `outdir`, offline, with the input stream's shard count set,
 * and any other job settings (infra/config.ts), e.g. `{ reducerBatchingWindow: '1s' }`.
 */
export async function synthJob(outdir: string, job: string, inputShards: number, jobSettings: Readonly<Record<string, string | number>> = {}): Promise<void> {
  const source = jobs[job]?.source ?? job;
  const context: Record<string, string | number> = { [`riffle:config.${source}.inputShards`]: inputShards };
  for (const [name, value] of Object.entries(jobSettings)) context[`riffle:config.${job}.${name}`] = value;
  await synth({ outdir, jobs: [job], context });
}

/** The deployed names a run needs (fault targets, input stream, bucket), from the stack outputs. */
export function namesOf(stackOutputs: LocalCloud['outputs'], job: string): FaultTargets & { inputStream: string; bucket: string } {
  const source = jobs[job]?.source ?? job;
  const outputs = stackOutputs[stackName(source)] ?? {};
  const name = (key: JobOutput): string => {
    const value = outputs[outputKey(job, key)];
    if (!value) throw new Error(`stack output ${outputKey(job, key)} is missing from the local deployment`);
    return value;
  };
  return {
    job,
    mapper: name('MapperFunction'),
    reducer: name('ReducerFunction'),
    closer: name('CloserFunction'),
    table: name('StateTable'),
    shuffleStream: name('ShuffleStream'),
    resultsDelivery: name('ResultsDelivery'),
    lateDelivery: name('LateDelivery'),
    rejectedDelivery: name('RejectedDelivery'),
    inputStream: name('InputStream'),
    bucket: name('Bucket'),
  };
}

const secondsSince = (start: number) => (Date.now() - start) / 1000;

export async function runPipeline(options: PipelineOptions): Promise<Observed> {
  const { job, workDir, log } = options;
  const assembly = path.join(workDir, 'cdk.out');
  const t0 = Date.now();
  log(`synthesizing Riffle-${jobs[job]?.source ?? job} (${job} only, ${options.inputShards} input shard${options.inputShards === 1 ? '' : 's'})…`);
  await synthJob(assembly, job, options.inputShards);
  const synthSeconds = secondsSince(t0);

  const cloud = await startLocalCloud({
    port: 0,
    dataDir: path.join(workDir, 'cloud'),
    fresh: true,
    assembly,
    timeScale: options.timeScale,
    log: () => undefined,
    warn: () => undefined,
    functionLogs: () => undefined,
  });
  try {
    const names = namesOf(cloud.outputs, job);
    const { inputStream: stream, bucket, ...targets } = names;
    const logFile = path.join(workDir, 'sent.jsonl');
    const logStream = createWriteStream(logFile);
    const planned: PlannedFault[] = [];
    const skip = new Set(options.skipFaults);
    const t1 = Date.now();
    let sent = 0;
    const rounds = options.workload.rounds;
    try {
      for (const round of rounds) {
        if (options.faults) planned.push(...armRound(cloud, targets, round.index, rounds.length, skip));
        const summary = await sendRound(cloud.clients.kinesis, stream, round, logStream, options.aggregate);
        sent += summary.sent;
        // Every poller at the tip and nothing running: this round is fully applied, so the next
        // round's watermark is at least the bound oracle.ts derives from the rounds before it.
        await cloud.waitForIdle({ timeoutMs: 300_000, settleMs: 1_500 });
        log(`  round ${round.index + 1}/${rounds.length}: sent ${summary.sent.toLocaleString('en-US')} records, pipeline idle (${secondsSince(t1).toFixed(1)} s)`);
      }
    } finally {
      await new Promise<void>((resolve) => logStream.end(resolve));
    }
    const produceSeconds = secondsSince(t1);

    const t2 = Date.now();
    const drained = await drain(cloud, targets, options.faults && !skip.has(CLOSER_CRASH), planned);
    log(`  drained: ${drained.due.toLocaleString('en-US')} windows were still open at the end of input${drained.crash ? `; first closer drain crashed after call ${drained.crash.afterCalls}` : ''}`);
    const s3 = cloud.clients.s3;
    const [results, late, rejected] = await Promise.all(['results', 'late', 'rejected'].map((kind) => readJsonLines(s3, bucket, `${kind}/job=${job}/`)));
    const firehoseErrorObjects = (await listObjects(s3, bucket, 'errors/')).length;
    const failedBatchObjects = (await listObjects(s3, bucket, 'aws/lambda/')).length;
    // cloud.faults.fired() with physical names replaced by roles (mapper, table, lateDelivery…).
    const firedLog: Record<string, number> = {};
    const roles = new Map(Object.entries(targets).map(([role, physical]) => [physical, role]));
    const role = (names: string) => names.split(',').map((x) => roles.get(x) ?? x).join(',');
    const fired = cloud.faults.fired();
    for (const key of [...fired.functions.map((f) => `${f.kind} ${role(f.target)}`), ...fired.services.map((f) => `${f.kind} ${role(f.target)} ${f.operation}`)]) {
      firedLog[key] = (firedLog[key] ?? 0) + 1;
    }
    const observed: Observed = {
      results: results ?? [],
      late: late ?? [],
      rejected: rejected ?? [],
      firehoseErrorObjects,
      failedBatchObjects,
      faults: faultReport(cloud, planned),
      firedLog,
      drain: drained,
      logFile,
      sent,
      seconds: { synth: synthSeconds, produceAndProcess: produceSeconds, drain: secondsSince(t2) },
    };
    // Kept next to the producer's log, for --keep and for DuckDB (oracle.ts reads late/rejected from here).
    for (const [name, rows] of [['results', observed.results], ['late', observed.late], ['rejected', observed.rejected]] as const) {
      writeFileSync(path.join(workDir, `${name}.jsonl`), rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
    }
    return observed;
  } finally {
    await cloud.stop();
  }
}
