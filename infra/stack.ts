// RiffleStack: everything for one input source — the input stream, state table and bucket its
// jobs share, and per job a shuffle stream, delivery streams, functions, a Glue table, alarms —
// plus the outputs scripts read (infra/outputs.ts, docs/CONTRACTS.md "Stack outputs").
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Tags, Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { SourcePlan } from './config';
import { encodeFingerprint, fingerprintOutputKey, jobFingerprint } from '../functions/core/job-fingerprint';
import { jobs as registry } from '../jobs';
import { InputArchive } from './constructs/archive';
import { JobDelivery, OutputBucket } from './constructs/delivery';
import { RiffleOperations } from './constructs/operations';
import { QueryCatalog, glueTableName } from './constructs/query';
import { RiffleJob } from './constructs/riffle-job';
import { StateTable } from './constructs/state';
import { RiffleStream } from './constructs/streams';
import { type JobOutput, outputKey, pascal, type StackOutput } from './outputs';

export interface RiffleStackProps extends StackProps {
  /** The source and its jobs with validated settings (infra/config.ts planDeployment). */
  readonly plan: SourcePlan;
}

/** A job's resources, as built by the stack. */
export interface RiffleStackJob {
  readonly shuffle: RiffleStream;
  readonly delivery: JobDelivery;
  readonly wiring: RiffleJob;
}

export class RiffleStack extends Stack {
  public readonly input: RiffleStream;
  public readonly state: StateTable;
  public readonly outputs: OutputBucket;
  public readonly query: QueryCatalog;
  public readonly operations: RiffleOperations;
  /** The raw input archive (source setting inputArchive), when on. */
  public readonly archive?: InputArchive;
  /** Job name → its resources. */
  public readonly jobs: Readonly<Record<string, RiffleStackJob>>;

  constructor(scope: Construct, id: string, props: RiffleStackProps) {
    const { plan } = props;
    super(scope, id, {
      description: `Riffle: jobs ${plan.jobs.map((j) => j.job.name).join(', ')} over source '${plan.source}' (streams, functions, state, delivery, query, alarms)`,
      ...props,
    });
    Tags.of(this).add('riffle:source', plan.source);
    const settings = plan.settings;
    const removalPolicy = settings.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const retention = Duration.seconds(settings.streamRetention);

    this.input = new RiffleStream(this, 'Input', { streamMode: settings.streamMode, shardCount: settings.inputShards, retention });
    this.state = new StateTable(this, 'State', {
      encryption: settings.tableEncryption,
      deletionProtection: settings.deletionProtection,
      removalPolicy,
    });
    this.outputs = new OutputBucket(this, 'Outputs', {
      rejectedRetentionDays: settings.rejectedRetentionDays,
      lateRetentionDays: settings.lateRetentionDays,
      failedRetentionDays: settings.failedRetentionDays,
      queryResultsRetentionDays: settings.queryResultsRetentionDays,
      accessLogRetentionDays: settings.accessLogRetentionDays,
      removalPolicy,
    });

    if (settings.inputArchive) {
      this.archive = new InputArchive(this, 'Archive', {
        source: plan.source,
        inputStream: this.input.stream,
        bucket: this.outputs.bucket,
        onFailure: this.outputs.failedBatchesDestination(),
        retentionDays: settings.archiveRetentionDays,
      });
    }

    const jobs: Record<string, RiffleStackJob> = {};
    for (const { job, settings: s } of plan.jobs) {
      const id = pascal(job.name);
      const shuffle = new RiffleStream(this, `${id}Shuffle`, { streamMode: settings.streamMode, shardCount: s.shuffleShards, retention });
      const logRetention = s.logRetentionDays as logs.RetentionDays;
      const delivery = new JobDelivery(this, `${id}Delivery`, {
        job: job.name,
        bucket: this.outputs.bucket,
        bufferingInterval: Duration.seconds(s.firehoseBufferInterval),
        bufferingSizeMb: s.firehoseBufferSizeMb,
        logRetention,
      });
      const wiring = new RiffleJob(this, `${id}Job`, {
        job,
        inputStream: this.input.stream,
        shuffleStream: shuffle.stream,
        stateTable: this.state.table,
        delivery,
        onFailure: this.outputs.failedBatchesDestination(),
        shuffleBuckets: s.shuffleBuckets,
        mapper: {
          batchSize: s.mapperBatchSize,
          maxBatchingWindow: Duration.seconds(s.mapperBatchingWindow),
          memorySize: s.mapperMemoryMb,
          timeout: Duration.seconds(s.mapperTimeout),
        },
        reducer: {
          batchSize: s.reducerBatchSize,
          maxBatchingWindow: Duration.seconds(s.reducerBatchingWindow),
          parallelizationFactor: s.reducerParallelization,
          memorySize: s.reducerMemoryMb,
          timeout: Duration.seconds(s.reducerTimeout),
        },
        closer: {
          memorySize: s.closerMemoryMb,
          timeout: Duration.seconds(s.closerTimeout),
          reservedConcurrency: s.closerReservedConcurrency ?? null,
          interval: Duration.seconds(s.closerInterval),
        },
        enhancedFanOut: s.enhancedFanOut,
        retryAttempts: s.retryAttempts,
        ...(s.maxRecordAge !== undefined ? { maxRecordAge: Duration.seconds(s.maxRecordAge) } : {}),
        closedRetentionDays: s.closedRetentionDays,
        logRetention,
        logLevel: s.logLevel,
      });
      jobs[job.name] = { shuffle, delivery, wiring };
    }
    this.jobs = jobs;

    this.query = new QueryCatalog(this, 'Query', {
      source: plan.source,
      bucket: this.outputs.bucket,
      jobs: plan.jobs.map((j) => j.job),
      startDates: Object.fromEntries(plan.jobs.map((j) => [j.job.name, j.settings.queryStartDate])),
      // Results are converted to Parquet with the schema of each job's Glue table.
      deliveries: Object.fromEntries(Object.entries(jobs).map(([name, built]) => [name, built.delivery])),
    });

    this.operations = new RiffleOperations(this, 'Operations', {
      source: plan.source,
      inputStream: this.input.stream,
      outputs: this.outputs,
      stateTable: this.state.table,
      alarmTopic: settings.alarmTopicArn ? sns.Topic.fromTopicArn(this, 'AlarmTopic', settings.alarmTopicArn) : undefined,
      jobs: plan.jobs.map(({ job, settings: s }) => ({
        name: job.name,
        wiring: (jobs[job.name] as RiffleStackJob).wiring,
        delivery: (jobs[job.name] as RiffleStackJob).delivery,
        iteratorAgeThreshold: Duration.seconds(s.iteratorAgeAlarm),
        rejectedRatePercent: s.rejectedRateAlarmPercent,
      })),
    });

    this.addOutputs(plan);
    this.acknowledgeFindings();
  }

  private addOutputs(plan: SourcePlan): void {
    const stackOutput = (key: StackOutput, value: string, description: string): void => {
      new CfnOutput(this, key, { key, value, description });
    };
    stackOutput('Source', plan.source, 'Input source of this stack');
    stackOutput('Jobs', plan.jobs.map((j) => j.job.name).join(','), 'Jobs deployed in this stack, comma-separated');
    stackOutput('Dashboard', this.operations.dashboard.dashboardName, 'CloudWatch dashboard');
    if (this.archive) stackOutput('InputArchive', 'archive/', 'Prefix of the raw input archive in the bucket (inputArchive on; `npm run reprocess` reads it)');

    for (const { job } of plan.jobs) {
      const built = this.jobs[job.name] as RiffleStackJob;
      const values: Record<JobOutput, [string, string]> = {
        InputStream: [this.input.stream.streamName, 'Kinesis stream producers write events to (partition key = entity id)'],
        ShuffleStream: [built.shuffle.stream.streamName, 'Kinesis stream between mapper and reducer'],
        StateTable: [this.state.table.tableName, 'DynamoDB table with window state and shard progress'],
        Bucket: [this.outputs.bucket.bucketName, 'S3 bucket with results/, late/, rejected/, aws/lambda/ (failed batches), errors/'],
        ResultsDelivery: [built.delivery.deliveryStreamName('results'), 'Firehose delivery stream for results/'],
        LateDelivery: [built.delivery.deliveryStreamName('late'), 'Firehose delivery stream for late/'],
        RejectedDelivery: [built.delivery.deliveryStreamName('rejected'), 'Firehose delivery stream for rejected/'],
        MapperFunction: [built.wiring.mapper.functionName, 'Mapper Lambda function'],
        ReducerFunction: [built.wiring.reducer.functionName, 'Reducer Lambda function'],
        CloserFunction: [built.wiring.closer.functionName, 'Closer Lambda function'],
        GlueDatabase: [this.query.databaseName, 'Glue database of the results tables'],
        GlueTable: [glueTableName(job.name), 'Glue table over results/job=<job>/ (Athena)'],
        AthenaWorkgroup: [this.query.workgroupName, 'Athena workgroup (results location enforced)'],
      };
      for (const [name, [value, description]] of Object.entries(values) as [JobOutput, [string, string]][]) {
        const key = outputKey(job.name, name);
        new CfnOutput(this, key, { key, value, description: `${job.name}: ${description}` });
      }
      // What a later deploy compares against (job-fingerprint.ts): the state-relevant definition and its version.
      const defined = Object.prototype.hasOwnProperty.call(registry, job.name) ? registry[job.name] : undefined;
      if (defined) {
        const key = fingerprintOutputKey(pascal(job.name));
        new CfnOutput(this, key, { key, value: encodeFingerprint(jobFingerprint(defined)), description: `${job.name}: fingerprint and version of the deployed definition` });
      }
    }
  }

  /** Stack-wide cdk-nag findings that are intended, each with its reason. */
  private acknowledgeFindings(): void {
    // Resource-level acknowledgements live with the resource (riffle-job.ts, delivery.ts); only
    // the access-log bucket is acknowledged here, where its purpose is visible.
    Validations.of(this.outputs.accessLogsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the server access log bucket of the Riffle bucket; logging it into itself or another bucket would only log the log delivery.',
    });
  }
}
