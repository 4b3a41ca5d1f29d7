// `npm run produce` — send events to a job's input stream on any target: generated ones (per job,
// deterministic given --seed, with optional disorder, late events, duplicates and malformed
// records) or a JSONL/CSV file replayed as-is; optional KPL aggregation; a progress line; a
// summary; a non-zero exit when any record was not accepted. `--log FILE` records exactly what was
// sent (one JSON line per user record, with the shard and sequence number Kinesis assigned) for
// the correctness verifier. The parts: lib/produce/options.ts (the command line), file-source.ts
// (--file), kpl-aggregation.ts (--aggregate), sender.ts (PutRecords, retries, pacing), progress.ts.
import { createWriteStream } from 'node:fs';
import { parseCommand, runMain, UsageError } from './lib/cli';
import { generateRecords, type ProducedRecord } from './lib/generators';
import { fileRecords } from './lib/produce/file-source';
import { produceOptions, produceSpec, type ProduceOptions } from './lib/produce/options';
import { ProgressLine, summaryText } from './lib/produce/progress';
import { producerKinesisClient, sendRecords } from './lib/produce/sender';
import { endpointWarning, explainError, jobOutput, resolveTarget, type Target } from './lib/targets';

export { parseFraction, parseRate, produceOptions, produceSpec, type ProduceOptions } from './lib/produce/options';
export { csvRowToEvent, parseCsvRecord } from './lib/produce/file-source';
export { aggregateRecords, AGGREGATE_MAX_BYTES, openShards, shardFor, type ShardRange } from './lib/produce/kpl-aggregation';
export { ProgressLine, summaryText } from './lib/produce/progress';
export { logLine, MAX_ATTEMPTS, producerKinesisClient, putRecordsBatches, sendRecords, type ProduceStats, type ProduceSummary, type SendOptions } from './lib/produce/sender';

/** Generated records, or the lines of --file. */
export function recordSource(options: ProduceOptions): AsyncIterable<ProducedRecord> | Iterable<ProducedRecord> {
  if (options.file !== undefined) return fileRecords(options.file, options.job, options.keyField, options.count);
  return generateRecords({
    job: options.job,
    count: options.count as number,
    durationMs: options.durationMs,
    endMs: options.endMs,
    seed: options.seed,
    maxDelayMs: options.maxDelayMs,
    lateFraction: options.lateFraction,
    duplicateFraction: options.duplicateFraction,
    badFraction: options.badFraction,
  });
}

export interface ProduceIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  /** Directory the outputs files are relative to. */
  cwd?: string;
  /** Resolve the target with these outputs instead of the file (tests). */
  target?: Target;
  shouldStop?: () => boolean;
}

/** Runs a produce with validated options; resolves to the exit code (0: every record accepted). */
export async function produce(options: ProduceOptions, io: ProduceIo): Promise<number> {
  const warning = endpointWarning(options.target);
  if (warning) io.stderr.write(`${warning}\n`);
  const target =
    io.target ??
    resolveTarget(options.target, {
      ...(io.cwd ? { cwd: io.cwd } : {}),
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.region ? { region: options.region } : {}),
      ...(options.outputs ? { outputsFile: options.outputs } : {}),
      // With --stream nothing is looked up, so no outputs file is needed.
      ...(options.stream ? { outputs: {} } : {}),
    });
  const stream = options.stream ?? jobOutput(target, options.job, 'InputStream');
  const kinesis = producerKinesisClient(target.clientConfig());
  const log = options.log !== undefined ? createWriteStream(options.log) : undefined;
  const progress = new ProgressLine(io.stderr, options.file === undefined ? options.count : undefined, `produce ${options.job}`);
  try {
    const summary = await sendRecords({
      kinesis,
      stream,
      records: recordSource(options),
      aggregate: options.aggregate,
      concurrency: options.concurrency,
      ...(options.ratePerSec !== undefined ? { ratePerSec: options.ratePerSec } : {}),
      ...(log ? { log } : {}),
      onProgress: (stats) => progress.update(stats),
      ...(io.shouldStop ? { shouldStop: io.shouldStop } : {}),
    });
    progress.finish();
    io.stdout.write(`${summaryText(summary, { stream, target: target.name, aggregate: options.aggregate, seed: options.seed, ...(options.log ? { log: options.log } : {}), ...(options.file ? { file: options.file } : {}) })}\n`);
    return summary.failed > 0 ? 1 : summary.interrupted ? 130 : 0;
  } catch (error) {
    progress.finish();
    const explained = explainError(target, error);
    if (explained) throw new UsageError(explained);
    throw error;
  } finally {
    kinesis.destroy();
    if (log) await new Promise<void>((resolve) => log.end(resolve));
  }
}

/** `npm run produce` with an argument list (tests call this; the CLI below passes process.argv). */
export async function runProduce(argv: string[], io: ProduceIo): Promise<number> {
  return produce(produceOptions(parseCommand(produceSpec, argv)), io);
}

if (require.main === module) {
  let stop = false;
  process.once('SIGINT', () => {
    stop = true;
    process.stderr.write('\nstopping: finishing the calls in flight (Ctrl-C again to abort)…\n');
    process.once('SIGINT', () => process.exit(130));
  });
  runMain(produceSpec, async (parsed) => produce(produceOptions(parsed), { stdout: process.stdout, stderr: process.stderr, shouldStop: () => stop }));
}
