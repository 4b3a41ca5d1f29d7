// Verifier, the oracle: the expected results computed independently in DuckDB SQL from the
// producer's log (what Kinesis accepted: shard, sequence number, payload), with the job's window
// and lateness rules restated in SQL (jobs.ts). Nothing here calls Riffle's decode, map, window or
// aggregate code. What it takes from Riffle's output is only *which* events Riffle declared late
// (late/): those are excluded, matched by shard + sequence (+ sub-sequence) number for late events
// and by shard + sequence range + key + window for late partials. Whether each of those claims was
// allowed is checked separately against per-round watermark bounds:
//
//   lower(r) = min over shards that have sent anything by round r of (max event time sent on that
//              shard before round r) − outOfOrderness     — the pipeline was idle before round r, so
//              every earlier event was applied; idle shards only raise the watermark
//   upper(r) = max event time sent in rounds ≤ r − outOfOrderness  — no watermark can pass data
//              that has not been sent
//
// A window pair with end + allowedLateness ≤ lower(r) MUST be late; one with end + allowedLateness >
// upper(r) must NOT be. Between the two, either outcome is legitimate (README: late events land in
// late/ "once the watermark has passed them").
import { statSync } from 'node:fs';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { Job } from '../../../functions/core/job';
import { plainValue } from '../duckdb';
import type { JobOracle } from './jobs';

export interface RoundRange {
  index: number;
  firstN: number;
  endN: number;
}

export interface OracleInput {
  oracle: JobOracle;
  job: Job;
  /** The producer's log: one JSON line per record (scripts/produce.ts logLine). */
  logFile: string;
  lateFile: string;
  rejectedFile: string;
  rounds: readonly RoundRange[];
}

/** One expected (key, window) result. */
export interface ExpectedWindow {
  key: string;
  start: number;
  end: number;
  /** Pairs counted (Riffle's eventCount). */
  n: number;
  values: Record<string, unknown>;
}

export interface OracleCounts {
  sent: number;
  valid: number;
  duplicates: number;
  bad: number;
  /** Records the producer sent as late (own flag, or a duplicate of a late record). */
  lateFlagged: number;
  /** …of which at least one window pair is in late/. */
  lateFlaggedInLate: number;
  /** …of which every window pair was counted (the watermark had not passed them yet). */
  lateFlaggedCounted: number;
  /** Window pairs (event × key × window) that count, and that late/ excluded. */
  countedPairs: number;
  latePairs: number;
  /** Distinct records with at least one pair in late/. */
  lateRecords: number;
  windows: number;
}

export interface RecordChecks {
  /** Events whose event time computed in SQL differs from the producer's logged one. */
  eventTimeMismatches: number;
  badRejected: number;
  /** Bad records in rejected/ but with an empty reason. */
  badRejectedWithoutReason: number;
  /** Valid records that were rejected; rejected/ rows matching no sent record. */
  validRejected: number;
  unknownRejected: number;
  /** late/ event rows matching no sent event in that key and window. */
  unknownLateEvents: number;
  latePartials: number;
  /** Late partials whose eventCount differs from the sent events in their range, key and window. */
  latePartialCountMismatches: number;
  /** late/ event rows whose own watermark had not reached window end + allowed lateness. */
  lateBeforeWatermark: number;
  /** Pairs that had to be late (end + lateness ≤ lower bound), and how many of them were counted. */
  mustBeLate: number;
  mustBeLateButCounted: number;
  /** Producer-late records with a pair counted although its window was past the lower bound. */
  lateFlaggedCountedPastBound: number;
  /** Pairs that could not be late (end + lateness > upper bound), and how many of them are in late/. */
  mustCount: number;
  mustCountButLate: number;
  /** late/ event rows written more than once (retries; identical, deduplicated). */
  lateCopies: number;
  /** Distinct sent records in rejected/, and rejected/ rows written more than once. */
  rejectedRecords: number;
  rejectedCopies: number;
}

export interface OracleResult {
  windows: ExpectedWindow[];
  counts: OracleCounts;
  checks: RecordChecks;
  bounds: { round: number; lower: number | null; upper: number | null }[];
}

const q = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** An in-memory DuckDB holding the log, Riffle's late/rejected rows and the classified pairs. */
export class OracleSession {
  private constructor(
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
  ) {}

  static async open(): Promise<OracleSession> {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    await connection.run("SET TimeZone = 'UTC'");
    return new OracleSession(instance, connection);
  }

  async rows(sql: string): Promise<Record<string, unknown>[]> {
    const reader = await this.connection.runAndReadAll(sql);
    const names = reader.columnNames();
    const types = reader.columnTypes().map(String);
    return (reader.getRowsJS() as unknown[][]).map((row) => Object.fromEntries(names.map((name, i) => [name, plainValue(row[i], types[i])])));
  }

  async number(sql: string): Promise<number> {
    const row = (await this.rows(sql))[0];
    return Number(Object.values(row ?? {})[0] ?? 0);
  }

  /** The sent pairs of one (key, window) with how Riffle's late/ classified them, and when and at which watermark (diagnostics). */
  async explainWindow(key: string, start: number): Promise<Record<string, unknown>[]> {
    return this.rows(
      `SELECT c.n, c.flag, c.intent, c.round, c.shardId, c.sequenceNumber, c.sub, c.t, c.late_event, c.late_partial, l.late_at, l.wm
       FROM classified c LEFT JOIN late_events l ON l.shardId = c.shardId AND l.seq = c.seq AND l.sub = c.sub AND l.key = c.key AND l.ws = c.ws
       WHERE c.key = ${q(key)} AND c.ws = ${start} ORDER BY c.n`,
    );
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

/** Creates `table` with explicit column types and loads a JSON-lines file into it (an empty file gives an empty table). */
async function loadJsonLines(db: OracleSession, table: string, file: string, columns: Record<string, string>): Promise<void> {
  const list = Object.entries(columns);
  await db.connection.run(`CREATE TABLE ${table} (${list.map(([n, t]) => `"${n}" ${t}`).join(', ')})`);
  if (statSync(file).size === 0) return;
  const spec = `{${list.map(([n, t]) => `${q(n)}: ${q(t)}`).join(', ')}}`;
  await db.connection.run(`INSERT INTO ${table} SELECT ${list.map(([n]) => `"${n}"`).join(', ')} FROM read_ndjson(${q(file)}, columns = ${spec}, maximum_object_size = 134217728)`);
}

/** The event-time rule of functions/core/event-time.ts in SQL: numbers < 1e11 are seconds, else ms; ISO strings with a zone. */
const EVENT_TIME_MACROS = [
  // Seconds: a product within the double's rounding error of a whole millisecond is that
  // millisecond, otherwise truncated (event-time.ts fromNumber); milliseconds are truncated.
  `CREATE MACRO num_ms(x) AS CASE WHEN x < 0 THEN NULL WHEN x < 1e11 THEN
     (CASE WHEN abs(x * 1000 - round(x * 1000)) <= greatest(1e-6, x * 1000 * pow(2, -50)) THEN round(x * 1000) ELSE floor(x * 1000) END)
     ELSE floor(x) END`,
  `CREATE MACRO ts_text(j) AS json_extract_string(j, '$.ts')`,
  `CREATE MACRO event_ms(j) AS CASE
     WHEN json_type(j, '$.ts') = 'VARCHAR' THEN
       CASE WHEN regexp_full_match(ts_text(j), '[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?') THEN num_ms(TRY_CAST(ts_text(j) AS DOUBLE))
            ELSE epoch_ms(TRY_CAST(ts_text(j) AS TIMESTAMPTZ)) END
     WHEN json_type(j, '$.ts') IN ('UBIGINT', 'BIGINT', 'DOUBLE') THEN num_ms(TRY_CAST(json_extract(j, '$.ts') AS DOUBLE))
     ELSE NULL END`,
  // Kinesis sequence numbers are decimal strings of up to ~56 digits (past HUGEINT): compare them zero-padded.
  `CREATE MACRO seq_key(s) AS lpad(s, 80, '0')`,
  `CREATE MACRO iso_ms(s) AS epoch_ms(TRY_CAST(s AS TIMESTAMPTZ))`,
];

export async function computeExpected(db: OracleSession, input: OracleInput): Promise<OracleResult> {
  const { oracle, job } = input;
  const win = job.window;
  if (win.type === 'session') throw new Error('session windows are not supported by the verifier');
  const size = win.sizeMs;
  const slide = win.type === 'hopping' ? win.slideMs : win.sizeMs;
  const lateness = job.allowedLatenessMs;
  const ooo = job.outOfOrdernessMs;
  for (const macro of EVENT_TIME_MACROS) await db.connection.run(macro);

  await loadJsonLines(db, 'sent', input.logFile, {
    n: 'BIGINT',
    flag: 'VARCHAR',
    badKind: 'VARCHAR',
    duplicateOf: 'BIGINT',
    partitionKey: 'VARCHAR',
    shardId: 'VARCHAR',
    sequenceNumber: 'VARCHAR',
    subSequenceNumber: 'BIGINT',
    aggregated: 'BOOLEAN',
    eventTime: 'BIGINT',
    payload: 'VARCHAR',
    payloadBase64: 'VARCHAR',
    error: 'VARCHAR',
  });
  await loadJsonLines(db, 'late_raw', input.lateFile, {
    kind: 'VARCHAR',
    key: 'VARCHAR',
    windowStart: 'VARCHAR',
    windowEnd: 'VARCHAR',
    eventTime: 'VARCHAR',
    watermark: 'VARCHAR',
    shardId: 'VARCHAR',
    sequenceNumber: 'VARCHAR',
    subSequenceNumber: 'BIGINT',
    eventCount: 'BIGINT',
    firstSequenceNumber: 'VARCHAR',
    lastSequenceNumber: 'VARCHAR',
    lateAt: 'VARCHAR',
  });
  await loadJsonLines(db, 'rejected_raw', input.rejectedFile, {
    reason: 'VARCHAR',
    shardId: 'VARCHAR',
    sequenceNumber: 'VARCHAR',
    subSequenceNumber: 'BIGINT',
    partitionKey: 'VARCHAR',
  });
  await db.connection.run('CREATE TABLE rounds (round INTEGER, first_n BIGINT, end_n BIGINT)');
  if (input.rounds.length > 0) {
    await db.connection.run(`INSERT INTO rounds VALUES ${input.rounds.map((r) => `(${r.index}, ${r.firstN}, ${r.endN})`).join(', ')}`);
  }

  // Every record Kinesis accepted, its round, and what it stands for: a duplicate re-sends the bytes
  // of an earlier record, so it is late/ok/bad as that one was (`intent`).
  await db.connection.run(`CREATE TABLE records AS
    SELECT s.*, r.round, seq_key(s.sequenceNumber) AS seq, coalesce(s.subSequenceNumber, 0) AS sub, coalesce(o.flag, s.flag) AS intent
    FROM sent s JOIN rounds r ON s.n >= r.first_n AND s.n < r.end_n
    LEFT JOIN sent o ON s.flag = 'duplicate' AND o.n = s.duplicateOf
    WHERE s.sequenceNumber IS NOT NULL`);
  await db.connection.run(`CREATE TABLE events AS SELECT *, event_ms(payload)::BIGINT AS t FROM records WHERE intent <> 'bad'`);

  // The job's map and windows: one row per (event, key, window) pair.
  const values = Object.entries(oracle.values).map(([name, sql]) => `${sql} AS "${name}"`).join(', ');
  const source = oracle.unnestSql ? `(SELECT e.*, unnest(${oracle.unnestSql}) AS item FROM events e)` : 'events';
  const lastStart = `(t - (((t % ${slide}) + ${slide}) % ${slide}))`;
  await db.connection.run(`CREATE TABLE pairs AS
    SELECT m.*, ws, ws + ${size} AS we FROM (
      SELECT m.*, unnest(generate_series(${lastStart} - ${size} + ${slide}, ${lastStart}, ${slide})) AS ws
      FROM (SELECT n, flag, intent, round, shardId, sequenceNumber, seq, sub, t, ${oracle.keySql} AS key${values ? `, ${values}` : ''} FROM ${source}) m
    ) m`);

  // What Riffle's late/ says (retries may have written a row twice: identical but for lateAt).
  await db.connection.run(`CREATE TABLE late_events AS
    SELECT shardId, seq_key(sequenceNumber) AS seq, coalesce(subSequenceNumber, 0) AS sub, key, iso_ms(windowStart) AS ws, iso_ms(windowEnd) AS we,
           min(iso_ms(watermark)) AS wm, min(lateAt) AS late_at, count(*) AS copies
    FROM late_raw WHERE kind = 'event' GROUP BY ALL`);
  await db.connection.run(`CREATE TABLE late_partials AS
    SELECT shardId, seq_key(firstSequenceNumber) AS f, seq_key(lastSequenceNumber) AS l, key, iso_ms(windowStart) AS ws, iso_ms(windowEnd) AS we,
           eventCount, min(iso_ms(watermark)) AS wm, count(*) AS copies
    FROM late_raw WHERE kind = 'partial' GROUP BY ALL`);
  await db.connection.run(`CREATE TABLE classified AS
    SELECT p.*,
      EXISTS (SELECT 1 FROM late_events l WHERE l.shardId = p.shardId AND l.seq = p.seq AND l.sub = p.sub AND l.key = p.key AND l.ws = p.ws) AS late_event,
      EXISTS (SELECT 1 FROM late_partials l WHERE l.shardId = p.shardId AND p.seq BETWEEN l.f AND l.l AND l.key = p.key AND l.ws = p.ws) AS late_partial
    FROM pairs p`);

  // The expected results: the aggregates in SQL over every pair late/ did not take.
  const aggregates = oracle.aggregates.map((a) => `${a.sql} AS "${a.name}"`).join(', ');
  const expectedRows = await db.rows(`SELECT key, ws, we, count(*) AS __n, ${aggregates}
    FROM classified WHERE NOT late_event AND NOT late_partial GROUP BY key, ws, we ORDER BY ws, key`);
  const windows: ExpectedWindow[] = expectedRows.map((row) => {
    const v: Record<string, unknown> = {};
    for (const a of oracle.aggregates) v[a.name] = row[a.name] ?? null;
    return { key: String(row.key), start: Number(row.ws), end: Number(row.we), n: Number(row.__n), values: v };
  });

  // Per-round watermark bounds (see the header).
  const shardRounds = await db.rows(`SELECT r.round, r.shardId, max(e.t) AS max_t FROM records r LEFT JOIN events e ON e.n = r.n GROUP BY ALL`);
  const bounds = input.rounds.map((round) => {
    const shards = new Set(shardRounds.filter((s) => Number(s.round) <= round.index).map((s) => String(s.shardId)));
    let lower = Number.POSITIVE_INFINITY;
    let upper = Number.NEGATIVE_INFINITY;
    for (const shard of shards) {
      const before = shardRounds.filter((s) => s.shardId === shard && Number(s.round) < round.index && s.max_t !== null).map((s) => Number(s.max_t));
      lower = Math.min(lower, before.length ? Math.max(...before) : Number.NEGATIVE_INFINITY);
    }
    for (const s of shardRounds) if (Number(s.round) <= round.index && s.max_t !== null) upper = Math.max(upper, Number(s.max_t));
    const finite = (x: number) => (Number.isFinite(x) ? x - ooo : null);
    return { round: round.index, lower: shards.size ? finite(lower) : null, upper: finite(upper) };
  });
  await db.connection.run('CREATE TABLE bounds (round INTEGER, lower BIGINT, upper BIGINT)');
  await db.connection.run(`INSERT INTO bounds VALUES ${bounds.map((b) => `(${b.round}, ${b.lower ?? 'NULL'}, ${b.upper ?? 'NULL'})`).join(', ') || '(0, NULL, NULL)'}`);

  const excluded = 'late_event OR late_partial';
  const counts: OracleCounts = {
    sent: await db.number('SELECT count(*) FROM records'),
    valid: await db.number('SELECT count(*) FROM events'),
    duplicates: await db.number(`SELECT count(*) FROM records WHERE flag = 'duplicate'`),
    bad: await db.number(`SELECT count(*) FROM records WHERE intent = 'bad'`),
    lateFlagged: await db.number(`SELECT count(*) FROM events WHERE intent = 'late'`),
    lateFlaggedInLate: await db.number(`SELECT count(DISTINCT n) FROM classified WHERE intent = 'late' AND (${excluded})`),
    lateFlaggedCounted: await db.number(`SELECT count(*) FROM (SELECT n FROM classified WHERE intent = 'late' GROUP BY n HAVING NOT bool_or(${excluded}))`),
    countedPairs: await db.number(`SELECT count(*) FROM classified WHERE NOT (${excluded})`),
    latePairs: await db.number(`SELECT count(*) FROM classified WHERE ${excluded}`),
    lateRecords: await db.number(`SELECT count(DISTINCT n) FROM classified WHERE ${excluded}`),
    windows: windows.length,
  };

  const rejectedMatch = `x.shardId = r.shardId AND x.sequenceNumber = r.sequenceNumber AND coalesce(x.subSequenceNumber, 0) = r.sub`;
  const checks: RecordChecks = {
    eventTimeMismatches: await db.number('SELECT count(*) FROM events WHERE t IS DISTINCT FROM eventTime'),
    badRejected: await db.number(`SELECT count(*) FROM records r WHERE intent = 'bad' AND EXISTS (SELECT 1 FROM rejected_raw x WHERE ${rejectedMatch} AND length(trim(coalesce(x.reason, ''))) > 0)`),
    badRejectedWithoutReason: await db.number(
      `SELECT count(*) FROM records r WHERE intent = 'bad' AND EXISTS (SELECT 1 FROM rejected_raw x WHERE ${rejectedMatch}) AND NOT EXISTS (SELECT 1 FROM rejected_raw x WHERE ${rejectedMatch} AND length(trim(coalesce(x.reason, ''))) > 0)`,
    ),
    validRejected: await db.number(`SELECT count(*) FROM records r WHERE intent <> 'bad' AND EXISTS (SELECT 1 FROM rejected_raw x WHERE ${rejectedMatch})`),
    unknownRejected: await db.number(`SELECT count(*) FROM rejected_raw x WHERE NOT EXISTS (SELECT 1 FROM records r WHERE ${rejectedMatch})`),
    unknownLateEvents: await db.number(
      'SELECT count(*) FROM late_events l WHERE NOT EXISTS (SELECT 1 FROM pairs p WHERE l.shardId = p.shardId AND l.seq = p.seq AND l.sub = p.sub AND l.key = p.key AND l.ws = p.ws AND l.we = p.we)',
    ),
    latePartials: await db.number('SELECT count(*) FROM late_partials'),
    latePartialCountMismatches: await db.number(`SELECT count(*) FROM late_partials l WHERE l.eventCount IS DISTINCT FROM (
        SELECT count(*) FROM classified p WHERE p.shardId = l.shardId AND p.seq BETWEEN l.f AND l.l AND p.key = l.key AND p.ws = l.ws AND p.we = l.we AND NOT p.late_event)`),
    // Late partials are exempt: a partial is also late when its window was CLOSED by a closer
    // whose watermark this reducer's own reading need not reach (idle shards make it non-monotonic).
    lateBeforeWatermark: await db.number(`SELECT count(*) FROM late_events WHERE wm IS NULL OR we + ${lateness} > wm`),
    mustBeLate: await db.number(`SELECT count(*) FROM classified c JOIN bounds b USING (round) WHERE c.we + ${lateness} <= b.lower`),
    mustBeLateButCounted: await db.number(`SELECT count(*) FROM classified c JOIN bounds b USING (round) WHERE c.we + ${lateness} <= b.lower AND NOT (${excluded})`),
    lateFlaggedCountedPastBound: await db.number(
      `SELECT count(DISTINCT n) FROM classified c JOIN bounds b USING (round) WHERE c.intent = 'late' AND c.we + ${lateness} <= b.lower AND NOT (${excluded})`,
    ),
    mustCount: await db.number(`SELECT count(*) FROM classified c JOIN bounds b USING (round) WHERE b.upper IS NULL OR c.we + ${lateness} > b.upper`),
    mustCountButLate: await db.number(
      `SELECT count(*) FROM classified c JOIN bounds b USING (round) WHERE (b.upper IS NULL OR c.we + ${lateness} > b.upper) AND (${excluded})`,
    ),
    lateCopies: await db.number('SELECT coalesce(sum(copies - 1), 0) FROM late_events'),
    rejectedRecords: await db.number(`SELECT count(*) FROM records r WHERE EXISTS (SELECT 1 FROM rejected_raw x WHERE ${rejectedMatch})`),
    rejectedCopies: await db.number(`SELECT count(*) - count(DISTINCT (shardId, sequenceNumber, coalesce(subSequenceNumber, 0))) FROM rejected_raw`),
  };
  return { windows, counts, checks, bounds };
}
