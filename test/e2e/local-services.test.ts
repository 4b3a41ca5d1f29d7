// End-to-end tests of the local cloud's single endpoint (local/server.ts) with the real AWS SDK v3
// clients and no special flags: Kinesis over HTTP/1.1 and the SDK's default HTTP/2, DynamoDB
// (GSI, conditions, capacity stats, TTL sweeper, throttling), S3 (path and virtual-host style,
// aws-chunked uploads), Firehose (buffering by interval and size, prefix
// expressions, dynamic partitioning, GZIP, error output, injected failures) and stop()
// flushing buffers into a dataDir that a restarted server serves again.
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { FirehoseClient, CreateDeliveryStreamCommand, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  ListStreamsCommand,
  PutRecordCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startLocalServer } from '../../local/server';
import type { LocalServer } from '../../local/server';

jest.setTimeout(60_000);

const credentials = { accessKeyId: 'any-key', secretAccessKey: 'any-secret' };
const config = (server: LocalServer): { endpoint: string; region: string; credentials: typeof credentials } => ({
  endpoint: server.endpoint,
  region: 'us-east-1',
  credentials,
});

async function poll<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function listKeys(s3: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((c) => c.Key ?? '');
}

async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await out.Body?.transformToByteArray()) ?? []);
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

async function withServer(dataDir: string | undefined, fn: (server: LocalServer) => Promise<void>, extra: Parameters<typeof startLocalServer>[0] = {}): Promise<void> {
  const server = await startLocalServer({ port: 0, ...(dataDir ? { dataDir } : {}), logger: { warn: () => undefined }, ...extra });
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

describe('local cloud endpoint', () => {
  let dataDir: string;
  let server: LocalServer;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'riffle-local-e2e-'));
    server = await startLocalServer({ port: 0, dataDir, ttlSweepIntervalMs: 200, logger: { warn: () => undefined } });
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('listens on a free port and answers the health check', async () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.endpoint).toBe(`http://127.0.0.1:${server.port}`);
    const health = await fetch(`${server.endpoint}/_riffle/health`).then((r) => r.json() as Promise<{ status: string; services: string[] }>);
    expect(health.status).toBe('running');
    expect(health.services).toEqual(expect.arrayContaining(['kinesis', 'dynamodb', 'firehose', 's3', 'sts']));
    const stats = await fetch(`${server.endpoint}/_riffle/stats`).then((r) => r.json() as Promise<{ firehose: { recordsIn: number } }>);
    expect(stats.firehose.recordsIn).toBe(0);
  });

  describe('Kinesis', () => {
    it('creates a stream and round-trips records over HTTP/1.1 and the default HTTP/2 client', async () => {
      const h1 = new KinesisClient({ ...config(server), requestHandler: new NodeHttpHandler() });
      const h2 = new KinesisClient(config(server)); // the SDK default: HTTP/2 (prior knowledge over cleartext)
      try {
        await h1.send(new CreateStreamCommand({ StreamName: 'events', ShardCount: 2 }));
        await poll('stream ACTIVE', async () => {
          const s = await h2.send(new DescribeStreamSummaryCommand({ StreamName: 'events' }));
          return s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE' ? true : undefined;
        });
        const records = Array.from({ length: 100 }, (_, i) => ({ Data: Buffer.from(JSON.stringify({ i })), PartitionKey: `key-${i % 17}` }));
        const put = await h1.send(new PutRecordsCommand({ StreamName: 'events', Records: records }));
        expect(put.FailedRecordCount).toBe(0);
        await h2.send(new PutRecordCommand({ StreamName: 'events', Data: Buffer.from(JSON.stringify({ i: 100 })), PartitionKey: 'h2' }));

        const shards = (await h1.send(new ListShardsCommand({ StreamName: 'events' }))).Shards ?? [];
        expect(shards).toHaveLength(2);
        const seen: number[] = [];
        for (const shard of shards) {
          const { ShardIterator } = await h2.send(new GetShardIteratorCommand({ StreamName: 'events', ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
          const got = await h1.send(new GetRecordsCommand({ ShardIterator, Limit: 1000 }));
          for (const r of got.Records ?? []) seen.push((JSON.parse(Buffer.from(r.Data ?? []).toString()) as { i: number }).i);
        }
        expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 101 }, (_, i) => i));
        const stats = server.stats();
        expect(stats.kinesis.recordsPut).toBe(101);
        expect(stats.kinesis.recordsRead).toBe(101);
        expect(stats.requests.kinesis).toMatchObject({ PutRecords: 1, PutRecord: 1, GetRecords: 2 });
      } finally {
        h1.destroy();
        h2.destroy();
      }
    });

    it('throttles requests and PutRecords entries on demand', async () => {
      const kinesis = new KinesisClient({ ...config(server), requestHandler: new NodeHttpHandler(), maxAttempts: 1 });
      try {
        const [shard] = (await kinesis.send(new ListShardsCommand({ StreamName: 'events' }))).Shards ?? [];
        const { ShardIterator } = await kinesis.send(new GetShardIteratorCommand({ StreamName: 'events', ShardId: shard?.ShardId, ShardIteratorType: 'LATEST' }));
        const armed = server.faults.throttleKinesis({ stream: 'events', operation: 'GetRecords', times: 1 });
        await expect(kinesis.send(new GetRecordsCommand({ ShardIterator }))).rejects.toMatchObject({ name: 'ProvisionedThroughputExceededException' });
        expect(armed.remaining).toBe(0);
        await expect(kinesis.send(new GetRecordsCommand({ ShardIterator }))).resolves.toBeDefined();

        server.faults.throttleKinesis({ stream: 'events', operation: 'PutRecords', times: 1, perRecord: { fraction: 0.5 } });
        const put = await kinesis.send(
          new PutRecordsCommand({ StreamName: 'events', Records: ['a', 'b', 'c', 'd'].map((d) => ({ Data: Buffer.from(d), PartitionKey: d })) }),
        );
        expect(put.FailedRecordCount).toBe(2);
        expect(put.Records?.map((r) => r.ErrorCode ?? (r.SequenceNumber ? 'ok' : 'missing'))).toEqual([
          'ok',
          'ProvisionedThroughputExceededException',
          'ok',
          'ProvisionedThroughputExceededException',
        ]);
      } finally {
        kinesis.destroy();
      }
    });
  });

  describe('DynamoDB', () => {
    let dynamo: DynamoDBClient;

    beforeAll(async () => {
      dynamo = new DynamoDBClient(config(server));
      await dynamo.send(
        new CreateTableCommand({
          TableName: 'state',
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'S' },
            { AttributeName: 'openPk', AttributeType: 'S' },
            { AttributeName: 'closeAt', AttributeType: 'N' },
          ],
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          GlobalSecondaryIndexes: [
            {
              IndexName: 'open-windows',
              KeySchema: [
                { AttributeName: 'openPk', KeyType: 'HASH' },
                { AttributeName: 'closeAt', KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'ALL' },
            },
          ],
        }),
      );
      await poll('table ACTIVE', async () => ((await dynamo.send(new DescribeTableCommand({ TableName: 'state' }))).Table?.TableStatus === 'ACTIVE' ? true : undefined));
    });

    afterAll(() => dynamo.destroy());

    it('enforces conditional writes, queries a sparse GSI and counts operations and capacity', async () => {
      server.resetStats();
      const item = (sk: string, closeAt?: number): PutItemCommand =>
        new PutItemCommand({
          TableName: 'state',
          Item: { pk: { S: 'J#job#K#a' }, sk: { S: sk }, ...(closeAt ? { openPk: { S: 'J#job#OPEN' }, closeAt: { N: String(closeAt) } } : {}), payload: { S: 'x'.repeat(1500) } },
          ConditionExpression: 'attribute_not_exists(pk)',
        });
      const first = await dynamo.send(item('W#1', 200));
      expect(first.ConsumedCapacity).toBeUndefined(); // counted by the server, not leaked to callers
      await dynamo.send(item('W#2', 100));
      await dynamo.send(item('W#3'));
      await expect(dynamo.send(item('W#1', 200))).rejects.toBeInstanceOf(ConditionalCheckFailedException);

      const open = await dynamo.send(
        new QueryCommand({
          TableName: 'state',
          IndexName: 'open-windows',
          KeyConditionExpression: 'openPk = :p AND closeAt <= :t',
          ExpressionAttributeValues: { ':p': { S: 'J#job#OPEN' }, ':t': { N: '1000' } },
        }),
      );
      expect(open.Items?.map((i) => i.sk?.S)).toEqual(['W#2', 'W#1']);

      const asked = await dynamo.send(new GetItemCommand({ TableName: 'state', Key: { pk: { S: 'J#job#K#a' }, sk: { S: 'W#1' } }, ReturnConsumedCapacity: 'TOTAL' }));
      expect(asked.ConsumedCapacity?.CapacityUnits).toBe(0.5);

      const stats = server.stats();
      expect(stats.requests.dynamodb).toEqual({ PutItem: 4, Query: 1, GetItem: 1 });
      expect(stats.dynamodb.tables.state?.operations).toEqual({ PutItem: 4, Query: 1, GetItem: 1 });
      expect(stats.dynamodb.writeUnits).toBe(8); // 4 writes of a ~1.6 KB item: 2 WCU each (the failed conditional one too)
      expect(stats.dynamodb.readUnits).toBeGreaterThan(0);
      expect(stats.errors.dynamodb).toEqual({ ConditionalCheckFailedException: 1 });
    });

    it('surfaces an injected throttle as ProvisionedThroughputExceededException', async () => {
      const noRetry = new DynamoDBClient({ ...config(server), maxAttempts: 1 });
      try {
        server.faults.throttleDynamo({ table: 'state', operations: ['GetItem'], times: 1 });
        const get = (): GetItemCommand => new GetItemCommand({ TableName: 'state', Key: { pk: { S: 'J#job#K#a' }, sk: { S: 'W#1' } } });
        await expect(noRetry.send(get())).rejects.toMatchObject({ name: 'ProvisionedThroughputExceededException' });
        await expect(noRetry.send(get())).resolves.toMatchObject({ Item: { sk: { S: 'W#1' } } });
        expect(server.faults.log().at(-1)).toMatchObject({ kind: 'throttleDynamo', target: 'state', operation: 'GetItem' });
      } finally {
        noRetry.destroy();
      }
    });

    it('records the TTL attribute and sweeps expired items', async () => {
      await dynamo.send(new UpdateTimeToLiveCommand({ TableName: 'state', TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true } }));
      const ttl = await dynamo.send(new DescribeTimeToLiveCommand({ TableName: 'state' }));
      expect(ttl.TimeToLiveDescription).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
      await expect(
        dynamo.send(new UpdateTimeToLiveCommand({ TableName: 'state', TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true } })),
      ).rejects.toThrow('TimeToLive is already enabled');

      const now = Math.floor(Date.now() / 1000);
      const put = (sk: string, expiresAt: number): PutItemCommand =>
        new PutItemCommand({ TableName: 'state', Item: { pk: { S: 'J#job#K#ttl' }, sk: { S: sk }, expiresAt: { N: String(expiresAt) } } });
      await dynamo.send(put('expired', now - 10));
      await dynamo.send(put('alive', now + 3600));
      const key = (sk: string): { pk: { S: string }; sk: { S: string } } => ({ pk: { S: 'J#job#K#ttl' }, sk: { S: sk } });
      // The periodic sweeper (every 200 ms here) removes the expired item on its own.
      await poll('expired item swept', async () => ((await dynamo.send(new GetItemCommand({ TableName: 'state', Key: key('expired') }))).Item ? undefined : true));
      expect((await dynamo.send(new GetItemCommand({ TableName: 'state', Key: key('alive') }))).Item).toBeDefined();
      expect(server.stats().dynamodb.ttlDeletes).toBeGreaterThanOrEqual(1);
      expect(server.ttlAttributes()).toEqual({ state: 'expiresAt' });
    });
  });

  describe('S3', () => {
    let s3: S3Client;
    beforeAll(async () => {
      s3 = new S3Client(config(server));
      await s3.send(new CreateBucketCommand({ Bucket: 'riffle-data' }));
    });
    afterAll(() => s3.destroy());

    it('puts, gets, lists and deletes objects with default SDK checksums', async () => {
      await s3.send(new PutObjectCommand({ Bucket: 'riffle-data', Key: 'results/dt=2024-01-01/a.json', Body: '{"a":1}\n', ContentType: 'application/json' }));
      const streamed = Buffer.alloc(200_000, 'z');
      // A stream body makes the SDK send aws-chunked encoding with a CRC32 trailer.
      await s3.send(new PutObjectCommand({ Bucket: 'riffle-data', Key: 'results/dt=2024-01-02/b.bin', Body: Readable.from([streamed]), ContentLength: streamed.length }));
      await s3.send(new PutObjectCommand({ Bucket: 'riffle-data', Key: 'late/c.txt', Body: Buffer.from('late') }));

      const got = await s3.send(new GetObjectCommand({ Bucket: 'riffle-data', Key: 'results/dt=2024-01-01/a.json' }));
      expect(got.ContentType).toBe('application/json');
      expect(await got.Body?.transformToString()).toBe('{"a":1}\n');
      expect((await getBytes(s3, 'riffle-data', 'results/dt=2024-01-02/b.bin')).equals(streamed)).toBe(true);

      const top = await s3.send(new ListObjectsV2Command({ Bucket: 'riffle-data', Delimiter: '/' }));
      expect(top.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['late/', 'results/']);
      expect(await listKeys(s3, 'riffle-data', 'results/')).toEqual(['results/dt=2024-01-01/a.json', 'results/dt=2024-01-02/b.bin']);
      const paged = await s3.send(new ListObjectsV2Command({ Bucket: 'riffle-data', MaxKeys: 2 }));
      expect(paged.IsTruncated).toBe(true);
      const rest = await s3.send(new ListObjectsV2Command({ Bucket: 'riffle-data', ContinuationToken: paged.NextContinuationToken }));
      expect([...(paged.Contents ?? []), ...(rest.Contents ?? [])].map((c) => c.Key)).toEqual(['late/c.txt', 'results/dt=2024-01-01/a.json', 'results/dt=2024-01-02/b.bin']);

      await expect(s3.send(new HeadObjectCommand({ Bucket: 'riffle-data', Key: 'missing' }))).rejects.toMatchObject({ name: 'NotFound' });
      await expect(s3.send(new GetObjectCommand({ Bucket: 'riffle-data', Key: 'missing' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
      await expect(s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'x' }))).rejects.toMatchObject({ name: 'NoSuchBucket' });

      const ranged = await s3.send(new GetObjectCommand({ Bucket: 'riffle-data', Key: 'late/c.txt', Range: 'bytes=1-2' }));
      expect(await ranged.Body?.transformToString()).toBe('at');

      await s3.send(new DeleteObjectCommand({ Bucket: 'riffle-data', Key: 'late/c.txt' }));
      expect(await listKeys(s3, 'riffle-data', 'late/')).toEqual([]);
      const top2 = await s3.send(new ListObjectsV2Command({ Bucket: 'riffle-data', Delimiter: '/' }));
      expect(top2.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['results/']); // no phantom prefix left by the delete
      expect(server.stats().requests.s3).toMatchObject({ PutObject: 3, GetObject: 5, ListObjectsV2: 6, HeadObject: 1, DeleteObject: 1 });
    });

    it('serves virtual-host-style requests (<bucket>.localhost)', async () => {
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: server.port, path: '/results/dt=2024-01-01/a.json', headers: { host: `riffle-data.localhost:${server.port}` } }, (res) => {
            let text = '';
            res.on('data', (c: Buffer) => (text += c.toString()));
            res.on('end', () => resolve(text));
          })
          .on('error', reject);
      });
      expect(body).toBe('{"a":1}\n');
    });

    it('answers unknown services clearly instead of treating them as S3', async () => {
      const lambda = await fetch(`${server.endpoint}/2015-03-31/functions/mapper/invocations`, { method: 'POST', body: '{}' });
      expect(lambda.status).toBe(404);
      expect(await lambda.json()).toMatchObject({ message: expect.stringContaining('no Lambda runtime') as unknown });
      const sqs = await fetch(server.endpoint, { method: 'POST', headers: { 'x-amz-target': 'AmazonSQS.SendMessage', 'content-type': 'application/x-amz-json-1.0' }, body: '{}' });
      expect(sqs.status).toBe(400);
      expect(await sqs.text()).toMatch(/does not emulate X-Amz-Target AmazonSQS.SendMessage/);
    });
  });

  describe('Firehose', () => {
    let firehose: FirehoseClient;
    let s3: S3Client;
    const bucket = 'riffle-output';

    const partitionedStream = (name: string, hints: { IntervalInSeconds: number; SizeInMBs: number }): CreateDeliveryStreamCommand =>
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: name,
        DeliveryStreamType: 'DirectPut',
        ExtendedS3DestinationConfiguration: {
          RoleARN: 'arn:aws:iam::000000000000:role/firehose',
          BucketARN: `arn:aws:s3:::${bucket}`,
          Prefix: `${name}/job=test/dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/`,
          ErrorOutputPrefix: `errors/${name}/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/`,
          BufferingHints: hints,
          CompressionFormat: 'GZIP',
          DynamicPartitioningConfiguration: { Enabled: true },
          ProcessingConfiguration: {
            Enabled: true,
            Processors: [
              {
                Type: 'MetadataExtraction',
                Parameters: [
                  { ParameterName: 'MetadataExtractionQuery', ParameterValue: '{dt: .windowStart[0:10], hour: .windowStart[11:13]}' },
                  { ParameterName: 'JsonParsingEngine', ParameterValue: 'JQ-1.6' },
                ],
              },
            ],
          },
        },
      });

    const put = (stream: string, rows: readonly object[]): PutRecordBatchCommand =>
      new PutRecordBatchCommand({ DeliveryStreamName: stream, Records: rows.map((r) => ({ Data: Buffer.from(`${JSON.stringify(r)}\n`) })) });

    beforeAll(async () => {
      firehose = new FirehoseClient(config(server));
      s3 = new S3Client(config(server));
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    });
    afterAll(() => {
      firehose.destroy();
      s3.destroy();
    });

    it('buffers by interval, partitions with JQ into GZIP objects and writes failed records to the error prefix', async () => {
      await firehose.send(partitionedStream('results', { IntervalInSeconds: 1, SizeInMBs: 64 }));
      const rows = [
        { resultId: 'r1', windowStart: '2024-01-31T22:00:00.000Z', count: 1 },
        { resultId: 'r2', windowStart: '2024-01-31T23:05:00.000Z', count: 2 },
        { resultId: 'r3', windowStart: '2024-01-31T22:05:00.000Z', count: 3 },
        { resultId: 'bad', count: 4 },
      ];
      const started = Date.now();
      const out = await firehose.send(put('results', rows));
      expect(out.FailedPutCount).toBe(0);
      const early = await listKeys(s3, bucket, 'results/');
      if (Date.now() - started < 800) expect(early).toEqual([]); // still buffered (unless this machine is very slow)

      const keys = await poll('two partition objects', async () => {
        const k = await listKeys(s3, bucket, 'results/');
        return k.length === 2 ? k : undefined;
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      const [k22, k23] = keys as [string, string];
      expect(k22).toMatch(/^results\/job=test\/dt=2024-01-31\/hour=22\/results-1-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9a-f-]{36}\.gz$/);
      expect(k23).toMatch(/^results\/job=test\/dt=2024-01-31\/hour=23\//);
      const lines = gunzipSync(await getBytes(s3, bucket, k22)).toString().trim().split('\n');
      expect(lines.map((l) => JSON.parse(l) as { resultId: string })).toEqual([rows[0], rows[2]]);

      const errorKeys = await poll('error object', async () => {
        const k = await listKeys(s3, bucket, 'errors/results/');
        return k.length > 0 ? k : undefined;
      });
      const today = new Date().toISOString().slice(0, 10).replace(/-/g, '/');
      expect(errorKeys[0]).toMatch(new RegExp(`^errors/results/partitioning-failed/${today}/results-1-.*\\.gz$`));
      const [failed] = gunzipSync(await getBytes(s3, bucket, errorKeys[0] ?? ''))
        .toString()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { errorCode: string; rawData: string });
      expect(failed?.errorCode).toBe('DynamicPartitioning.MetadataExtractionFailed');
      expect(JSON.parse(Buffer.from(failed?.rawData ?? '', 'base64').toString())).toEqual(rows[3]);
    });

    it('flushes a partition when it reaches SizeInMBs, long before the interval', async () => {
      await firehose.send(partitionedStream('sized', { IntervalInSeconds: 900, SizeInMBs: 1 }));
      const padding = 'p'.repeat(100_000);
      const rows = Array.from({ length: 11 }, (_, i) => ({ i, windowStart: '2024-02-01T00:00:00.000Z', padding }));
      await firehose.send(put('sized', rows.slice(0, 5)));
      await firehose.send(put('sized', rows.slice(5)));
      const [key] = await poll('size-triggered object', async () => {
        const k = await listKeys(s3, bucket, 'sized/');
        return k.length > 0 ? k : undefined;
      });
      const lines = gunzipSync(await getBytes(s3, bucket, key ?? '')).toString().trim().split('\n');
      expect(lines).toHaveLength(11);
    });

    it('reports injected record failures in FailedPutCount', async () => {
      server.faults.failFirehoseRecords({ stream: 'results', everyNth: 2, times: 1 });
      const out = await firehose.send(put('results', Array.from({ length: 5 }, (_, i) => ({ i, windowStart: '2024-01-31T22:00:00.000Z' }))));
      expect(out.FailedPutCount).toBe(2);
      expect(out.RequestResponses?.map((r) => r.ErrorCode ?? 'ok')).toEqual(['ok', 'ServiceUnavailableException', 'ok', 'ServiceUnavailableException', 'ok']);
      expect(server.stats().firehose.streams.results?.recordsFailedByFault).toBe(2);
    });

    it('rejects an unsupported JQ query at CreateDeliveryStream', async () => {
      const bad = partitionedStream('bad-jq', { IntervalInSeconds: 60, SizeInMBs: 64 });
      const processors = bad.input.ExtendedS3DestinationConfiguration?.ProcessingConfiguration?.Processors ?? [];
      const [first] = processors;
      if (first?.Parameters?.[0]) first.Parameters[0].ParameterValue = '{dt: .ts | strftime("%Y-%m-%d"), hour: .h}';
      await expect(firehose.send(bad)).rejects.toMatchObject({ name: 'InvalidArgumentException', message: expect.stringContaining('unsupported JQ expression') as unknown });
    });
  });
});

describe('local cloud stop() and restart', () => {
  it('flushes Firehose buffers on stop, locks the dataDir and serves persisted state after a restart', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'riffle-local-restart-'));
    try {
      await withServer(dataDir, async (server) => {
        const s3 = new S3Client(config(server));
        const firehose = new FirehoseClient(config(server));
        const kinesis = new KinesisClient({ ...config(server), requestHandler: new NodeHttpHandler() });
        try {
          await s3.send(new CreateBucketCommand({ Bucket: 'kept' }));
          await kinesis.send(new CreateStreamCommand({ StreamName: 'kept-stream', ShardCount: 1 }));
          await firehose.send(
            new CreateDeliveryStreamCommand({
              DeliveryStreamName: 'slow',
              ExtendedS3DestinationConfiguration: {
                RoleARN: 'arn:aws:iam::000000000000:role/firehose',
                BucketARN: 'arn:aws:s3:::kept',
                Prefix: 'late/',
                BufferingHints: { IntervalInSeconds: 900, SizeInMBs: 128 },
              },
            }),
          );
          await firehose.send(new PutRecordBatchCommand({ DeliveryStreamName: 'slow', Records: [{ Data: Buffer.from('one\n') }, { Data: Buffer.from('two\n') }] }));
          expect(await listKeys(s3, 'kept')).toEqual([]);
          // LevelDB allows one opener: a second server on the same dataDir is refused up front.
          await expect(startLocalServer({ port: 0, dataDir, logger: { warn: () => undefined } })).rejects.toThrow(/is in use/);
        } finally {
          s3.destroy();
          firehose.destroy();
          kinesis.destroy();
        }
      });

      // After stop(): the flushed object is in the store under <dataDir>/s3, below AWS's default yyyy/MM/dd/HH/.
      const [file] = await filesUnder(path.join(dataDir, 's3', '_buckets', 'kept', 'data'));
      expect(await readFile(file ?? '', 'utf8')).toBe('one\ntwo\n');

      await withServer(dataDir, async (server) => {
        const s3 = new S3Client(config(server));
        const firehose = new FirehoseClient(config(server));
        const kinesis = new KinesisClient({ ...config(server), requestHandler: new NodeHttpHandler() });
        try {
          const keys = await listKeys(s3, 'kept');
          expect(keys).toHaveLength(1);
          expect(keys[0]).toMatch(/^late\/\d{4}\/\d\d\/\d\d\/\d\d\/slow-1-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9a-f-]{36}$/);
          expect((await getBytes(s3, 'kept', keys[0] ?? '')).toString()).toBe('one\ntwo\n');
          expect((await kinesis.send(new ListStreamsCommand({}))).StreamNames).toEqual(['kept-stream']);
          expect(server.firehose.listDeliveryStreams()).toEqual(['slow']);
          const again = await firehose.send(new PutRecordBatchCommand({ DeliveryStreamName: 'slow', Records: [{ Data: Buffer.from('three\n') }] }));
          expect(again.FailedPutCount).toBe(0);
        } finally {
          s3.destroy();
          firehose.destroy();
          kinesis.destroy();
        }
      });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('routes to plug-in services and stops them before flushing Firehose', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'riffle-local-plugin-'));
    const events: string[] = [];
    try {
      await withServer(dataDir, async (server) => {
        server.use({
          name: 'lambda',
          matches: (req) => (req.url ?? '').startsWith('/2015-03-31/functions/'),
          operation: (req) => ((req.url ?? '').endsWith('/invocations') ? 'Invoke' : 'Other'),
          handle: async (req, res, body) => {
            events.push(`invoke ${req.url ?? ''}`);
            res.writeHead(200, { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' });
            res.end(JSON.stringify({ echo: JSON.parse(body.toString()) as unknown }));
          },
          stop: async () => {
            // Like an in-flight invocation finishing during shutdown: its records must still be delivered.
            events.push(`plug-in stop with ${server.firehose.bufferedRecords()} record(s) buffered`);
            server.firehose.putRecords('during-stop', [Buffer.from('written by the plug-in while stopping\n')]);
          },
        });
        await server.s3.createBucket('out-bucket');
        server.firehose.createDeliveryStream({
          DeliveryStreamName: 'during-stop',
          ExtendedS3DestinationConfiguration: { BucketARN: 'arn:aws:s3:::out-bucket', Prefix: 'x/!{timestamp:yyyy}/', ErrorOutputPrefix: 'e/', BufferingHints: { IntervalInSeconds: 900 } },
        });
        server.firehose.putRecords('during-stop', [Buffer.from('buffered before stop\n')]);

        const lambda = new LambdaClient(config(server));
        try {
          const out = await lambda.send(new InvokeCommand({ FunctionName: 'mapper', Payload: Buffer.from(JSON.stringify({ records: 3 })) }));
          expect(JSON.parse(Buffer.from(out.Payload ?? []).toString())).toEqual({ echo: { records: 3 } });
        } finally {
          lambda.destroy();
        }
        expect(server.stats().requests.lambda).toEqual({ Invoke: 1 });
        const health = (await fetch(`${server.endpoint}/_riffle/health`).then((r) => r.json())) as { services: string[] };
        expect(health.services).toContain('lambda');
      });
      expect(events).toEqual(['invoke /2015-03-31/functions/mapper/invocations', 'plug-in stop with 1 record(s) buffered']);
      const [file, ...others] = await filesUnder(path.join(dataDir, 's3', '_buckets', 'out-bucket', 'data'));
      expect(others).toEqual([]);
      expect(await readFile(file ?? '', 'utf8')).toBe('buffered before stop\nwritten by the plug-in while stopping\n');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('keeps nothing without a dataDir and refuses a port in use', async () => {
    let s3Dir = '';
    await withServer(undefined, async (server) => {
      s3Dir = server.s3Dir;
      await server.s3.createBucket('temp-bucket');
      await expect(startLocalServer({ port: server.port, logger: { warn: () => undefined } })).rejects.toThrow(/already in use/);
    });
    await expect(readdir(s3Dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
