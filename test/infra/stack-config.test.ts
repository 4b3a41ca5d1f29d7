// Configuration reaches the template: riffle:config settings change the resources they name
// (stream mode, table key and protection, removal policy, ESM sizing, concurrency, buffering,
// retention, alarm actions) — and the default-only properties stay as they were.
import type { CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { RiffleStack } from '../../infra/stack';
import { buildTestApp } from './helpers';

let stack: RiffleStack;
let t: Template;

beforeAll(() => {
  const { stacks } = buildTestApp({
    jobs: 'sensor-averages',
    config: {
      'sensor-averages': {
        streamMode: 'on-demand',
        streamRetention: '48h',
        tableEncryption: 'customer-managed',
        deletionProtection: true,
        removalPolicy: 'destroy',
        rejectedRetentionDays: 3,
        alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:riffle-ops',
        mapperBatchSize: 500,
        mapperBatchingWindow: '0s',
        reducerBatchSize: 5000,
        reducerBatchingWindow: '20s',
        reducerParallelization: 4,
        retryAttempts: 3,
        maxRecordAge: '2h',
        mapperMemoryMb: 2048,
        closerTimeout: '30s',
        closerReservedConcurrency: null,
        closedRetentionDays: 2,
        logRetentionDays: 7,
        logLevel: 'DEBUG',
        firehoseBufferInterval: '300s',
        firehoseBufferSizeMb: 128,
        iteratorAgeAlarm: '10m',
        rejectedRateAlarmPercent: 5,
        queryStartDate: '2024-06-01',
      },
    },
  });
  stack = stacks[0]!;
  t = Template.fromStack(stack);
});

test('on-demand streams have no shard count; retention follows streamRetention', () => {
  t.allResourcesProperties('AWS::Kinesis::Stream', {
    StreamModeDetails: { StreamMode: 'ON_DEMAND' },
    ShardCount: Match.absent(),
    RetentionPeriodHours: 48,
    StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
  });
});

test('customer-managed table key with rotation; deletion protection; removal policy destroy', () => {
  t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  t.hasResource('AWS::DynamoDB::Table', {
    DeletionPolicy: 'Delete',
    Properties: Match.objectLike({
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
      DeletionProtectionEnabled: true,
    }),
  });
  t.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
  t.hasResourceProperties('AWS::S3::Bucket', {
    LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Prefix: 'rejected/', ExpirationInDays: 3 })]) },
  });
});

test('event source mapping sizing and safety settings', () => {
  const { mapper, reducer } = stack.jobs['sensor-averages']!.wiring;
  const esm = (fn: typeof mapper) =>
    Object.values(t.findResources('AWS::Lambda::EventSourceMapping')).find((r) => JSON.stringify(r.Properties.FunctionName) === JSON.stringify({ Ref: stack.getLogicalId(fn.node.defaultChild as CfnElement) }))!.Properties;
  expect(esm(mapper)).toMatchObject({ BatchSize: 500, MaximumBatchingWindowInSeconds: 0, ParallelizationFactor: 1, MaximumRetryAttempts: 3, MaximumRecordAgeInSeconds: 7200 });
  expect(esm(reducer)).toMatchObject({ BatchSize: 5000, MaximumBatchingWindowInSeconds: 20, ParallelizationFactor: 4, MaximumRetryAttempts: 3, MaximumRecordAgeInSeconds: 7200 });
});

test('functions: memory, timeout, unreserved closer, log level, closed retention, shuffle buckets (4 × 4 on-demand shards × 4), log retention', () => {
  const { mapper, closer } = stack.jobs['sensor-averages']!.wiring;
  const props = (fn: typeof mapper) => t.toJSON().Resources[stack.getLogicalId(fn.node.defaultChild as CfnElement)].Properties;
  expect(props(mapper)).toMatchObject({ MemorySize: 2048, Environment: { Variables: { POWERTOOLS_LOG_LEVEL: 'DEBUG', RIFFLE_SHUFFLE_BUCKETS: '64' } } });
  expect(props(closer)).toMatchObject({ Timeout: 30, Environment: { Variables: { RIFFLE_CLOSED_RETENTION_DAYS: '2' } } });
  expect(props(closer).ReservedConcurrentExecutions).toBeUndefined();
  t.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
});

test('Firehose buffering from config', () => {
  t.allResourcesProperties('AWS::KinesisFirehose::DeliveryStream', {
    ExtendedS3DestinationConfiguration: Match.objectLike({ BufferingHints: { IntervalInSeconds: 300, SizeInMBs: 128 } }),
  });
});

test('alarms notify the configured topic on ALARM and OK, with configured thresholds', () => {
  const topic = 'arn:aws:sns:eu-west-1:123456789012:riffle-ops';
  t.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [topic], OKActions: [topic] });
  t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge', Threshold: 600_000 });
  t.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'Riffle-sensor-averages-rejected-rate', Threshold: 5 });
});

test('partition projection starts at queryStartDate', () => {
  t.hasResourceProperties('AWS::Glue::Table', {
    TableInput: Match.objectLike({ Parameters: Match.objectLike({ 'projection.dt.range': '2024-06-01,NOW+1DAYS' }) }),
  });
});
