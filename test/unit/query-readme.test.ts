// Every SQL statement of README's "Querying the output" block, unchanged, over Parquet results of
// all four example jobs — objects as the local Firehose converts them (the production conversion
// module, each job's results schema) — and JSON-lines late/ and rejected/ objects: each runs through
// `npm run query`'s code and the job queries return rows. (The pipeline writing such objects from
// cdk.out: test/e2e/parquet-results.test.ts.)
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { makeResult } from '../../functions/core/output-records';
import { resultsSchema } from '../../infra/results-schema';
import { outputKey, stackName } from '../../infra/outputs';
import { jobs } from '../../jobs';
import { LOCAL_GLUE_TABLE } from '../../local/services/format-conversion/glue-schema';
import { compileFormatConversion, convertRecords } from '../../local/services/format-conversion/parquet';
import { startLocalServer, type LocalServer } from '../../local/server';
import { resolveTarget, type Target } from '../../scripts/lib/targets';
import { executeQuery } from '../../scripts/query';
import { readmeQueries } from '../support/readme-queries';

jest.setTimeout(60_000);

const BUCKET = 'riffle-readme-queries';
const T0 = Date.parse('2026-01-01T10:00:00Z');

/** A value of the aggregate's kind, as its result() would give. */
function valueOf(kind: string, i: number): unknown {
  if (kind === 'count') return 3 + i;
  if (kind === 'topK') return [{ value: 'riffle', count: 4 + i }, { value: 'aws', count: 2 }];
  if (kind === 'first' || kind === 'last') return i % 2 ? '/home' : '/pricing';
  if (['sum', 'min', 'max', 'mean', 'variance', 'stddev', 'quantile', 'distinct'].includes(kind)) return 10.5 + i;
  return 60_000 * (i + 1); // user-defined (eventTimeSpan: ms)
}

function parquetResults(job: string): Buffer {
  const definition = jobs[job]!;
  const aggregates = Object.fromEntries(Object.entries(definition.aggregates).map(([field, a]) => [field, { kind: a.kind }]));
  const Columns = resultsSchema({ aggregates }).map((c) => ({ Name: c.name, Type: c.type }));
  const conversion = compileFormatConversion({
    CompressionFormat: 'UNCOMPRESSED',
    DataFormatConversionConfiguration: {
      InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: {} } },
      OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'SNAPPY' } } },
      SchemaConfiguration: { DatabaseName: 'db', TableName: 't', [LOCAL_GLUE_TABLE]: { DatabaseName: 'db', Name: 't', Columns } },
    },
  })!;
  const records = Array.from({ length: 6 }, (_, i) => {
    const start = T0 + (i % 3) * 300_000;
    const values = Object.fromEntries(Object.entries(definition.aggregates).map(([field, a]) => [field, valueOf(a.kind, i)]));
    return makeResult({ job, key: `k${i % 2}`, start, end: start + 300_000, values: values as never, final: true, version: 1, eventCount: 3 + i, nowMs: start + 400_000 });
  });
  const converted = convertRecords(conversion, records.map((r) => Buffer.from(`${JSON.stringify(r)}\n`)));
  expect(converted.failed).toEqual([]);
  return converted.body!;
}

let server: LocalServer;
let s3: S3Client;
let target: Target;
let dir: string;

beforeAll(async () => {
  server = await startLocalServer({ port: 0, ttlSweepIntervalMs: 0 });
  const outputs: Record<string, Record<string, string>> = {};
  for (const job of Object.keys(jobs)) {
    const stack = (outputs[stackName(jobs[job]!.source)] ??= {});
    stack.Jobs = stack.Jobs ? `${stack.Jobs},${job}` : job;
    stack[outputKey(job, 'Bucket')] = BUCKET;
  }
  target = resolveTarget('local', { endpoint: server.endpoint, outputs });
  s3 = new S3Client(target.clientConfig());
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const put = (Key: string, Body: Buffer) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body }));
  for (const job of Object.keys(jobs)) {
    await put(`results/job=${job}/format=parquet/dt=2026-01-01/hour=10/${job}.parquet`, parquetResults(job));
    const rejected = { job, reason: 'invalid JSON: Unexpected token', shardId: 'shardId-000000000000', sequenceNumber: '1', subSequenceNumber: 0, partitionKey: 'p', payload: Buffer.from('{x').toString('base64'), payloadBytes: 2, payloadTruncated: false, payloadSha256: 'x', rejectedAt: '2026-01-01T10:01:00.000Z' };
    await put(`rejected/job=${job}/dt=2026-01-01/hour=10/r.gz`, gzipSync(`${JSON.stringify(rejected)}\n`));
  }
  dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-readme-queries-'));
});

afterAll(async () => {
  s3.destroy();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

const queries = readmeQueries();

test('the README block has the queries of every example job', () => {
  expect(new Set(queries.map((q) => q.job).filter(Boolean))).toEqual(new Set(Object.keys(jobs)));
  expect(queries.length).toBeGreaterThanOrEqual(8);
});

test.each(queries.map((q) => [q.sql.split('\n')[0], q] as const))('%s', async (_title, { sql, job, expectRows }) => {
  const run = await executeQuery({ sql, format: 'json', ...(job ? { job } : {}), target: 'local', cache: true, athena: false }, { target, cacheDir: path.join(dir, 'cache') });
  const rows = JSON.parse(run.text) as unknown[];
  if (job !== undefined || expectRows) expect(rows.length).toBeGreaterThan(0);
});
