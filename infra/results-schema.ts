// The schema of a job's results: Riffle's own fields and one column per aggregate, in record order,
// with the Hive types the Glue table declares — and so the types Firehose's Parquet conversion writes
// (counts BIGINT, means DOUBLE, top-k a list of structs, times TIMESTAMP). Pure (no CDK): the Glue
// tables, the local Parquet writer's tests, the query tools and the schema snapshot test share it.
import type { JobDescriptor } from './config';

export interface ResultColumn {
  /** Glue column name: the record field lowercased (Glue and Athena names are lowercase). */
  readonly name: string;
  /** The field as the JSON record spells it (windowStart, temperature_avg). */
  readonly field: string;
  /** Hive type (Glue's spelling): string, boolean, bigint, double, timestamp, array<struct<…>>. */
  readonly type: string;
  readonly comment?: string;
}

/** The entries of a topK aggregate (functions/core/aggregates/topk.ts TopKEntry). */
export const TOPK_TYPE = 'array<struct<value:string,count:bigint>>';

/**
 * Hive type of an aggregate's output by kind. first/last keep whatever scalar the field held, and a
 * user-defined kind can produce anything: those are strings (numbers as their text, anything
 * structured as its JSON text), the one type every value converts to.
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
  topK: TOPK_TYPE,
};

export function aggregateHiveType(kind: string): string {
  return AGGREGATE_TYPES[kind] ?? 'string';
}

const column = (field: string, type: string, comment?: string): ResultColumn => ({ name: field.toLowerCase(), field, type, ...(comment ? { comment } : {}) });

/** Result fields before the aggregates (functions/core/output-records.ts makeResult). */
export const LEADING_RESULT_COLUMNS: readonly ResultColumn[] = [
  column('resultId', 'string', 'hash of job, key and window; duplicates collapse by it (keep the highest version)'),
  column('job', 'string'),
  column('key', 'string'),
  column('windowStart', 'timestamp', 'UTC'),
  column('windowEnd', 'timestamp', 'UTC, exclusive'),
];

/** Result fields after the aggregates. */
export const TRAILING_RESULT_COLUMNS: readonly ResultColumn[] = [
  column('final', 'boolean'),
  column('version', 'bigint', 'state version that produced this row; per window the greatest (job_version, revision, version) wins'),
  column('eventCount', 'bigint'),
  column('emittedAt', 'timestamp', 'UTC'),
  column('job_version', 'bigint', "the job definition's version that produced this row (absent: 1)"),
  column('revision', 'bigint', '0 live; a reprocess run id (epoch ms): per window the greatest (job_version, revision, version) wins'),
];

/** Every column of a job's results, in the order of its JSON records. */
export function resultsSchema(job: Pick<JobDescriptor, 'aggregates'>): ResultColumn[] {
  const aggregates = Object.entries(job.aggregates).map(([field, aggregate]) => column(field, aggregateHiveType(aggregate.kind), `${aggregate.kind} aggregate '${field}'`));
  const columns = [...LEADING_RESULT_COLUMNS, ...aggregates, ...TRAILING_RESULT_COLUMNS];
  const seen = new Map<string, string>();
  for (const c of columns) {
    const other = seen.get(c.name);
    // Glue lowercases names; two fields equal but for case would be one column.
    if (other !== undefined) throw new Error(`results of this job would have two columns named '${c.name}' ('${other}' and '${c.field}'); rename the aggregate`);
    seen.set(c.name, c.field);
  }
  return columns;
}

/** Compact form for snapshots and messages: "name type" per column. */
export function schemaLines(columns: readonly ResultColumn[]): string[] {
  return columns.map((c) => `${c.name} ${c.type}`);
}
