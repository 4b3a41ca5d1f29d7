// `npm run query -- --live`: the current values of open windows, read from the state table instead
// of S3 — so they are seconds old (the reducer's batching), not a Firehose buffer (≥ 60 s) old.
// Resolves each job's table from the target's deploy outputs, reads (read.ts), prints the rows in
// the query command's formats, and with --watch reads again every N seconds until stopped.
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Job } from '../../../functions/core/job';
import { iso } from '../../../functions/core/output-records';
import { jobs } from '../../../jobs';
import { UsageError } from '../cli';
import { formatResult, type OutputFormat } from '../duckdb';
import { deployedJobs, explainError, jobOutput, TARGET_INFO, type Target } from '../targets';
import { readLive, type LiveRead } from './read';
import { compareLiveRows, liveTable, resultColumnsOf } from './rows';

export const DEFAULT_LIVE_LIMIT = 1000;

export interface LiveOptions {
  format: OutputFormat;
  job?: string;
  key?: string;
  limit: number;
  /** Read again every this many seconds (until `signal` aborts or `iterations` are done). */
  watchSeconds?: number;
}

export interface LiveIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
  /** Stops --watch (Ctrl-C does, on the command line). */
  signal?: AbortSignal;
  /** Stop --watch after this many reads (tests). */
  iterations?: number;
  now?: () => number;
}

export interface LiveSnapshot {
  text: string;
  reads: LiveRead[];
  rowCount: number;
}

function jobsToRead(options: LiveOptions, target: Target): Job[] {
  const names = options.job !== undefined ? [options.job] : deployedJobs(target);
  if (names.length === 0) throw new UsageError(`no jobs are deployed on --target ${target.name} (${TARGET_INFO[target.name].outputsFile} lists none): ${TARGET_INFO[target.name].deploy}`);
  return names.map((name) => {
    const job = jobs[name];
    if (!job) throw new UsageError(`job '${name}' is deployed but not defined in jobs/; pass --job with one of: ${Object.keys(jobs).join(', ')}`);
    return job;
  });
}

/** One read of every job asked for, formatted. */
export async function liveSnapshot(options: LiveOptions, target: Target, dynamo: DynamoDBDocumentClient, nowMs: number): Promise<LiveSnapshot> {
  const selected = jobsToRead(options, target);
  // Resolve every table first: a job that is not deployed fails before anything is read.
  const tables = selected.map((job) => jobOutput(target, job.name, 'StateTable'));
  const reads: LiveRead[] = [];
  for (const [i, job] of selected.entries()) {
    const table = tables[i] as string;
    try {
      reads.push(await readLive(dynamo, { job, table, limit: options.limit, nowMs, ...(options.key !== undefined ? { key: options.key } : {}) }));
    } catch (error) {
      const explained = explainError(target, error);
      if (explained) throw new UsageError(`${job.name}'s state table ${table}: ${explained}`);
      throw error;
    }
  }
  const rows = reads.flatMap((r) => r.rows).sort(compareLiveRows).slice(0, options.limit);
  const table = liveTable(rows, resultColumnsOf(selected[0] as Job));
  return { text: formatResult(table, options.format), reads, rowCount: rows.length };
}

const count = (n: number, one: string, many = `${one}s`): string => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

function summary(snapshot: LiveSnapshot, limit: number, seconds: number): string {
  const parts = snapshot.reads.map((r) => {
    const s = r.stats;
    const watermark = Number.isFinite(r.watermark) ? iso(r.watermark) : 'none yet';
    const cut = s.truncated ? ` (more are open: showing the newest ${limit}; raise --limit or pick one --key)` : '';
    return `${r.job}: ${count(r.rows.length, 'open window')}${cut}, watermark ${watermark}; ${count(s.indexQueries, 'index query', 'index queries')} (${count(s.indexEntries, 'entry', 'entries')}), ${count(s.batchGets, 'BatchGetItem')} (${count(s.items, 'item')}, strongly consistent)`;
  });
  return `live: ${parts.join(' · ')} in ${seconds.toFixed(1)} s`;
}

/** Runs the live view; resolves to the exit code. */
export async function runLive(options: LiveOptions, target: Target, io: LiveIo): Promise<number> {
  const now = io.now ?? Date.now;
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient(target.clientConfig()));
  try {
    for (let n = 1; ; n++) {
      const started = now();
      let snapshot: LiveSnapshot;
      try {
        snapshot = await liveSnapshot(options, target, dynamo, started);
      } catch (error) {
        // Watching: a failed read (the local cloud restarting, a throttle) is reported and retried;
        // the first read fails the command, so a wrong setup never starts a silent loop.
        if (options.watchSeconds === undefined || n === 1) throw error;
        io.stderr.write(`live: ${error instanceof Error ? error.message : String(error)} (retrying in ${options.watchSeconds} s)\n`);
        snapshot = { text: '', reads: [], rowCount: 0 };
      }
      if (snapshot.reads.length > 0) {
        // A terminal gets one screen redrawn in place; a pipe or file gets every read, in order.
        if (options.watchSeconds !== undefined && options.format === 'table' && io.stdout.isTTY) io.stdout.write('\x1b[H\x1b[2J');
        if (options.watchSeconds !== undefined && options.format === 'table') io.stdout.write(`as of ${iso(started)}\n`);
        io.stdout.write(`${snapshot.text}\n`);
        io.stderr.write(`${summary(snapshot, options.limit, (now() - started) / 1000)}\n`);
      }
      if (options.watchSeconds === undefined || (io.iterations !== undefined && n >= io.iterations)) return 0;
      try {
        await sleep(options.watchSeconds * 1000, undefined, io.signal ? { signal: io.signal } : undefined);
      } catch {
        return 0; // aborted
      }
      if (io.signal?.aborted) return 0;
    }
  } finally {
    dynamo.destroy();
  }
}
