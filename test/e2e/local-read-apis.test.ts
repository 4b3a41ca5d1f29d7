// The read APIs over what the local deployer set up, with the real SDK v3 clients: CloudFormation
// (DescribeStacks with outputs, ListStacks, DescribeStackResources, GetTemplate — awsQuery XML,
// which the CLI and SDKs parse) and Lambda (ListEventSourceMappings, GetEventSourceMapping,
// GetFunctionConcurrency, GetFunctionEventInvokeConfig). The fixture assembly is copied and given
// a reserved concurrency, an EventInvokeConfig and an output description, then deployed with
// startLocalCloud on a free port.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, DescribeStackResourcesCommand, DescribeStacksCommand, GetTemplateCommand, ListStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetEventSourceMappingCommand, GetFunctionConcurrencyCommand, GetFunctionEventInvokeConfigCommand, LambdaClient, ListEventSourceMappingsCommand } from '@aws-sdk/client-lambda';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startLocalCloud, type LocalCloud } from '../../local/cloud';

jest.setTimeout(120_000);

const FIXTURE = path.join(__dirname, '../fixtures/local-deploy/assembly');
const STACK = 'Riffle-fixture';

let work: string;
let cloud: LocalCloud;
let cfn: CloudFormationClient;
let lambda: LambdaClient;
let template: { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>; Outputs: Record<string, { Description?: string }> };

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'riffle-read-apis-'));
  const assembly = path.join(work, 'assembly');
  cpSync(FIXTURE, assembly, { recursive: true });
  const file = path.join(assembly, `${STACK}.template.json`);
  template = JSON.parse(readFileSync(file, 'utf8')) as typeof template;
  (template.Resources['MapperD1E2F3A4']?.Properties as Record<string, unknown>)['ReservedConcurrentExecutions'] = 3;
  template.Resources['TickerInvokeConfig'] = {
    Type: 'AWS::Lambda::EventInvokeConfig',
    Properties: { FunctionName: { Ref: 'TickerB5C6D7E8' }, Qualifier: '$LATEST', MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 120 },
  };
  (template.Outputs['InputStreamName'] as { Description?: string }).Description = 'the stream producers write to';
  writeFileSync(file, JSON.stringify(template));
  cloud = await startLocalCloud({
    port: 0,
    dataDir: path.join(work, 'data'),
    assembly,
    timeScale: 600,
    functionLogs: 'silent',
    esm: { idlePollMs: 50 },
    log: () => undefined,
    warn: () => undefined,
  });
  const common = { endpoint: cloud.endpoint, region: cloud.region, credentials: { accessKeyId: 'any', secretAccessKey: 'any' }, requestHandler: new NodeHttpHandler() };
  cfn = new CloudFormationClient(common);
  lambda = new LambdaClient(common);
});

afterAll(async () => {
  cfn?.destroy();
  lambda?.destroy();
  await cloud?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('CloudFormation read API', () => {
  it('describes the deployed stack with its outputs, as outputs.json has them', async () => {
    const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: STACK }));
    expect(Stacks).toHaveLength(1);
    const stack = Stacks?.[0];
    expect(stack).toMatchObject({ StackName: STACK, StackStatus: 'CREATE_COMPLETE' });
    expect(stack?.StackId).toMatch(new RegExp(`^arn:aws:cloudformation:us-east-1:000000000000:stack/${STACK}/[0-9a-f-]{36}$`));
    const outputs = Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
    expect(outputs).toEqual(cloud.outputs[STACK]);
    expect(JSON.parse(readFileSync(path.join(work, 'data', 'outputs.json'), 'utf8'))).toEqual({ [STACK]: outputs });
    expect(stack?.Outputs?.find((o) => o.OutputKey === 'InputStreamName')?.Description).toBe('the stream producers write to');
    expect((await cfn.send(new DescribeStacksCommand({}))).Stacks?.map((s) => s.StackName)).toEqual([STACK]);
    await expect(cfn.send(new DescribeStacksCommand({ StackName: 'Nope' }))).rejects.toMatchObject({ name: 'ValidationError', message: 'Stack with id Nope does not exist' });
  });

  it('lists stacks and their resources and returns the template', async () => {
    const { StackSummaries } = await cfn.send(new ListStacksCommand({ StackStatusFilter: ['CREATE_COMPLETE'] }));
    expect(StackSummaries?.map((s) => [s.StackName, s.StackStatus])).toEqual([[STACK, 'CREATE_COMPLETE']]);
    expect((await cfn.send(new ListStacksCommand({ StackStatusFilter: ['DELETE_COMPLETE'] }))).StackSummaries ?? []).toEqual([]);

    const { StackResources } = await cfn.send(new DescribeStackResourcesCommand({ StackName: STACK }));
    const mapper = StackResources?.find((r) => r.LogicalResourceId === 'MapperD1E2F3A4');
    expect(mapper).toMatchObject({ ResourceType: 'AWS::Lambda::Function', ResourceStatus: 'CREATE_COMPLETE', StackName: STACK });
    expect(cloud.runtime.get(mapper?.PhysicalResourceId ?? '')).toBeDefined();
    expect(StackResources?.map((r) => r.LogicalResourceId).sort()).toEqual(Object.keys(template.Resources).sort());

    const { TemplateBody } = await cfn.send(new GetTemplateCommand({ StackName: STACK }));
    expect(JSON.parse(TemplateBody ?? '')).toEqual(template);
  });
});

describe('Lambda read APIs', () => {
  it('lists and gets the event source mapping the pollers run', async () => {
    const { EventSourceMappings } = await lambda.send(new ListEventSourceMappingsCommand({}));
    expect(EventSourceMappings).toHaveLength(1);
    const m = EventSourceMappings?.[0];
    const running = cloud.pollers.list()[0]?.config;
    expect(m).toMatchObject({
      UUID: running?.uuid,
      BatchSize: 10,
      MaximumRetryAttempts: 1,
      State: 'Enabled',
      EventSourceArn: cloud.outputs[STACK]?.['InputStreamArn'],
      FunctionArn: running?.functionArn,
      StartingPosition: running?.startingPosition,
    });
    expect(m?.LastModified).toBeInstanceOf(Date);
    const byFunction = await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: running?.functionName }));
    expect(byFunction.EventSourceMappings?.map((x) => x.UUID)).toEqual([running?.uuid]);
    expect((await lambda.send(new ListEventSourceMappingsCommand({ EventSourceArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/other' }))).EventSourceMappings).toEqual([]);
    expect(await lambda.send(new GetEventSourceMappingCommand({ UUID: running?.uuid }))).toMatchObject({ UUID: running?.uuid, BatchSize: 10 });
    await expect(lambda.send(new GetEventSourceMappingCommand({ UUID: '00000000-0000-0000-0000-000000000000' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('answers function concurrency and event invoke configuration as deployed', async () => {
    const mapper = cloud.pollers.list()[0]?.config.functionName ?? '';
    const ticker = cloud.runtime.list().find((f) => f.handler === 'index.ticker')?.name ?? '';
    expect((await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: mapper }))).ReservedConcurrentExecutions).toBe(3);
    expect((await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: ticker }))).ReservedConcurrentExecutions).toBeUndefined();
    const config = await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: ticker }));
    expect(config).toMatchObject({ MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 120, FunctionArn: `${cloud.runtime.functionArn(ticker)}:$LATEST` });
    await expect(lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: mapper }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: 'no-such-function' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
