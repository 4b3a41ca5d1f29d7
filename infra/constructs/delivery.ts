// Output storage and delivery (docs/CONTRACTS.md "Output records").
// OutputBucket: the stack's S3 bucket — private, TLS-only, SSE-S3, access-logged, with lifecycle
// rules for the diagnostic prefixes and request metrics the failure alarms read.
// JobDelivery: one job's three Firehose delivery streams (results, late, rejected), partitioned by
// window time with dynamic partitioning (JQ), error output under errors/, SSE, and a role per stream
// that can write only its own prefixes. Results become Parquet (SNAPPY) with Firehose's record format
// conversion once pointed at their Glue table (convertResultsToParquet, called by QueryCatalog);
// late/ and rejected/ stay GZIP JSON lines: they carry raw payloads and events of any shape, which
// no fixed table schema could hold without loss, and they are read rarely and whole.
import { ArnFormat, CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { OUTPUT_PORT_ACTIONS } from '../../functions/contract/permissions';

export type OutputKind = 'results' | 'late' | 'rejected';
export const OUTPUT_KINDS: readonly OutputKind[] = ['results', 'late', 'rejected'];

/** Top-level prefixes of the bucket. */
export const PREFIX = {
  results: 'results/',
  late: 'late/',
  rejected: 'rejected/',
  /** Where Lambda writes ESM on-failure records: AWS's own layout aws/lambda/<esm-uuid>/<shardId>/… (the first design's "failed/"). */
  failed: 'aws/lambda/',
  /** Firehose error output (records it could not partition or deliver). */
  errors: 'errors/',
  athenaResults: 'athena-results/',
} as const;

/** The field each output is partitioned by (an ISO-8601 UTC string in every record). */
export const PARTITION_FIELD: Readonly<Record<OutputKind, string>> = {
  results: 'windowStart',
  late: 'windowStart',
  rejected: 'rejectedAt',
};

/** JQ 1.6 query extracting the dt (YYYY-MM-DD) and hour (HH) partition keys from the record's time field. */
export function partitionQuery(kind: OutputKind): string {
  const field = PARTITION_FIELD[kind];
  return `{dt: .${field}[0:10], hour: .${field}[11:13]}`;
}

/**
 * The folder below results/job=<job>/ that holds Parquet results. JSON lines written before Parquet
 * sit directly under results/job=<job>/dt=…: Athena reads one format per table location.
 */
export const PARQUET_SEGMENT = 'format=parquet/';

/**
 * S3 prefix of a job's output, e.g. results/job=sensor-averages/format=parquet/dt=…/hour=…/ or
 * late/job=sensor-averages/dt=…/hour=…/ (CONTRACTS.md).
 */
export function outputPrefix(kind: OutputKind, job: string, format: 'json' | 'parquet' = 'json'): string {
  return `${kind}/job=${job}/${format === 'parquet' ? PARQUET_SEGMENT : ''}dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/`;
}

/** A Glue table (by name) whose columns Firehose converts results with. */
export interface ResultsTable {
  readonly catalogId: string;
  readonly databaseName: string;
  readonly tableName: string;
}

/** Where Firehose puts records it could not deliver to outputPrefix. */
export function errorOutputPrefix(kind: OutputKind): string {
  return `${PREFIX.errors}${kind}/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/`;
}

/** IDs of the S3 request-metrics filters the operations alarms read. */
/** What differs between Riffle's partitioned JSON-lines delivery streams; the rest is the same for all. */
export interface PartitionedS3DestinationProps {
  readonly bucket: s3.IBucket;
  readonly role: iam.IRole;
  readonly prefix: string;
  readonly errorOutputPrefix: string;
  readonly bufferingHints: firehose.CfnDeliveryStream.BufferingHintsProperty;
  /** The JQ query whose fields name the partitions the prefix uses. */
  readonly partitionQuery: string;
  readonly logGroup: logs.ILogGroup;
  readonly logStream: logs.LogStream;
}

/**
 * An S3 destination writing GZIP JSON lines under dynamic partitions, logging to CloudWatch, with
 * objects under the bucket's default encryption (SSE-S3). No AppendDelimiterToRecord: functions send
 * one JSON object + '\n' per record, so the objects are JSON lines on LocalStack too, which ignores
 * processors.
 */
export function partitionedS3Destination(props: PartitionedS3DestinationProps): firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty {
  return {
    bucketArn: props.bucket.bucketArn,
    roleArn: props.role.roleArn,
    prefix: props.prefix,
    errorOutputPrefix: props.errorOutputPrefix,
    compressionFormat: 'GZIP',
    bufferingHints: props.bufferingHints,
    dynamicPartitioningConfiguration: { enabled: true, retryOptions: { durationInSeconds: 300 } },
    processingConfiguration: {
      enabled: true,
      processors: [{
        type: 'MetadataExtraction',
        parameters: [
          { parameterName: 'MetadataExtractionQuery', parameterValue: props.partitionQuery },
          { parameterName: 'JsonParsingEngine', parameterValue: 'JQ-1.6' },
        ],
      }],
    },
    encryptionConfiguration: { noEncryptionConfig: 'NoEncryption' },
    cloudWatchLoggingOptions: { enabled: true, logGroupName: props.logGroup.logGroupName, logStreamName: props.logStream.logStreamName },
  };
}

export const METRICS_FILTER = { failed: 'failed', deliveryErrors: 'delivery-errors' } as const;

export interface OutputBucketProps {
  /** @default 30 */
  readonly rejectedRetentionDays?: number;
  /** @default 30 */
  readonly lateRetentionDays?: number;
  /** ESM on-failure records and Firehose error output. @default 14 */
  readonly failedRetentionDays?: number;
  /** @default 7 */
  readonly queryResultsRetentionDays?: number;
  /** @default 90 */
  readonly accessLogRetentionDays?: number;
  /** Applies to both buckets; DESTROY fails on a non-empty bucket (no auto-delete custom resource). @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

export class OutputBucket extends Construct {
  /** Results, late, rejected, ESM failures, Firehose errors and Athena results. */
  public readonly bucket: s3.Bucket;
  /** Receives the server access logs of `bucket`. */
  public readonly accessLogsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: OutputBucketProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const secure = {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
    } satisfies s3.BucketProps;
    const days = (value: number | undefined, fallback: number): Duration => Duration.days(value ?? fallback);

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      ...secure,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: days(props.accessLogRetentionDays, 90) }],
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...secure,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'riffle/',
      // results/ is the product and stays; every other prefix is diagnostics with a shelf life.
      lifecycleRules: [
        { id: 'expire-rejected', prefix: PREFIX.rejected, expiration: days(props.rejectedRetentionDays, 30) },
        { id: 'expire-late', prefix: PREFIX.late, expiration: days(props.lateRetentionDays, 30) },
        { id: 'expire-failed', prefix: PREFIX.failed, expiration: days(props.failedRetentionDays, 14) },
        { id: 'expire-delivery-errors', prefix: PREFIX.errors, expiration: days(props.failedRetentionDays, 14) },
        { id: 'expire-athena-results', prefix: PREFIX.athenaResults, expiration: days(props.queryResultsRetentionDays, 7) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      // Request metrics per prefix: the only per-prefix signal of "an object was written to
      // failed/" that needs no code (Lambda itself writes ESM failures; no function runs).
      metrics: [
        { id: METRICS_FILTER.failed, prefix: PREFIX.failed },
        { id: METRICS_FILTER.deliveryErrors, prefix: PREFIX.errors },
      ],
    });
  }

  /**
   * The on-failure destination for a Kinesis event source mapping: this bucket, writable by the
   * function only under aws/lambda/ (S3OnFailureDestination would grant read/write on the whole bucket).
   */
  public failedBatchesDestination(): lambda.IEventSourceDlq {
    return new FailedBatchesDestination(this.bucket);
  }
}

/** ESM on-failure destination in S3 with the two permissions Lambda documents: s3:PutObject and s3:ListBucket. */
class FailedBatchesDestination implements lambda.IEventSourceDlq {
  constructor(private readonly bucket: s3.IBucket) {}

  public bind(_target: lambda.IEventSourceMapping, targetHandler: lambda.IFunction): lambda.DlqDestinationConfig {
    iam.Grant.addToPrincipal({ grantee: targetHandler, actions: ['s3:ListBucket'], resourceArns: [this.bucket.bucketArn] });
    iam.Grant.addToPrincipal({ grantee: targetHandler, actions: ['s3:PutObject'], resourceArns: [this.bucket.arnForObjects(`${PREFIX.failed}*`)] });
    const bucket = this.bucket.node.defaultChild;
    if (targetHandler.role && bucket instanceof CfnElement) {
      Validations.of(targetHandler.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(bucket).getLogicalId(bucket)}.Arn>/${PREFIX.failed}*]`,
        reason: 'Lambda names the on-failure objects itself (aws/lambda/<esm-uuid>/<shard>/<date>/…); the wildcard is limited to that prefix of this stack\'s bucket, write-only.',
      });
    }
    return { destination: this.bucket.bucketArn };
  }
}

export interface JobDeliveryProps {
  readonly job: string;
  readonly bucket: s3.IBucket;
  /** How long Firehose buffers before writing; 60–900 s with dynamic partitioning. @default Duration.seconds(60) */
  readonly bufferingInterval?: Duration;
  /** Buffer size in MiB; 64–128 with dynamic partitioning (and with format conversion). @default 64 */
  readonly bufferingSizeMb?: number;
  /** Retention of the delivery error log group. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

export class JobDelivery extends Construct {
  public readonly job: string;
  /** How long Firehose buffers before writing (the freshness alarms allow this plus a margin). */
  public readonly bufferingInterval: Duration;
  public readonly deliveryStreams: Readonly<Record<OutputKind, firehose.CfnDeliveryStream>>;
  /** One role per delivery stream, each limited to that stream's prefixes. */
  public readonly roles: Readonly<Record<OutputKind, iam.Role>>;
  /** Firehose's delivery error log (one log stream per output). */
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: JobDeliveryProps) {
    super(scope, id);
    this.job = props.job;
    const stack = Stack.of(this);
    this.bufferingInterval = props.bufferingInterval ?? Duration.seconds(60);
    const intervalSeconds = this.bufferingInterval.toSeconds();
    const sizeMb = props.bufferingSizeMb ?? 64;
    // AWS rejects smaller buffers when dynamic partitioning (or record format conversion, also 64 MiB)
    // is on; fail at synth instead of at deploy.
    if (intervalSeconds < 60 || intervalSeconds > 900) throw new Error(`JobDelivery(${props.job}): bufferingInterval must be 60–900 s with dynamic partitioning, got ${intervalSeconds} s`);
    if (sizeMb < 64 || sizeMb > 128) throw new Error(`JobDelivery(${props.job}): bufferingSizeMb must be 64–128 with dynamic partitioning, got ${sizeMb}`);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const streams: Partial<Record<OutputKind, firehose.CfnDeliveryStream>> = {};
    const roles: Partial<Record<OutputKind, iam.Role>> = {};
    for (const kind of OUTPUT_KINDS) {
      const Kind = kind[0]!.toUpperCase() + kind.slice(1);
      const logStream = new logs.LogStream(this, `${Kind}LogStream`, {
        logGroup: this.logGroup,
        logStreamName: kind,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const role = new iam.Role(this, `${Kind}Role`, {
        assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', {
          // Only Firehose acting for this account may assume it (confused-deputy guard; Firehose
          // passes the account ID as external ID, as in its documented trust policy).
          conditions: { StringEquals: { 'sts:ExternalId': stack.account } },
        }),
        description: `Firehose delivery of ${kind}/ for job ${props.job}`,
      });
      role.addToPolicy(new iam.PolicyStatement({
        actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
        resources: [props.bucket.bucketArn],
      }));
      role.addToPolicy(new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
        resources: [props.bucket.arnForObjects(`${kind}/job=${props.job}/*`), props.bucket.arnForObjects(`${PREFIX.errors}${kind}/*`)],
      }));
      role.addToPolicy(new iam.PolicyStatement({
        actions: ['logs:PutLogEvents'],
        resources: [stack.formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: `${this.logGroup.logGroupName}:log-stream:${logStream.logStreamName}`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        })],
      }));

      // L1: the L2 S3 destination grants read/write on the whole bucket; this one stays in its prefixes.
      const stream = new firehose.CfnDeliveryStream(this, `${Kind}Stream`, {
        deliveryStreamType: 'DirectPut',
        deliveryStreamEncryptionConfigurationInput: { keyType: 'AWS_OWNED_CMK' },
        extendedS3DestinationConfiguration: partitionedS3Destination({
          bucket: props.bucket,
          role,
          prefix: outputPrefix(kind, props.job),
          errorOutputPrefix: errorOutputPrefix(kind),
          bufferingHints: { intervalInSeconds: intervalSeconds, sizeInMBs: sizeMb },
          partitionQuery: partitionQuery(kind),
          logGroup: this.logGroup,
          logStream,
        }),
      });
      const bucketElement = props.bucket.node.defaultChild;
      if (bucketElement instanceof CfnElement) {
        const bucketRef = `<${stack.getLogicalId(bucketElement)}.Arn>`;
        for (const pattern of [`${kind}/job=${props.job}/*`, `${PREFIX.errors}${kind}/*`]) {
          Validations.of(role).acknowledge({
            id: `AwsSolutions-IAM5[Resource::${bucketRef}/${pattern}]`,
            reason: `Firehose names the objects it writes; the wildcard is limited to this delivery stream's own prefix (${pattern}) of this stack's bucket.`,
          });
        }
      }
      // Firehose checks its role when the stream is created: the policy must exist first.
      stream.node.addDependency(role);
      streams[kind] = stream;
      roles[kind] = role;
    }
    this.deliveryStreams = streams as Record<OutputKind, firehose.CfnDeliveryStream>;
    this.roles = roles as Record<OutputKind, iam.Role>;
  }

  /**
   * Write results as Parquet: Firehose deserializes each JSON record with the OpenX JSON SerDe
   * (case-insensitive keys: windowStart → column windowstart; ISO-8601 'Z' times → timestamp),
   * takes the columns and types of `table` and serializes them with the Parquet SerDe, SNAPPY
   * compressed. Conversion forbids S3 compression (the object is UNCOMPRESSED; its pages are
   * SNAPPY) and needs a buffer of at least 64 MiB. Dynamic partitioning still reads dt/hour from
   * the JSON record; the objects go under results/job=<job>/format=parquet/.
   */
  public convertResultsToParquet(table: ResultsTable): void {
    const stream = this.deliveryStreams.results;
    const stack = Stack.of(this);
    const role = this.roles.results;
    // What CDK's SchemaConfiguration.fromCfnTable grants: the table's schema, on catalog, database and table.
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['glue:GetTable', 'glue:GetTableVersion', 'glue:GetTableVersions'],
      resources: [
        stack.formatArn({ service: 'glue', resource: 'catalog', account: table.catalogId }),
        stack.formatArn({ service: 'glue', resource: 'database', resourceName: table.databaseName, account: table.catalogId }),
        stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${table.databaseName}/${table.tableName}`, account: table.catalogId }),
      ],
    }));
    const current = stream.extendedS3DestinationConfiguration as firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty;
    stream.extendedS3DestinationConfiguration = {
      ...current,
      prefix: outputPrefix('results', this.job, 'parquet'),
      compressionFormat: 'UNCOMPRESSED',
      fileExtension: '.parquet',
      dataFormatConversionConfiguration: {
        enabled: true,
        inputFormatConfiguration: { deserializer: { openXJsonSerDe: { caseInsensitive: true } } },
        outputFormatConfiguration: { serializer: { parquetSerDe: { compression: 'SNAPPY' } } },
        schemaConfiguration: {
          catalogId: table.catalogId,
          databaseName: table.databaseName,
          tableName: table.tableName,
          region: stack.region,
          roleArn: role.roleArn,
          versionId: 'LATEST',
        },
      },
    };
  }

  /** Name of a delivery stream (what the functions' RIFFLE_*_DELIVERY variables hold). */
  public deliveryStreamName(kind: OutputKind): string {
    return this.deliveryStreams[kind].ref;
  }

  /** Allow `grantee` to put records into the given delivery streams the way the functions do (PutRecordBatch), and nothing else. */
  public grantPut(grantee: iam.IGrantable, ...kinds: OutputKind[]): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: [...OUTPUT_PORT_ACTIONS],
      resourceArns: kinds.map((kind) => this.deliveryStreams[kind].attrArn),
    });
  }
}
