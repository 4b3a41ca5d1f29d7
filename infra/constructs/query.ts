// QueryCatalog: SQL over results/ on AWS — a Glue database per stack and, per job, two tables with
// partition projection on dt and hour (no crawler, no MSCK REPAIR: new partitions are queryable the
// moment Firehose writes them), plus an Athena workgroup that enforces an encrypted results location:
//   <job>       Parquet (SNAPPY) under results/job=<job>/format=parquet/ — what the results delivery
//               writes: Firehose converts each record with this table's columns (JobDelivery).
//   <job>_json  JSON lines (GZIP) directly under results/job=<job>/dt=…/ — what deployments wrote
//               before Parquet. Kept so those objects stay queryable; a separate location because
//               one Athena table reads one format (a Parquet reader fails on a GZIP object).
import { Stack } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { JobDescriptor } from '../config';
import { pascal } from '../outputs';
import { resultsSchema, type ResultColumn } from '../results-schema';
import { type JobDelivery, PREFIX, PARQUET_SEGMENT } from './delivery';

/** Glue/Athena names: lowercase, '_' for '-'. */
export const glueDatabaseName = (source: string): string => `riffle_${source.replace(/-/g, '_')}`;
export const glueTableName = (job: string): string => job.replace(/-/g, '_');
/** The table over the JSON-lines results written before Parquet. */
export const glueJsonTableName = (job: string): string => `${glueTableName(job)}_json`;
export const athenaWorkgroupName = (source: string): string => `riffle-${source}`;

const glueColumns = (columns: readonly ResultColumn[]): glue.CfnTable.ColumnProperty[] =>
  columns.map((c) => ({ name: c.name, type: c.type, ...(c.comment ? { comment: c.comment } : {}) }));

/**
 * Columns of the JSON-lines table, as it was before Parquet: times are the ISO-8601 text
 * (from_iso8601_timestamp() them), numbers double (counts bigint), anything else its JSON text.
 */
export function jsonTableColumns(job: Pick<JobDescriptor, 'aggregates'>): glue.CfnTable.ColumnProperty[] {
  return resultsSchema(job).map((c) => {
    if (c.type === 'timestamp') return { name: c.name, type: 'string', comment: 'ISO-8601 UTC text: from_iso8601_timestamp() it' };
    if (['string', 'boolean', 'bigint', 'double'].includes(c.type)) return { name: c.name, type: c.type, ...(c.comment ? { comment: c.comment } : {}) };
    return { name: c.name, type: 'string', comment: `JSON text of ${c.type}: json_parse() it` };
  });
}

const PARTITION_KEYS: glue.CfnTable.ColumnProperty[] = [
  { name: 'dt', type: 'string', comment: 'window start date, YYYY-MM-DD (UTC)' },
  { name: 'hour', type: 'string', comment: 'window start hour, 00–23 (UTC)' },
];

export interface QueryCatalogProps {
  readonly source: string;
  readonly bucket: s3.IBucket;
  readonly jobs: readonly JobDescriptor[];
  /** First dt partition projected, per job (YYYY-MM-DD). @default '2025-01-01' */
  readonly startDates?: Readonly<Record<string, string>>;
  /**
   * Each job's delivery: its results stream is pointed at the job's Parquet table for record format
   * conversion. A job without one here keeps writing JSON lines.
   */
  readonly deliveries?: Readonly<Record<string, JobDelivery>>;
}

export class QueryCatalog extends Construct {
  public readonly database: glue.CfnDatabase;
  /** Job name → its results table (Parquet; the schema Firehose converts records with). */
  public readonly tables: Readonly<Record<string, glue.CfnTable>>;
  /** Job name → the table over results written as JSON lines before Parquet. */
  public readonly jsonTables: Readonly<Record<string, glue.CfnTable>>;
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
    const jsonTables: Record<string, glue.CfnTable> = {};
    for (const job of props.jobs) {
      const jobLocation = `s3://${props.bucket.bucketName}/${PREFIX.results}job=${job.name}/`;
      const parquetLocation = `${jobLocation}${PARQUET_SEGMENT}`;
      const table = new glue.CfnTable(this, `Table${pascal(job.name)}`, {
        catalogId: account,
        databaseName: this.database.ref,
        tableInput: {
          name: glueTableName(job.name),
          description: `Riffle results of job ${job.name} (Parquet, SNAPPY, partitioned by window start); Firehose writes its objects with these columns`,
          tableType: 'EXTERNAL_TABLE',
          parameters: { classification: 'parquet', 'parquet.compression': 'SNAPPY', ...this.projection(props, job, parquetLocation) },
          partitionKeys: PARTITION_KEYS,
          storageDescriptor: {
            location: parquetLocation,
            inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
            outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
            serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe', parameters: { 'serialization.format': '1' } },
            columns: glueColumns(resultsSchema(job)),
          },
        },
      });
      const jsonTable = new glue.CfnTable(this, `JsonTable${pascal(job.name)}`, {
        catalogId: account,
        databaseName: this.database.ref,
        tableInput: {
          name: glueJsonTableName(job.name),
          description: `Riffle results of job ${job.name} written as JSON lines (GZIP) before results were Parquet`,
          tableType: 'EXTERNAL_TABLE',
          parameters: { classification: 'json', compressionType: 'gzip', ...this.projection(props, job, jobLocation) },
          partitionKeys: PARTITION_KEYS,
          storageDescriptor: {
            location: jobLocation,
            compressed: true,
            inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
            outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
            // OpenX matches JSON keys case-insensitively (windowStart → windowstart) and reads a
            // nested value into a string column as its JSON text (top-k lists, custom aggregates).
            serdeInfo: { serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe', parameters: { 'case.insensitive': 'true' } },
            columns: jsonTableColumns(job),
          },
        },
      });
      tables[job.name] = table;
      jsonTables[job.name] = jsonTable;
      props.deliveries?.[job.name]?.convertResultsToParquet({ catalogId: account, databaseName: this.database.ref, tableName: table.ref });
    }
    this.tables = tables;
    this.jsonTables = jsonTables;

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

  /** Partition projection over dt=YYYY-MM-DD/hour=HH/ below `location`. */
  private projection(props: QueryCatalogProps, job: JobDescriptor, location: string): Record<string, string> {
    return {
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
    };
  }
}
