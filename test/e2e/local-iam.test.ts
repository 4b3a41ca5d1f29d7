// IAM on the embedded cloud with the stack `cdk synth` produces (sensor-averages): the
// unmodified stack runs clean with IAM enforced and its describe calls answer what the template
// configured; the same stack with one grant removed fails locally the way it would on AWS —
// the closer without firehose:PutRecordBatch fails its invocation with AWS's AccessDenied, the
// mapper without kinesis:PutRecords fails its batches into the mapping's on-failure destination.
import { DescribeTableCommand, ListTagsOfResourceCommand } from '@aws-sdk/client-dynamodb';
import { DescribeDeliveryStreamCommand } from '@aws-sdk/client-firehose';
import { DescribeStreamSummaryCommand, KinesisClient, ListTagsForStreamCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { GetFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { outputKey, stackName } from '../../infra/outputs';
import { startLocalCloud, type LocalCloud } from '../../local/cloud';
import { synth } from '../../scripts/lib/synth';
import { sensorEvents } from '../support/factories';
import { STATE_PORT_SAMPLES } from '../support/state-port-samples';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { FirehoseClient } from '@aws-sdk/client-firehose';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import type { Clients } from '../../functions/commons/clients';
import { outputPort } from '../../functions/commons/delivery';
import { shufflePort } from '../../functions/commons/shuffle';
import { StateStore } from '../../functions/commons/state-store';
import { FUNCTION_ROLES, type FunctionRole } from '../../functions/contract';
import { ROLE_STATE_METHODS, roleOutputs, roleStateActions, STATE_PORT_CALLS, type StateCall } from '../../functions/contract/permissions';
import { OUTPUT_KINDS } from '../../infra/constructs/delivery';
import { functionCredentials } from '../../local/iam/credentials';

jest.setTimeout(300_000);

const JOB = 'sensor-averages';
const STACK = stackName(JOB);
const START = Math.floor((Date.now() - 3 * 3_600_000) / 300_000) * 300_000;
const EVENTS = sensorEvents(200, { sensors: 10, startMs: START, spanMs: 20 * 60_000, maxDisorderMs: 10_000, seed: 7 });

type Json = Record<string, unknown>;
let assembly: string;
const temp: string[] = [];

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  temp.push(dir);
  return dir;
}

beforeAll(async () => {
  assembly = tempDir('riffle-iam-cdk-out-');
  await synth({ outdir: assembly, jobs: [JOB] });
});

afterAll(() => {
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

/** A copy of the assembly whose template `edit` changed (code assets are linked, not copied). */
function variant(edit: (resources: Record<string, Json>) => void): string {
  const dir = tempDir('riffle-iam-variant-');
  for (const entry of readdirSync(assembly)) {
    if (entry.startsWith('asset.')) symlinkSync(path.join(assembly, entry), path.join(dir, entry));
    else cpSync(path.join(assembly, entry), path.join(dir, entry), { recursive: true });
  }
  const file = path.join(dir, `${STACK}.template.json`);
  const template = JSON.parse(readFileSync(file, 'utf8')) as { Resources: Record<string, Json> };
  edit(template.Resources);
  writeFileSync(file, JSON.stringify(template));
  return dir;
}

/** Test speed: mappings invoke at once and retry once (the failure, not the retry budget, is under test). */
function quickMappings(resources: Record<string, Json>): void {
  for (const r of Object.values(resources)) {
    if (r['Type'] !== 'AWS::Lambda::EventSourceMapping') continue;
    (r['Properties'] as Json)['MaximumRetryAttempts'] = 1;
    (r['Properties'] as Json)['MaximumBatchingWindowInSeconds'] = 0;
  }
}

/** The statements of the policy attached to the execution role of `fn` (Mapper, Reducer, Closer). */
function roleStatements(resources: Record<string, Json>, fn: string): Json[] {
  const role = Object.entries(resources).find(([, r]) => r['Type'] === 'AWS::IAM::Role' && (r['Properties'] as Json)['Description'] === `Execution role of ${fn}`)?.[0];
  const policy = Object.values(resources).find(
    (r) => r['Type'] === 'AWS::IAM::Policy' && ((r['Properties'] as Json)['Roles'] as Json[]).some((ref) => ref['Ref'] === role),
  );
  if (!role || !policy) throw new Error(`no policy for the ${fn} role in the template`);
  return ((policy['Properties'] as Json)['PolicyDocument'] as Json)['Statement'] as Json[];
}

function actionsOf(statement: Json): string[] {
  const action = statement['Action'];
  return Array.isArray(action) ? (action as string[]) : [action as string];
}

async function withCloud(dir: string, fn: (cloud: LocalCloud, name: (key: Parameters<typeof outputKey>[1]) => string, warnings: string[]) => Promise<void>, esm = {}): Promise<void> {
  const warnings: string[] = [];
  const cloud = await startLocalCloud({
    port: 0,
    dataDir: tempDir('riffle-iam-'),
    assembly: dir,
    timeScale: 30,
    esm: { retryDelayMs: () => 20, ...esm },
    log: () => undefined,
    warn: (l) => warnings.push(l),
    functionLogs: 'silent',
  });
  const outputs = cloud.outputs[STACK] ?? {};
  try {
    await fn(
      cloud,
      (key) => {
        const value = outputs[outputKey(JOB, key)];
        if (!value) throw new Error(`no output ${outputKey(JOB, key)}`);
        return value;
      },
      warnings,
    );
  } finally {
    await cloud.stop();
  }
}

async function produce(cloud: LocalCloud, stream: string): Promise<void> {
  const response = await cloud.clients.kinesis.send(
    new PutRecordsCommand({ StreamName: stream, Records: EVENTS.map((e) => ({ PartitionKey: e.sensorId, Data: Buffer.from(JSON.stringify(e)) })) }),
  );
  expect(response.FailedRecordCount ?? 0).toBe(0);
}

async function keys(cloud: LocalCloud, bucket: string, prefix: string): Promise<string[]> {
  const out = await cloud.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key ?? '');
}

function deniedMessage(cloud: LocalCloud, roleArn: string, fnName: string, action: string, resource: string): string {
  const role = roleArn.split('/').pop();
  return `User: arn:aws:sts::${cloud.accountId}:assumed-role/${role}/${fnName} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`;
}

test('the synthesized stack runs clean with IAM enforced, and describe calls answer its template', async () => {
  await withCloud(assembly, async (cloud, name, warnings) => {
    await produce(cloud, name('InputStream'));
    await cloud.waitForIdle({ timeoutMs: 120_000, settleMs: 1_000 });
    const drained = await cloud.runtime.invoke(name('CloserFunction'), { drain: true });
    expect(drained.ok).toBe(true);
    await cloud.server.firehose.flushAll();
    expect((await keys(cloud, name('Bucket'), `results/job=${JOB}/`)).length).toBeGreaterThan(0);
    const iam = cloud.server.iam.stats();
    expect(iam).toMatchObject({ enforcing: true, denied: 0 });
    expect(iam.checked).toBeGreaterThan(0); // the functions' calls were evaluated, not waved through
    expect(warnings.filter((w) => /IAM denied|not checked|not known locally/.test(w))).toEqual([]);

    // Kinesis: KMS encryption with the AWS managed key, tags.
    const kinesis = cloud.clients.kinesis;
    const summary = (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name('InputStream') }))).StreamDescriptionSummary;
    expect(summary).toMatchObject({ EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis', StreamModeDetails: { StreamMode: 'PROVISIONED' } });
    expect((await kinesis.send(new ListTagsForStreamCommand({ StreamName: name('ShuffleStream') }))).Tags).toContainEqual({ Key: 'riffle:source', Value: JOB });
    // DynamoDB: SSE with KMS, tags.
    const table = (await cloud.clients.dynamodb.send(new DescribeTableCommand({ TableName: name('StateTable') }))).Table;
    expect(table?.SSEDescription).toMatchObject({ Status: 'ENABLED', SSEType: 'KMS', KMSMasterKeyArn: expect.stringMatching(/^arn:aws:kms:us-east-1:000000000000:key\//) });
    expect((await cloud.clients.dynamodb.send(new ListTagsOfResourceCommand({ ResourceArn: table?.TableArn }))).Tags).toContainEqual({ Key: 'riffle:source', Value: JOB });
    // Firehose: encrypted with an AWS owned key.
    const delivery = await cloud.clients.firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name('ResultsDelivery') }));
    expect(delivery.DeliveryStreamDescription?.DeliveryStreamEncryptionConfiguration).toEqual({ KeyType: 'AWS_OWNED_CMK', Status: 'ENABLED' });
    // Lambda: arm64, the template's runtime, tags.
    const lambda = new LambdaClient({ endpoint: cloud.endpoint, region: cloud.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, requestHandler: new NodeHttpHandler() });
    const mapper = await lambda.send(new GetFunctionCommand({ FunctionName: name('MapperFunction') }));
    expect(mapper.Configuration).toMatchObject({ Architectures: ['arm64'], Runtime: 'nodejs22.x' });
    expect(mapper.Tags).toMatchObject({ 'riffle:source': JOB });
    lambda.destroy();
    // Resources live in the region they were deployed to.
    const elsewhere = new KinesisClient({ endpoint: cloud.endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, requestHandler: new NodeHttpHandler() });
    await expect(elsewhere.send(new DescribeStreamSummaryCommand({ StreamName: name('InputStream') }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    elsewhere.destroy();
  });
});

test("without the closer's firehose:PutRecordBatch grant, the closer fails with AWS's AccessDenied and no result is written", async () => {
  const dir = variant((resources) => {
    const statements = roleStatements(resources, 'Closer');
    const kept = statements.filter((s) => !actionsOf(s).includes('firehose:PutRecordBatch'));
    expect(kept.length).toBe(statements.length - 1);
    statements.splice(0, statements.length, ...kept);
    quickMappings(resources);
  });
  await withCloud(dir, async (cloud, name, warnings) => {
    await produce(cloud, name('InputStream'));
    await cloud.waitForIdle({ timeoutMs: 120_000, settleMs: 1_000 });
    const closer = name('CloserFunction');
    const result = await cloud.runtime.invoke(closer, { drain: true });
    expect(result.ok).toBe(false);
    const role = cloud.runtime.get(closer)?.roleArn ?? '';
    const resource = `arn:aws:firehose:us-east-1:000000000000:deliverystream/${name('ResultsDelivery')}`;
    expect(result.error?.errorType).toBe('AccessDeniedException');
    expect(result.error?.errorMessage).toBe(deniedMessage(cloud, role, closer, 'firehose:PutRecordBatch', resource));
    await cloud.server.firehose.flushAll();
    expect(await keys(cloud, name('Bucket'), `results/job=${JOB}/`)).toEqual([]);
    expect(warnings.some((w) => w.includes(`IAM denied firehose:PutRecordBatch on ${resource} to function ${closer}`))).toBe(true);
  });
});

test("without the mapper's kinesis:PutRecords grant, its batches fail into the on-failure destination", async () => {
  const dir = variant((resources) => {
    const statements = roleStatements(resources, 'Mapper');
    const grant = statements.find((s) => actionsOf(s).includes('kinesis:PutRecords'));
    if (!grant) throw new Error("the mapper's role has no kinesis:PutRecords grant");
    const rest = actionsOf(grant).filter((a) => a !== 'kinesis:PutRecords');
    if (rest.length > 0) grant['Action'] = rest;
    else statements.splice(statements.indexOf(grant), 1);
    quickMappings(resources);
  });
  await withCloud(dir, async (cloud, name, warnings) => {
    await produce(cloud, name('InputStream'));
    const bucket = name('Bucket');
    const deadline = Date.now() + 120_000;
    let failures: string[] = [];
    while (failures.length === 0 && Date.now() < deadline) {
      failures = await keys(cloud, bucket, 'aws/lambda/');
      if (failures.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(failures.length).toBeGreaterThan(0);
    const object = await cloud.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: failures[0] }));
    const record = JSON.parse(await (object.Body?.transformToString() ?? Promise.resolve('{}'))) as Json;
    expect(record).toMatchObject({ requestContext: { condition: 'RetryAttemptsExhausted' }, responseContext: { functionError: 'Unhandled' } });

    const mapper = name('MapperFunction');
    const shuffle = `arn:aws:kinesis:us-east-1:000000000000:stream/${name('ShuffleStream')}`;
    expect(warnings.some((w) => w.includes(`IAM denied kinesis:PutRecords on ${shuffle} to function ${mapper}`))).toBe(true);
    expect(cloud.server.iam.denials().every((d) => d.functionName === mapper && d.action === 'kinesis:PutRecords')).toBe(true);
    expect(cloud.stats().mappings.find((m) => m.functionName === mapper)?.functionErrors).toBeGreaterThan(0);
    // Nothing reached the shuffle stream.
    expect(cloud.stats().server.kinesis.streams[name('ShuffleStream')]?.recordsPut ?? 0).toBe(0);
  });
});

/** SDK clients signed as the function `functionArn` (its execution role's session), one attempt each. */
function clientsAs(cloud: LocalCloud, functionArn: string): Clients {
  const c = functionCredentials(functionArn);
  const common = {
    endpoint: cloud.endpoint,
    region: cloud.region,
    credentials: { accessKeyId: c.AWS_ACCESS_KEY_ID, secretAccessKey: c.AWS_SECRET_ACCESS_KEY, sessionToken: c.AWS_SESSION_TOKEN },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  };
  return {
    kinesis: new KinesisClient(common),
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient(common), { marshallOptions: { removeUndefinedValues: true } }),
    firehose: new FirehoseClient(common),
    lambda: new LambdaClient(common),
  };
}

async function refusal(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
  } catch (error) {
    return (error as Error).name;
  }
  return 'allowed';
}

test("each role's port methods run with only that role's grants; what other roles call, and other jobs' items, are refused", async () => {
  await withCloud(assembly, async (cloud, name) => {
    const functions: Record<FunctionRole, string> = { mapper: name('MapperFunction'), reducer: name('ReducerFunction'), closer: name('CloserFunction') };
    const deliveries = { results: name('ResultsDelivery'), late: name('LateDelivery'), rejected: name('RejectedDelivery') };
    const record = { job: JOB, permissionSample: true };
    let expectedDenials = 0;
    for (const role of FUNCTION_ROLES) {
      const clients = clientsAs(cloud, cloud.runtime.functionArn(functions[role]));
      const store = new StateStore(clients.dynamo, name('StateTable'));
      const granted = roleStateActions(role);
      const calls = new Map<string, () => Promise<unknown>>();
      for (const method of Object.keys(STATE_PORT_CALLS) as (keyof typeof STATE_PORT_CALLS)[]) {
        const sample = STATE_PORT_SAMPLES[method];
        if (!sample) throw new Error(`no sample call of StatePort.${method}: add one to test/support/state-port-samples.ts`);
        calls.set(`state.${method}`, () => sample(store, JOB));
      }
      for (const kind of OUTPUT_KINDS) calls.set(`output.${kind}`, () => outputPort(clients.firehose, deliveries).deliver(kind, [record as never]));
      calls.set('shuffle.put', () => shufflePort(clients.kinesis, name('ShuffleStream')).put([{ partitionKey: 'permission-sample', data: Buffer.from('not a bundle') }]));
      calls.set('nudge', () => clients.lambda.send(new InvokeCommand({ FunctionName: functions.closer, InvocationType: 'Event', Payload: Buffer.from('{"source":"permission-test"}') })));

      const allowed = (call: string): boolean => {
        const [port, what] = call.split('.') as [string, string];
        if (port === 'state') return (STATE_PORT_CALLS[what as keyof typeof STATE_PORT_CALLS] as readonly StateCall[]).every((c) => granted[c.on].includes(c.action));
        if (port === 'output') return roleOutputs(role, 'final').includes(what as never);
        if (port === 'shuffle') return role === 'mapper';
        return role === 'reducer';
      };
      const outcomes: Record<string, string> = {};
      const expected: Record<string, string> = {};
      for (const [call, run] of calls) {
        outcomes[call] = await refusal(run);
        expected[call] = allowed(call) ? 'allowed' : 'AccessDeniedException';
        if (!allowed(call)) expectedDenials++;
      }
      // What the role's own code calls is exactly what works.
      for (const method of ROLE_STATE_METHODS[role]) expect(expected[`state.${method}`]).toBe('allowed');
      expect({ role, outcomes }).toEqual({ role, outcomes: expected });

      // Another job's items (a shared table): refused by the grant's dynamodb:LeadingKeys condition.
      expect(await refusal(() => store.readProgress('another-job'))).toBe('AccessDeniedException');
      expectedDenials++;
      for (const client of Object.values(clients)) client.destroy();
    }
    const denials = cloud.server.iam.denials();
    expect(denials).toHaveLength(expectedDenials);
    expect(new Set(denials.map((d) => d.functionName))).toEqual(new Set(Object.values(functions)));
  });
});
