// Parquet results in the query tools: objects as the local Firehose converts them (the production
// conversion module with the job's results schema) next to JSON lines written before Parquet, read
// by `npm run query` (DuckDB views unioned by name, names and types as the records have them, one row
// per window across formats, partitions pruned under format=parquet/) and by the output reader the
// verifier and `npm start` use (Parquet rows back in the records' shape).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { makeResult, type ResultRecord } from '../../functions/core/output-records';
import { resultsSchema } from '../../infra/results-schema';
import { jobs } from '../../jobs';
import { LOCAL_GLUE_TABLE } from '../../local/services/format-conversion/glue-schema';
import { compileFormatConversion, convertRecords } from '../../local/services/format-conversion/parquet';
import { startLocalServer, type LocalServer } from '../../local/server';
import { readRecords } from '../../scripts/lib/output-reader';
import { resolveTarget, type Target } from '../../scripts/lib/targets';
import { executeQuery, type QueryOptions } from '../../scripts/query';

jest.setTimeout(30_000);

const BUCKET = 'riffle-parquet-query-test';
const T0 = Date.parse('2026-01-01T00:00:00Z');
const MIN = 60_000;

let server: LocalServer;
let s3: S3Client;
let target: Target;
let dir: string;

/** The job's results as Firehose's conversion writes them (the local module, the job's Glue columns). */
function parquet(job: string, records: readonly Record<string, unknown>[]): Buffer {
  const aggregates = Object.fromEntries(Object.entries(jobs[job]!.aggregates).map(([field, a]) => [field, { kind: a.kind }]));
  const Columns = resultsSchema({ aggregates }).map((c) => ({ Name: c.name, Type: c.type }));
  const conversion = compileFormatConversion({
    CompressionFormat: 'UNCOMPRESSED',
    DataFormatConversionConfiguration: {
      InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: { CaseInsensitive: true } } },
      OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'SNAPPY' } } },
      SchemaConfiguration: { DatabaseName: 'db', TableName: 't', [LOCAL_GLUE_TABLE]: { DatabaseName: 'db', Name: 't', Columns } },
    },
  })!;
  const converted = convertRecords(conversion, records.map((r) => Buffer.from(`${JSON.stringify(r)}\n`)));
  expect(converted.failed).toEqual([]);
  return converted.body!;
}

function sensor(key: string, startMs: number, version: number, values: Partial<Record<string, number | null>> = {}): ResultRecord {
  return makeResult({
    job: 'sensor-averages',
    key,
    start: startMs,
    end: startMs + 5 * MIN,
    values: { count: 10 * version, temperature_avg: 20.25 + version, temperature_min: 18, temperature_max: 23.5, temperature_p95: 22.75, humidity_avg: null, ...values },
    final: true,
    version,
    eventCount: 10 * version,
    nowMs: startMs + 6 * MIN,
  });
}

const jsonLines = (rows: readonly Record<string, unknown>[]) => gzipSync(rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
const hourPath = (ms: number) => `dt=${new Date(ms).toISOString().slice(0, 10)}/hour=${new Date(ms).toISOString().slice(11, 13)}/`;

async function put(key: string, body: Buffer): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
}

function getObjects(): number {
  return server.stats().requests.s3?.GetObject ?? 0;
}

async function rows(sql: string, extra: Partial<QueryOptions> = {}): Promise<Record<string, unknown>[]> {
  const options: QueryOptions = { sql, format: 'json', job: 'sensor-averages', target: 'local', cache: true, athena: false, ...extra };
  return JSON.parse((await executeQuery(options, { target, cacheDir: path.join(dir, 'cache') })).text) as Record<string, unknown>[];
}

beforeEach(async () => {
  server = await startLocalServer({ port: 0, ttlSweepIntervalMs: 0 });
  const outputs = {
    'Riffle-sensor-averages': { Jobs: 'sensor-averages', SensorAveragesBucket: BUCKET },
    'Riffle-trending-hashtags': { Jobs: 'trending-hashtags', TrendingHashtagsBucket: BUCKET },
    'Riffle-clickstream': { Jobs: 'clickstream-sessions', ClickstreamSessionsBucket: BUCKET },
  };
  target = resolveTarget('local', { endpoint: server.endpoint, outputs });
  s3 = new S3Client(target.clientConfig());
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-query-parquet-'));
});

afterEach(async () => {
  s3.destroy();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('npm run query over Parquet results', () => {
  it('columns have the records\' names and the schema\'s types; values equal what the closer wrote', async () => {
    const record = sensor('s-1', T0, 1);
    await put(`results/job=sensor-averages/format=parquet/${hourPath(T0)}a.parquet`, parquet('sensor-averages', [record]));
    const [row] = await rows("SELECT *, typeof(windowStart) AS t1, typeof(count) AS t2, typeof(temperature_avg) AS t3, typeof(humidity_avg) AS t4 FROM results");
    expect(row).toEqual({ ...record, t1: 'TIMESTAMP', t2: 'BIGINT', t3: 'DOUBLE', t4: 'DOUBLE' });
    // DuckDB reads the object as Parquet from the cache.
    expect(readdirSync(path.join(dir, 'cache')).filter((f) => f.endsWith('.parquet'))).toHaveLength(1);
  });

  it('JSON lines written before Parquet and Parquet objects are one table; a window re-emitted in the other format is one row', async () => {
    // Before the switch: two windows as JSON lines directly under dt=…/hour=…/.
    await put(`results/job=sensor-averages/${hourPath(T0)}old.gz`, jsonLines([sensor('s-1', T0, 1), sensor('s-2', T0, 1)]));
    // After: s-2's window re-emitted at a higher version, and a new window, as Parquet.
    await put(`results/job=sensor-averages/format=parquet/${hourPath(T0)}new.parquet`, parquet('sensor-averages', [sensor('s-2', T0, 2), sensor('s-3', T0 + 5 * MIN, 1)]));
    expect(await rows('SELECT key, version, count, windowStart FROM results ORDER BY key')).toEqual([
      { key: 's-1', version: 1, count: 10, windowStart: '2026-01-01T00:00:00.000Z' },
      { key: 's-2', version: 2, count: 20, windowStart: '2026-01-01T00:00:00.000Z' },
      { key: 's-3', version: 1, count: 10, windowStart: '2026-01-01T00:05:00.000Z' },
    ]);
    expect(await rows('SELECT count(*) AS n FROM results_all')).toEqual([{ n: 4 }]);
  });

  it('--since/--until download only the partitions in range below format=parquet/ too', async () => {
    for (let h = 0; h < 6; h++) {
      const at = T0 + h * 60 * MIN;
      await put(`results/job=sensor-averages/format=parquet/${hourPath(at)}p-${h}.parquet`, parquet('sensor-averages', [sensor(`k${h}`, at, 1)]));
    }
    const keys = await rows('SELECT key FROM results ORDER BY key', { sinceMs: T0 + 2 * 60 * MIN, untilMs: T0 + 4 * 60 * MIN });
    expect(keys.map((r) => r.key)).toEqual(['k2', 'k3']);
    expect(getObjects()).toBe(2);
  });

  it('top-k is a list of (value, count) structs: the README query unnests it', async () => {
    const windowStart = T0;
    const record = makeResult({ job: 'trending-hashtags', key: 'en', start: windowStart, end: windowStart + 10 * MIN, values: { mentions: 9, top_hashtags: [{ value: 'aws', count: 5 }, { value: 'riffle', count: 4 }] }, final: true, version: 1, eventCount: 9, nowMs: windowStart });
    await put(`results/job=trending-hashtags/format=parquet/${hourPath(T0)}t.parquet`, parquet('trending-hashtags', [record]));
    const sql = `SELECT key AS lang, windowStart, t.value AS hashtag, t.count AS mentions
FROM (SELECT key, windowStart, unnest(top_hashtags) AS t FROM results
      WHERE windowStart = (SELECT max(windowStart) FROM results))
ORDER BY lang, mentions DESC`;
    expect(await rows(sql, { job: 'trending-hashtags' })).toEqual([
      { lang: 'en', windowStart: '2026-01-01T00:00:00.000Z', hashtag: 'aws', mentions: 5 },
      { lang: 'en', windowStart: '2026-01-01T00:00:00.000Z', hashtag: 'riffle', mentions: 4 },
    ]);
  });

  it('text columns of first/last and user-defined aggregates are typed from their values, across formats', async () => {
    const session = (key: string, start: number, durationMs: number | null) =>
      makeResult({ job: 'clickstream-sessions', key, start, end: start + 40 * MIN, values: { clicks: 3, entry_page: '/home', exit_page: '/buy', duration_ms: durationMs }, final: true, version: 1, eventCount: 3, nowMs: start });
    await put(`results/job=clickstream-sessions/${hourPath(T0)}old.gz`, jsonLines([session('u1', T0, 60_000)]));
    await put(`results/job=clickstream-sessions/format=parquet/${hourPath(T0)}new.parquet`, parquet('clickstream-sessions', [session('u2', T0 + MIN, 120_000), session('u3', T0 + 2 * MIN, null)]));
    const sql = 'SELECT entry_page, count(*) AS sessions, round(avg(clicks), 1) AS clicks_per_session, round(avg(duration_ms) / 1000) AS avg_seconds, typeof(duration_ms) AS t FROM results GROUP BY entry_page, t';
    expect(await rows(sql, { job: 'clickstream-sessions' })).toEqual([{ entry_page: '/home', sessions: 3, clicks_per_session: 3, avg_seconds: 90, t: 'BIGINT' }]);
  });
});

describe('output reader (verify, npm start)', () => {
  it('reads Parquet and JSON-lines objects alike, Parquet rows in the records\' shape', async () => {
    const records = [sensor('s-1', T0, 1, { humidity_avg: 40.5 }), sensor('s-2', T0 + 5 * MIN, 3)];
    await put(`results/job=sensor-averages/format=parquet/${hourPath(T0)}a.parquet`, parquet('sensor-averages', records));
    await put(`results/job=sensor-averages/${hourPath(T0)}b.gz`, jsonLines([sensor('s-0', T0, 1)]));
    const read = await readRecords(s3, BUCKET, 'results/job=sensor-averages/');
    expect(read).toEqual(expect.arrayContaining([...records, sensor('s-0', T0, 1)]));
    expect(read).toHaveLength(3);
    // Same fields in the same order as the JSON record.
    expect(Object.keys(read.find((r) => r.key === 's-1')!)).toEqual(Object.keys(records[0]!));
  });
});
