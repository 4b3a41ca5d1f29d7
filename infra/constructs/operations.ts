// RiffleOperations: what an operator watches — alarms (consumers falling behind, function errors
// and throttles, rejected-event rate, batches that exhausted their retries, Firehose delivery
// errors, freshness and success, state table throttling) and one CloudWatch dashboard per stack.
// Alarms notify an SNS topic when one is configured. Throttle and Firehose metrics are published
// only while there is traffic or trouble, so a missing data point is "nothing wrong" (NOT_BREACHING).
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { METRICS_FILTER, OUTPUT_KINDS, type JobDelivery, type OutputBucket } from './delivery';
import { FUNCTION_ROLES, METRIC, METRIC_DIMENSIONS, METRICS_NAMESPACE, serviceName, STATE_TABLE } from '../../functions/contract';
import { roleStateActions } from '../../functions/contract/permissions';
import { pascal } from '../outputs';
import type { RiffleJob } from './riffle-job';

/** Riffle metrics graphed per job on the dashboard (any role that publishes them: functions/contract/metrics.ts). */
const DASHBOARD_METRICS = [
  ['events', [METRIC.events, METRIC.rejected, METRIC.late]],
  ['state', [METRIC.stateWrites, METRIC.stateConflicts, METRIC.duplicatePartials, METRIC.windowsClosed]],
] as const;

/** How far past its buffering interval a delivery stream's oldest record may be before the freshness alarm. */
export const FRESHNESS_MARGIN = Duration.minutes(5);

/** The DynamoDB operations the functions send (functions/contract/permissions.ts): the ones whose throttling is watched. */
export function stateOperations(): dynamodb.Operation[] {
  const actions = new Set<string>(FUNCTION_ROLES.flatMap((role) => Object.values(roleStateActions(role)).flat()));
  return Object.values(dynamodb.Operation).filter((operation) => actions.has(`dynamodb:${operation}`));
}

export interface OperatedJob {
  readonly name: string;
  readonly wiring: RiffleJob;
  readonly delivery: JobDelivery;
  /** Alarm when the mapper or reducer is this far behind its stream. @default Duration.minutes(5) */
  readonly iteratorAgeThreshold?: Duration;
  /** Alarm when more than this % of input records is rejected over 5 minutes. @default 1 */
  readonly rejectedRatePercent?: number;
}

export interface RiffleOperationsProps {
  readonly source: string;
  readonly inputStream: kinesis.IStream;
  readonly outputs: OutputBucket;
  readonly stateTable: dynamodb.ITable;
  readonly jobs: readonly OperatedJob[];
  /** Topic notified on ALARM and OK. @default - alarms only change state */
  readonly alarmTopic?: sns.ITopic;
}

export class RiffleOperations extends Construct {
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: RiffleOperationsProps) {
    super(scope, id);
    const prefix = `Riffle-${props.source}`;
    const fiveMinutes = Duration.minutes(5);

    const alarm = (alarmId: string, options: cloudwatch.CreateAlarmOptions & { metric: cloudwatch.IMetric }): cloudwatch.Alarm => {
      const created = new cloudwatch.Alarm(this, alarmId, {
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...options,
      });
      if (props.alarmTopic) {
        created.addAlarmAction(new actions.SnsAction(props.alarmTopic));
        created.addOkAction(new actions.SnsAction(props.alarmTopic));
      }
      this.alarms.push(created);
      return created;
    };

    // Objects in failed/: Lambda (not our code) writes ESM on-failure records, so the signal is
    // the bucket's request metrics filtered to that prefix — every object is one lost batch.
    const objectsWritten = (filterId: string): cloudwatch.Metric =>
      new cloudwatch.Metric({
        namespace: 'AWS/S3',
        metricName: 'PutRequests',
        dimensionsMap: { BucketName: props.outputs.bucket.bucketName, FilterId: filterId },
        statistic: cloudwatch.Stats.SUM,
        period: fiveMinutes,
      });
    const failedObjects = objectsWritten(METRICS_FILTER.failed);
    const deliveryErrorObjects = objectsWritten(METRICS_FILTER.deliveryErrors);
    alarm('FailedBatches', {
      alarmName: `${prefix}-failed-batches`,
      alarmDescription: `A batch exhausted its retries or max record age and was written to aws/lambda/ in ${props.outputs.bucket.bucketName}; its records were not processed. Inspect the object, fix the cause, replay the records.`,
      metric: failedObjects,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
    });
    alarm('DeliveryErrors', {
      alarmName: `${prefix}-delivery-errors`,
      alarmDescription: 'Firehose wrote records to errors/ (could not read the partition keys or deliver); see the object and the delivery log group.',
      metric: deliveryErrorObjects,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
    });

    // State table throttling. On-demand tables throttle when traffic doubles past the previous
    // peak within 30 minutes or a partition is hot; the SDK retries, so one period is noise, three
    // in a row is a pipeline slowed down (iterator age grows next).
    const table = props.stateTable;
    const indexMetric = (metricName: string): cloudwatch.Metric =>
      new cloudwatch.Metric({
        namespace: 'AWS/DynamoDB',
        metricName,
        dimensionsMap: { TableName: table.tableName, GlobalSecondaryIndexName: STATE_TABLE.openWindowsIndex },
        statistic: cloudwatch.Stats.SUM,
        period: fiveMinutes,
      });
    // Not table.metricThrottledRequestsForOperations: its plain sum has no data point in a period
    // where any one operation had no throttles (CloudWatch math drops a timestamp missing from
    // an operand), so it would alarm only when every operation throttled at once. FILL each.
    const operationThrottles = Object.fromEntries(
      stateOperations().map((operation) => [
        operation.toLowerCase(),
        table.metric('ThrottledRequests', { dimensionsMap: { TableName: table.tableName, Operation: operation }, statistic: cloudwatch.Stats.SUM, period: fiveMinutes }),
      ]),
    );
    const throttledRequests = new cloudwatch.MathExpression({
      expression: Object.keys(operationThrottles).map((id) => `FILL(${id}, 0)`).join(' + '),
      usingMetrics: operationThrottles,
      label: 'throttled requests',
      period: fiveMinutes,
    });
    const tableThrottleEvents = new cloudwatch.MathExpression({
      expression: 'FILL(tableReads, 0) + FILL(tableWrites, 0)',
      usingMetrics: {
        tableReads: table.metric('ReadThrottleEvents', { statistic: cloudwatch.Stats.SUM, period: fiveMinutes }),
        tableWrites: table.metric('WriteThrottleEvents', { statistic: cloudwatch.Stats.SUM, period: fiveMinutes }),
      },
      label: 'table read + write throttle events',
      period: fiveMinutes,
    });
    const indexThrottleEvents = new cloudwatch.MathExpression({
      expression: 'FILL(indexReads, 0) + FILL(indexWrites, 0)',
      usingMetrics: { indexReads: indexMetric('ReadThrottleEvents'), indexWrites: indexMetric('WriteThrottleEvents') },
      label: `${STATE_TABLE.openWindowsIndex} read + write throttle events`,
      period: fiveMinutes,
    });
    const sustained = { threshold: 1, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, evaluationPeriods: 3, datapointsToAlarm: 3 };
    alarm('StateThrottledRequests', {
      alarmName: `${prefix}-state-throttled-requests`,
      alarmDescription: `Requests of the functions to the state table (${stateOperations().join(', ')}) were throttled in each of the last 15 minutes' 5-minute periods: state writes lag and iterator age grows. Check the table's consumed capacity and hot partitions (CloudWatch Contributor Insights); on-demand tables adapt within 30 minutes, a single hot key does not.`,
      metric: throttledRequests,
      ...sustained,
    });
    alarm('StateThrottleEvents', {
      alarmName: `${prefix}-state-throttle-events`,
      alarmDescription: 'The state table throttled reads or writes (ReadThrottleEvents + WriteThrottleEvents) for 15 minutes. Check for a hot partition key or a traffic jump past twice the previous peak; the SDK retries, so results are delayed, not lost.',
      metric: tableThrottleEvents,
      ...sustained,
    });
    alarm('StateIndexThrottleEvents', {
      alarmName: `${prefix}-state-index-throttle-events`,
      alarmDescription: `The ${STATE_TABLE.openWindowsIndex} index throttled for 15 minutes. Its write throttling back-pressures every table write that opens or closes a window; read throttling slows the closer. Check the index's hot openPk partitions.`,
      metric: indexThrottleEvents,
      ...sustained,
    });

    const incoming = props.inputStream.metricIncomingRecords({ statistic: cloudwatch.Stats.SUM, period: fiveMinutes });
    const jobWidgets: cloudwatch.IWidget[][] = [];
    for (const job of props.jobs) {
      const { mapper, reducer, closer } = job.wiring;
      // Job names are unique across stacks, so job alarms are named by job alone.
      const named = (suffix: string): string => `Riffle-${job.name}-${suffix}`;
      const id = pascal(job.name);
      const iteratorAgeMs = (job.iteratorAgeThreshold ?? Duration.minutes(5)).toMilliseconds();
      // What blocks a shard (retries are unlimited by default): a mapper or reducer that keeps
      // failing shows as iterator age on either mapping. What finite retries skip shows as a gap.
      alarm(`${id}WatermarkHeld`, {
        alarmName: named('watermark-held'),
        alarmDescription: `A batch of ${job.name}'s input was skipped after its retries ran out (finite retryAttempts or maxRecordAge): the watermark is held at the gap, so windows stop closing. Run \`npm run replay -- --job ${job.name}\` (the on-failure records are under aws/lambda/ in the bucket).`,
        metric: new cloudwatch.Metric({
          namespace: METRICS_NAMESPACE,
          metricName: METRIC.openGaps,
          dimensionsMap: { service: serviceName('closer'), job: job.name },
          statistic: cloudwatch.Stats.MAXIMUM,
          period: fiveMinutes,
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
      });
      for (const [role, fn] of [['mapper', mapper], ['reducer', reducer]] as const) {
        alarm(`${id}${role === 'mapper' ? 'Mapper' : 'Reducer'}IteratorAge`, {
          alarmName: named(`${role}-iterator-age`),
          alarmDescription: `The ${job.name} ${role} is more than ${iteratorAgeMs / 1000} s behind its stream: results are delayed. Check its errors, duration and throttles.`,
          metric: iteratorAge(fn),
          threshold: iteratorAgeMs,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 5,
          datapointsToAlarm: 3,
        });
      }
      for (const [role, fn] of [['mapper', mapper], ['reducer', reducer], ['closer', closer]] as const) {
        alarm(`${id}${pascal(role)}Errors`, {
          alarmName: named(`${role}-errors`),
          alarmDescription: role === 'closer'
            ? `The ${job.name} closer failed invocations; windows close late until it succeeds (it runs every minute). See its log group.`
            : `The ${job.name} ${role} failed whole batches (the event source mapping retries and bisects them; partial failures are not counted). See its log group.`,
          metric: fn.metricErrors({ statistic: cloudwatch.Stats.SUM, period: fiveMinutes }),
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
        });
      }
      // Throttles. The mapper and reducer are invoked by their event source mappings: a
      // throttled batch is retried and its shard waits, so throttling three periods running is a
      // stalled consumer. The closer has reserved concurrency 1 and the reducer's nudges overlap
      // by design, so its throttles alone are normal: it alarms when it was throttled and did not
      // run at all for 15 minutes.
      for (const [role, fn] of [['mapper', mapper], ['reducer', reducer]] as const) {
        alarm(`${id}${pascal(role)}Throttles`, {
          alarmName: named(`${role}-throttles`),
          alarmDescription: `The ${job.name} ${role}'s invocations were throttled for 15 minutes: its shards wait and results are delayed. Check the account's concurrent executions (other functions, reserved concurrency) and raise the limit or this function's reserved concurrency.`,
          metric: fn.metricThrottles({ statistic: cloudwatch.Stats.SUM, period: fiveMinutes }),
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 3,
          datapointsToAlarm: 3,
        });
      }
      alarm(`${id}CloserThrottles`, {
        alarmName: named('closer-throttles'),
        alarmDescription: `The ${job.name} closer was throttled and ran not once for 15 minutes: windows are not closing. Check its reserved concurrency (0 disables it) and the account's concurrent executions.`,
        metric: new cloudwatch.MathExpression({
          expression: 'IF(FILL(throttles, 0) > 0 AND FILL(invocations, 0) == 0, 1, 0)',
          usingMetrics: {
            throttles: closer.metricThrottles({ statistic: cloudwatch.Stats.SUM, period: fiveMinutes }),
            invocations: closer.metricInvocations({ statistic: cloudwatch.Stats.SUM, period: fiveMinutes }),
          },
          label: `${job.name} closer throttled without running`,
          period: fiveMinutes,
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
      });

      // Firehose: the oldest undelivered record should never be much older than the buffering
      // interval, and every delivery attempt to S3 should succeed (Success is the 0–1 ratio).
      const freshnessSeconds = job.delivery.bufferingInterval.toSeconds() + FRESHNESS_MARGIN.toSeconds();
      for (const kind of OUTPUT_KINDS) {
        alarm(`${id}${pascal(kind)}DeliveryFreshness`, {
          alarmName: named(`${kind}-delivery-freshness`),
          alarmDescription: `Records of ${job.name} ${kind}/ have waited in Firehose more than ${freshnessSeconds} s (buffering interval ${job.delivery.bufferingInterval.toSeconds()} s + ${FRESHNESS_MARGIN.toSeconds()} s) for 15 minutes: S3 delivery is failing or retrying. See the delivery log group and errors/${kind}/; Firehose keeps retrying for 24 hours, then records are lost.`,
          metric: firehoseMetric(job.delivery, kind, 'DeliveryToS3.DataFreshness', cloudwatch.Stats.MAXIMUM, null),
          threshold: freshnessSeconds,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 3,
          datapointsToAlarm: 3,
        });
        alarm(`${id}${pascal(kind)}DeliverySuccess`, {
          alarmName: named(`${kind}-delivery-success`),
          alarmDescription: `Firehose deliveries of ${job.name} ${kind}/ to S3 failed for 15 minutes (DeliveryToS3.Success below 1 in every period; a single failed put that a retry fixed does not alarm). Check the delivery role's S3 permissions, the bucket policy and the delivery log group (stream ${kind}).`,
          metric: firehoseMetric(job.delivery, kind, 'DeliveryToS3.Success', cloudwatch.Stats.AVERAGE, null),
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
          evaluationPeriods: 3,
          datapointsToAlarm: 3,
        });
      }

      const rejected = new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: METRIC.rejected,
        // Exactly the dimensions the mapper's Powertools Metrics publish: service (its role) and job.
        dimensionsMap: { service: serviceName('mapper'), job: job.name },
        statistic: cloudwatch.Stats.SUM,
        period: fiveMinutes,
      });
      const rejectedRate = new cloudwatch.MathExpression({
        // FILL: no rejects (or no input) publishes no data point; that is a 0 % rate, not missing data.
        expression: 'IF(FILL(incoming, 0) > 0, 100 * FILL(rejected, 0) / FILL(incoming, 0), 0)',
        usingMetrics: { rejected, incoming },
        label: `${job.name} rejected %`,
        period: fiveMinutes,
      });
      const percent = job.rejectedRatePercent ?? 1;
      alarm(`${id}RejectedRate`, {
        alarmName: named('rejected-rate'),
        alarmDescription: `More than ${percent} % of the input records were rejected by ${job.name} over 5 minutes (see rejected/job=${job.name}/ for payloads and reasons). KPL-aggregated input counts one record per aggregate, so the rate can exceed 100 %.`,
        metric: rejectedRate,
        threshold: percent,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
      });

      jobWidgets.push([
        new cloudwatch.TextWidget({ markdown: `## ${job.name}`, width: 24, height: 1 }),
        graph(`${job.name}: invocations`, [mapper, reducer, closer].map((fn, i) => fn.metricInvocations({ label: ['mapper', 'reducer', 'closer'][i] }))),
        graph(`${job.name}: iterator age (ms)`, [iteratorAge(mapper, 'mapper'), iteratorAge(reducer, 'reducer')]),
        graph(`${job.name}: errors and throttles`, [mapper, reducer, closer].flatMap((fn, i) => [
          fn.metricErrors({ label: `${['mapper', 'reducer', 'closer'][i]} errors` }),
          fn.metricThrottles({ label: `${['mapper', 'reducer', 'closer'][i]} throttles` }),
        ])),
        graph(`${job.name}: duration p99 (ms)`, [mapper, reducer, closer].map((fn, i) => fn.metricDuration({ statistic: cloudwatch.Stats.p(99), label: ['mapper', 'reducer', 'closer'][i] }))),
        ...DASHBOARD_METRICS.map(([title, names]) => graph(`${job.name}: ${title}`, names.map((name) => riffleSearch(name, job.name, fiveMinutes)))),
        graph(`${job.name}: records delivered to S3`, OUTPUT_KINDS.map((kind) => firehoseMetric(job.delivery, kind, 'DeliveryToS3.Records', cloudwatch.Stats.SUM))),
        graph(`${job.name}: delivery freshness (s)`, OUTPUT_KINDS.map((kind) => firehoseMetric(job.delivery, kind, 'DeliveryToS3.DataFreshness', cloudwatch.Stats.MAXIMUM))),
        graph(`${job.name}: delivery success (0–1)`, OUTPUT_KINDS.map((kind) => firehoseMetric(job.delivery, kind, 'DeliveryToS3.Success', cloudwatch.Stats.AVERAGE))),
      ]);
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          new cloudwatch.TextWidget({ markdown: `# Riffle — source \`${props.source}\`\nJobs: ${props.jobs.map((j) => j.name).join(', ')}`, width: 24, height: 2 }),
        ],
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 3 })],
        [
          graph('input stream: records in', [incoming.with({ label: 'IncomingRecords' })]),
          graph('objects in failed/ and errors/', [failedObjects.with({ label: 'failed batches' }), deliveryErrorObjects.with({ label: 'delivery errors' })]),
          graph('state table: consumed capacity', [
            props.stateTable.metricConsumedReadCapacityUnits({ label: 'read' }),
            props.stateTable.metricConsumedWriteCapacityUnits({ label: 'write' }),
          ]),
          graph('state table: throttling', [throttledRequests, tableThrottleEvents, indexThrottleEvents]),
        ],
        ...jobWidgets,
      ],
    });
  }
}

function iteratorAge(fn: lambda.IFunction, label?: string): cloudwatch.Metric {
  return fn.metric('IteratorAge', { statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1), label });
}

/** A Riffle metric of a job from every role that publishes it (a SEARCH: one line per service). */
function riffleSearch(metricName: string, job: string, period: Duration): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: `SEARCH('{${METRICS_NAMESPACE},${[...METRIC_DIMENSIONS].sort().join(',')}} MetricName="${metricName}" job="${job}"', 'Sum', ${period.toSeconds()})`,
    usingMetrics: {},
    label: metricName,
    period,
  });
}

/** A delivery stream's metric, labelled with its kind for graphs (null: no label, as an alarm's single metric needs none). */
function firehoseMetric(delivery: JobDelivery, kind: (typeof OUTPUT_KINDS)[number], metricName: string, statistic: string, label: string | null = kind): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'AWS/Firehose',
    metricName,
    dimensionsMap: { DeliveryStreamName: delivery.deliveryStreamName(kind) },
    statistic,
    period: Duration.minutes(5),
    ...(label === null ? {} : { label }),
  });
}

function graph(title: string, left: cloudwatch.IMetric[]): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({ title, left, width: 8, height: 6 });
}
