// QueryCatalog: SQL over results/ on AWS — a Glue database per stack, a table per job over
// results/job=<job>/ (JSON lines, GZIP) with partition projection on dt and hour (no crawler, no
// MSCK REPAIR: new partitions are queryable the moment Firehose writes them), and an Athena
// workgroup that enforces an encrypted results location in the stack's bucket.
import { Stack } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { JobDescriptor } from '../config';
import { pascal } from '../outputs';
import { PREFIX } from './delivery';

/** Result-record fields every job has (DESIGN §5), in record order, with their SQL types. */
export const RESULT_COLUMNS: readonly glue.CfnTable.ColumnProperty[] = [
  { name: 'resultid', type: 'string', comment: 'hash of job, key and window; duplicates collapse by it (keep the highest version)' },
  { name: 'job', type: 'string' },
  { name: 'key', type: 'string' },
  { name: 'windowstart', type: 'string', comment: 'ISO-8601 UTC; from_iso8601_timestamp(windowstart) for a timestamp' },
  { name: 'windowend', type: 'string', comment: 'ISO-8601 UTC, exclusive' },
  { name: 'final', type: 'boolean' },
  { name: 'version', type: 'bigint' },
  { name: 'eventcount', type: 'bigint' },
  { name: 'emittedat', type: 'string', comment: 'ISO-8601 UTC' },
];

/**
 * SQL type of an aggregate's output by kind. Numbers are double (a count is bigint); anything
 * structured or user-defined is the JSON text as a string (json_parse() it in Athena).
 */
const AGGREGATE_TYPES: Readonly<Record<string, string>> = {
  count: 'bigint',
  sum: 'double',
  min: 'double',
  max: 'double',
  mean: 'double',
  variance: 'double',
  stddev: 'double',
  quantile: 'double',
  distinct: 'double',
};

export function aggregateColumnType(kind: string): string {
  return AGGREGATE_TYPES[kind] ?? 'string';
}

/** Glue/Athena names: lowercase, '_' for '-'. */
export const glueDatabaseName = (source: string): string => `riffle_${source.replace(/-/g, '_')}`;
export const glueTableName = (job: string): string => job.replace(/-/g, '_');
export const athenaWorkgroupName = (source: string): string => `riffle-${source}`;

export interface QueryCatalogProps {
  readonly source: string;
  readonly bucket: s3.IBucket;
  readonly jobs: readonly JobDescriptor[];
  /** First dt partition projected, per job (YYYY-MM-DD). @default '2025-01-01' */
  readonly startDates?: Readonly<Record<string, string>>;
}

export class QueryCatalog extends Construct {
  public readonly database: glue.CfnDatabase;
  /** Job name → its results table. */
  public readonly tables: Readonly<Record<string, glue.CfnTable>>;
  public readonly workgroup: athena.CfnWorkGroup;
  public readonly databaseName: string;
  public readonly workgroupName: string;

  constructor(scope: Construct, id: string, props: QueryCatalogProps) {
    super(scope, id);
    const account = Stack.of(this).account;
    this.databaseName = glueDatabaseName(props.source);
    this.workgroupName = athenaWorkgroupName(props.source);
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: account,
      databaseInput: { name: this.databaseName, description: `Riffle results of the jobs reading source '${props.source}'` },
    });

    const tables: Record<string, glue.CfnTable> = {};
    for (const job of props.jobs) {
      const location = `s3://${props.bucket.bucketName}/${PREFIX.results}job=${job.name}/`;
      const aggregateColumns = Object.entries(job.aggregates).map(([field, aggregate]) => ({
        name: field.toLowerCase(),
        type: aggregateColumnType(aggregate.kind),
        comment: `${aggregate.kind} aggregate '${field}'`,
      }));
      const table = new glue.CfnTable(this, `Table${pascal(job.name)}`, {
        catalogId: account,
        databaseName: this.database.ref,
        tableInput: {
          name: glueTableName(job.name),
          description: `Riffle results of job ${job.name} (JSON lines, GZIP, partitioned by window start)`,
          tableType: 'EXTERNAL_TABLE',
          parameters: {
            classification: 'json',
            compressionType: 'gzip',
            'projection.enabled': 'true',
            'projection.dt.type': 'date',
            'projection.dt.format': 'yyyy-MM-dd',
            'projection.dt.range': `${props.startDates?.[job.name] ?? '2025-01-01'},NOW+1DAYS`,
            'projection.dt.interval': '1',
            'projection.dt.interval.unit': 'DAYS',
            'projection.hour.type': 'integer',
            'projection.hour.range': '0,23',
            'projection.hour.digits': '2',
            'storage.location.template': `${location}dt=\${dt}/hour=\${hour}/`,
          },
          partitionKeys: [
            { name: 'dt', type: 'string', comment: 'window start date, YYYY-MM-DD (UTC)' },
            { name: 'hour', type: 'string', comment: 'window start hour, 00–23 (UTC)' },
          ],
          storageDescriptor: {
            location,
            compressed: true,
            inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
            outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
            // OpenX matches JSON keys case-insensitively (windowStart → windowstart) and reads a
            // nested value into a string column as its JSON text (top-k lists, custom aggregates).
            serdeInfo: { serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe', parameters: { 'case.insensitive': 'true' } },
            columns: [...RESULT_COLUMNS, ...aggregateColumns],
          },
        },
      });
      tables[job.name] = table;
    }
    this.tables = tables;

    this.workgroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: this.workgroupName,
      description: `Queries over Riffle results of source '${props.source}'`,
      state: 'ENABLED',
      // Lets `destroy` remove the workgroup even after queries ran in it.
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: `s3://${props.bucket.bucketName}/${PREFIX.athenaResults}`,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });
  }
}
