// Nothing Firehose acknowledged is lost when the local cloud dies: the cloud runs in a child
// process, producers send PutRecordBatch calls (dynamic partitioning, GZIP, a 900 s buffering
// interval, so nothing reaches S3 on its own), the child is SIGKILLed while batches are in flight,
// started again on the same data directory, and S3 must then hold every record whose batch was
// acknowledged exactly once — plus, at most once each, records of batches cut off by the kill
// (journaled, never answered: AWS makes the same promise for a request that timed out).
import { CreateDeliveryStreamCommand, FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { gunzipSync } from 'node:zlib';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '..', '..');
const CHILD = path.join(ROOT, 'test', 'fixtures', 'local', 'cloud-process.ts');
const BUCKET = 'riffle-kill-test';
const STREAM = 'kill-test-results';

interface Child {
  readonly process: ChildProcess;
  readonly endpoint: string;
  readonly exited: Promise<number | null>;
}

async function startChild(dataDir: string): Promise<Child> {
  // node itself with tsx as a loader (not the tsx CLI, which runs a second node process): the kill
  // must hit the process that serves.
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir], { cwd: ROOT, env: { ...process.env, NODE_NO_WARNINGS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const endpoint = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once('line', (line) => resolve((JSON.parse(line) as { endpoint: string }).endpoint));
    void exited.then((code) => reject(new Error(`the cloud process exited (${code}) before listening: ${stderr}`)));
  });
  return { process: child, endpoint, exited };
}

function clients(endpoint: string): { firehose: FirehoseClient; s3: S3Client; destroy(): void } {
  const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, requestHandler: new NodeHttpHandler({ requestTimeout: 20_000 }) };
  // One attempt: a retried batch after a lost answer would be a duplicate the producer asked for.
  const firehose = new FirehoseClient({ ...common, maxAttempts: 1 });
  const s3 = new S3Client({ ...common, forcePathStyle: true });
  return { firehose, s3, destroy: () => (firehose.destroy(), s3.destroy()) };
}

/** Every record line in the bucket, as `id` strings (one per occurrence). */
async function deliveredIds(s3: S3Client): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, ...(token ? { ContinuationToken: token } : {}) }));
    for (const o of page.Contents ?? []) {
      const body = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key }))).Body!.transformToByteArray());
      for (const line of gunzipSync(body).toString('utf8').split('\n')) if (line) ids.push((JSON.parse(line) as { id: string }).id);
    }
    token = page.NextContinuationToken;
  } while (token);
  return ids;
}

let dataDir: string;
const children: Child[] = [];

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'riffle-firehose-kill-'));
});

afterAll(async () => {
  for (const c of children) if (c.process.exitCode === null) c.process.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  rmSync(dataDir, { recursive: true, force: true });
});

test('every acknowledged record is in S3 exactly once after a SIGKILL and a restart', async () => {
  const first = await startChild(dataDir);
  children.push(first);
  const a = clients(first.endpoint);
  await a.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await a.firehose.send(
    new CreateDeliveryStreamCommand({
      DeliveryStreamName: STREAM,
      ExtendedS3DestinationConfiguration: {
        BucketARN: `arn:aws:s3:::${BUCKET}`,
        RoleARN: 'arn:aws:iam::000000000000:role/firehose',
        Prefix: 'results/part=!{partitionKeyFromQuery:part}/',
        ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/',
        BufferingHints: { IntervalInSeconds: 900, SizeInMBs: 128 },
        CompressionFormat: 'GZIP',
        DynamicPartitioningConfiguration: { Enabled: true },
        ProcessingConfiguration: {
          Enabled: true,
          Processors: [
            { Type: 'MetadataExtraction', Parameters: [{ ParameterName: 'MetadataExtractionQuery', ParameterValue: '{part: .part}' }, { ParameterName: 'JsonParsingEngine', ParameterValue: 'JQ-1.6' }] },
            { Type: 'AppendDelimiterToRecord', Parameters: [{ ParameterName: 'Delimiter', ParameterValue: 'Cg==' }] },
          ],
        },
      },
    }),
  );

  const sent = new Set<string>();
  const acknowledged: string[] = [];
  let batchNo = 0;
  const put = async (): Promise<void> => {
    const b = batchNo++;
    const ids = Array.from({ length: 200 }, (_, i) => `b${b}-r${i}`);
    for (const id of ids) sent.add(id);
    const out = await a.firehose.send(new PutRecordBatchCommand({ DeliveryStreamName: STREAM, Records: ids.map((id, i) => ({ Data: Buffer.from(JSON.stringify({ id, part: i % 3 })) })) }));
    out.RequestResponses?.forEach((r, i) => {
      if (!r.ErrorCode) acknowledged.push(ids[i] as string);
    });
  };
  for (let i = 0; i < 10; i++) await put(); // acknowledged, buffered (900 s interval)
  // Then four producers; the kill lands while their batches are in flight.
  let stop = false;
  const producers = Array.from({ length: 4 }, async () => {
    while (!stop) await put().catch(() => (stop = true));
  });
  while (acknowledged.length < 20 * 200) await new Promise((r) => setTimeout(r, 5));
  first.process.kill('SIGKILL');
  await first.exited;
  stop = true;
  await Promise.all(producers);
  a.destroy();
  expect(acknowledged.length).toBeGreaterThanOrEqual(20 * 200);

  const second = await startChild(dataDir);
  children.push(second);
  const b = clients(second.endpoint);
  const ackSet = new Set(acknowledged);
  let delivered: string[] = [];
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    delivered = await deliveredIds(b.s3);
    if (acknowledged.every((id) => delivered.includes(id))) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const counts = new Map<string, number>();
  for (const id of delivered) counts.set(id, (counts.get(id) ?? 0) + 1);
  expect(acknowledged.filter((id) => counts.get(id) !== 1)).toEqual([]); // every acknowledged record, once
  expect([...counts].filter(([id, n]) => n !== 1 || !sent.has(id))).toEqual([]); // nothing twice, nothing invented
  const unacknowledgedDelivered = [...counts.keys()].filter((id) => !ackSet.has(id)).length;
  expect(unacknowledgedDelivered).toBeLessThanOrEqual(sent.size - acknowledged.length);

  second.process.kill('SIGTERM');
  expect(await second.exited).toBe(0);
  b.destroy();
});
