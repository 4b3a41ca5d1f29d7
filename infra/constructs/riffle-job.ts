// RiffleJob: one job wired end to end — mapper on the input stream, reducer on the job's shuffle
// stream, closer on a schedule (and invoked by the reducer), each bundling only this
// job's file, with the environment of functions/contract (validated here, at synth) and grants
// of exactly the calls each function's code makes (grants.ts, from functions/contract/permissions.ts).
// The streams, table, bucket and delivery streams are passed in: the stack owns what jobs share.
import { CfnElement, Duration, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KinesisConsumerEventSource, KinesisEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CLOSED_RETENTION_DAYS, powertoolsEnvironment, roleEnvironment, type FunctionRole } from '../../functions/contract';
import { jobModule } from '../../jobs';
import type { JobDescriptor } from '../config';
import type { JobDelivery } from './delivery';
import { grantRoleAccess } from './grants';
import { RiffleFunction } from './riffle-function';

export type { FunctionRole } from '../../functions/contract';

/** Sizing of a function and the event source mapping that feeds it. */
export interface StreamConsumerOptions {
  /** Records per invocation (1–10000). */
  readonly batchSize?: number;
  /** How long the ESM gathers records before invoking (0–300 s). */
  readonly maxBatchingWindow?: Duration;
  readonly memorySize?: number;
  readonly timeout?: Duration;
}

export interface ReducerOptions extends StreamConsumerOptions {
  /** Concurrent batches per shuffle shard (1–10). The reducer may exceed 1: its partitions are keys. */
  readonly parallelizationFactor?: number;
}

export interface CloserOptions {
  readonly memorySize?: number;
  readonly timeout?: Duration;
  /**
   * Reserved concurrency, or null for none (accounts whose concurrency limit is 10 cannot reserve).
   * One closer at a time suffices; its conditional writes make more safe, but wasteful. @default 1
   */
  readonly reservedConcurrency?: number | null;
  /** Period of the closer's schedule, whole minutes (the reducer also nudges it). @default Duration.minutes(1) */
  readonly interval?: Duration;
}

export interface RiffleJobProps {
  readonly job: JobDescriptor;
  /** The source's input stream (shared by the jobs of a source). */
  readonly inputStream: kinesis.IStream;
  /** This job's shuffle stream. */
  readonly shuffleStream: kinesis.IStream;
  readonly stateTable: dynamodb.ITable;
  readonly delivery: JobDelivery;
  /** Where the mapper's and reducer's ESMs send batches that exhausted their retries. */
  readonly onFailure: lambda.IEventSourceDlq;
  /** RIFFLE_SHUFFLE_BUCKETS (checked against the functions' limit at synth). @default 8 */
  readonly shuffleBuckets?: number;
  /** @default { batchSize: 1000, maxBatchingWindow: 1 s, memorySize: 1024, timeout: 60 s } */
  readonly mapper?: StreamConsumerOptions;
  /** @default { batchSize: 1000, maxBatchingWindow: 5 s, parallelizationFactor: 1, memorySize: 1024, timeout: 60 s } */
  readonly reducer?: ReducerOptions;
  /** @default { memorySize: 512, timeout: 60 s, reservedConcurrency: 1, interval: 1 minute } */
  readonly closer?: CloserOptions;
  /**
   * Read both streams through enhanced fan-out consumers (records pushed in ~70 ms instead of
   * polled about once a second per shard; billed per consumer-shard-hour). @default false
   */
  readonly enhancedFanOut?: boolean;
  /**
   * Retries of a failed batch (mapper and reducer ESMs). @default unlimited — retried until it
   * succeeds or leaves the stream: nothing is skipped within retention (the mapper rejects poison
   * records instead of failing on them). A finite value skips batches; `npm run replay` re-drives them.
   */
  readonly retryAttempts?: number;
  /** Records older than this go to the on-failure destination. @default unlimited (the stream's retention) */
  readonly maxRecordAge?: Duration;
  /** RIFFLE_CLOSED_RETENTION_DAYS. @default 7 */
  readonly closedRetentionDays?: number;
  /** Retention of the functions' log groups. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** POWERTOOLS_LOG_LEVEL. @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

export class RiffleJob extends Construct {
  public readonly mapper: RiffleFunction;
  public readonly reducer: RiffleFunction;
  public readonly closer: RiffleFunction;
  public readonly mapperEventSource: KinesisEventSource | KinesisConsumerEventSource;
  public readonly reducerEventSource: KinesisEventSource | KinesisConsumerEventSource;
  /** The enhanced fan-out consumers of the input and shuffle streams, when enabled. */
  public readonly consumers?: { readonly mapper: kinesis.StreamConsumer; readonly reducer: kinesis.StreamConsumer };
  public readonly closerSchedule: events.Rule;

  constructor(scope: Construct, id: string, props: RiffleJobProps) {
    super(scope, id);
    const { job, delivery, stateTable } = props;
    const shuffleBuckets = props.shuffleBuckets ?? 8;
    const closedRetentionDays = props.closedRetentionDays ?? CLOSED_RETENTION_DAYS.default;
    const common = { job: job.name, stateTable: stateTable.tableName, shuffleBuckets };
    const withPowertools = (role: FunctionRole, variables: Record<string, string>): Record<string, string> => ({ ...powertoolsEnvironment(role, props.logLevel ?? 'INFO'), ...variables });
    const fn = (role: FunctionRole) => ({ logRetention: props.logRetention, entry: `functions/lambda/${role}.ts`, job: jobModule(job.name) });

    this.closer = new RiffleFunction(this, 'Closer', {
      ...fn('closer'),
      description: `Riffle ${job.name}: closes windows past the watermark and emits their final results`,
      memorySize: props.closer?.memorySize ?? 512,
      timeout: props.closer?.timeout,
      reservedConcurrentExecutions: props.closer?.reservedConcurrency === null ? undefined : (props.closer?.reservedConcurrency ?? 1),
      environment: withPowertools('closer', roleEnvironment('closer', { ...common, resultsDelivery: delivery.deliveryStreamName('results'), closedRetentionDays })),
    });

    this.mapper = new RiffleFunction(this, 'Mapper', {
      ...fn('mapper'),
      description: `Riffle ${job.name}: decodes, validates and maps input events into partials on the shuffle stream`,
      memorySize: props.mapper?.memorySize,
      timeout: props.mapper?.timeout,
      environment: withPowertools(
        'mapper',
        roleEnvironment('mapper', {
          ...common,
          shuffleStream: props.shuffleStream.streamName,
          lateDelivery: delivery.deliveryStreamName('late'),
          rejectedDelivery: delivery.deliveryStreamName('rejected'),
        }),
      ),
    });

    this.reducer = new RiffleFunction(this, 'Reducer', {
      ...fn('reducer'),
      description: `Riffle ${job.name}: merges partials into window state exactly once`,
      memorySize: props.reducer?.memorySize,
      timeout: props.reducer?.timeout,
      environment: withPowertools(
        'reducer',
        roleEnvironment('reducer', {
          ...common,
          // Set in both emit modes (the handler reads it eagerly); only 'update' grants the put.
          resultsDelivery: delivery.deliveryStreamName('results'),
          lateDelivery: delivery.deliveryStreamName('late'),
          closerFunction: this.closer.functionName,
        }),
      ),
    });

    // Safety settings shared by both stream consumers. Retries and record age are unlimited unless
    // set (left out of the template: CloudFormation's -1), so an outage shorter than the stream's
    // retention skips nothing; a stuck shard shows in the iterator-age alarms. Bisecting isolates a
    // failing record, and whatever is skipped anyway (finite settings) lands in the on-failure
    // destination for `npm run replay`.
    const safety = {
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      bisectBatchOnError: true,
      ...(props.retryAttempts !== undefined ? { retryAttempts: props.retryAttempts } : {}),
      ...(props.maxRecordAge !== undefined ? { maxRecordAge: props.maxRecordAge } : {}),
      reportBatchItemFailures: true,
      onFailure: props.onFailure,
    };
    const mapperSource = {
      ...safety,
      batchSize: props.mapper?.batchSize ?? 1000,
      maxBatchingWindow: props.mapper?.maxBatchingWindow ?? Duration.seconds(1),
      // Always 1: per-shard order is what the exactly-once fence relies on (docs/DESIGN.md).
      parallelizationFactor: 1,
    };
    const reducerSource = {
      ...safety,
      batchSize: props.reducer?.batchSize ?? 1000,
      maxBatchingWindow: props.reducer?.maxBatchingWindow ?? Duration.seconds(5),
      parallelizationFactor: props.reducer?.parallelizationFactor ?? 1,
    };
    if (props.enhancedFanOut) {
      // One consumer per function: a consumer is a dedicated 2 MB/s pipe per shard (the input
      // stream's other jobs keep their own), and Lambda reads it with SubscribeToShard pushes.
      this.consumers = {
        mapper: new kinesis.StreamConsumer(this, 'MapperConsumer', { stream: props.inputStream, streamConsumerName: `riffle-${job.name}-mapper` }),
        reducer: new kinesis.StreamConsumer(this, 'ReducerConsumer', { stream: props.shuffleStream, streamConsumerName: `riffle-${job.name}-reducer` }),
      };
      this.mapperEventSource = new KinesisConsumerEventSource(this.consumers.mapper, mapperSource);
      this.reducerEventSource = new KinesisConsumerEventSource(this.consumers.reducer, reducerSource);
    } else {
      this.mapperEventSource = new KinesisEventSource(props.inputStream, mapperSource);
      this.reducerEventSource = new KinesisEventSource(props.shuffleStream, reducerSource);
    }
    this.mapper.addEventSource(this.mapperEventSource);
    this.reducer.addEventSource(this.reducerEventSource);

    // The watermark advances with the input, not with time: the schedule closes windows when
    // no new batches arrive (the reducer's nudges close them while batches do). Missed or
    // throttled ticks are harmless — the next one comes one interval later.
    const closerMinutes = (props.closer?.interval ?? Duration.minutes(1)).toMinutes();
    this.closerSchedule = new events.Rule(this, 'CloserSchedule', {
      description: `Riffle ${job.name}: run the closer every ${closerMinutes === 1 ? 'minute' : `${closerMinutes} minutes`}`,
      schedule: events.Schedule.rate(Duration.minutes(closerMinutes)),
      targets: [new targets.LambdaFunction(this.closer, { retryAttempts: 0, maxEventAge: Duration.minutes(1) })],
    });
    // Async invocations (schedule and reducer) queue behind the reserved concurrency of 1: drop
    // stale ones instead of piling them up for hours.
    this.closer.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });

    // Grants: exactly the calls of each function's code (functions/contract/permissions.ts).
    const granted = { job, stateTable, delivery };
    grantRoleAccess(this.mapper, 'mapper', { ...granted, shuffleStream: props.shuffleStream });
    grantRoleAccess(this.reducer, 'reducer', { ...granted, closer: this.closer });
    grantRoleAccess(this.closer, 'closer', granted);

    this.acknowledgeFindings();
  }

  /** cdk-nag findings that are intended here, each with its reason. */
  private acknowledgeFindings(): void {
    // The grants name every resource and action (grants.ts): no IAM5 finding to acknowledge here.
    for (const fn of [this.mapper, this.reducer, this.closer]) {
      Validations.of(fn.node.defaultChild as CfnElement).acknowledge({
        id: 'AwsSolutions-L1',
        reason: 'Node.js 22 is pinned on purpose: the same bundle runs on the embedded local cloud (on the Node 22 binary npm ships, as the template names it) and on LocalStack 4.x, and the project is tested on Node 22; the runtime moves with them, not with the newest Lambda runtime.',
      });
    }
  }
}
