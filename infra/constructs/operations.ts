// RiffleOperations: what an operator watches — alarms (consumers falling behind, function errors,
// rejected-event rate, batches that exhausted their retries, Firehose delivery errors) and one
// CloudWatch dashboard per stack. Alarms notify an SNS topic when one is configured.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { METRICS_FILTER, OUTPUT_KINDS, type JobDelivery, type OutputBucket } from './delivery';
import { METRIC, METRIC_DIMENSIONS, METRICS_NAMESPACE, serviceName } from '../../functions/contract';
import { pascal } from '../outputs';
import type { RiffleJob } from './riffle-job';

/** Riffle metrics graphed per job on the dashboard (any role that publishes them: functions/contract/metrics.ts). */
const DASHBOARD_METRICS = [
  ['events', [METRIC.events, METRIC.rejected, METRIC.late]],
  ['state', [METRIC.stateWrites, METRIC.stateConflicts, METRIC.duplicatePartials, METRIC.windowsClosed]],
] as const;

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

function firehoseMetric(delivery: JobDelivery, kind: (typeof OUTPUT_KINDS)[number], metricName: string, statistic: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'AWS/Firehose',
    metricName,
    dimensionsMap: { DeliveryStreamName: delivery.deliveryStreamName(kind) },
    statistic,
    period: Duration.minutes(5),
    label: kind,
  });
}

function graph(title: string, left: cloudwatch.IMetric[]): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({ title, left, width: 8, height: 6 });
}
