// The SQL side of `npm run query`: an in-memory DuckDB (@duckdb/node-api) with Riffle's views over
// the files s3-cache.ts fetched — Parquet (results as Firehose converts them) and JSON lines (late,
// rejected, and results written before Parquet or by LocalStack), unioned by name — and the three
// output formats.
//
//   results_all   every emitted result row (all versions, job versions and reprocess revisions)
//   results       one row per resultId (per job, key and window, which it hashes): the greatest
//                 (job_version, revision, version) — a newer job version's row where it produced
//                 the window, a reprocess run's over the live pipeline's and over earlier runs',
//                 then the highest state version (ties: final first). Rows written before
//                 job_version and revision existed count as job_version 1, revision 0
//   late_all      every late record written, retries included
//   late          one row per input: a late event per (job, shard, sequence, sub-sequence), a late
//                 partial per (job, key, window, shard, first–last sequence)
//   rejected_all  every rejected record written, retries included
//   rejected      one row per (job, shard, sequence number, sub-sequence number), plus payloadText
//                 (the payload decoded as UTF-8 when it is)
//
// Why the dedup: a function retried after its late/rejected records reached Firehose writes them
// again (at-least-once delivery, as on AWS); the records are identical and carry the input's
// position, which is what makes them collapsible. Results collapse by resultId and version.
//
// Columns are whatever the files hold (one per aggregate), with Riffle's own fields given fixed
// types — times as TIMESTAMP (UTC) — and the aggregates the types of the job's results schema, all
// present even when no file has them, so a query over an empty or partly written output still binds.
// Parquet columns carry Glue's lowercase names; they are renamed to the record's (windowstart →
// windowStart), so a query and its output read the same over either format.
//
// Cheap to scan: Parquet files are not loaded but read by the views, so DuckDB reads only the
// columns a query uses and skips row groups by their min/max (the job and time filters, and a
// query's own WHERE, reach the scan: the `results` dedup partitions by what resultId hashes — job,
// key, windowStart, windowEnd — which needs no resultId and lets filters on those pass below it).
// JSON lines have no such structure: they are parsed once into a temporary table.
import { DuckDBInstance, StatementType, type DuckDBConnection } from '@duckdb/node-api';
import { type HiveType, parseHiveType } from '../../local/services/format-conversion/hive-type';
import { isParquetFile, type OutputKind, type PartitionFilter } from './s3-cache';

/** Riffle's fields per view and their SQL types (records.ts). Aggregates come from the data. */
export const BASE_COLUMNS: Readonly<Record<OutputKind, Readonly<Record<string, string>>>> = {
  results: {
    resultId: 'VARCHAR',
    job: 'VARCHAR',
    key: 'VARCHAR',
    windowStart: 'TIMESTAMP',
    windowEnd: 'TIMESTAMP',
    final: 'BOOLEAN',
    version: 'BIGINT',
    eventCount: 'BIGINT',
    emittedAt: 'TIMESTAMP',
    job_version: 'BIGINT',
    revision: 'BIGINT',
  },
  late: {
    kind: 'VARCHAR',
    job: 'VARCHAR',
    key: 'VARCHAR',
    windowStart: 'TIMESTAMP',
    windowEnd: 'TIMESTAMP',
    eventTime: 'TIMESTAMP',
    watermark: 'TIMESTAMP',
    reason: 'VARCHAR',
    shardId: 'VARCHAR',
    sequenceNumber: 'VARCHAR',
    subSequenceNumber: 'BIGINT',
    eventCount: 'BIGINT',
    firstSequenceNumber: 'VARCHAR',
    lastSequenceNumber: 'VARCHAR',
    lateAt: 'TIMESTAMP',
  },
  rejected: {
    job: 'VARCHAR',
    reason: 'VARCHAR',
    shardId: 'VARCHAR',
    sequenceNumber: 'VARCHAR',
    subSequenceNumber: 'BIGINT',
    partitionKey: 'VARCHAR',
    payload: 'VARCHAR',
    payloadBytes: 'BIGINT',
    payloadTruncated: 'BOOLEAN',
    payloadSha256: 'VARCHAR',
    rejectedAt: 'TIMESTAMP',
  },
};

/** DuckDB's spelling of a Glue (Hive) column type: bigint → BIGINT, array<struct<…>> → STRUCT(…)[]. */
export function duckdbType(hive: string): string {
  const convert = (t: HiveType): string => {
    switch (t.kind) {
      case 'array':
        return `${convert(t.element)}[]`;
      case 'struct':
        return `STRUCT(${t.fields.map((f) => `${quoteIdent(f.name)} ${convert(f.type)}`).join(', ')})`;
      case 'string':
        return 'VARCHAR';
      case 'int':
        return 'INTEGER';
      default:
        return t.kind.toUpperCase();
    }
  };
  return convert(parseHiveType(hive));
}

/** The time column each view's --since/--until (and its S3 partitions) refer to. */
export const TIME_COLUMN: Readonly<Record<OutputKind, string>> = { results: 'windowStart', late: 'windowStart', rejected: 'rejectedAt' };

export const VIEW_NAMES = ['results', 'results_all', 'late', 'late_all', 'rejected', 'rejected_all'] as const;
export type ViewName = (typeof VIEW_NAMES)[number];

/** The outputs a statement reads (whole-word view names; a name inside a string literal costs only a fetch). */
export function referencedKinds(sql: string): Set<OutputKind> {
  const kinds = new Set<OutputKind>();
  if (/\bresults(_all)?\b/i.test(sql)) kinds.add('results');
  if (/\blate(_all)?\b/i.test(sql)) kinds.add('late');
  if (/\brejected(_all)?\b/i.test(sql)) kinds.add('rejected');
  return kinds;
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
const quoteString = (text: string) => `'${text.replace(/'/g, "''")}'`;
/** A TIMESTAMP literal (UTC, naive) for epoch ms. */
const timestampLiteral = (ms: number) => `TIMESTAMP ${quoteString(new Date(ms).toISOString().replace('T', ' ').replace('Z', ''))}`;

/**
 * Which of a window's result rows is its result: a newer job version, then a later reprocess
 * revision, then a higher state version. Shared with the Athena form of the views (query.ts).
 */
export const RESULT_PRECEDENCE = 'coalesce(job_version, 1) DESC, coalesce(revision, 0) DESC, version DESC NULLS LAST';

/**
 * The window that keeps one row per identity in each deduplicated view (the first of equals: the
 * highest version for results; the earliest write for late and rejected records).
 */
const ONE_ROW_PER: Readonly<Record<OutputKind, string>> = {
  // resultId is the hash of job, key, windowStart and windowEnd: partitioning by those four makes
  // the same groups without reading resultId (the widest column, 32 random hex digits), and lets
  // filters on them pass below the window into the scans.
  results: `PARTITION BY job, key, windowStart, windowEnd ORDER BY ${RESULT_PRECEDENCE}, final DESC NULLS LAST, emittedAt DESC NULLS LAST`,
  // Late events are identified by their input position; late partials (no sequenceNumber) by the
  // window they missed and the input range they aggregate.
  late:
    "PARTITION BY job, kind, shardId, sequenceNumber, subSequenceNumber, CASE WHEN kind = 'partial' THEN key END, CASE WHEN kind = 'partial' THEN windowStart END, firstSequenceNumber, lastSequenceNumber ORDER BY lateAt NULLS LAST",
  rejected: 'PARTITION BY job, shardId, sequenceNumber, subSequenceNumber ORDER BY rejectedAt NULLS LAST',
};

export interface ViewSources {
  /** Files per output kind: `.parquet` files are read as Parquet, any other as JSON lines. */
  files: Partial<Record<OutputKind, readonly string[]>>;
  filter: PartitionFilter;
  /** Extra columns to guarantee in results (aggregate name → SQL type), e.g. from the job definitions. */
  resultColumns?: Readonly<Record<string, string>>;
  /**
   * Result columns whose Parquet type is text standing for any JSON value (first/last, user-defined
   * aggregates): typed from their values — BIGINT or DOUBLE when every value is such a number —
   * as reading the JSON lines types them.
   */
  inferredColumns?: readonly string[];
}

/** A statement DuckDB refused (syntax, binding, types, a refused statement kind): the user's SQL to fix. */
export class SqlError extends Error {
  override readonly name = 'SqlError';
}

/** Statement kinds that would fetch or load code, or reach outside the cached output. */
const REFUSED_STATEMENTS: ReadonlySet<StatementType> = new Set([StatementType.LOAD, StatementType.EXTENSION, StatementType.ATTACH, StatementType.UPDATE_EXTENSIONS]);

/**
 * DuckDB's message as one line: its kind ("Parser Error: syntax error at or near …") without the
 * caret drawing and hints that follow, with the LINE/column it points at when it gives one.
 */
export function sqlErrorLine(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).replace(/^(Failed to extract statements: |Error: )/, '');
  const lines = message.split('\n').map((l) => l.trim());
  const first = lines.find((l) => l !== '') ?? 'the SQL failed';
  const at = lines.find((l) => /^LINE \d+:/.test(l));
  return at ? `${first} (${at.replace(/:.*$/, '').toLowerCase()})` : first;
}

export interface QueryResult {
  columns: string[];
  types: string[];
  rows: unknown[][];
}

/** The type a column has in every part, numbers widened to DOUBLE; VARCHAR when they disagree. */
function commonType(types: readonly string[]): string {
  if (types.length === 0) return 'VARCHAR';
  if (types.every((t) => t === 'BIGINT')) return 'BIGINT';
  if (types.every((t) => t === 'BIGINT' || t === 'DOUBLE')) return 'DOUBLE';
  return types.every((t) => t === types[0]) ? (types[0] as string) : 'VARCHAR';
}

/** An in-memory DuckDB with Riffle's views. close() when done. */
export class QuerySession {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  static async open(sources: ViewSources): Promise<QuerySession> {
    // No extension is ever downloaded or loaded behind the user's back: a query naming an https://
    // URL or a file format DuckDB lacks fails with a message instead of fetching code from the
    // internet. The configuration is locked once the views exist, so the SQL cannot turn it back on.
    const instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
    const connection = await instance.connect();
    const session = new QuerySession(instance, connection);
    try {
      // Timestamps are UTC throughout Riffle; keep now() and casts in UTC whatever the machine says.
      await connection.run("SET TimeZone = 'UTC'").catch(() => undefined);
      for (const kind of ['results', 'late', 'rejected'] as const) {
        const results = kind === 'results';
        await session.createView(kind, sources.files[kind] ?? [], sources.filter, results ? (sources.resultColumns ?? {}) : {}, new Set(results ? (sources.inferredColumns ?? []) : []));
      }
      await connection.run('SET lock_configuration = true');
    } catch (error) {
      session.close();
      throw error;
    }
    return session;
  }

  private async describe(relation: string): Promise<Map<string, string>> {
    const described = await this.connection.runAndReadAll(`DESCRIBE SELECT * FROM ${relation}`);
    return new Map(described.getRowObjectsJS().map((r) => [String(r.column_name), String(r.column_type)]));
  }

  /** The type the values of a text column have in common (BIGINT, DOUBLE) or VARCHAR; undefined when it holds none. */
  private async textType(relation: string, column: string): Promise<string | undefined> {
    const c = quoteIdent(column);
    const reader = await this.connection.runAndReadAll(
      `SELECT count(*) FILTER (WHERE ${c} IS NOT NULL AND TRY_CAST(${c} AS DOUBLE) IS NULL), count(*) FILTER (WHERE ${c} IS NOT NULL AND TRY_CAST(${c} AS BIGINT) IS NULL), count(${c}) FROM ${relation}`,
    );
    const [notDouble, notBigint, present] = (reader.getRowsJS()[0] ?? [0n, 0n, 0n]).map(Number) as [number, number, number];
    if (present === 0) return undefined;
    if (notDouble > 0) return 'VARCHAR';
    return notBigint === 0 ? 'BIGINT' : 'DOUBLE';
  }

  private async createView(kind: OutputKind, files: readonly string[], filter: PartitionFilter, extra: Readonly<Record<string, string>>, inferred: ReadonlySet<string>): Promise<void> {
    const base = BASE_COLUMNS[kind];
    const wanted: Record<string, string> = { ...extra, ...base };
    const canonical = new Map<string, string>();
    for (const name of [...Object.keys(wanted), ...inferred]) canonical.set(name.toLowerCase(), name);

    // One part per format: its relation and its columns by output name (→ source column, type).
    const parts: { relation: string; columns: Map<string, { source: string; type: string }>; parquet: boolean }[] = [];
    const parquetFiles = files.filter(isParquetFile);
    const jsonFiles = files.filter((f) => !isParquetFile(f));
    if (parquetFiles.length > 0) {
      const relation = `read_parquet([${parquetFiles.map(quoteString).join(', ')}], union_by_name = true)`;
      const columns = new Map<string, { source: string; type: string }>();
      for (const [source, type] of await this.describe(relation)) columns.set(canonical.get(source.toLowerCase()) ?? source, { source, type });
      parts.push({ relation, columns, parquet: true });
    }
    if (jsonFiles.length > 0) {
      // Materialised once: the views then read memory, not JSON. Every file and every line is
      // sampled for the schema: a column that is null in the first files (humidity_avg of sensors
      // without humidity) would otherwise be typed JSON for good.
      const table = `_${kind}_json`;
      await this.connection.run(
        `CREATE TEMP TABLE ${table} AS SELECT * FROM read_ndjson([${jsonFiles.map(quoteString).join(', ')}], maximum_sample_files = -1, sample_size = -1, union_by_name = true)`,
      );
      const columns = new Map<string, { source: string; type: string }>();
      for (const [source, type] of await this.describe(table)) columns.set(canonical.get(source.toLowerCase()) ?? source, { source, type });
      parts.push({ relation: table, columns, parquet: false });
    }

    // Output columns: in the order the first part has them, then the guaranteed ones it lacks.
    const names: string[] = [];
    for (const part of parts) for (const name of part.columns.keys()) if (!names.includes(name)) names.push(name);
    for (const name of Object.keys(wanted)) if (!names.includes(name)) names.push(name);
    for (const name of inferred) if (!names.includes(name)) names.push(name);

    const targets = new Map<string, string>();
    for (const name of names) {
      if (name in base) targets.set(name, base[name] as string);
      else if (inferred.has(name)) {
        const types: string[] = [];
        for (const part of parts) {
          const column = part.columns.get(name);
          // Parts with no value for it (a NULL-only column: VARCHAR in Parquet, JSON in JSON lines) do not vote.
          const type = !column ? undefined : part.parquet && column.type === 'VARCHAR' ? await this.textType(part.relation, column.source) : column.type === 'JSON' ? undefined : column.type;
          if (type) types.push(type);
        }
        targets.set(name, commonType(types));
      } else {
        const parquet = parts.find((p) => p.parquet)?.columns.get(name)?.type;
        targets.set(name, wanted[name] ?? parquet ?? parts.find((p) => p.columns.has(name))?.columns.get(name)?.type ?? 'VARCHAR');
      }
    }

    const selectOf = (part: (typeof parts)[number]): string => {
      const list = names.map((name) => {
        const target = targets.get(name) as string;
        const column = part.columns.get(name);
        if (!column) return `CAST(NULL AS ${target}) AS ${quoteIdent(name)}`;
        const source = quoteIdent(column.source);
        if (column.type === target) return source === quoteIdent(name) ? source : `${source} AS ${quoteIdent(name)}`;
        // A structured JSON value where text is wanted keeps its JSON text.
        const value = target === 'VARCHAR' && /^(STRUCT|MAP|JSON)|\[\]$/.test(column.type) ? `to_json(${source})` : source;
        return `TRY_CAST(${value} AS ${target}) AS ${quoteIdent(name)}`;
      });
      return `SELECT ${list.join(', ')} FROM ${part.relation}`;
    };
    let select = parts.length > 0 ? parts.map(selectOf).join(' UNION ALL ') : `SELECT ${names.map((n) => `CAST(NULL AS ${targets.get(n) as string}) AS ${quoteIdent(n)}`).join(', ')} WHERE false`;
    if (kind === 'rejected') select = `SELECT *, TRY(decode(from_base64(payload))) AS payloadText FROM (${select})`;

    const where: string[] = [];
    if (filter.job !== undefined) where.push(`job = ${quoteString(filter.job)}`);
    const time = quoteIdent(TIME_COLUMN[kind]);
    if (filter.sinceMs !== undefined) where.push(`${time} >= ${timestampLiteral(filter.sinceMs)}`);
    if (filter.untilMs !== undefined) where.push(`${time} < ${timestampLiteral(filter.untilMs)}`);
    await this.connection.run(`CREATE TEMP VIEW ${kind}_all AS SELECT * FROM (${select})${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`);
    await this.connection.run(`CREATE TEMP VIEW ${kind} AS SELECT * FROM ${kind}_all QUALIFY row_number() OVER (${ONE_ROW_PER[kind]}) = 1`);
  }

  /** Runs every statement; returns the last one's rows. */
  async run(sql: string): Promise<QueryResult> {
    try {
      const statements = await this.connection.extractStatements(sql);
      if (statements.count === 0) throw new SqlError('the SQL has no statement; e.g. "SELECT * FROM results LIMIT 10"');
      let result: QueryResult = { columns: [], types: [], rows: [] };
      for (let i = 0; i < statements.count; i++) {
        const statement = await statements.prepare(i);
        if (REFUSED_STATEMENTS.has(statement.statementType)) {
          throw new SqlError('INSTALL, LOAD, ATTACH and extension updates are refused: the query tool never downloads or loads code; its views need no extension');
        }
        const reader = await statement.runAndReadAll();
        result = { columns: reader.columnNames(), types: reader.columnTypes().map(String), rows: reader.getRowsJS() as unknown[][] };
      }
      return result;
    } catch (error) {
      throw error instanceof SqlError ? error : new SqlError(sqlErrorLine(error));
    }
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

// ---------------------------------------------------------------------------------------------
// Values and formats

/** A DuckDB JS value → plain JSON: bigints as numbers (strings past 2^53), times as ISO-8601 UTC. */
export function plainValue(value: unknown, type?: string): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) return null;
    return type === 'DATE' ? value.toISOString().slice(0, 10) : value.toISOString();
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map((v) => plainValue(v));
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, plainValue(v)]));
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

export function plainRows(result: QueryResult): Record<string, unknown>[] {
  return result.rows.map((row) => Object.fromEntries(result.columns.map((c, i) => [c, plainValue(row[i], result.types[i])])));
}

function cellText(value: unknown): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

const NUMERIC_TYPE = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL)/;
const MAX_CELL = 60;

/** An aligned text table (numbers right-aligned, long cells cut with …) and a row count. */
export function formatTable(result: QueryResult): string {
  const rows = result.rows.map((row) =>
    result.columns.map((_, i) => {
      const text = cellText(plainValue(row[i], result.types[i])).replace(/\r?\n/g, '⏎');
      return text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text;
    }),
  );
  const widths = result.columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] as string).length)));
  const numeric = result.types.map((t) => NUMERIC_TYPE.test(t));
  const line = (cells: readonly string[]) => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ').trimEnd();
  const out = [line(result.columns), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)];
  out.push(`(${result.rows.length.toLocaleString('en-US')} row${result.rows.length === 1 ? '' : 's'})`);
  return out.join('\n');
}

function csvCell(value: unknown): string {
  if (value === null) return '';
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV with a header row; nested values as JSON text, NULL as an empty field. */
export function formatCsv(result: QueryResult): string {
  const lines = [result.columns.map(csvCell).join(',')];
  for (const row of result.rows) lines.push(result.columns.map((_, i) => csvCell(plainValue(row[i], result.types[i]))).join(','));
  return lines.join('\r\n');
}

/** A JSON array of row objects, one row per line. */
export function formatJson(result: QueryResult): string {
  const rows = plainRows(result);
  return rows.length === 0 ? '[]' : `[\n${rows.map((r) => JSON.stringify(r)).join(',\n')}\n]`;
}

export const FORMATS = ['table', 'csv', 'json'] as const;
export type OutputFormat = (typeof FORMATS)[number];

export function formatResult(result: QueryResult, format: OutputFormat): string {
  return format === 'csv' ? formatCsv(result) : format === 'json' ? formatJson(result) : formatTable(result);
}
