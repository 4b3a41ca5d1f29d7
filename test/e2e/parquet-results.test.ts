// Query-ready output end to end: the clickstream stack (jobs clickstream and clickstream-sessions)
// deployed from cdk.out on the embedded cloud, fed by `npm run produce`'s code, leaves Parquet
// objects (PAR1) under results/job=<job>/format=parquet/ — the local Firehose converting with each
// job's Glue table — and the README's queries for those jobs (and for every job) run unchanged through
// `npm run query`'s code, returning rows. (Every README query over all four jobs' Parquet results:
// test/unit/query-readme.test.ts; one stack here keeps the synth and the run short.)
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { outputKey, stackName } from '../../infra/outputs';
import { jobs } from '../../jobs';
import { startLocalCloud, type LocalCloud } from '../../local/cloud';
import { getObjectBytes, isParquet, listObjects } from '../../scripts/lib/output-reader';
import { synth } from '../../scripts/lib/synth';
import { resolveTarget } from '../../scripts/lib/targets';
import { runProduce } from '../../scripts/produce';
import { executeQuery } from '../../scripts/query';
import { readmeQueries } from '../support/readme-queries';

jest.setTimeout(300_000);

const JOBS = ['clickstream', 'clickstream-sessions'];
const quiet = { write: () => true };

let cloud: LocalCloud;
let s3: S3Client;
const temp: string[] = [];

beforeAll(async () => {
  const assembly = mkdtempSync(path.join(os.tmpdir(), 'riffle-cdk-out-'));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'riffle-local-'));
  temp.push(assembly, dataDir);
  await synth({ outdir: assembly, jobs: JOBS });
  cloud = await startLocalCloud({ port: 0, dataDir, assembly, timeScale: 30, log: () => undefined, warn: () => undefined, functionLogs: () => undefined });
  s3 = new S3Client({ endpoint: cloud.endpoint, region: cloud.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, forcePathStyle: true });
  const target = resolveTarget('local', { endpoint: cloud.endpoint, outputs: cloud.outputs });
  const argv = ['--job', 'clickstream', '--count', '1500', '--duration', '2h', '--seed', '7', '--bad-fraction', '2%'];
  expect(await runProduce(argv, { stdout: quiet, stderr: quiet, target })).toBe(0);
  await cloud.waitForIdle({ timeoutMs: 240_000, settleMs: 1_500 });
  for (const job of JOBS) {
    const closer = cloud.outputs[stackName(jobs[job]!.source)]?.[outputKey(job, 'CloserFunction')];
    expect((await cloud.runtime.invoke(closer as string, { drain: true })).ok).toBe(true);
  }
  await cloud.server.firehose.flushAll();
});

afterAll(async () => {
  s3?.destroy();
  await cloud?.stop();
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

test.each(JOBS)('%s: every results object is Parquet, under format=parquet/', async (job) => {
  const bucket = cloud.outputs[stackName(jobs[job]!.source)]?.[outputKey(job, 'Bucket')] as string;
  const objects = await listObjects(s3, bucket, `results/job=${job}/`);
  expect(objects.length).toBeGreaterThan(0);
  for (const o of objects) {
    expect(o.key).toMatch(new RegExp(`^results/job=${job}/format=parquet/dt=\\d{4}-\\d{2}-\\d{2}/hour=\\d{2}/.+\\.parquet$`));
    const bytes = await getObjectBytes(s3, bucket, o.key);
    expect(bytes.subarray(0, 4).toString()).toBe('PAR1');
    expect(isParquet(bytes)).toBe(true);
  }
  // Nothing failed conversion.
  expect(await listObjects(s3, bucket, 'errors/results/')).toEqual([]);
});

test("the README's queries for these jobs run unchanged over the Parquet results and return rows", async () => {
  const target = resolveTarget('local', { endpoint: cloud.endpoint, outputs: cloud.outputs });
  const queries = readmeQueries().filter((q) => q.job === undefined || JOBS.includes(q.job));
  expect(queries.map((q) => q.job)).toEqual(expect.arrayContaining(JOBS));
  for (const { sql, job, expectRows } of queries) {
    const run = await executeQuery({ sql, format: 'json', ...(job ? { job } : {}), target: 'local', cache: true, athena: false }, { target, cacheDir: path.join(temp[0] as string, 'query-cache') });
    const rows = JSON.parse(run.text) as unknown[];
    if (job !== undefined || expectRows) expect({ sql, rows: rows.length > 0 }).toEqual({ sql, rows: true });
  }
});
