// `npm run query -- "SQL"` — SQL over what Riffle wrote to S3 on any target: results/, late/ and
// rejected/ are listed (pruned by job and by --since/--until partitions), fetched through the AWS
// SDK into a local cache keyed by ETag (.riffle/query-cache/), and queried with DuckDB through
// the views results, results_all, late and rejected (lib/duckdb.ts). Objects of any name, gzip or
// plain, are read — LocalStack names and compresses them its own way.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AthenaClient } from '@aws-sdk/client-athena';
import { S3Client } from '@aws-sdk/client-s3';
import { parseEventTime } from '../functions/core/event-time';
import { parseDuration } from '../functions/core/duration';
import { jobs } from '../jobs';
import { runAthena } from './lib/athena';
import { type CommandSpec, intOption, type Parsed, parseCommand, runMain, UsageError } from './lib/cli';
import { BASE_COLUMNS, duckdbType, FORMATS, formatResult, type OutputFormat, QuerySession, referencedKinds, SqlError } from './lib/duckdb';
import { resultsSchema, type ResultColumn } from '../infra/results-schema';
import { emptyFetchStats, fetchToCache, listOutputObjects, type FetchStats, type OutputKind, type PartitionFilter } from './lib/s3-cache';
import { buckets, deployedJobs, endpointWarning, explainError, isTargetName, jobOutput, resolveTarget, TARGET_INFO, TARGET_NAMES, type Target, type TargetName } from './lib/targets';
import { DEFAULT_LIVE_LIMIT, runLive, type LiveOptions } from './lib/live/command';

export const DEFAULT_CACHE_DIR = '.riffle/query-cache';

export const querySpec: CommandSpec = {
  name: 'npm run query --',
  summary: "SQL (DuckDB) over Riffle's output in S3: views results, results_all, late, rejected; --live: open windows from the state table",
  usage: 'npm run query -- "SQL" [--format table|csv|json] [--job J] [--since T] [--until T] [--target local|localstack|aws] [--no-cache]\n       npm run query -- --live [--job J] [--key K] [--limit N] [--watch S] [--format table|csv|json] [--target local|localstack|aws]',
  positionals: {
    name: '"SQL"',
    description: 'one quoted argument; views: results (highest version per resultId), results_all (every version), late, rejected',
  },
  options: {
    format: { type: 'string', description: 'output format', default: 'table', choices: FORMATS },
    job: { type: 'string', description: "only this job's output (and only its objects are fetched)" },
    since: { type: 'string', description: 'only windows starting at or after this time (rejected: rejectedAt); ISO-8601, a date, or an age like 2h', default: 'all' },
    until: { type: 'string', description: 'only windows starting before this time; same forms as --since', default: 'all' },
    target: { type: 'string', description: 'whose bucket to read', default: 'local', choices: TARGET_NAMES },
    endpoint: { type: 'string', description: 'endpoint of the local target (default http://127.0.0.1:4566; LocalStack http://localhost:4566)' },
    region: { type: 'string', description: 'AWS region (default: AWS_REGION or your profile; us-east-1 locally)' },
    outputs: { type: 'string', description: "deploy outputs file to read names from (default: the target's: .riffle/outputs.json, .riffle/localstack-outputs.json, cdk-outputs.json)" },
    'no-cache': { type: 'boolean', description: `download every object again instead of reusing ${DEFAULT_CACHE_DIR}/` },
    athena: { type: 'boolean', description: 'AWS only: run the query in Athena over the job\'s Glue table (results only), in the stack\'s workgroup' },
    live: { type: 'boolean', description: "no SQL: the current values of open windows, read from the jobs' state tables (seconds old, not a Firehose buffer old); columns of results plus state, closeAt, watermark, updatedAt" },
    key: { type: 'string', description: '--live: only this result key' },
    limit: { type: 'string', description: '--live: at most this many windows (the newest), which bounds the reads', default: String(DEFAULT_LIVE_LIMIT), integer: { min: 1, max: 100_000 } },
    watch: { type: 'string', description: '--live: read again every this many seconds until Ctrl-C', integer: { min: 1, max: 3600 } },
  },
  examples: [
    'npm run query -- "SELECT * FROM results ORDER BY windowStart DESC LIMIT 10"',
    'npm run query -- "SELECT key, count(*) FROM results GROUP BY key" --job clickstream --since 2h',
    'npm run query -- "SELECT reason, count(*) AS n FROM rejected GROUP BY reason" --format csv',
    'npm run query -- "SELECT * FROM late LIMIT 5" --format json --target localstack',
    'npm run query -- --live --job sensor-averages --watch 2',
  ],
};

export interface QueryOptions {
  sql: string;
  format: OutputFormat;
  job?: string;
  sinceMs?: number;
  untilMs?: number;
  target: TargetName;
  endpoint?: string;
  region?: string;
  outputs?: string;
  cache: boolean;
  athena: boolean;
  /** --live: read open windows from the state table instead of SQL over S3 (sql is then empty). */
  live?: Omit<LiveOptions, 'format' | 'job'>;
}

/** ISO-8601 with a zone, a UTC date (2026-01-01), or an age (2h = two hours ago). */
export function parseTimeOption(name: string, text: string, nowMs: number): number {
  const fix = `write an ISO-8601 time with a zone (--${name} 2026-01-01T12:00:00Z), a UTC date (--${name} 2026-01-01) or an age (--${name} 2h)`;
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const ms = Date.parse(`${text}T00:00:00Z`);
    if (Number.isNaN(ms) || !new Date(ms).toISOString().startsWith(text)) throw new UsageError(`--${name} '${text}' is not a date; ${fix}`);
    return ms;
  }
  if (/^\d+(\.\d+)?(ms|s|m|h|d)$/.test(text)) return nowMs - parseDuration(text, `--${name}`);
  if (/^\d{4}-\d{2}-\d{2}[T ]/.test(text)) {
    const t = parseEventTime(text);
    if (t.ok) return t.ms;
    throw new UsageError(`--${name} '${text}': ${t.reason}; ${fix}`);
  }
  throw new UsageError(`--${name} '${text}' is not a time; ${fix}`);
}

export function queryOptions(parsed: Parsed, nowMs = Date.now()): QueryOptions {
  if (parsed.values.live === true) return liveQueryOptions(parsed);
  for (const name of ['key', 'limit', 'watch']) {
    if (parsed.values[name] !== undefined) throw new UsageError(`--${name} goes with --live (open windows from the state table); in SQL over the S3 views write a WHERE or LIMIT clause instead`);
  }
  if (parsed.positionals.length === 0) {
    throw new UsageError('give the SQL to run as one quoted argument, e.g. npm run query -- "SELECT * FROM results LIMIT 10" (views: results, results_all, late, rejected)');
  }
  if (parsed.positionals.length > 1) {
    throw new UsageError(`got ${parsed.positionals.length} arguments (${parsed.positionals.map((p) => `'${p}'`).join(' ')}); quote the whole SQL as one argument: npm run query -- "SELECT key, count(*) FROM results GROUP BY key"`);
  }
  const sql = parsed.positionals[0] as string;
  if (sql.trim() === '') throw new UsageError('the SQL is empty; e.g. npm run query -- "SELECT * FROM results LIMIT 10"');
  const str = (name: string) => (typeof parsed.values[name] === 'string' ? (parsed.values[name] as string) : undefined);
  const job = str('job');
  if (job !== undefined && !jobs[job]) throw new UsageError(`unknown job '${job}'; jobs (defined in jobs/): ${Object.keys(jobs).join(', ')}`);
  const target = str('target') ?? 'local';
  if (!isTargetName(target)) throw new UsageError(`--target must be one of ${TARGET_NAMES.join(', ')}, got '${target}'`);
  const since = str('since');
  const until = str('until');
  const sinceMs = since === undefined ? undefined : parseTimeOption('since', since, nowMs);
  const untilMs = until === undefined ? undefined : parseTimeOption('until', until, nowMs);
  if (sinceMs !== undefined && untilMs !== undefined && sinceMs >= untilMs) {
    throw new UsageError(`--since (${new Date(sinceMs).toISOString()}) must be before --until (${new Date(untilMs).toISOString()})`);
  }
  const endpoint = str('endpoint');
  if (endpoint !== undefined && target === 'aws') throw new UsageError('--endpoint is for --target local or localstack; AWS endpoints follow the region (use --region)');
  const athena = parsed.values.athena === true;
  if (athena && target !== 'aws') throw new UsageError('--athena queries the Glue table on AWS; add --target aws (locally, DuckDB runs the same SQL)');
  if (athena && job === undefined) throw new UsageError('--athena needs --job: each job has its own Glue table (e.g. --job sensor-averages)');
  const region = str('region');
  const outputs = str('outputs');
  return {
    sql,
    format: (str('format') ?? 'table') as OutputFormat,
    ...(job !== undefined ? { job } : {}),
    ...(sinceMs !== undefined ? { sinceMs } : {}),
    ...(untilMs !== undefined ? { untilMs } : {}),
    target,
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(region !== undefined ? { region } : {}),
    ...(outputs !== undefined ? { outputs } : {}),
    cache: parsed.values['no-cache'] !== true,
    athena,
  };
}

/** `--live`: no SQL, no S3 options; the target, job and format options as for SQL. */
function liveQueryOptions(parsed: Parsed): QueryOptions {
  if (parsed.positionals.length > 0) {
    throw new UsageError(`--live takes no SQL (got ${parsed.positionals.map((p) => `'${p}'`).join(' ')}): it prints every open window's row; narrow it with --job, --key and --limit, or drop --live to run SQL over the S3 views`);
  }
  for (const name of ['since', 'until', 'athena', 'no-cache']) {
    if (parsed.values[name] !== undefined) throw new UsageError(`--${name} is for SQL over the S3 views; --live reads the open windows from the state table (narrow it with --job, --key, --limit)`);
  }
  const str = (name: string) => (typeof parsed.values[name] === 'string' ? (parsed.values[name] as string) : undefined);
  const job = str('job');
  if (job !== undefined && !jobs[job]) throw new UsageError(`unknown job '${job}'; jobs (defined in jobs/): ${Object.keys(jobs).join(', ')}`);
  const key = str('key');
  if (key !== undefined && job === undefined) throw new UsageError('--key needs --job: keys belong to a job (e.g. --live --job sensor-averages --key sensor-7)');
  const target = str('target') ?? 'local';
  if (!isTargetName(target)) throw new UsageError(`--target must be one of ${TARGET_NAMES.join(', ')}, got '${target}'`);
  const endpoint = str('endpoint');
  if (endpoint !== undefined && target === 'aws') throw new UsageError('--endpoint is for --target local or localstack; AWS endpoints follow the region (use --region)');
  const region = str('region');
  const outputs = str('outputs');
  const watch = str('watch');
  return {
    sql: '',
    format: (str('format') ?? 'table') as OutputFormat,
    ...(job !== undefined ? { job } : {}),
    target,
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(region !== undefined ? { region } : {}),
    ...(outputs !== undefined ? { outputs } : {}),
    cache: true,
    athena: false,
    live: { limit: intOption(parsed, 'limit', DEFAULT_LIVE_LIMIT), ...(key !== undefined ? { key } : {}), ...(watch !== undefined ? { watchSeconds: intOption(parsed, 'watch', 1) } : {}) },
  };
}

/** The results schema of a job in jobs/ (the Glue table's columns). */
function jobSchema(name: string): ResultColumn[] {
  const job = jobs[name];
  return job ? resultsSchema({ aggregates: Object.fromEntries(Object.entries(job.aggregates).map(([field, a]) => [field, { kind: a.kind }])) }) : [];
}

/** Aggregate columns of the jobs queried, so `SELECT temperature_avg …` binds before any result exists. */
export function resultColumns(jobNames: readonly string[]): Record<string, string> {
  const columns: Record<string, string> = {};
  for (const name of jobNames) {
    for (const column of jobSchema(name)) if (!(column.field in BASE_COLUMNS.results)) columns[column.field] ??= duckdbType(column.type);
  }
  return columns;
}

/**
 * Aggregate columns that are text standing for any JSON value in the schema (first/last and
 * user-defined aggregates): the views type them from their values, as JSON lines were typed.
 */
export function inferredColumns(jobNames: readonly string[]): string[] {
  const names = new Set<string>();
  for (const name of jobNames) for (const column of jobSchema(name)) if (column.type === 'string' && !(column.field in BASE_COLUMNS.results)) names.add(column.field);
  return [...names];
}

/** A column of the JSON-lines table as the Parquet table types it (query.ts jsonTableColumns holds the text). */
function athenaJsonColumn(column: ResultColumn): string {
  const name = `"${column.name}"`;
  if (column.type === 'timestamp') return `CAST(from_iso8601_timestamp(${name}) AS timestamp) AS ${name}`;
  if (['string', 'boolean', 'bigint', 'double'].includes(column.type)) return name;
  // Structured columns (top-k lists) are their JSON text there.
  const athenaType = column.type.replace(/array</g, 'array(').replace(/struct</g, 'row(').replace(/>/g, ')').replace(/:/g, ' ').replace(/\bstring\b/g, 'varchar');
  return `CAST(json_parse(${name}) AS ${athenaType}) AS ${name}`;
}

/**
 * The Athena form of a query: the same view names as common table expressions over the job's two
 * Glue tables — Parquet (<table>) and the JSON lines written before it (<table>_json) — unioned
 * with the same types, with partition projection on dt/hour, so --since/--until become partition
 * predicates in both.
 */
export function athenaSql(options: Pick<QueryOptions, 'sql' | 'sinceMs' | 'untilMs'>, database: string, table: string, columns: readonly ResultColumn[]): string {
  const where: string[] = [];
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const timestamp = (ms: number) => `TIMESTAMP '${new Date(ms).toISOString().replace('T', ' ').replace('Z', '')}'`;
  if (options.sinceMs !== undefined) where.push(`dt >= '${day(options.sinceMs)}'`, `windowstart >= ${timestamp(options.sinceMs)}`);
  if (options.untilMs !== undefined) where.push(`dt <= '${day(options.untilMs)}'`, `windowstart < ${timestamp(options.untilMs)}`);
  const parquet = [...columns.map((c) => `"${c.name}"`), 'dt', 'hour'].join(', ');
  const json = [...columns.map(athenaJsonColumn), 'dt', 'hour'].join(', ');
  return [
    'WITH',
    `  results_all AS (SELECT * FROM (SELECT ${parquet} FROM "${database}"."${table}" UNION ALL SELECT ${json} FROM "${database}"."${table}_json")${where.length ? ` WHERE ${where.join(' AND ')}` : ''}),`,
    '  results AS (SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY resultid ORDER BY coalesce(job_version, 1) DESC, coalesce(revision, 0) DESC, version DESC, final DESC) AS riffle_rank FROM results_all) WHERE riffle_rank = 1)',
    options.sql.trim().replace(/;\s*$/, ''),
  ].join('\n');
}

function athenaText(options: QueryOptions, target: Target): string {
  const job = options.job as string;
  const database = jobOutput(target, job, 'GlueDatabase');
  const table = jobOutput(target, job, 'GlueTable');
  const workgroup = jobOutput(target, job, 'AthenaWorkgroup');
  const sql = athenaSql(options, database, table, jobSchema(job));
  const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    `-- Athena SQL over ${database}.${table} (results only: late/ and rejected/ have no Glue table)`,
    sql,
    '',
    '# to rerun it by hand (the workgroup writes results to the stack bucket under athena-results/):',
    `id=$(aws athena start-query-execution --work-group ${workgroup} --query-string ${shellQuote(sql)} --query QueryExecutionId --output text)`,
    'while state=$(aws athena get-query-execution --query-execution-id "$id" --query QueryExecution.Status.State --output text); [ "$state" = QUEUED ] || [ "$state" = RUNNING ]; do sleep 1; done; echo "$state"',
    'aws athena get-query-results --query-execution-id "$id" --output table',
  ].join('\n');
}

export interface QueryIo {
  /** An Athena client (tests pass a stub); default: one from the standard AWS configuration. */
  athena?: Pick<AthenaClient, 'send'>;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Project directory: outputs files and the cache are relative to it. */
  cwd?: string;
  /** Use this target instead of resolving one from the outputs file (tests). */
  target?: Target;
  /** Cache directory (default <cwd>/.riffle/query-cache). */
  cacheDir?: string;
  /** --live --watch: stops watching (tests; Ctrl-C on the command line). */
  signal?: AbortSignal;
  /** --live --watch: stop after this many reads (tests). */
  iterations?: number;
}

export interface QueryRun {
  format: OutputFormat;
  text: string;
  stats: FetchStats;
  rowCount: number;
}

/** Lists, fetches, runs the SQL; returns the formatted output and what was fetched. */
export async function executeQuery(options: QueryOptions, io: Pick<QueryIo, 'cwd' | 'target' | 'cacheDir'>): Promise<QueryRun> {
  const cwd = io.cwd ?? process.cwd();
  const target = io.target ?? resolveTarget(options.target, { cwd, ...(options.endpoint ? { endpoint: options.endpoint } : {}), ...(options.region ? { region: options.region } : {}), ...(options.outputs ? { outputsFile: options.outputs } : {}) });
  const filter: PartitionFilter = { ...(options.job ? { job: options.job } : {}), ...(options.sinceMs !== undefined ? { sinceMs: options.sinceMs } : {}), ...(options.untilMs !== undefined ? { untilMs: options.untilMs } : {}) };
  const sources = options.job ? [{ bucket: jobOutput(target, options.job, 'Bucket'), jobs: [options.job] }] : buckets(target);
  if (sources.length === 0) throw new UsageError(`no jobs are deployed on --target ${target.name} (${TARGET_INFO[target.name].outputsFile} lists none): ${TARGET_INFO[target.name].deploy}`);
  const kinds = referencedKinds(options.sql);
  const stats = emptyFetchStats();
  const s3 = new S3Client(target.clientConfig());
  const cacheDir = options.cache ? (io.cacheDir ?? path.resolve(cwd, DEFAULT_CACHE_DIR)) : await mkdtemp(path.join(os.tmpdir(), 'riffle-query-'));
  let session: QuerySession | undefined;
  try {
    const files: Partial<Record<OutputKind, string[]>> = {};
    for (const kind of kinds) {
      files[kind] = [];
      for (const { bucket } of sources) {
        const objects = await listOutputObjects(s3, bucket, kind, filter, stats);
        (files[kind] as string[]).push(...(await fetchToCache(s3, objects, cacheDir, stats, { useCache: options.cache })));
      }
    }
    const queried = options.job ? [options.job] : deployedJobs(target);
    session = await QuerySession.open({ files, filter, resultColumns: resultColumns(queried), inferredColumns: inferredColumns(queried) });
    const result = await session.run(options.sql);
    return { format: options.format, text: formatResult(result, options.format), stats, rowCount: result.rows.length };
  } catch (error) {
    if (error instanceof SqlError) throw new UsageError(`SQL: ${error.message}`);
    const explained = explainError(target, error);
    if (explained) throw new UsageError(explained);
    throw error;
  } finally {
    session?.close();
    s3.destroy();
    if (!options.cache) await rm(cacheDir, { recursive: true, force: true });
  }
}

function fetchSummary(stats: FetchStats, seconds: number): string {
  const mb = (stats.fetchedBytes / 1024 / 1024).toFixed(stats.fetchedBytes < 1024 * 1024 ? 2 : 1);
  return `query: ${stats.fetched + stats.cached} objects read (${stats.fetched} downloaded, ${mb} MB; ${stats.cached} from cache; ${stats.pruned} skipped by partition) in ${seconds.toFixed(1)} s`;
}

/** Runs the command with validated options; resolves to the exit code. */
export async function query(options: QueryOptions, io: QueryIo): Promise<number> {
  const warning = endpointWarning(options.target);
  if (warning) io.stderr.write(`${warning}\n`);
  if (options.live) {
    const target = io.target ?? resolveTarget(options.target, { ...(io.cwd ? { cwd: io.cwd } : {}), ...(options.endpoint ? { endpoint: options.endpoint } : {}), ...(options.region ? { region: options.region } : {}), ...(options.outputs ? { outputsFile: options.outputs } : {}) });
    return runLive({ ...options.live, format: options.format, ...(options.job !== undefined ? { job: options.job } : {}) }, target, io);
  }
  if (options.athena) {
    const target = io.target ?? resolveTarget(options.target, { ...(io.cwd ? { cwd: io.cwd } : {}), ...(options.region ? { region: options.region } : {}), ...(options.outputs ? { outputsFile: options.outputs } : {}) });
    // The SQL as Athena gets it, and how to rerun it by hand, go to stderr; the rows to stdout.
    io.stderr.write(`${athenaText(options, target)}\n`);
    const job = options.job as string;
    const athena = io.athena ?? new AthenaClient({ ...(options.region ? { region: options.region } : {}) });
    const started = Date.now();
    const result = await runAthena(athena, {
      sql: athenaSql(options, jobOutput(target, job, 'GlueDatabase'), jobOutput(target, job, 'GlueTable'), jobSchema(job)),
      workgroup: jobOutput(target, job, 'AthenaWorkgroup'),
      database: jobOutput(target, job, 'GlueDatabase'),
    });
    io.stdout.write(`${formatResult(result, options.format)}\n`);
    io.stderr.write(`athena: query ${result.queryExecutionId}, ${result.rows.length} rows, ${(result.scannedBytes / 1024 / 1024).toFixed(1)} MB scanned, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return 0;
  }
  const started = Date.now();
  const run = await executeQuery(options, io);
  io.stdout.write(`${run.text}\n`);
  for (const w of run.stats.warnings.slice(0, 5)) io.stderr.write(`warning: ${w}\n`);
  if (run.stats.warnings.length > 5) io.stderr.write(`warning: … and ${run.stats.warnings.length - 5} more objects with malformed lines\n`);
  io.stderr.write(`${fetchSummary(run.stats, (Date.now() - started) / 1000)}\n`);
  return 0;
}

/** `npm run query` with an argument list (tests call this; the CLI passes process.argv). */
export async function runQuery(argv: string[], io: QueryIo): Promise<number> {
  return query(queryOptions(parseCommand(querySpec, argv)), io);
}

if (require.main === module) {
  runMain(querySpec, async (parsed) => query(queryOptions(parsed), { stdout: process.stdout, stderr: process.stderr }));
}
