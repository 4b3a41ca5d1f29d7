// npm run reprocess -- --job J --from T1 --to T2: recompute a job's windows starting in [T1, T2)
// from the input stream's retained records with the job file's current definition, and write them
// through the job's results delivery as a new revision, which supersedes the live rows (and earlier
// reprocess runs) in the `results` view and in Athena. The live pipeline's state is not touched.
// Resumable: a checkpoint file per target and job (.riffle/reprocess/) — README "Reprocessing".
import { DescribeStreamSummaryCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { FirehoseClient } from '@aws-sdk/client-firehose';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import path from 'node:path';
import { deliver } from '../functions/commons/delivery';
import { StateStore } from '../functions/commons/state-store';
import { decodeFingerprint, fingerprintChanges, fingerprintOutputKey, jobFingerprint } from '../functions/core/job-fingerprint';
import type { Job } from '../functions/core/job';
import { iso } from '../functions/core/output-records';
import { compareSequenceNumbers } from '../functions/core/positions';
import { parseProgressItems } from '../functions/core/progress';
import { pascal, stackName } from '../infra/outputs';
import { getJob, UnknownJobError } from '../jobs';
import { type CommandSpec, parseCommand, type Parsed, runMain, UsageError } from './lib/cli';
import { checkpointFile, readCheckpoint, resumable, writeCheckpoint, type Checkpoint } from './lib/reprocess/checkpoint';
import { readArchive, type ArchiveRead } from './lib/reprocess/archive';
import { listShards, readShard } from './lib/reprocess/input';
import { lastClosedBoundary, openWindowProblem, readStart } from './lib/reprocess/range';
import { Recompute } from './lib/reprocess/recompute';
import { endpointWarning, explainError, jobOutput, resolveTarget, TARGET_NAMES, type Target, type TargetName } from './lib/targets';
import { parseTimeOption } from './query';

const INPUT_SOURCES = ['auto', 'stream', 'archive'] as const;
type InputSource = (typeof INPUT_SOURCES)[number];

export const reprocessSpec: CommandSpec = {
  name: 'reprocess',
  summary: "recompute a job's windows for an event-time range from the retained input, as a new revision of its results",
  usage: 'npm run reprocess -- --job J --from T1 --to T2 [--source auto|stream|archive] [--target local|localstack|aws] [--dry-run] [--fresh]',
  options: {
    job: { type: 'string', description: 'job to reprocess (a file jobs/<job>.ts; its current definition is used)' },
    from: { type: 'string', description: 'windows starting at or after this time: ISO-8601 with a zone, a UTC date, or an age like 1h' },
    to: { type: 'string', description: 'windows starting before this time; same forms as --from', default: 'the latest window the live pipeline has closed' },
    source: {
      type: 'string',
      description: "where the input is read: the stream, or the raw input archive in S3 (source setting inputArchive) and then the stream for what it does not hold yet; 'auto' reads the archive only when the input starts before the stream's retention",
      default: 'auto',
      choices: INPUT_SOURCES,
    },
    target: { type: 'string', description: 'where the job runs', default: 'local', choices: TARGET_NAMES },
    'dry-run': { type: 'boolean', description: 'read and recompute, print what would be re-emitted, write nothing' },
    fresh: { type: 'boolean', description: 'start a new run even if an unfinished one for the same range can be resumed' },
    'checkpoint-dir': { type: 'string', description: 'where run checkpoints are kept', default: '.riffle/reprocess' },
  },
  examples: [
    'npm run reprocess -- --job sensor-averages --from 1h',
    'npm run reprocess -- --job clickstream --from 2026-01-01T10:00:00Z --to 2026-01-01T12:00:00Z --target aws',
    'npm run reprocess -- --job sensor-averages --from 6h --dry-run',
  ],
};

export interface ReprocessOptions {
  job: string;
  fromMs: number;
  /** Undefined: up to the latest window the live pipeline has closed. */
  toMs: number | undefined;
  target: TargetName;
  source: InputSource;
  dryRun: boolean;
  fresh: boolean;
  checkpointDir: string;
}

export function reprocessOptions(parsed: Parsed, nowMs = Date.now()): ReprocessOptions {
  const job = parsed.values.job;
  if (typeof job !== 'string' || job === '') throw new UsageError('--job is required, e.g. --job sensor-averages');
  const from = parsed.values.from;
  if (typeof from !== 'string') throw new UsageError('--from is required: the start of the windows to reprocess, e.g. --from 1h or --from 2026-01-01T10:00:00Z');
  const fromMs = parseTimeOption('from', from, nowMs);
  const to = parsed.values.to;
  const toMs = typeof to === 'string' ? parseTimeOption('to', to, nowMs) : undefined;
  if (toMs !== undefined && toMs <= fromMs) throw new UsageError(`--to (${iso(toMs)}) must be after --from (${iso(fromMs)})`);
  return {
    job,
    fromMs,
    toMs,
    target: (parsed.values.target as TargetName | undefined) ?? 'local',
    source: (parsed.values.source as InputSource | undefined) ?? 'auto',
    dryRun: parsed.values['dry-run'] === true,
    fresh: parsed.values.fresh === true,
    checkpointDir: typeof parsed.values['checkpoint-dir'] === 'string' ? parsed.values['checkpoint-dir'] : '.riffle/reprocess',
  };
}

export interface ReprocessIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  cwd?: string;
  /** Use this target instead of resolving one from the outputs file (tests). */
  target?: Target;
  /** The job definition to use instead of jobs/<job>.ts (tests: a changed definition). */
  job?: Job;
  /** Called after each delivered chunk with the number of results delivered so far (tests stop a run here). */
  afterChunk?: (delivered: number) => void;
  /** Results per delivery chunk and checkpoint (default DELIVERY_CHUNK; tests use small ones). */
  chunkSize?: number;
  now?: () => number;
}

export interface ReprocessSummary {
  runId: number;
  resumed: boolean;
  fromMs: number;
  toMs: number;
  shards: number;
  /** Archive objects read (0: the input came from the stream only). */
  archiveObjects: number;
  records: number;
  duplicates: number;
  events: number;
  rejected: number;
  windows: number;
  /** Results delivered by this invocation (a resumed run: only the rest). */
  delivered: number;
}

/** Results per PutRecordBatch chunk (and per checkpoint update). */
export const DELIVERY_CHUNK = 500;

/** A reprocess that could not be done (printed without a stack trace, exit 1). */
export class ReprocessError extends Error {}

export async function reprocess(options: ReprocessOptions, io: ReprocessIo): Promise<ReprocessSummary> {
  const now = io.now ?? Date.now;
  let job: Job;
  try {
    job = io.job ?? getJob(options.job);
  } catch (error) {
    if (error instanceof UnknownJobError) throw new UsageError(error.message);
    throw error;
  }
  const warning = endpointWarning(options.target);
  if (warning) io.stderr.write(`${warning}\n`);
  const target = io.target ?? resolveTarget(options.target, io.cwd ? { cwd: io.cwd } : {});
  const inputStream = jobOutput(target, job.name, 'InputStream');
  const table = jobOutput(target, job.name, 'StateTable');
  const resultsStream = jobOutput(target, job.name, 'ResultsDelivery');
  checkDeployedDefinition(target, job);

  const kinesis = new KinesisClient(target.clientConfig());
  const dynamo = new DynamoDBClient(target.clientConfig());
  const firehose = new FirehoseClient(target.clientConfig());
  const s3 = new S3Client(target.clientConfig());
  try {
    const progress = parseProgressItems(await new StateStore(DynamoDBDocumentClient.from(dynamo), table).readProgress(job.name));
    const toMs = options.toMs ?? lastClosedTo(job, progress.floor, options.fromMs);
    const range = { fromMs: options.fromMs, toMs };
    const open = openWindowProblem(job, range, progress.floor);
    if (open) throw new ReprocessError(open);

    const summary = await describeRetention(kinesis, inputStream);
    const start = readStart(job, range);
    const horizon = now() - summary.retentionMs;
    const archived = target.outputs[stackName(job.source)]?.InputArchive !== undefined;
    const beyondRetention = (start ?? range.fromMs) < horizon;
    if (options.source === 'archive' && !archived) {
      throw new ReprocessError(`--source archive: the stack of source '${job.source}' has no input archive; deploy it with the source setting inputArchive: true (it archives input from then on)`);
    }
    if (beyondRetention && (options.source === 'stream' || !archived)) {
      throw new ReprocessError(
        `the input for windows from ${iso(range.fromMs)} arrived from ${iso(start ?? range.fromMs)} on, but ${inputStream} keeps ${summary.retentionMs / 3_600_000} h (its oldest records arrived around ${iso(horizon)}); ` +
          `reprocess from ${iso(horizon + (range.fromMs - (start ?? range.fromMs)))} or later` +
          (archived ? ', or read the input archive (--source archive)' : ` (the source setting inputArchive: true archives the input to S3 so that reprocess can reach further back, from its deploy on)`),
      );
    }
    const useArchive = archived && (options.source === 'archive' || (options.source === 'auto' && beyondRetention));

    const file = path.resolve(io.cwd ?? process.cwd(), options.checkpointDir, path.basename(checkpointFile('.', options.target, job.name)));
    const wanted = { target: options.target, job: job.name, jobVersion: job.version, definition: jobFingerprint(job).hash, fromMs: range.fromMs, toMs: range.toMs };
    const found = options.fresh || options.dryRun ? undefined : readCheckpoint(file);
    const resumed = resumable(found, wanted);
    const checkpoint: Checkpoint = resumed ? found : { ...wanted, runId: now(), delivered: 0, done: false };
    const label = `reprocess ${job.name}`;
    io.stderr.write(
      `${label}: ${resumed ? `resuming run ${checkpoint.runId} (${checkpoint.delivered} of ${checkpoint.total ?? '?'} results delivered)` : `run ${checkpoint.runId}`}, ` +
        `windows ${iso(range.fromMs)} – ${iso(range.toMs)}, version ${job.version}, reading ${useArchive ? 'the input archive, then ' : ''}${inputStream} from ${start === undefined ? 'its oldest record' : iso(start)}\n`,
    );
    let archive: ArchiveRead | undefined;
    if (useArchive) {
      archive = await readArchive(s3, jobOutput(target, job.name, 'Bucket'), start, now());
      io.stderr.write(`${label}: input archive read (${archive.objects} objects, ${[...archive.shards.values()].reduce((n, r) => n + r.length, 0).toLocaleString('en-US')} records of ${archive.shards.size} shards${archive.duplicates ? `, ${archive.duplicates} repeated lines skipped` : ''})\n`);
    }

    // Read and recompute, shard by shard.
    const recompute = new Recompute(job, range, checkpoint.runId);
    const streamShards = (await listShards(kinesis, inputStream)).map((s) => s.ShardId as string);
    // Shards the archive holds that the stream no longer lists (closed and trimmed) come first.
    const shardIds = [...[...(archive?.shards.keys() ?? [])].filter((id) => !streamShards.includes(id)).sort(), ...streamShards];
    const ends: Record<string, string | null> = {};
    let shardCount = 0;
    for (const shardId of shardIds) {
      if (resumed && !(shardId in (checkpoint.shards ?? {}))) continue; // a shard that appeared after the run began
      const end = resumed ? checkpoint.shards?.[shardId] : undefined;
      if (end === null) continue;
      shardCount++;
      // The archive first (a resumed run: only up to the recorded end), then the stream for what
      // the archive does not hold yet; Recompute skips what both hold by sequence number.
      const fromArchive = (archive?.shards.get(shardId) ?? []).filter((r) => end === undefined || compareSequenceNumbers(r.sequenceNumber, end) <= 0);
      if (fromArchive.length > 0) recompute.add(shardId, fromArchive);
      const lastArchived = fromArchive[fromArchive.length - 1];
      if (!streamShards.includes(shardId)) {
        ends[shardId] = lastArchived?.sequenceNumber ?? null;
        io.stderr.write(`${label}: ${shardId} read from the archive only (the stream no longer has it)\n`);
        continue;
      }
      if (end !== undefined && lastArchived && compareSequenceNumbers(lastArchived.sequenceNumber, end) >= 0) {
        ends[shardId] = end;
        continue;
      }
      const last = await readShard(kinesis, inputStream, shardId, {
        start: { atMs: start },
        // After archived records: right after the last one (the archiver writes a shard in order;
        // a position the stream no longer retains reads from its oldest record).
        ...(lastArchived ? { resumeAfter: lastArchived.sequenceNumber } : {}),
        // On AWS leave the live mapper most of the shard's 5 reads per second (the SDK retries a throttle).
        minIntervalMs: target.name === 'local' ? 0 : 500,
        ...(end !== undefined ? { end } : {}),
        onPage: (records) => {
          recompute.add(shardId, records);
          if (io.stderr.isTTY) io.stderr.write(`\r${label}: ${shardId}: ${recompute.stats.records.toLocaleString('en-US')} records read, ${recompute.size.toLocaleString('en-US')} windows\u001b[K`);
        },
      });
      ends[shardId] = last ?? lastArchived?.sequenceNumber ?? null;
      if (io.stderr.isTTY) io.stderr.write('\r\u001b[K');
      io.stderr.write(`${label}: ${shardId} read (${recompute.stats.records.toLocaleString('en-US')} records so far)\n`);
    }
    const results = recompute.results(checkpoint.runId);
    if (resumed && checkpoint.total !== undefined && checkpoint.total !== results.length) {
      throw new ReprocessError(
        `run ${checkpoint.runId} computed ${checkpoint.total} results before, ${results.length} now: its input changed (records past the stream's retention?); start over with --fresh`,
      );
    }

    let delivered = 0;
    if (!options.dryRun) {
      checkpoint.shards = resumed ? checkpoint.shards : ends;
      checkpoint.total = results.length;
      writeCheckpoint(file, checkpoint);
      const size = io.chunkSize ?? DELIVERY_CHUNK;
      for (let at = checkpoint.delivered; at < results.length; at += size) {
        const chunk = results.slice(at, at + size);
        await deliver(firehose, resultsStream, chunk);
        delivered += chunk.length;
        checkpoint.delivered = at + chunk.length;
        writeCheckpoint(file, checkpoint);
        io.stderr.write(`${io.stderr.isTTY ? '\r' : ''}${label}: ${checkpoint.delivered.toLocaleString('en-US')} of ${results.length.toLocaleString('en-US')} results delivered${io.stderr.isTTY ? '\u001b[K' : '\n'}`);
        io.afterChunk?.(checkpoint.delivered);
      }
      if (io.stderr.isTTY && results.length > 0) io.stderr.write('\n');
      checkpoint.done = true;
      writeCheckpoint(file, checkpoint);
    }
    const out: ReprocessSummary = {
      runId: checkpoint.runId,
      resumed,
      fromMs: range.fromMs,
      toMs: range.toMs,
      shards: shardCount,
      archiveObjects: archive?.objects ?? 0,
      records: recompute.stats.records,
      duplicates: recompute.stats.duplicates,
      events: recompute.stats.events,
      rejected: recompute.stats.rejected,
      windows: results.length,
      delivered,
    };
    io.stdout.write(`${summaryText(job, out, options, resultsStream)}\n`);
    return out;
  } catch (error) {
    const explained = explainError(target, error);
    if (explained) throw new ReprocessError(explained);
    throw error;
  } finally {
    kinesis.destroy();
    dynamo.destroy();
    firehose.destroy();
    s3.destroy();
  }
}

/**
 * The results of a changed definition need the deployed results table to have its columns (Firehose
 * converts with the Glue table): refuse when the deployed stack recorded other aggregates.
 */
function checkDeployedDefinition(target: Target, job: Job): void {
  const key = fingerprintOutputKey(pascal(job.name));
  const recorded = Object.values(target.outputs).map((o) => o[key]).find((v) => v !== undefined) ?? target.outputs[stackName(job.source)]?.[key];
  const deployed = decodeFingerprint(recorded);
  if (!deployed) return; // a stack from before fingerprints: nothing to compare
  const next = jobFingerprint(job);
  const aggregates = fingerprintChanges(deployed, next).filter((c) => c.startsWith('aggregate'));
  if (aggregates.length > 0) {
    throw new ReprocessError(
      `jobs/${job.name}.ts differs from the deployed job in its aggregates (${aggregates.join(', ')}): the results table of the deployed stack has no columns for them. Deploy the changed job first, then reprocess`,
    );
  }
}

function lastClosedTo(job: Job, floor: number, fromMs: number): number {
  if (!Number.isFinite(floor)) throw new ReprocessError(`the live pipeline of '${job.name}' has closed no window yet (no watermark recorded); give --to, or wait for its first windows to close`);
  const to = lastClosedBoundary(job, floor);
  if (to <= fromMs) throw new ReprocessError(`no window starting at or after ${iso(fromMs)} is closed yet (the live watermark is ${iso(floor)}); wait, or choose an earlier --from`);
  return to;
}

async function describeRetention(kinesis: KinesisClient, stream: string): Promise<{ retentionMs: number }> {
  const summary = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
  return { retentionMs: (summary.StreamDescriptionSummary?.RetentionPeriodHours ?? 24) * 3_600_000 };
}

function summaryText(job: Job, s: ReprocessSummary, options: ReprocessOptions, stream: string): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [
    `reprocess ${job.name} (version ${job.version}) on ${options.target}: windows ${iso(s.fromMs)} – ${iso(s.toMs)}, run ${s.runId}${s.resumed ? ' (resumed)' : ''}`,
    `  read ${n(s.records)} records from ${n(s.shards)} shard${s.shards === 1 ? '' : 's'}${s.archiveObjects ? ` (the input archive's ${n(s.archiveObjects)} objects, then the stream)` : ''}${s.duplicates ? ` (${n(s.duplicates)} repeats skipped)` : ''}: ${n(s.events)} events, ${n(s.rejected)} rejected`,
    options.dryRun
      ? `  dry run: ${n(s.windows)} windows would be re-emitted; nothing was written`
      : `  re-emitted ${n(s.windows)} windows${s.resumed ? ` (${n(s.delivered)} in this invocation, the rest before the interruption)` : ''} to ${stream} as revision ${s.runId}; they supersede the earlier rows in the results view once Firehose delivers them`,
  ];
  return lines.join('\n');
}

/** `npm run reprocess` with an argument list (tests call this). Exit 0 done, 1 could not, 2 bad arguments. */
export async function runReprocess(argv: string[], io: ReprocessIo): Promise<number> {
  let options: ReprocessOptions;
  try {
    options = reprocessOptions(parseCommand(reprocessSpec, argv), (io.now ?? Date.now)());
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`reprocess: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  try {
    await reprocess(options, io);
    return 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof ReprocessError) {
      io.stderr.write(`reprocess: ${error.message}\n`);
      return error instanceof UsageError ? 2 : 1;
    }
    throw error;
  }
}

if (require.main === module) {
  runMain(reprocessSpec, async (parsed) => {
    try {
      await reprocess(reprocessOptions(parsed), { stdout: process.stdout, stderr: process.stderr });
      return 0;
    } catch (error) {
      if (error instanceof ReprocessError) {
        console.error(`reprocess: ${error.message}`);
        return 1;
      }
      throw error;
    }
  });
}
