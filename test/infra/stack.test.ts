// The synthesized RiffleStack: every property that carries behaviour or security, asserted on the
// CloudFormation template (streams, table, bucket, Firehose, functions, event source mappings,
// schedule, IAM, query, alarms, outputs). One app per file; bundling is skipped (helpers.ts).
import { CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { OUTPUT_KINDS } from '../../infra/constructs/delivery';
import { JOB_OUTPUTS, outputKey } from '../../infra/outputs';
import type { RiffleStack } from '../../infra/stack';
import { CLOSER_NUDGE_ACTIONS, roleStateActions, SHUFFLE_PORT_ACTIONS } from '../../functions/contract/permissions';
import { FUNCTION_ROLES } from '../../functions/contract';
import { LATENCY_PROFILES } from '../../infra/latency-profiles';
import { jobAlarmNames, stackAlarmNames } from '../../infra/alarm-names';
import { buildTestApp } from './helpers';

// No job here sets a latency profile: 'final' jobs get 'economy', the 'update' job 'balanced'.
const PROFILE = { clicks: LATENCY_PROFILES.economy, 'click-sessions': LATENCY_PROFILES.balanced } as const;

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string }>;

const logicalId = (construct: { node: { defaultChild?: unknown } } | CfnElement): string => {
  const element = construct instanceof CfnElement ? construct : (construct.node.defaultChild as CfnElement);
  return Stack.of(element).getLogicalId(element);
};
const getAtt = (construct: Parameters<typeof logicalId>[0]): unknown => ({ 'Fn::GetAtt': [logicalId(construct), 'Arn'] });
const ref = (construct: Parameters<typeof logicalId>[0]): unknown => ({ Ref: logicalId(construct) });

/** Every IAM statement of the template, with the policy it belongs to. */
function statements(template: Template): { policy: string; statement: Record<string, unknown> }[] {
  return Object.entries(template.findResources('AWS::IAM::Policy')).flatMap(([policy, resource]) =>
    ((resource.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement).map((statement) => ({ policy, statement })),
  );
}
const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
/** The statements of the role of `fn` (a RiffleFunction or a Firehose role). */
function roleStatements(template: Template, role: CfnElement | { node: { defaultChild?: unknown } }): Record<string, unknown>[] {
  const roleId = logicalId(role);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement);
}
const actionsOn = (stmts: Record<string, unknown>[], resource: unknown): string[] =>
  stmts.filter((s) => asArray(s.Resource).some((r) => JSON.stringify(r) === JSON.stringify(resource))).flatMap((s) => asArray(s.Action as string | string[]));

let clicks: RiffleStack;
let sensors: RiffleStack;
let t: Template;
let st: Template;

beforeAll(() => {
  const { stacks } = buildTestApp({ jobs: ['sensor-averages', 'clicks', 'click-sessions'] });
  [sensors, clicks] = stacks as [RiffleStack, RiffleStack];
  t = Template.fromStack(clicks);
  st = Template.fromStack(sensors);
});

describe('stacks', () => {
  test('one stack per source, named Riffle-<source>, holding the jobs of that source', () => {
    expect(sensors.stackName).toBe('Riffle-sensor-averages');
    expect(clicks.stackName).toBe('Riffle-clicks');
    expect(Object.keys(clicks.jobs)).toEqual(['clicks', 'click-sessions']);
  });

  test('no custom resources and no helper functions: the local cloud can deploy the template as is', () => {
    const types = Object.values(t.toJSON().Resources as Resources).map((r) => r.Type);
    expect(types.filter((type) => type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource')).toEqual([]);
    t.resourceCountIs('AWS::Lambda::Function', 6); // mapper, reducer, closer × 2 jobs
  });
});

describe('streams', () => {
  test('one input stream per source and one shuffle stream per job, KMS-encrypted with the AWS managed key', () => {
    t.resourceCountIs('AWS::Kinesis::Stream', 3);
    t.allResourcesProperties('AWS::Kinesis::Stream', {
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
      ShardCount: 1,
      RetentionPeriodHours: 24,
    });
  });
});

describe('state table', () => {
  test('pk/sk strings, on-demand, PITR, TTL on expiresAt, AWS managed SSE, open-windows GSI', () => {
    t.resourceCountIs('AWS::DynamoDB::Table', 1);
    t.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'openPk', AttributeType: 'S' },
          { AttributeName: 'closeAt', AttributeType: 'N' },
        ]),
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: false,
        GlobalSecondaryIndexes: [
          {
            IndexName: 'open-windows',
            KeySchema: [
              { AttributeName: 'openPk', KeyType: 'HASH' },
              { AttributeName: 'closeAt', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
        ],
      },
    });
  });
});

describe('bucket', () => {
  const secure = {
    BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
  };

  test('both buckets are encrypted, private and retained', () => {
    t.resourceCountIs('AWS::S3::Bucket', 2);
    t.allResourcesProperties('AWS::S3::Bucket', secure);
    t.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
  });

  test('the Riffle bucket logs access, expires the diagnostic prefixes and measures failed/ and errors/', () => {
    t.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: ref(clicks.outputs.accessLogsBucket) },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: 'rejected/', ExpirationInDays: 30, Status: 'Enabled' }),
          Match.objectLike({ Prefix: 'late/', ExpirationInDays: 30, Status: 'Enabled' }),
          Match.objectLike({ Prefix: 'aws/lambda/', ExpirationInDays: 14, Status: 'Enabled' }),
          Match.objectLike({ Prefix: 'errors/', ExpirationInDays: 14, Status: 'Enabled' }),
          Match.objectLike({ Prefix: 'athena-results/', ExpirationInDays: 7, Status: 'Enabled' }),
          Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
        ]),
      },
      MetricsConfigurations: [
        { Id: 'failed', Prefix: 'aws/lambda/' },
        { Id: 'delivery-errors', Prefix: 'errors/' },
      ],
    });
  });

  test('results/ never expires', () => {
    const bucket = t.toJSON().Resources[logicalId(clicks.outputs.bucket)] as { Properties: { LifecycleConfiguration: { Rules: { Prefix?: string }[] } } };
    expect(bucket.Properties.LifecycleConfiguration.Rules.map((r) => r.Prefix)).not.toContain('results/');
  });

  test('both bucket policies deny any request without TLS', () => {
    for (const bucket of [clicks.outputs.bucket, clicks.outputs.accessLogsBucket]) {
      t.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: ref(bucket),
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Principal: { AWS: '*' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });
});

describe('delivery', () => {
  test('three dynamically partitioned, encrypted delivery streams per job with the contract prefixes: results Parquet, late and rejected GZIP', () => {
    t.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 6);
    for (const job of ['clicks', 'click-sessions'] as const) {
      for (const kind of OUTPUT_KINDS) {
        const field = kind === 'rejected' ? 'rejectedAt' : 'windowStart';
        t.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
          DeliveryStreamType: 'DirectPut',
          DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' },
          ExtendedS3DestinationConfiguration: Match.objectLike({
            BucketARN: getAtt(clicks.outputs.bucket),
            Prefix: `${kind}/job=${job}/${kind === 'results' ? 'format=parquet/' : ''}dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/`,
            ErrorOutputPrefix: `errors/${kind}/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/`,
            // Record format conversion forbids S3 compression: Parquet pages are SNAPPY instead.
            CompressionFormat: kind === 'results' ? 'UNCOMPRESSED' : 'GZIP',
            BufferingHints: { IntervalInSeconds: PROFILE[job].firehoseBufferInterval, SizeInMBs: PROFILE[job].firehoseBufferSizeMb },
            DynamicPartitioningConfiguration: { Enabled: true, RetryOptions: { DurationInSeconds: 300 } },
            ProcessingConfiguration: {
              Enabled: true,
              Processors: [
                {
                  Type: 'MetadataExtraction',
                  Parameters: [
                    { ParameterName: 'MetadataExtractionQuery', ParameterValue: `{dt: .${field}[0:10], hour: .${field}[11:13]}` },
                    { ParameterName: 'JsonParsingEngine', ParameterValue: 'JQ-1.6' },
                  ],
                },
              ],
            },
            CloudWatchLoggingOptions: Match.objectLike({ Enabled: true }),
            DataFormatConversionConfiguration: kind === 'results' ? Match.anyValue() : Match.absent(),
          }),
        });
      }
    }
  });

  test('results: record format conversion from JSON (OpenX) to Parquet (SNAPPY) with the job\'s Glue table', () => {
    const results = clicks.jobs['click-sessions']!.delivery.deliveryStreams.results;
    const stream = t.findResources('AWS::KinesisFirehose::DeliveryStream')[logicalId(results)]!;
    const destination = stream.Properties.ExtendedS3DestinationConfiguration;
    expect(destination.FileExtension).toBe('.parquet');
    expect(destination.DataFormatConversionConfiguration).toEqual({
      Enabled: true,
      InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: { CaseInsensitive: true } } },
      OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'SNAPPY' } } },
      SchemaConfiguration: {
        CatalogId: { Ref: 'AWS::AccountId' },
        DatabaseName: ref(clicks.query.database),
        TableName: ref(clicks.query.tables['click-sessions']!),
        Region: { Ref: 'AWS::Region' },
        RoleARN: getAtt(clicks.jobs['click-sessions']!.delivery.roles.results),
        VersionId: 'LATEST',
      },
    });
    // The table is the Parquet one whose location is where the stream writes.
    const table = t.findResources('AWS::Glue::Table')[logicalId(clicks.query.tables['click-sessions']!)]!;
    expect(table.Properties.TableInput.StorageDescriptor.Location).toEqual({ 'Fn::Join': ['', ['s3://', ref(clicks.outputs.bucket), '/results/job=click-sessions/format=parquet/']] });
    expect(destination.Prefix.startsWith('results/job=click-sessions/format=parquet/')).toBe(true);
  });

  test('the results role may read exactly its Glue table\'s schema (catalog, database, table)', () => {
    const delivery = clicks.jobs['click-sessions']!.delivery;
    const glue = roleStatements(t, delivery.roles.results).filter((s) => asArray(s.Action as string[]).some((a) => a.startsWith('glue:')));
    expect(glue).toHaveLength(1);
    expect(asArray(glue[0]!.Action as string[]).sort()).toEqual(['glue:GetTable', 'glue:GetTableVersion', 'glue:GetTableVersions']);
    const arn = (resource: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':glue:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:${resource}`]] });
    expect(glue[0]!.Resource).toEqual([
      arn('catalog'),
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':glue:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':database/', ref(clicks.query.database)]] },
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':glue:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':table/', ref(clicks.query.database), '/', ref(clicks.query.tables['click-sessions']!)]] },
    ]);
    for (const kind of ['late', 'rejected'] as const) {
      expect(roleStatements(t, delivery.roles[kind]).flatMap((s) => asArray(s.Action as string[])).filter((a) => a.startsWith('glue:'))).toEqual([]);
    }
  });

  test('each delivery role writes only its own prefixes and log stream, and trusts only Firehose of this account', () => {
    const delivery = clicks.jobs['click-sessions']!.delivery;
    for (const kind of OUTPUT_KINDS) {
      const stmts = roleStatements(t, delivery.roles[kind]);
      const objectResources = stmts.filter((s) => asArray(s.Action as string[]).includes('s3:PutObject')).flatMap((s) => asArray(s.Resource));
      expect(objectResources).toEqual(
        expect.arrayContaining([
          { 'Fn::Join': ['', [getAtt(clicks.outputs.bucket), `/${kind}/job=click-sessions/*`]] },
          { 'Fn::Join': ['', [getAtt(clicks.outputs.bucket), `/errors/${kind}/*`]] },
        ]),
      );
      expect(objectResources).toHaveLength(2);
      expect(stmts.flatMap((s) => asArray(s.Action as string[])).filter((a) => !a.startsWith('glue:')).sort()).toEqual(
        ['logs:PutLogEvents', 's3:AbortMultipartUpload', 's3:GetBucketLocation', 's3:GetObject', 's3:ListBucket', 's3:ListBucketMultipartUploads', 's3:PutObject'],
      );
    }
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'firehose.amazonaws.com' },
            Condition: { StringEquals: { 'sts:ExternalId': { Ref: 'AWS::AccountId' } } },
          }),
        ],
      },
    });
  });
});

describe('functions', () => {
  const powertools = (role: string) => ({ POWERTOOLS_SERVICE_NAME: `riffle-${role}`, POWERTOOLS_METRICS_NAMESPACE: 'Riffle', POWERTOOLS_LOG_LEVEL: 'INFO' });

  test('Node.js 22 on arm64, bundled handler, own log group with 30-day retention', () => {
    t.allResourcesProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      LoggingConfig: { LogGroup: Match.objectLike({ Ref: Match.anyValue() }) },
    });
    const wiring = clicks.jobs.clicks!.wiring;
    for (const fn of [wiring.mapper, wiring.reducer, wiring.closer]) {
      expect(t.toJSON().Resources[logicalId(fn)].Properties.LoggingConfig).toEqual({ LogGroup: ref(fn.functionLogGroup) });
      expect(t.toJSON().Resources[logicalId(fn.functionLogGroup)]).toMatchObject({ Properties: { RetentionInDays: 30 }, DeletionPolicy: 'Delete' });
    }
  });

  test('environment variables are exactly those of docs/CONTRACTS.md for each role', () => {
    const job = clicks.jobs['click-sessions']!;
    const { mapper, reducer, closer } = job.wiring;
    const common = { RIFFLE_JOB: 'click-sessions', RIFFLE_STATE_TABLE: ref(clicks.state.table), NODE_OPTIONS: '--enable-source-maps' };
    const deliveryRef = (kind: (typeof OUTPUT_KINDS)[number]): unknown => ref(job.delivery.deliveryStreams[kind]);
    const env = (fn: typeof mapper): unknown => (t.toJSON().Resources[logicalId(fn)].Properties as { Environment: { Variables: unknown } }).Environment.Variables;
    expect(env(mapper)).toEqual({
      ...common,
      ...powertools('mapper'),
      RIFFLE_SHUFFLE_STREAM: ref(job.shuffle.stream),
      RIFFLE_SHUFFLE_BUCKETS: '8',
      RIFFLE_LATE_DELIVERY: deliveryRef('late'),
      RIFFLE_REJECTED_DELIVERY: deliveryRef('rejected'),
    });
    expect(env(reducer)).toEqual({
      ...common,
      ...powertools('reducer'),
      RIFFLE_SHUFFLE_BUCKETS: '8',
      RIFFLE_RESULTS_DELIVERY: deliveryRef('results'),
      RIFFLE_LATE_DELIVERY: deliveryRef('late'),
      RIFFLE_CLOSER_FUNCTION: ref(closer),
    });
    expect(env(closer)).toEqual({ ...common, ...powertools('closer'), RIFFLE_SHUFFLE_BUCKETS: '8', RIFFLE_RESULTS_DELIVERY: deliveryRef('results'), RIFFLE_CLOSED_RETENTION_DAYS: '7' });
  });

  test('sizing defaults: 1024 MB mapper and reducer, 512 MB closer with reserved concurrency 1, 60 s timeouts', () => {
    const { mapper, reducer, closer } = clicks.jobs.clicks!.wiring;
    const props = (fn: typeof mapper): Record<string, unknown> => t.toJSON().Resources[logicalId(fn)].Properties;
    expect(props(mapper)).toMatchObject({ MemorySize: 1024, Timeout: 60 });
    expect(props(reducer)).toMatchObject({ MemorySize: 1024, Timeout: 60 });
    expect(props(closer)).toMatchObject({ MemorySize: 512, Timeout: 60, ReservedConcurrentExecutions: 1 });
    expect(props(mapper).ReservedConcurrentExecutions).toBeUndefined();
  });
});

describe('event source mappings', () => {
  const safety = {
    StartingPosition: 'TRIM_HORIZON',
    BisectBatchOnFunctionError: true,
    // Unlimited (CloudFormation's default, -1): nothing is skipped within the stream's retention.
    MaximumRetryAttempts: Match.absent(),
    MaximumRecordAgeInSeconds: Match.absent(),
    FunctionResponseTypes: ['ReportBatchItemFailures'],
  };

  test('mapper: input stream, parallelization 1, bisect, unlimited retries and age, partial failures, failures to S3', () => {
    for (const job of ['clicks', 'click-sessions'] as const) {
      t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        ...safety,
        FunctionName: ref(clicks.jobs[job]!.wiring.mapper),
        EventSourceArn: getAtt(clicks.input.stream),
        BatchSize: PROFILE[job].mapperBatchSize,
        MaximumBatchingWindowInSeconds: PROFILE[job].mapperBatchingWindow,
        ParallelizationFactor: 1,
        DestinationConfig: { OnFailure: { Destination: getAtt(clicks.outputs.bucket) } },
      });
    }
  });

  test('reducer: its shuffle stream, larger batching window, same safety settings', () => {
    const job = clicks.jobs.clicks!;
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ...safety,
      FunctionName: ref(job.wiring.reducer),
      EventSourceArn: getAtt(job.shuffle.stream),
      BatchSize: PROFILE.clicks.reducerBatchSize,
      MaximumBatchingWindowInSeconds: PROFILE.clicks.reducerBatchingWindow,
      ParallelizationFactor: 1,
      DestinationConfig: { OnFailure: { Destination: getAtt(clicks.outputs.bucket) } },
    });
    t.resourceCountIs('AWS::Lambda::EventSourceMapping', 4);
  });
});

describe('closer schedule', () => {
  test("an EventBridge rule runs the closer at the profile's interval without retries of stale ticks", () => {
    const closer = clicks.jobs.clicks!.wiring.closer;
    t.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: `rate(${PROFILE.clicks.closerIntervalSeconds / 60} minutes)`,
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: getAtt(closer), RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 } })],
    });
    t.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunction', FunctionName: getAtt(closer), Principal: 'events.amazonaws.com' });
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { FunctionName: ref(closer), MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 });
  });
});

describe('IAM', () => {
  test('no statement allows Resource "*" or a service-wide action', () => {
    const all = statements(t);
    expect(all.length).toBeGreaterThan(20);
    const wildcards = all.filter(({ statement }) => asArray(statement.Resource).includes('*')).map(({ policy }) => policy);
    expect(wildcards).toEqual([]);
    const broadActions = all.flatMap(({ statement }) => asArray(statement.Action as string | string[])).filter((action) => /(^|:)\*$/.test(action));
    expect(broadActions).toEqual([]);
  });

  test('no role carries an AWS managed policy', () => {
    for (const role of Object.values(t.findResources('AWS::IAM::Role'))) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  const tableArn = () => getAtt(clicks.state.table);
  const indexArn = () => ({ 'Fn::Join': ['', [getAtt(clicks.state.table), '/index/open-windows']] });
  /** The job's own partitions only (dynamodb:LeadingKeys). */
  const ownPartitions = (job: string) => ({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`J#${job}#*`] } });

  test('each role holds exactly the DynamoDB actions of functions/contract/permissions.ts: the table for its items, the named index for the closer only', () => {
    for (const name of ['clicks', 'click-sessions'] as const) {
      const job = clicks.jobs[name]!;
      for (const role of FUNCTION_ROLES) {
        const stmts = roleStatements(t, job.wiring[role].executionRole);
        const expected = roleStateActions(role);
        const dynamo = stmts.filter((s) => asArray(s.Action as string | string[]).some((a) => a.startsWith('dynamodb:')));
        const onTable = dynamo.filter((s) => JSON.stringify(asArray(s.Resource)) === JSON.stringify([tableArn()]));
        expect(onTable.map((s) => ({ actions: asArray(s.Action as string[]).sort(), condition: s.Condition }))).toEqual([{ actions: expected.table, condition: ownPartitions(name) }]);
        const onIndex = dynamo.filter((s) => JSON.stringify(asArray(s.Resource)) === JSON.stringify([indexArn()]));
        expect(onIndex.flatMap((s) => asArray(s.Action as string[]))).toEqual(expected.openWindowsIndex);
        expect(dynamo).toHaveLength(onTable.length + onIndex.length); // no other table, no index/*
      }
    }
    // The index is the closer's alone; the mapper reads no window items.
    expect(roleStateActions('mapper').openWindowsIndex).toEqual([]);
    expect(roleStateActions('reducer').openWindowsIndex).toEqual([]);
    expect(roleStateActions('closer').openWindowsIndex).toEqual(['dynamodb:Query']);
    expect(roleStateActions('mapper').table).not.toContain('dynamodb:BatchGetItem');
  });

  test('no function may scan, delete, batch-write or describe the table, or use the AWS managed table key directly', () => {
    const actions = FUNCTION_ROLES.flatMap((role) => roleStatements(t, clicks.jobs.clicks!.wiring[role].executionRole).flatMap((s) => asArray(s.Action as string | string[])));
    for (const never of ['dynamodb:Scan', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:DescribeTable', 'dynamodb:UpdateItem', 'dynamodb:GetRecords']) expect(actions).not.toContain(never);
    expect(actions.filter((a) => a.startsWith('kms:'))).toEqual([]);
  });

  test('a customer-managed table key: kms:Decrypt on that key through DynamoDB only, for every function', () => {
    const { stacks } = buildTestApp({ jobs: 'clicks', config: { '*': { tableEncryption: 'customer-managed' } } });
    const stack = stacks[0]!;
    const template = Template.fromStack(stack);
    for (const role of FUNCTION_ROLES) {
      const kms = roleStatements(template, stack.jobs.clicks!.wiring[role].executionRole).filter((s) => asArray(s.Action as string | string[]).some((a) => a.startsWith('kms:')));
      expect(kms).toEqual([
        {
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: getAtt(stack.state.encryptionKey!.node.defaultChild as CfnElement),
          Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['dynamodb.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } },
        },
      ]);
    }
  });

  test('mapper: reads the input, PutRecords on its shuffle stream, late and rejected, failed batches under aws/lambda/ only', () => {
    const job = clicks.jobs.clicks!;
    const stmts = roleStatements(t, job.wiring.mapper.executionRole);
    expect(actionsOn(stmts, getAtt(job.shuffle.stream))).toEqual([...SHUFFLE_PORT_ACTIONS]);
    expect(actionsOn(stmts, getAtt(clicks.input.stream))).toEqual(expect.arrayContaining(['kinesis:GetRecords', 'kinesis:GetShardIterator']));
    expect(actionsOn(stmts, getAtt(clicks.input.stream))).not.toContain('kinesis:PutRecords');
    const firehose = stmts.filter((s) => asArray(s.Action as string[]).some((a) => a.startsWith('firehose:')));
    expect(firehose.map((s) => s.Action)).toEqual(['firehose:PutRecordBatch']);
    expect(firehose.flatMap((s) => asArray(s.Resource))).toEqual([getAtt(job.delivery.deliveryStreams.late), getAtt(job.delivery.deliveryStreams.rejected)]);
    expect(actionsOn(stmts, { 'Fn::Join': ['', [getAtt(clicks.outputs.bucket), '/aws/lambda/*']] })).toEqual(['s3:PutObject']);
    expect(actionsOn(stmts, getAtt(clicks.outputs.bucket))).toEqual(['s3:ListBucket']);
  });

  test('reducer: invokes only the unqualified closer; PutRecordBatch on results only in update mode', () => {
    for (const [name, expected] of [['clicks', ['late']], ['click-sessions', ['late', 'results']]] as const) {
      const job = clicks.jobs[name]!;
      const stmts = roleStatements(t, job.wiring.reducer.executionRole);
      expect(actionsOn(stmts, getAtt(job.wiring.closer))).toEqual([...CLOSER_NUDGE_ACTIONS]);
      expect(stmts.flatMap((s) => asArray(s.Resource)).map((r) => JSON.stringify(r))).not.toContain(JSON.stringify({ 'Fn::Join': ['', [getAtt(job.wiring.closer), ':*']] }));
      const firehose = stmts.filter((s) => asArray(s.Action as string[]).some((a) => a.startsWith('firehose:')));
      expect(firehose.map((s) => s.Action)).toEqual(['firehose:PutRecordBatch']);
      expect(firehose.flatMap((s) => asArray(s.Resource))).toEqual(expect.arrayContaining(expected.map((kind) => getAtt(job.delivery.deliveryStreams[kind]))));
      expect(firehose.flatMap((s) => asArray(s.Resource))).toHaveLength(expected.length);
    }
  });

  test('closer: its log group, the state table, the open-windows index by name and the results delivery only', () => {
    const job = clicks.jobs.clicks!;
    const stmts = roleStatements(t, job.wiring.closer.executionRole);
    const resources = new Set(stmts.flatMap((s) => asArray(s.Resource)).map((r) => JSON.stringify(r)));
    expect(resources).toEqual(
      new Set([
        JSON.stringify(getAtt(job.wiring.closer.functionLogGroup)),
        JSON.stringify(tableArn()),
        JSON.stringify(indexArn()),
        JSON.stringify(getAtt(job.delivery.deliveryStreams.results)),
      ]),
    );
  });
});

describe('query', () => {
  const projection = (location: string) => ({
    'projection.enabled': 'true',
    'projection.dt.type': 'date',
    'projection.dt.format': 'yyyy-MM-dd',
    'projection.dt.range': '2025-01-01,NOW+1DAYS',
    'projection.hour.type': 'integer',
    'projection.hour.range': '0,23',
    'projection.hour.digits': '2',
    'storage.location.template': { 'Fn::Join': ['', ['s3://', ref(clicks.outputs.bucket), `${location}dt=\${dt}/hour=\${hour}/`]] },
  });

  test('a Parquet Glue table per job over results/job=<job>/format=parquet/ with dt/hour partition projection', () => {
    t.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'riffle_clicks' } });
    t.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Name: 'click_sessions',
        TableType: 'EXTERNAL_TABLE',
        Parameters: Match.objectLike({ classification: 'parquet', ...projection('/results/job=click-sessions/format=parquet/') }),
        PartitionKeys: [Match.objectLike({ Name: 'dt', Type: 'string' }), Match.objectLike({ Name: 'hour', Type: 'string' })],
        StorageDescriptor: Match.objectLike({
          Location: { 'Fn::Join': ['', ['s3://', ref(clicks.outputs.bucket), '/results/job=click-sessions/format=parquet/']] },
          InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
          SerdeInfo: Match.objectLike({ SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' }),
        }),
      }),
    });
  });

  test('a JSON-lines Glue table per job (<job>_json) over what was written before Parquet, directly under results/job=<job>/', () => {
    t.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Name: 'click_sessions_json',
        Parameters: Match.objectLike({ classification: 'json', ...projection('/results/job=click-sessions/') }),
        StorageDescriptor: Match.objectLike({
          Location: { 'Fn::Join': ['', ['s3://', ref(clicks.outputs.bucket), '/results/job=click-sessions/']] },
          InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          SerdeInfo: Match.objectLike({ SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' }),
        }),
      }),
    });
  });

  test('columns: the result fields in record order with exact types (times timestamp, counts bigint, means double, top-k a list of structs)', () => {
    const columns = (table: { Properties: { TableInput: { StorageDescriptor: { Columns: { Name: string; Type: string }[] } } } }) =>
      table.Properties.TableInput.StorageDescriptor.Columns.map((c) => `${c.Name}:${c.Type}`);
    const tables = st.findResources('AWS::Glue::Table');
    expect(columns(tables[logicalId(sensors.query.tables['sensor-averages']!)] as never)).toEqual([
      'resultid:string', 'job:string', 'key:string', 'windowstart:timestamp', 'windowend:timestamp',
      'count:bigint', 'temperature_avg:double', 'temperature_p95:double', 'top:array<struct<value:string,count:bigint>>',
      'final:boolean', 'version:bigint', 'eventcount:bigint', 'emittedat:timestamp', 'job_version:bigint', 'revision:bigint',
    ]);
    // The JSON table reads the text the records hold: times and structured values as strings.
    expect(columns(tables[logicalId(sensors.query.jsonTables['sensor-averages']!)] as never)).toEqual([
      'resultid:string', 'job:string', 'key:string', 'windowstart:string', 'windowend:string',
      'count:bigint', 'temperature_avg:double', 'temperature_p95:double', 'top:string',
      'final:boolean', 'version:bigint', 'eventcount:bigint', 'emittedat:string', 'job_version:bigint', 'revision:bigint',
    ]);
    const sessions = Object.values(t.findResources('AWS::Glue::Table')).find((r) => r.Properties.TableInput.Name === 'click_sessions')!;
    // first/last and user-defined aggregates: strings (numbers as their text, structures as JSON).
    expect(columns(sessions as never).slice(5, 8)).toEqual(['clicks:bigint', 'entry_page:string', 'duration_ms:string']);
  });

  test('an Athena workgroup enforcing an SSE-S3 results location in the bucket', () => {
    t.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'riffle-clicks',
      RecursiveDeleteOption: true,
      WorkGroupConfiguration: Match.objectLike({
        EnforceWorkGroupConfiguration: true,
        ResultConfiguration: {
          OutputLocation: { 'Fn::Join': ['', ['s3://', ref(clicks.outputs.bucket), '/athena-results/']] },
          EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
        },
      }),
    });
  });
});

describe('operations', () => {
  /** Every alarm of the template by name. */
  const alarmsByName = (template: Template): Record<string, Record<string, unknown>> =>
    Object.fromEntries(Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((r) => [r.Properties.AlarmName as string, r.Properties as Record<string, unknown>]));

  test('alarms per stack: failed batches, delivery errors, state throttling ×3; per job: iterator age ×2, errors ×3, throttles ×3, delivery freshness and success per stream, rejected rate', () => {
    const names = Object.keys(alarmsByName(t));
    const perStack = ['failed-batches', 'delivery-errors', 'state-throttled-requests', 'state-throttle-events', 'state-index-throttle-events'].map((n) => `Riffle-clicks-${n}`);
    const perJob = (job: string) =>
      [
        'mapper-iterator-age', 'reducer-iterator-age', 'mapper-errors', 'reducer-errors', 'closer-errors', 'mapper-throttles', 'reducer-throttles', 'closer-throttles',
        ...OUTPUT_KINDS.flatMap((kind) => [`${kind}-delivery-freshness`, `${kind}-delivery-success`]), 'rejected-rate',
      ].map((n) => `Riffle-${job}-${n}`);
    expect(names).toEqual(expect.arrayContaining([...perStack, ...perJob('clicks'), ...perJob('click-sessions')]));
    // Exactly the names infra/alarm-names.ts gives the console (a new alarm must be listed there).
    expect([...names].sort()).toEqual([...stackAlarmNames('clicks'), ...jobAlarmNames('clicks'), ...jobAlarmNames('click-sessions')].sort());
  });

  test('every alarm treats missing data as not breaching, says what to do, and notifies the alarm topic on ALARM and OK', () => {
    const { stacks } = buildTestApp({ jobs: 'clicks', config: { '*': { alarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:riffle-ops' } } });
    const alarms = Object.values(alarmsByName(Template.fromStack(stacks[0]!)));
    expect(alarms.length).toBeGreaterThanOrEqual(5 + 15);
    for (const alarm of alarms) {
      expect({ name: alarm.AlarmName, missing: alarm.TreatMissingData }).toEqual({ name: alarm.AlarmName, missing: 'notBreaching' });
      expect({ name: alarm.AlarmName, described: JSON.stringify(alarm.AlarmDescription ?? '').length > 60 }).toEqual({ name: alarm.AlarmName, described: true });
      expect(alarm.AlarmActions).toEqual(['arn:aws:sns:us-east-1:123456789012:riffle-ops']);
      expect(alarm.OKActions).toEqual(['arn:aws:sns:us-east-1:123456789012:riffle-ops']);
    }
  });

  test("Firehose: data freshness above each stream's buffering interval + 5 min, and success below 1, for 3 periods of 5 min", () => {
    const alarms = alarmsByName(t);
    const job = clicks.jobs.clicks!;
    const interval = job.delivery.bufferingInterval.toSeconds();
    for (const kind of OUTPUT_KINDS) {
      expect(alarms[`Riffle-clicks-${kind}-delivery-freshness`]).toMatchObject({
        Namespace: 'AWS/Firehose',
        MetricName: 'DeliveryToS3.DataFreshness',
        Dimensions: [{ Name: 'DeliveryStreamName', Value: ref(job.delivery.deliveryStreams[kind]) }],
        Statistic: 'Maximum',
        Threshold: interval + 300,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 3,
        DatapointsToAlarm: 3,
      });
      expect(alarms[`Riffle-clicks-${kind}-delivery-success`]).toMatchObject({
        Namespace: 'AWS/Firehose',
        MetricName: 'DeliveryToS3.Success',
        Dimensions: [{ Name: 'DeliveryStreamName', Value: ref(job.delivery.deliveryStreams[kind]) }],
        Statistic: 'Average',
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        EvaluationPeriods: 3,
      });
    }
    // A longer buffer moves the freshness threshold with it.
    const { stacks } = buildTestApp({ jobs: 'clicks', config: { clicks: { firehoseBufferInterval: '10m' } } });
    expect(alarmsByName(Template.fromStack(stacks[0]!))['Riffle-clicks-results-delivery-freshness']).toMatchObject({ Threshold: 900 });
  });

  test('Lambda throttles: mapper and reducer throttled 3 periods running; the closer throttled without a single run', () => {
    const alarms = alarmsByName(t);
    const { mapper, reducer, closer } = clicks.jobs.clicks!.wiring;
    for (const [role, fn] of [['mapper', mapper], ['reducer', reducer]] as const) {
      expect(alarms[`Riffle-clicks-${role}-throttles`]).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'Throttles',
        Dimensions: [{ Name: 'FunctionName', Value: ref(fn) }],
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 3,
        DatapointsToAlarm: 3,
      });
    }
    const closerAlarm = alarms['Riffle-clicks-closer-throttles']!;
    const metrics = closerAlarm.Metrics as { Id: string; Expression?: string; MetricStat?: { Metric: { MetricName: string; Dimensions: unknown } } }[];
    expect(metrics.find((m) => m.Expression)?.Expression).toBe('IF(FILL(throttles, 0) > 0 AND FILL(invocations, 0) == 0, 1, 0)');
    expect(metrics.filter((m) => m.MetricStat).map((m) => [m.Id, m.MetricStat!.Metric.MetricName, m.MetricStat!.Metric.Dimensions])).toEqual([
      ['throttles', 'Throttles', [{ Name: 'FunctionName', Value: ref(closer) }]],
      ['invocations', 'Invocations', [{ Name: 'FunctionName', Value: ref(closer) }]],
    ]);
  });

  test("DynamoDB: ThrottledRequests of the functions' operations, and read/write throttle events of the table and of the open-windows index", () => {
    const alarms = alarmsByName(t);
    const table = ref(clicks.state.table);
    const stats = (name: string) =>
      (alarms[name]!.Metrics as { MetricStat?: { Metric: { MetricName: string; Dimensions: { Name: string; Value: unknown }[] } } }[])
        .filter((m) => m.MetricStat)
        .map((m) => ({ metric: m.MetricStat!.Metric.MetricName, dimensions: Object.fromEntries(m.MetricStat!.Metric.Dimensions.map((d) => [d.Name, d.Value])) }));
    expect(stats('Riffle-clicks-state-throttled-requests').sort((a, b) => String(a.dimensions.Operation).localeCompare(String(b.dimensions.Operation)))).toEqual(
      ['BatchGetItem', 'GetItem', 'PutItem', 'Query'].map((operation) => ({ metric: 'ThrottledRequests', dimensions: { TableName: table, Operation: operation } })),
    );
    expect(stats('Riffle-clicks-state-throttle-events')).toEqual([
      { metric: 'ReadThrottleEvents', dimensions: { TableName: table } },
      { metric: 'WriteThrottleEvents', dimensions: { TableName: table } },
    ]);
    expect(stats('Riffle-clicks-state-index-throttle-events')).toEqual([
      { metric: 'ReadThrottleEvents', dimensions: { TableName: table, GlobalSecondaryIndexName: 'open-windows' } },
      { metric: 'WriteThrottleEvents', dimensions: { TableName: table, GlobalSecondaryIndexName: 'open-windows' } },
    ]);
    for (const name of ['Riffle-clicks-state-throttled-requests', 'Riffle-clicks-state-throttle-events', 'Riffle-clicks-state-index-throttle-events']) {
      expect(alarms[name]).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 3, DatapointsToAlarm: 3 });
    }
  });

  test('a dashboard per stack with every alarm and the Riffle metrics of each job', () => {
    const dashboards = Object.values(t.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    // The body is a JSON string joined with tokens (names, alarm ARNs); its literal parts suffice here.
    const parts = (dashboards[0]!.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
    const body = parts.filter((part): part is string => typeof part === 'string').join('');
    expect(body).toContain('"type":"alarm"');
    expect(body).toContain(`SEARCH('{Riffle,job,service} MetricName=\\"LateEvents\\" job=\\"click-sessions\\"', 'Sum', 300)`);
  });

  test('iterator age of mapper and reducer alarms above 5 minutes', () => {
    for (const fn of [clicks.jobs.clicks!.wiring.mapper, clicks.jobs.clicks!.wiring.reducer]) {
      t.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: 'IteratorAge',
        Dimensions: [{ Name: 'FunctionName', Value: ref(fn) }],
        Statistic: 'Maximum',
        Threshold: 300_000,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
  });

  test('function errors alarm per function', () => {
    const { mapper, reducer, closer } = clicks.jobs['click-sessions']!.wiring;
    for (const fn of [mapper, reducer, closer]) {
      t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: ref(fn) }], Threshold: 1 });
    }
  });

  test('rejected rate: Riffle/RejectedEvents {service: riffle-mapper, job} over the input IncomingRecords, in percent', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Riffle-clicks-rejected-rate',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: Match.stringLikeRegexp('100 \\* FILL\\(rejected, 0\\) / FILL\\(incoming, 0\\)') }),
        Match.objectLike({
          Id: 'rejected',
          MetricStat: Match.objectLike({
            Metric: { Namespace: 'Riffle', MetricName: 'RejectedEvents', Dimensions: [{ Name: 'job', Value: 'clicks' }, { Name: 'service', Value: 'riffle-mapper' }] },
            Stat: 'Sum',
          }),
        }),
        Match.objectLike({ Id: 'incoming', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'IncomingRecords', Namespace: 'AWS/Kinesis' }) }) }),
      ]),
    });
  });

  test('objects in failed/ and errors/: S3 request metrics of the prefix filters', () => {
    for (const filter of ['failed', 'delivery-errors']) {
      t.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/S3',
        MetricName: 'PutRequests',
        Dimensions: [{ Name: 'BucketName', Value: ref(clicks.outputs.bucket) }, { Name: 'FilterId', Value: filter }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
  });
});

describe('outputs', () => {
  test('every name a script needs, per job, under stable keys', () => {
    const outputs = t.toJSON().Outputs as Record<string, { Value: unknown }>;
    for (const job of ['clicks', 'click-sessions']) {
      for (const name of JOB_OUTPUTS) expect(outputs).toHaveProperty(outputKey(job, name));
    }
    expect(outputs.ClickSessionsInputStream!.Value).toEqual(ref(clicks.input.stream));
    expect(outputs.ClickSessionsShuffleStream!.Value).toEqual(ref(clicks.jobs['click-sessions']!.shuffle.stream));
    expect(outputs.ClickSessionsGlueTable!.Value).toBe('click_sessions');
    expect(outputs.ClickSessionsAthenaWorkgroup!.Value).toBe('riffle-clicks');
    expect(outputs.Jobs!.Value).toBe('clicks,click-sessions');
    expect(Object.keys(outputs)).toHaveLength(3 + 2 * JOB_OUTPUTS.length);
  });
});

describe('input archive (source setting inputArchive)', () => {
  let archived: RiffleStack;
  let at: Template;
  beforeAll(() => {
    archived = buildTestApp({ jobs: 'sensor-averages', config: { 'sensor-averages': { inputArchive: true, archiveRetentionDays: 30 } } }).stacks[0]!;
    at = Template.fromStack(archived);
  });

  test('off by default: no archiver, no archive delivery stream, no archive/ lifecycle rule, no InputArchive output', () => {
    expect(sensors.archive).toBeUndefined();
    st.resourceCountIs('AWS::Lambda::Function', 3);
    st.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
    st.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 3);
    expect(JSON.stringify(st.toJSON())).not.toMatch(/archive\//);
    expect(Object.keys(st.toJSON().Outputs as object)).not.toContain('InputArchive');
  });

  test('on: the archiver on its own mapping of the input stream with the mapper\'s safety settings, and its environment', () => {
    const archive = archived.archive!;
    at.resourceCountIs('AWS::Lambda::Function', 4);
    at.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: ref(archive.archiver),
      EventSourceArn: getAtt(archived.input.stream),
      StartingPosition: 'TRIM_HORIZON',
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: Match.absent(),
      MaximumRecordAgeInSeconds: Match.absent(),
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ParallelizationFactor: 1,
      DestinationConfig: { OnFailure: { Destination: getAtt(archived.outputs.bucket) } },
    });
    at.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps', RIFFLE_ARCHIVE_DELIVERY: ref(archive.deliveryStream) } },
    });
    expect(at.toJSON().Outputs.InputArchive).toMatchObject({ Value: 'archive/' });
  });

  test('on: a GZIP delivery stream partitioned by arrival hour under archive/, expired after archiveRetentionDays', () => {
    at.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' },
      ExtendedS3DestinationConfiguration: Match.objectLike({
        Prefix: 'archive/dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/',
        ErrorOutputPrefix: 'errors/archive/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/',
        CompressionFormat: 'GZIP',
        DynamicPartitioningConfiguration: { Enabled: true, RetryOptions: { DurationInSeconds: 300 } },
        CloudWatchLoggingOptions: Match.objectLike({ Enabled: true }),
      }),
    });
    at.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([{ Id: 'expire-archive', Prefix: 'archive/', ExpirationInDays: 30, Status: 'Enabled' }]) },
    });
  });

  test('grants: the archiver may only PutRecordBatch on its delivery stream (and read the input through its mapping); the delivery role writes only archive/ and errors/archive/', () => {
    const archive = archived.archive!;
    const stmts = roleStatements(at, archive.archiver.executionRole);
    const firehose = stmts.filter((s) => asArray(s.Action as string[]).some((a) => a.startsWith('firehose:')));
    expect(firehose).toEqual([expect.objectContaining({ Action: 'firehose:PutRecordBatch', Resource: getAtt(archive.deliveryStream) })]);
    expect(stmts.flatMap((s) => asArray(s.Action as string[])).filter((a) => a.startsWith('dynamodb:') || a === 'kinesis:PutRecords')).toEqual([]);
    expect(actionsOn(stmts, getAtt(archived.input.stream))).toEqual(expect.arrayContaining(['kinesis:GetRecords', 'kinesis:GetShardIterator']));
    const role = roleStatements(at, archive.role);
    const writes = role.filter((s) => asArray(s.Action as string[]).includes('s3:PutObject')).flatMap((s) => asArray(s.Resource));
    expect(writes).toEqual([
      { 'Fn::Join': ['', [getAtt(archived.outputs.bucket), '/archive/*']] },
      { 'Fn::Join': ['', [getAtt(archived.outputs.bucket), '/errors/archive/*']] },
    ]);
  });
});
