// Bench: workload W's results stored as JSON lines (GZIP, as before) and as Parquet (SNAPPY, as
// Firehose's record format conversion writes them), and what three typical queries cost in each.
//
// W's results are computed from W's events (workload-w.ts) with sensor-averages' own map, windows
// and aggregates (the 12,000 windows the pipeline emits; the W section checks the pipeline against
// the same counts). They are grouped into objects as a real-time W reaches S3: a window round is
// closed by one closer run and lands in one 60 s Firehose buffer, so one object per window start
// (partitioned by its hour). Each object is written both ways — gzip of the JSON lines, and the
// local Firehose's Parquet conversion with the job's Glue schema — into two buckets of the embedded
// S3, and `npm run query`'s own code (listing, cache, DuckDB views) runs the queries:
//   latest windows · hourly rollup (README) · one sensor's day (--since/--until one day)
// Measured per query and format: objects and bytes downloaded (first run), and bytes DuckDB reads
// from the query cache (second run, served from cache): the process's read() bytes
// (/proc/self/io rchar — every byte read through the file system, the JSON parse's sampling pass
// included) around the query.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AccumulatorSet } from '../../functions/core/aggregates';
import type { Job } from '../../functions/core/job';
import { makeResult, type ResultRecord } from '../../functions/core/output-records';
import { assignWindows } from '../../functions/core/windows';
import { resultsSchema } from '../../infra/results-schema';
import sensorAverages from '../../jobs/sensor-averages';
import { LOCAL_GLUE_TABLE } from '../../local/services/format-conversion/glue-schema';
import { compileFormatConversion, convertRecords } from '../../local/services/format-conversion/parquet';
import { startLocalServer } from '../../local/server';
import { resolveTarget } from '../lib/targets';
import { executeQuery } from '../query';
import { workloadWEvent } from './workload-w';

const JOB = 'sensor-averages';
export const FORMATS = ['json-gzip', 'parquet'] as const;
export type StoredFormat = (typeof FORMATS)[number];

export interface FormatStorage {
  objects: number;
  bytes: number;
}

export interface QueryCost {
  query: string;
  rows: number;
  objectsDownloaded: number;
  bytesDownloaded: number;
  /** Bytes read through the file system while DuckDB answered from the cache. */
  bytesRead: number;
}

export interface ResultsFormatResult {
  events: number;
  results: number;
  storage: Record<StoredFormat, FormatStorage>;
  queries: Record<StoredFormat, QueryCost[]>;
  /** The three queries return the same rows in both formats. */
  sameAnswers: boolean;
}

/** W's results as the closer emits them (final, version 1), from W's events and the job's own code. */
export function workloadWResults(events: number, sensors: number, start: number): ResultRecord[] {
  const job = sensorAverages as unknown as Job;
  const set = new AccumulatorSet(job.aggregates);
  const windows = new Map<string, { key: string; start: number; end: number; accs: unknown[]; n: number }>();
  for (let i = 0; i < events; i++) {
    const event = workloadWEvent(i, events, sensors, start);
    const t = Number(job.eventTime(event));
    for (const [key, values] of job.map(event)) {
      for (const w of assignWindows(job.window, t)) {
        const id = `${key}|${w.start}`;
        let window = windows.get(id);
        if (!window) windows.set(id, (window = { key, start: w.start, end: w.end, accs: set.zeroAll(), n: 0 }));
        set.addAll(window.accs, values as Record<string, unknown>, t);
        window.n++;
      }
    }
  }
  return [...windows.values()]
    .sort((a, b) => a.start - b.start || (a.key < b.key ? -1 : 1))
    .map((w) => makeResult({ job: JOB, key: w.key, start: w.start, end: w.end, values: set.resultAll(w.accs), final: true, version: 1, eventCount: w.n, nowMs: w.end + 150_000 }));
}

/** One object per closing round (window start), as a real-time W reaches S3 through 60 s buffers. */
function objectsOf(results: readonly ResultRecord[]): ResultRecord[][] {
  const rounds = new Map<string, ResultRecord[]>();
  for (const r of results) rounds.set(r.windowStart, [...(rounds.get(r.windowStart) ?? []), r]);
  return [...rounds.values()];
}

function parquetConversion() {
  const aggregates = Object.fromEntries(Object.entries(sensorAverages.aggregates).map(([field, a]) => [field, { kind: a.kind }]));
  const Columns = resultsSchema({ aggregates }).map((c) => ({ Name: c.name, Type: c.type }));
  // The results delivery's conversion (infra/constructs/delivery.ts convertResultsToParquet).
  return compileFormatConversion({
    CompressionFormat: 'UNCOMPRESSED',
    BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 64 },
    DataFormatConversionConfiguration: {
      Enabled: true,
      InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: { CaseInsensitive: true } } },
      OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'SNAPPY' } } },
      SchemaConfiguration: { DatabaseName: 'riffle_sensor_averages', TableName: 'sensor_averages', VersionId: 'LATEST', [LOCAL_GLUE_TABLE]: { DatabaseName: 'riffle_sensor_averages', Name: 'sensor_averages', Columns } },
    },
  })!;
}

/**
 * The same rows, numbers equal to 0.01: sums of doubles run in a different order (DuckDB's parallel
 * aggregation) can round the last digit of round(x, 2) the other way.
 */
function sameRows(a: string, b: string): boolean {
  const same = (x: unknown, y: unknown): boolean =>
    typeof x === 'number' && typeof y === 'number' ? Math.abs(x - y) <= 0.0100001 : JSON.stringify(x) === JSON.stringify(y);
  const ra = JSON.parse(a) as Record<string, unknown>[];
  const rb = JSON.parse(b) as Record<string, unknown>[];
  return ra.length === rb.length && ra.every((row, i) => Object.keys(row).every((k) => same(row[k], rb[i]?.[k])) && Object.keys(row).length === Object.keys(rb[i] ?? {}).length);
}

/** Bytes this process has read through read() so far (Linux); undefined elsewhere. */
function readBytes(): number | undefined {
  try {
    const m = /^rchar:\s*(\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export async function benchResultsFormat(options: { events?: number; sensors?: number; log?: (line: string) => void } = {}): Promise<ResultsFormatResult> {
  const events = options.events ?? 1_000_000;
  const sensors = options.sensors ?? 1_000;
  const log = options.log ?? (() => undefined);
  const day = Date.UTC(2026, 0, 15);
  const start = day + 6 * 3_600_000;
  const results = workloadWResults(events, sensors, start);
  const objects = objectsOf(results);
  log(`  ${results.length.toLocaleString('en-US')} results in ${objects.length} objects (one per closing round)`);

  const conversion = parquetConversion();
  const server = await startLocalServer({ port: 0, ttlSweepIntervalMs: 0 });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'riffle-bench-format-'));
  const buckets: Record<StoredFormat, string> = { 'json-gzip': 'bench-json', parquet: 'bench-parquet' };
  const storage = {} as Record<StoredFormat, FormatStorage>;
  const queries = {} as Record<StoredFormat, QueryCost[]>;
  const answers = {} as Record<StoredFormat, string[]>;
  try {
    for (const format of FORMATS) {
      const target = resolveTarget('local', { endpoint: server.endpoint, outputs: { [`Riffle-${JOB}`]: { Jobs: JOB, SensorAveragesBucket: buckets[format] } } });
      const s3 = new S3Client(target.clientConfig());
      try {
        await s3.send(new CreateBucketCommand({ Bucket: buckets[format] }));
        storage[format] = { objects: 0, bytes: 0 };
        for (const [i, rows] of objects.entries()) {
          const at = new Date(Date.parse(rows[0]!.windowStart));
          const partition = `dt=${at.toISOString().slice(0, 10)}/hour=${at.toISOString().slice(11, 13)}/`;
          const lines = rows.map((r) => Buffer.from(`${JSON.stringify(r)}\n`));
          let body: Buffer;
          let key: string;
          if (format === 'parquet') {
            const converted = convertRecords(conversion, lines);
            if (converted.failed.length > 0 || !converted.body) throw new Error(`conversion failed: ${converted.failed[0]?.message ?? 'no rows'}`);
            body = converted.body;
            key = `results/job=${JOB}/format=parquet/${partition}${JOB}-results-1-${i}.parquet`;
          } else {
            body = gzipSync(Buffer.concat(lines));
            key = `results/job=${JOB}/${partition}${JOB}-results-1-${i}.gz`;
          }
          await s3.send(new PutObjectCommand({ Bucket: buckets[format], Key: key, Body: body }));
          storage[format].objects++;
          storage[format].bytes += body.length;
        }
        const typical = [
          { name: 'latest windows', sql: 'SELECT key AS sensor, windowStart, round(temperature_avg, 2) AS avg_c, temperature_p95 AS p95_c, round(humidity_avg, 1) AS humidity FROM results ORDER BY windowStart DESC, sensor LIMIT 10' },
          {
            name: 'hourly rollup',
            sql: "SELECT key AS sensor, date_trunc('hour', windowStart) AS hour, sum(count) AS readings, round(sum(temperature_avg * count) / sum(count), 2) AS avg_c, max(temperature_max) AS max_c FROM results GROUP BY ALL ORDER BY hour, sensor",
          },
          { name: "one sensor's day", sql: "SELECT windowStart, count, round(temperature_avg, 2) AS avg_c, temperature_max FROM results WHERE key = 'sensor-0042' ORDER BY windowStart", sinceMs: day, untilMs: day + 86_400_000 },
        ];
        queries[format] = [];
        answers[format] = [];
        for (const q of typical) {
          const options = { sql: q.sql, format: 'json' as const, job: JOB, target: 'local' as const, cache: true, athena: false, ...(q.sinceMs !== undefined ? { sinceMs: q.sinceMs, untilMs: q.untilMs } : {}) };
          const cacheDir = path.join(dir, `${format}-${queries[format].length}`);
          const first = await executeQuery(options, { target, cacheDir });
          const before = readBytes();
          const second = await executeQuery(options, { target, cacheDir });
          const after = readBytes();
          if (second.stats.fetched !== 0) throw new Error('the second run downloaded objects; the cache did not serve it');
          answers[format].push(second.text);
          queries[format].push({ query: q.name, rows: second.rowCount, objectsDownloaded: first.stats.fetched, bytesDownloaded: first.stats.fetchedBytes, bytesRead: before !== undefined && after !== undefined ? after - before : NaN });
          log(`  ${format} · ${q.name}: ${second.rowCount} rows, downloaded ${first.stats.fetched} objects / ${first.stats.fetchedBytes.toLocaleString('en-US')} B, read ${(after! - before!).toLocaleString('en-US')} B from the cache`);
        }
      } finally {
        s3.destroy();
      }
    }
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const sameAnswers = answers['json-gzip'].every((text, i) => sameRows(text, answers.parquet[i] as string));
  return { events, results: results.length, storage, queries, sameAnswers };
}
