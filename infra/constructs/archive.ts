// InputArchive (source setting `inputArchive`): a raw archive of the input stream in the source's
// bucket, so `npm run reprocess` can read input older than the stream's retention. An archiver
// Lambda (functions/archiver.ts) on its own event source mapping — the mapper's safety settings:
// unlimited retries, bisect, batch item failures, the same on-failure destination — writes each
// record as a JSON line (functions/core/archive-records.ts) to a Firehose delivery stream built like
// the job deliveries (delivery.ts: SSE, error log, dynamic partitioning with JQ, GZIP, a role that
// writes only its prefixes), under archive/dt=YYYY-MM-DD/hour=HH/ by arrival hour, expired after
// `archiveRetentionDays`.
import { ArnFormat, CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { archiverEnvironment } from '../../functions/contract/env';
import { ARCHIVER_ACTIONS } from '../../functions/contract/permissions';
import { ARCHIVE_PARTITION_QUERY, ARCHIVE_PREFIX } from '../../functions/core/archive-records';
import { partitionedS3Destination, PREFIX } from './delivery';
import { RiffleFunction } from './riffle-function';

export interface InputArchiveProps {
  readonly source: string;
  readonly inputStream: kinesis.IStream;
  readonly bucket: s3.Bucket;
  readonly onFailure: lambda.IEventSourceDlq;
  /** @default 365 */
  readonly retentionDays?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Retries of a failed batch. @default unlimited (as the mapper's) */
  readonly retryAttempts?: number;
}

/** Firehose prefix of the archive: partitioned by arrival hour (CONTRACTS.md "Input archive"). */
export const ARCHIVE_OUTPUT_PREFIX = `${ARCHIVE_PREFIX}dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/`;

export class InputArchive extends Construct {
  public readonly archiver: RiffleFunction;
  public readonly eventSource: KinesisEventSource;
  public readonly deliveryStream: firehose.CfnDeliveryStream;
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: InputArchiveProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const logStream = new logs.LogStream(this, 'ArchiveLogStream', { logGroup, logStreamName: 'archive', removalPolicy: RemovalPolicy.DESTROY });
    const errors = `${PREFIX.errors}archive/`;
    this.role = new iam.Role(this, 'DeliveryRole', {
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', { conditions: { StringEquals: { 'sts:ExternalId': stack.account } } }),
      description: `Firehose delivery of ${ARCHIVE_PREFIX} for source ${props.source}`,
    });
    this.role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'], resources: [props.bucket.bucketArn] }));
    this.role.addToPolicy(new iam.PolicyStatement({
      actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
      resources: [props.bucket.arnForObjects(`${ARCHIVE_PREFIX}*`), props.bucket.arnForObjects(`${errors}*`)],
    }));
    this.role.addToPolicy(new iam.PolicyStatement({
      actions: ['logs:PutLogEvents'],
      resources: [stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: `${logGroup.logGroupName}:log-stream:${logStream.logStreamName}`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
    }));
    this.deliveryStream = new firehose.CfnDeliveryStream(this, 'Stream', {
      deliveryStreamType: 'DirectPut',
      deliveryStreamEncryptionConfigurationInput: { keyType: 'AWS_OWNED_CMK' },
      // The largest buffers: the archive is read rarely and whole, fewer objects are cheaper.
      extendedS3DestinationConfiguration: partitionedS3Destination({
        bucket: props.bucket,
        role: this.role,
        prefix: ARCHIVE_OUTPUT_PREFIX,
        errorOutputPrefix: `${errors}!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/`,
        bufferingHints: { intervalInSeconds: 300, sizeInMBs: 128 },
        partitionQuery: ARCHIVE_PARTITION_QUERY,
        logGroup,
        logStream,
      }),
    });
    this.deliveryStream.node.addDependency(this.role);
    props.bucket.addLifecycleRule({ id: 'expire-archive', prefix: ARCHIVE_PREFIX, expiration: Duration.days(props.retentionDays ?? 365) });

    this.archiver = new RiffleFunction(this, 'Archiver', {
      entry: 'functions/lambda/archiver.ts',
      description: `Riffle source ${props.source}: archives every input record, raw, to ${ARCHIVE_PREFIX} (for reprocessing beyond the stream's retention)`,
      memorySize: 256,
      logRetention: props.logRetention,
      environment: archiverEnvironment(this.deliveryStream.ref),
    });
    // The mapper's safety settings: nothing skipped within retention, a failing record isolated.
    this.eventSource = new KinesisEventSource(props.inputStream, {
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      bisectBatchOnError: true,
      ...(props.retryAttempts !== undefined ? { retryAttempts: props.retryAttempts } : {}),
      reportBatchItemFailures: true,
      onFailure: props.onFailure,
      batchSize: 1000,
      maxBatchingWindow: Duration.seconds(1),
      parallelizationFactor: 1,
    });
    this.archiver.addEventSource(this.eventSource);
    // Exactly the archiver's calls (functions/contract/permissions.ts): PutRecordBatch on its stream.
    this.archiver.addToRolePolicy(new iam.PolicyStatement({ actions: [...ARCHIVER_ACTIONS.archive], resources: [this.deliveryStream.attrArn] }));

    const bucketElement = props.bucket.node.defaultChild;
    if (bucketElement instanceof CfnElement) {
      const bucketRef = `<${stack.getLogicalId(bucketElement)}.Arn>`;
      for (const pattern of [`${ARCHIVE_PREFIX}*`, `${errors}*`]) {
        Validations.of(this.role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${bucketRef}/${pattern}]`,
          reason: `Firehose names the objects it writes; the wildcard is limited to the archive delivery stream's own prefix (${pattern}) of this stack's bucket.`,
        });
      }
    }
    Validations.of(this.archiver.node.defaultChild as CfnElement).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Node.js 22 is pinned on purpose, as for the job functions: the same bundle runs on the embedded local cloud, on LocalStack 4.x and on AWS.',
    });
  }
}
