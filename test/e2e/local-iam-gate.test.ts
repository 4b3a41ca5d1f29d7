// The local endpoint's IAM gate with the real AWS SDK v3 clients: calls signed with a function's
// credentials are allowed or refused by its role's policies, with AWS's AccessDenied error in
// each service's protocol (Kinesis / Firehose / DynamoDB JSON, S3 XML, Lambda REST), explicit
// denies win, the administrator's keys are never checked, `enforcing = false` lets everything
// through, and a client signing for another region sees an empty region.
import { CreateTableCommand, DeleteItemCommand, DescribeTableCommand, DynamoDBClient, ListTablesCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { DescribeDeliveryStreamCommand, FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { CreateStreamCommand, DescribeStreamSummaryCommand, GetRecordsCommand, GetShardIteratorCommand, KinesisClient, ListStreamsCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { functionCredentials } from '../../local/iam/credentials';
import { LambdaRuntime } from '../../local/lambda/runtime';
import { lambdaService } from '../../local/lambda/service';
import { parsePolicy } from '../../local/iam/policy';
import { startLocalServer, type LocalServer } from '../../local/server';

jest.setTimeout(60_000);

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/Riffle-MapperRole-ABC`;
const FUNCTION = 'Riffle-Mapper-XYZ';
const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${FUNCTION}`;
const SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/Riffle-MapperRole-ABC/${FUNCTION}`;
const admin = { accessKeyId: 'test', secretAccessKey: 'test' };
const fn = functionCredentials(FUNCTION_ARN);
const asFunction = { accessKeyId: fn.AWS_ACCESS_KEY_ID, secretAccessKey: fn.AWS_SECRET_ACCESS_KEY, sessionToken: fn.AWS_SESSION_TOKEN };

let server: LocalServer;
const warnings: string[] = [];

function clients(credentials: typeof admin, region = REGION) {
  const common = { endpoint: server.endpoint, region, credentials, requestHandler: new NodeHttpHandler(), maxAttempts: 1 };
  return {
    kinesis: new KinesisClient(common),
    dynamodb: new DynamoDBClient(common),
    firehose: new FirehoseClient(common),
    s3: new S3Client({ ...common, forcePathStyle: true }),
    lambda: new LambdaClient(common),
  };
}

async function rejection(p: Promise<unknown>): Promise<{ name: string; message: string; status: number | undefined }> {
  try {
    await p;
  } catch (e) {
    const err = e as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to be refused');
}

function denied(action: string, resource: string): string {
  return `User: ${SESSION} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`;
}

beforeAll(async () => {
  server = await startLocalServer({ port: 0, region: REGION, accountId: ACCOUNT, logger: { warn: (m) => warnings.push(m) } });
  const runtime = new LambdaRuntime({ region: REGION, accountId: ACCOUNT, log: 'silent' });
  server.use({ ...lambdaService(runtime), stop: () => runtime.stop() });
  const root = clients(admin);
  for (const name of ['shuffle', 'input']) await root.kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  await root.dynamodb.send(
    new CreateTableCommand({
      TableName: 'state',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'openPk', AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [{ IndexName: 'open-windows', KeySchema: [{ AttributeName: 'openPk', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
    }),
  );
  server.firehose.createDeliveryStream({ DeliveryStreamName: 'late', ExtendedS3DestinationConfiguration: { BucketARN: 'arn:aws:s3:::out', BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 1 } } });
  await root.s3.send(new CreateBucketCommand({ Bucket: 'out' }));
  for (const c of Object.values(root)) c.destroy();

  const table = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/state`;
  const registry = server.iam.registry;
  registry.defineRole(ROLE, [], ['arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole']);
  registry.attachPolicy(
    'Riffle-MapperRole-ABC',
    parsePolicy('MapperRoleDefaultPolicy', {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['kinesis:ListShards', 'kinesis:PutRecord*'], Resource: `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/shuffle` },
        { Effect: 'Allow', Action: ['dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:DeleteItem'], Resource: table },
        { Effect: 'Allow', Action: 'firehose:PutRecordBatch', Resource: `arn:aws:firehose:${REGION}:${ACCOUNT}:deliverystream/late` },
        { Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::out/aws/lambda/*' },
      ],
    }),
  );
  registry.attachPolicy('Riffle-MapperRole-ABC', parsePolicy('Guard', { Version: '2012-10-17', Statement: [{ Sid: 'KeepState', Effect: 'Deny', Action: 'dynamodb:DeleteItem', Resource: '*' }] }));
  registry.defineTable('state', 'pk');
  registry.registerFunction(FUNCTION_ARN, FUNCTION, ROLE);
});

afterAll(async () => {
  await server.stop();
});

test('Kinesis: allowed on the granted stream, AccessDeniedException with AWS message elsewhere', async () => {
  const { kinesis } = clients(asFunction);
  const ok = await kinesis.send(new PutRecordsCommand({ StreamName: 'shuffle', Records: [{ PartitionKey: 'k', Data: Buffer.from('x') }] }));
  expect(ok.FailedRecordCount).toBe(0);
  const err = await rejection(kinesis.send(new PutRecordsCommand({ StreamName: 'input', Records: [{ PartitionKey: 'k', Data: Buffer.from('x') }] })));
  expect(err).toEqual({ name: 'AccessDeniedException', message: denied('kinesis:PutRecords', `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/input`), status: 400 });
  // A large batch is named by the fast top-level scan rather than a full parse: still refused.
  const big = Array.from({ length: 200 }, (_, i) => ({ PartitionKey: `k${i}`, Data: Buffer.alloc(600, i) }));
  expect((await rejection(kinesis.send(new PutRecordsCommand({ StreamName: 'input', Records: big })))).name).toBe('AccessDeniedException');
  expect((await kinesis.send(new PutRecordsCommand({ StreamName: 'shuffle', Records: big }))).FailedRecordCount).toBe(0);
  // GetRecords names no stream: it is checked on the stream its shard iterator points into.
  const root = clients(admin);
  const iterator = await root.kinesis.send(new GetShardIteratorCommand({ StreamName: 'input', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }));
  const read = await rejection(kinesis.send(new GetRecordsCommand({ ShardIterator: iterator.ShardIterator })));
  expect(read).toEqual({ name: 'AccessDeniedException', message: denied('kinesis:GetRecords', `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/input`), status: 400 });
  for (const client of [kinesis, ...Object.values(root)]) client.destroy();
});

test('DynamoDB: a grant on the table does not cover its index; an explicit deny wins over the allow', async () => {
  const { dynamodb } = clients(asFunction);
  await dynamodb.send(new PutItemCommand({ TableName: 'state', Item: { pk: { S: 'a' }, openPk: { S: 'open' } } }));
  const rows = await dynamodb.send(new QueryCommand({ TableName: 'state', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'a' } } }));
  expect(rows.Count).toBe(1);
  const index = await rejection(
    dynamodb.send(new QueryCommand({ TableName: 'state', IndexName: 'open-windows', KeyConditionExpression: 'openPk = :o', ExpressionAttributeValues: { ':o': { S: 'open' } } })),
  );
  expect(index).toEqual({ name: 'AccessDeniedException', message: denied('dynamodb:Query', `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/state/index/open-windows`), status: 400 });
  const del = await rejection(dynamodb.send(new DeleteItemCommand({ TableName: 'state', Key: { pk: { S: 'a' } } })));
  expect(del.name).toBe('AccessDeniedException');
  expect(del.message).toBe(`User: ${SESSION} is not authorized to perform: dynamodb:DeleteItem on resource: arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/state with an explicit deny in an identity-based policy`);
  expect((await rejection(dynamodb.send(new DescribeTableCommand({ TableName: 'state' })))).name).toBe('AccessDeniedException');
  dynamodb.destroy();
});

test('Firehose, S3 (XML, 403) and Lambda (REST, 403) refusals', async () => {
  const c = clients(asFunction);
  const batch = await c.firehose.send(new PutRecordBatchCommand({ DeliveryStreamName: 'late', Records: [{ Data: Buffer.from('{}\n') }] }));
  expect(batch.FailedPutCount).toBe(0);
  const fh = await rejection(c.firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'late' })));
  expect(fh).toEqual({ name: 'AccessDeniedException', message: denied('firehose:DescribeDeliveryStream', `arn:aws:firehose:${REGION}:${ACCOUNT}:deliverystream/late`), status: 400 });

  await c.s3.send(new PutObjectCommand({ Bucket: 'out', Key: 'aws/lambda/x.json', Body: '{}' }));
  const s3 = await rejection(c.s3.send(new PutObjectCommand({ Bucket: 'out', Key: 'results/x.json', Body: '{}' })));
  expect(s3).toEqual({ name: 'AccessDenied', message: denied('s3:PutObject', '"arn:aws:s3:::out/results/x.json"'), status: 403 });

  const invoke = await rejection(c.lambda.send(new InvokeCommand({ FunctionName: 'Riffle-Closer', Payload: Buffer.from('{}') })));
  expect(invoke).toEqual({ name: 'AccessDeniedException', message: denied('lambda:InvokeFunction', `arn:aws:lambda:${REGION}:${ACCOUNT}:function:Riffle-Closer`), status: 403 });
  for (const client of Object.values(c)) client.destroy();
});

test('denials are counted and logged once per call site; the administrator is never checked; enforcing=false lets calls through', async () => {
  const stats = server.iam.stats();
  expect(stats.denied).toBeGreaterThanOrEqual(8);
  expect(stats.checked).toBeGreaterThan(stats.denied);
  const line = warnings.find((w) => w.includes('kinesis:PutRecords'));
  expect(line).toMatch(/IAM denied kinesis:PutRecords on arn:aws:kinesis:us-east-1:000000000000:stream\/input to function Riffle-Mapper-XYZ \(role Riffle-MapperRole-ABC\).*--no-iam/);
  expect(warnings.filter((w) => w.includes('kinesis:PutRecords on arn:aws:kinesis:us-east-1:000000000000:stream/input'))).toHaveLength(1);
  expect(server.iam.denials().at(-1)).toMatchObject({ functionName: FUNCTION, roleArn: ROLE });

  const root = clients(admin);
  expect((await root.kinesis.send(new PutRecordsCommand({ StreamName: 'input', Records: [{ PartitionKey: 'k', Data: Buffer.from('x') }] }))).FailedRecordCount).toBe(0);
  expect(server.iam.stats().checked).toBe(stats.checked);

  const c = clients(asFunction);
  server.iam.registry.enforcing = false;
  try {
    expect((await c.kinesis.send(new PutRecordsCommand({ StreamName: 'input', Records: [{ PartitionKey: 'k', Data: Buffer.from('x') }] }))).FailedRecordCount).toBe(0);
  } finally {
    server.iam.registry.enforcing = true;
  }
  expect((await rejection(c.kinesis.send(new PutRecordsCommand({ StreamName: 'input', Records: [{ PartitionKey: 'k', Data: Buffer.from('x') }] })))).name).toBe('AccessDeniedException');
  for (const client of [...Object.values(root), ...Object.values(c)]) client.destroy();
});

test("a client for another region sees none of this region's resources", async () => {
  const other = clients(admin, 'eu-west-1');
  expect((await other.kinesis.send(new ListStreamsCommand({}))).StreamNames).toEqual([]);
  const stream = await rejection(other.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'input' })));
  expect(stream.name).toBe('ResourceNotFoundException');
  expect(stream.message).toMatch(/^Stream input under account 000000000000 not found\./);
  expect((await other.dynamodb.send(new ListTablesCommand({}))).TableNames).toEqual([]);
  expect((await rejection(other.dynamodb.send(new DescribeTableCommand({ TableName: 'state' })))).name).toBe('ResourceNotFoundException');
  expect((await rejection(other.firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: 'late' })))).name).toBe('ResourceNotFoundException');
  const creating = await rejection(other.kinesis.send(new CreateStreamCommand({ StreamName: 'elsewhere', ShardCount: 1 })));
  expect(creating.message).toMatch(/runs one region, us-east-1/);
  // The home region still sees them.
  const home = clients(admin);
  expect((await home.kinesis.send(new ListStreamsCommand({}))).StreamNames).toEqual(['input', 'shuffle']);
  expect((await home.dynamodb.send(new DescribeTableCommand({ TableName: 'state' }))).Table?.TableName).toBe('state');
  for (const client of [...Object.values(other), ...Object.values(home)]) client.destroy();
});
