// The local deployer + cloud end to end: a CDK-shaped fixture assembly (stream → function via
// an event source mapping with bisect and an S3 on-failure destination → DynamoDB table and a
// GZIP Firehose delivery stream; an ON_DEMAND stream; a scheduled function; IAM, alarms, Glue,
// custom resources to skip) deployed with startLocalCloud on a free port. Then the pipeline
// runs, and a second cloud on the same data directory reuses everything and resumes.
import { DescribeTableCommand, DescribeTimeToLiveCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startLocalCloud, type LocalCloud } from '../../local/cloud';
import { putRecords, waitFor } from '../fixtures/local/harness';

jest.setTimeout(120_000);

const ASSEMBLY = path.join(__dirname, '../fixtures/local-deploy/assembly');
const STACK = 'Riffle-fixture';

let dataDir: string;
const logs: string[] = [];

function start(fresh: boolean): Promise<LocalCloud> {
  return startLocalCloud({
    port: 0,
    dataDir,
    fresh,
    assembly: ASSEMBLY,
    timeScale: 600, // rate(1 minute) → 100 ms; Firehose's 60 s buffer → 100 ms
    functionLogs: 'silent',
    esm: { idlePollMs: 50, retryDelayMs: () => 20 },
    log: (l) => logs.push(l),
    warn: (l) => logs.push(l),
  });
}

async function scanPk(cloud: LocalCloud, table: string, prefix: string): Promise<Record<string, { S?: string; N?: string }>[]> {
  const items: Record<string, { S?: string; N?: string }>[] = [];
  let start: Record<string, never> | undefined;
  do {
    const out = await cloud.clients.dynamodb.send(new ScanCommand({ TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) }));
    items.push(...((out.Items ?? []) as Record<string, { S?: string; N?: string }>[]));
    start = out.LastEvaluatedKey as Record<string, never> | undefined;
  } while (start);
  return items.filter((i) => i['pk']?.S?.startsWith(prefix));
}

async function keys(cloud: LocalCloud, bucket: string, prefix: string): Promise<string[]> {
  const out = await cloud.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key ?? '');
}

async function object(cloud: LocalCloud, bucket: string, key: string): Promise<Buffer> {
  const out = await cloud.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await out.Body?.transformToByteArray()) ?? []);
}

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'riffle-deploy-'));
});

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

test('deploys the fixture assembly and runs its pipeline; a redeploy on the same data directory reuses and resumes', async () => {
  const cloud = await start(true);
  let out: Record<string, string>;
  try {
    // ---- deployment ----
    out = cloud.outputs[STACK] ?? {};
    expect(out['InputStreamName']).toMatch(/^Riffle-fixture-InputStream1F2E3D4C-[A-Z0-9]{12}$/);
    expect(out['InputStreamArn']).toBe(`arn:aws:kinesis:us-east-1:000000000000:stream/${out['InputStreamName']}`);
    expect(out['MapperArn']).toBe(`arn:aws:lambda:us-east-1:000000000000:function:${out['MapperName']}`);
    expect(out['MapperConsole']).toBe(`https://us-east-1.console.aws.amazon.com/lambda/home#/functions/${out['MapperName']}`);
    expect(out['BucketName']).toMatch(/^riffle-fixture-bucket83908e77-[a-z0-9]{12}$/);
    expect(out['GlueDatabase']).toBe('riffle_fixture'); // skipped resources still answer Ref with their name
    expect(JSON.parse(readFileSync(path.join(dataDir, 'outputs.json'), 'utf8'))).toEqual({ [STACK]: out });

    const summary = logs.find((l) => l.startsWith(`deployed ${STACK}`)) ?? '';
    // IAM roles and policies are registered (the endpoint enforces them), not skipped.
    expect(summary).toMatch(/deployed Riffle-fixture: .*2 IAM::Role, .*1 IAM::Policy/);
    expect(summary).not.toMatch(/skipped .*IAM::/);
    expect(summary).toContain('CloudWatch::Alarm');
    expect(logs.some((l) => /WARN Riffle-fixture: AWS::SQS::Queue DeadLetters1C2D3E4F is not emulated/.test(l))).toBe(true);
    expect(logs.some((l) => /ON_DEMAND; created locally with 2 shards/.test(l))).toBe(true);
    expect(cloud.deployment?.warnings.filter((w) => !/SQS::Queue/.test(w))).toEqual([]);

    const kin = async (name: string) => (await cloud.clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary;
    expect((await kin(out['InputStreamName'] as string))?.OpenShardCount).toBe(2);
    expect((await kin(out['ShuffleStreamName'] as string))?.OpenShardCount).toBe(2);
    const table = out['TableName'] as string;
    const described = await cloud.clients.dynamodb.send(new DescribeTableCommand({ TableName: table }));
    expect(described.Table?.GlobalSecondaryIndexes?.map((g) => g.IndexName)).toEqual(['open-windows']);
    const ttl = await cloud.clients.dynamodb.send(new DescribeTimeToLiveCommand({ TableName: table }));
    expect(ttl.TimeToLiveDescription).toMatchObject({ AttributeName: 'expiresAt' });

    const mapper = cloud.runtime.get(out['MapperName'] as string);
    expect(mapper).toMatchObject({ handler: 'index.mapper', timeoutSeconds: 15, memoryMb: 256, roleArn: expect.stringMatching(/^arn:aws:iam::000000000000:role\//) });
    expect(mapper?.environment).toMatchObject({ TABLE: table, DELIVERY: out['DeliveryName'], BUCKET: out['BucketName'] });
    const esm = cloud.pollers.get('MapperKinesisEventSourceRifflefixtureInputStreamA1B2C3D4');
    expect(esm?.config).toMatchObject({
      batchSize: 10,
      bisectBatchOnFunctionError: true,
      reportBatchItemFailures: true,
      maximumRetryAttempts: 1,
      maximumRecordAgeSeconds: 3600,
      onFailureDestination: `arn:aws:s3:::${out['BucketName']}`,
      startingPosition: 'TRIM_HORIZON',
    });

    // ---- the pipeline ----
    const records = Array.from({ length: 40 }, (_, id) => ({ key: `device-${id % 7}`, data: id === 17 ? { id, poison: true } : { id } }));
    const put = await putRecords(cloud.clients.kinesis, out['InputStreamName'] as string, records);
    await waitFor(async () => (await scanPk(cloud, table, 'R#')).length === 39, { what: '39 rows in the table', timeoutMs: 60_000 });
    const rows = await scanPk(cloud, table, 'R#');
    expect(new Set(rows.map((r) => r['pk']?.S))).toEqual(new Set(records.filter((_, i) => i !== 17).map((_, i, a) => `R#${(a[i] as { data: { id: number } }).data.id}`)));
    expect(rows.every((r) => r['role']?.S === mapper?.roleArn)).toBe(true);

    // The poison record, isolated by bisecting, is in the bucket under AWS's key layout.
    const bucket = out['BucketName'] as string;
    const failedPrefix = `aws/lambda/${esm?.config.uuid}/${put[17]?.shardId}/`;
    const failed = await waitFor(async () => {
      const k = await keys(cloud, bucket, failedPrefix);
      return k.length > 0 ? k : undefined;
    }, { what: 'the on-failure object' });
    expect(failed).toHaveLength(1);
    const record = JSON.parse((await object(cloud, bucket, failed[0] as string)).toString()) as { KinesisBatchInfo: Record<string, unknown>; payload: { Records: unknown[] } };
    expect(record.KinesisBatchInfo).toMatchObject({ batchSize: 1, startSequenceNumber: put[17]?.sequenceNumber, streamArn: out['InputStreamArn'] });
    expect(record.payload.Records).toHaveLength(1);

    // The schedule fired the ticker (rate(1 minute) at timeScale 600) with the target's Input.
    await waitFor(async () => (await scanPk(cloud, table, 'TICK')).length >= 2, { what: 'scheduled ticks' });
    expect((await scanPk(cloud, table, 'TICK'))[0]?.['source']?.S).toBe('tick');

    // Firehose delivered GZIP objects under the prefix expression.
    const day = new Date().toISOString().slice(0, 10);
    const lines = await waitFor(async () => {
      const ks = await keys(cloud, bucket, `results/dt=`);
      let n: string[] = [];
      for (const k of ks) n = n.concat(gunzipSync(await object(cloud, bucket, k)).toString().split('\n').filter(Boolean));
      return n.length === 39 ? { ks, n } : undefined;
    }, { what: '39 Firehose lines', timeoutMs: 30_000 });
    expect(lines.ks.every((k) => k.startsWith(`results/dt=${day}/`))).toBe(true);

    await cloud.waitForIdle();
    const stats = cloud.stats();
    expect(stats.mappings[0]).toMatchObject({ records: 40, failedDestinationWrites: 1 });
    expect(stats.functions[out['MapperName'] as string]?.errors).toBeGreaterThan(0);
  } finally {
    await cloud.stop();
  }

  // ---- redeploy onto the same data directory ----
  logs.length = 0;
  const again = await start(false);
  try {
    expect(again.outputs[STACK]).toEqual(out);
    const statuses = Object.values(again.deployment?.stacks[0]?.resources ?? {}).map((r) => `${r.type}:${r.status}`);
    expect(statuses).toEqual(expect.arrayContaining(['AWS::Kinesis::Stream:reused', 'AWS::DynamoDB::GlobalTable:reused', 'AWS::S3::Bucket:reused', 'AWS::KinesisFirehose::DeliveryStream:reused']));
    expect(statuses).not.toContain('AWS::Kinesis::Stream:created');
    const more = await putRecords(again.clients.kinesis, out['InputStreamName'] as string, [40, 41, 42].map((id) => ({ key: 'device-x', data: { id } })));
    expect(more).toHaveLength(3);
    await waitFor(async () => (await scanPk(again, out['TableName'] as string, 'R#')).length === 42, { what: 'the new rows' });
    await again.waitForIdle();
    // The mapping resumed from its checkpoint: only the three new records were delivered.
    expect(again.stats().mappings[0]?.records).toBe(3);
  } finally {
    await again.stop();
  }
});
