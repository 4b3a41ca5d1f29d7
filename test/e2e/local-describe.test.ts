// Describe calls of the embedded cloud answer what was configured, read with the real AWS SDK v3
// clients: Kinesis encryption, stream mode and tags with AWS's character set (`:` included,
// `aws:` reserved), kept across a restart on the same data directory; DynamoDB SSEDescription
// and tags; Firehose encryption; Lambda architectures, runtime and tags.
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ListTagsOfResourceCommand, TagResourceCommand, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateDeliveryStreamCommand, DescribeDeliveryStreamCommand, FirehoseClient } from '@aws-sdk/client-firehose';
import {
  AddTagsToStreamCommand,
  CreateStreamCommand,
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListTagsForStreamCommand,
  RemoveTagsFromStreamCommand,
  StartStreamEncryptionCommand,
  StopStreamEncryptionCommand,
} from '@aws-sdk/client-kinesis';
import { GetFunctionCommand, GetFunctionConfigurationCommand, LambdaClient, ListTagsCommand } from '@aws-sdk/client-lambda';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { decodeTag, encodeTag } from '../../local/services/kinesis-settings';
import { LambdaRuntime } from '../../local/lambda/runtime';
import { lambdaService } from '../../local/lambda/service';
import { startLocalServer, type LocalServer } from '../../local/server';

jest.setTimeout(60_000);

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
let dataDir: string;

function clients(server: LocalServer) {
  const common = { endpoint: server.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, requestHandler: new NodeHttpHandler(), maxAttempts: 1 };
  return { kinesis: new KinesisClient(common), dynamodb: new DynamoDBClient(common), firehose: new FirehoseClient(common), lambda: new LambdaClient(common) };
}

async function withServer(fn: (server: LocalServer, c: ReturnType<typeof clients>) => Promise<void>): Promise<void> {
  const server = await startLocalServer({ port: 0, region: REGION, accountId: ACCOUNT, dataDir, ttlSweepIntervalMs: 0, logger: { warn: () => undefined } });
  const c = clients(server);
  try {
    await fn(server, c);
  } finally {
    for (const client of Object.values(c)) client.destroy();
    await server.stop();
  }
}

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'riffle-describe-'));
});

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

test('tag escaping round-trips any text AWS allows', () => {
  for (const text of ['riffle:source', 'a@b', '@3A', 'plain', 'dt=2026/06/01 12:00', 'ünïcødé:東京', '']) expect(decodeTag(encodeTag(text))).toBe(text);
  expect(encodeTag('riffle:source')).toBe('riffle@3Asource');
});

test('Kinesis: encryption, stream mode and tags as configured, persisted with the stream', async () => {
  await withServer(async (_server, { kinesis }) => {
    await kinesis.send(new CreateStreamCommand({ StreamName: 'plain', ShardCount: 1 }));
    await kinesis.send(new CreateStreamCommand({ StreamName: 'encrypted', StreamModeDetails: { StreamMode: 'ON_DEMAND' }, Tags: { 'riffle:source': 'sensor-averages' } }));
    await kinesis.send(new StartStreamEncryptionCommand({ StreamName: 'encrypted', EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' }));
    await kinesis.send(new AddTagsToStreamCommand({ StreamName: 'encrypted', Tags: { team: 'data@riffle', 'cost:center': '42' } }));

    const plain = (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'plain' }))).StreamDescriptionSummary;
    expect(plain).toMatchObject({ EncryptionType: 'NONE', StreamModeDetails: { StreamMode: 'PROVISIONED' }, OpenShardCount: 1 });
    expect(plain?.KeyId).toBeUndefined();
    const summary = (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'encrypted' }))).StreamDescriptionSummary;
    // ON_DEMAND without a shard count starts with 4 shards, as on AWS.
    expect(summary).toMatchObject({ EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis', StreamModeDetails: { StreamMode: 'ON_DEMAND' }, OpenShardCount: 4 });
    expect((await kinesis.send(new DescribeStreamCommand({ StreamName: 'encrypted' }))).StreamDescription).toMatchObject({ EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' });
    const tags = await kinesis.send(new ListTagsForStreamCommand({ StreamName: 'encrypted' }));
    expect(tags.Tags).toEqual([
      { Key: 'cost:center', Value: '42' },
      { Key: 'riffle:source', Value: 'sensor-averages' },
      { Key: 'team', Value: 'data@riffle' },
    ]);
    const page = await kinesis.send(new ListTagsForStreamCommand({ StreamName: 'encrypted', Limit: 1, ExclusiveStartTagKey: 'cost:center' }));
    expect(page).toMatchObject({ Tags: [{ Key: 'riffle:source', Value: 'sensor-averages' }], HasMoreTags: true });

    await expect(kinesis.send(new AddTagsToStreamCommand({ StreamName: 'encrypted', Tags: { 'aws:riffle:encryption': 'NONE' } }))).rejects.toThrow(/reserved/);
    await expect(kinesis.send(new AddTagsToStreamCommand({ StreamName: 'encrypted', Tags: { 'bad#key': 'x' } }))).rejects.toMatchObject({ name: 'InvalidArgumentException' });
    await expect(kinesis.send(new ListTagsForStreamCommand({ StreamName: 'missing' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await kinesis.send(new RemoveTagsFromStreamCommand({ StreamName: 'encrypted', TagKeys: ['team'] }));
  });
  // A new server on the same data directory reads it all back; encryption can be stopped.
  await withServer(async (_server, { kinesis }) => {
    expect((await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'encrypted' }))).StreamDescriptionSummary).toMatchObject({ EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' });
    expect((await kinesis.send(new ListTagsForStreamCommand({ StreamName: 'encrypted' }))).Tags?.map((t) => t.Key)).toEqual(['cost:center', 'riffle:source']);
    await kinesis.send(new StopStreamEncryptionCommand({ StreamName: 'encrypted', EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' }));
    expect((await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'encrypted' }))).StreamDescriptionSummary?.EncryptionType).toBe('NONE');
  });
});

test('DynamoDB: SSEDescription and tags as configured', async () => {
  await withServer(async (_server, { dynamodb }) => {
    const keys = { AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' as const }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' as const }], BillingMode: 'PAY_PER_REQUEST' as const };
    const created = await dynamodb.send(new CreateTableCommand({ TableName: 'kms', ...keys, SSESpecification: { Enabled: true }, Tags: [{ Key: 'riffle:source', Value: 'sensor-averages' }] }));
    expect(created.TableDescription?.SSEDescription).toMatchObject({ Status: 'ENABLED', SSEType: 'KMS' });
    await dynamodb.send(new CreateTableCommand({ TableName: 'owned', ...keys }));

    const kms = (await dynamodb.send(new DescribeTableCommand({ TableName: 'kms' }))).Table;
    expect(kms?.SSEDescription).toEqual({ Status: 'ENABLED', SSEType: 'KMS', KMSMasterKeyArn: expect.stringMatching(/^arn:aws:kms:eu-west-1:123456789012:key\/[0-9a-f-]{36}$/) });
    // An AWS owned key: DynamoDB reports no SSEDescription.
    expect((await dynamodb.send(new DescribeTableCommand({ TableName: 'owned' }))).Table?.SSEDescription).toBeUndefined();

    const arn = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/kms`;
    expect((await dynamodb.send(new ListTagsOfResourceCommand({ ResourceArn: arn }))).Tags).toEqual([{ Key: 'riffle:source', Value: 'sensor-averages' }]);
    await expect(dynamodb.send(new TagResourceCommand({ ResourceArn: arn, Tags: [{ Key: 'aws:x', Value: 'y' }] }))).rejects.toMatchObject({ name: 'ValidationException' });

    // UpdateTable switches to a customer managed key; an SSE-only update is answered too.
    const keyArn = `arn:aws:kms:${REGION}:${ACCOUNT}:key/11111111-2222-4333-8444-555555555555`;
    const updated = await dynamodb.send(new UpdateTableCommand({ TableName: 'owned', SSESpecification: { Enabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn } }));
    expect(updated.TableDescription).toMatchObject({ TableName: 'owned', SSEDescription: { Status: 'ENABLED', KMSMasterKeyArn: keyArn } });
    expect((await dynamodb.send(new DescribeTableCommand({ TableName: 'owned' }))).Table?.SSEDescription).toEqual({ Status: 'ENABLED', SSEType: 'KMS', KMSMasterKeyArn: keyArn });
  });
});

test('Firehose: encryption as configured', async () => {
  await withServer(async (_server, { firehose }) => {
    const destination = { BucketARN: 'arn:aws:s3:::out', RoleARN: `arn:aws:iam::${ACCOUNT}:role/firehose` };
    await firehose.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: 'owned-key', ExtendedS3DestinationConfiguration: destination, DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' } }));
    await firehose.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: 'clear', ExtendedS3DestinationConfiguration: destination }));
    const described = async (name: string) => (await firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name }))).DeliveryStreamDescription?.DeliveryStreamEncryptionConfiguration;
    expect(await described('owned-key')).toEqual({ KeyType: 'AWS_OWNED_CMK', Status: 'ENABLED' });
    expect(await described('clear')).toEqual({ Status: 'DISABLED' });
  });
});

test('Lambda: architectures, runtime and tags as registered', async () => {
  await withServer(async (server, { lambda }) => {
    const runtime = new LambdaRuntime({ region: REGION, accountId: ACCOUNT, log: 'silent' });
    server.use({ ...lambdaService(runtime), stop: () => runtime.stop() });
    runtime.register({ name: 'mapper', assetDir: dataDir, handler: 'index.handler', runtime: 'nodejs22.x', architectures: ['arm64'], tags: { 'riffle:source': 'sensor-averages' } });
    runtime.register({ name: 'plain', assetDir: dataDir, handler: 'index.handler' });
    const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'mapper' }));
    expect(config).toMatchObject({ Architectures: ['arm64'], Runtime: 'nodejs22.x' });
    const fn = await lambda.send(new GetFunctionCommand({ FunctionName: 'mapper' }));
    expect(fn.Tags).toEqual({ 'riffle:source': 'sensor-averages' });
    expect(fn.Configuration?.Architectures).toEqual(['arm64']);
    expect((await lambda.send(new ListTagsCommand({ Resource: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:mapper` }))).Tags).toEqual({ 'riffle:source': 'sensor-averages' });
    expect((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'plain' }))).Architectures).toEqual(['x86_64']);
  });
});
