// Verifier, job knowledge: for each supported job, its map and aggregates restated in SQL (the
// oracle's side — written from the job definitions in jobs/, never calling their map or aggregate
// code), how each aggregate is compared (exact, 1e-9 relative, sketch bounds), and the hot key
// the workload forces. `checkJobMatches` compares this restatement with the live job definition
// (aggregate names, kinds, fields, window, lateness) so an edited job fails loudly here instead of
// silently being verified against an outdated oracle.
import type { Job } from '../../../functions/core/job';
import { jobs } from '../../../jobs';

/** How an aggregate's actual value is compared with the oracle's. */
export type CompareKind =
  /** Equal (count, min, max). */
  | 'exact'
  /** Within 1e-9 relative (sum, mean: Riffle rounds an exact sum once; DuckDB's fsum is compensated). */
  | 'relative'
  /** Within 1% relative of the value at rank ⌊q·(n−1)⌋ (DDSketch, relative accuracy 1%). */
  | 'quantile'
  /** HyperLogLog p=14: within max(2%, 3σ = 3 × 0.81%) relative, ±0.5 for rounding. */
  | 'distinct'
  /** Misra–Gries top-k: every reported count in [true − n/(capacity+1), true], nothing heavier missing. */
  | 'topk';

export interface AggregateOracle {
  /** The aggregate's output name (result column). */
  readonly name: string;
  /** The kind the job definition must declare (functions/core/aggregates: `kind`). */
  readonly kind: string;
  /** The field the job definition's aggregate reads (undefined for count()). */
  readonly field?: string;
  readonly compare: CompareKind;
  /**
   * DuckDB aggregate expression over the `pairs` rows of one (key, window). The oracle selects it
   * as the result column. For topk this is the list of all (value, count) pairs, not the top k.
   */
  readonly sql: string;
  /** topk: k and the summary's capacity (error bound n/(capacity+1)). */
  readonly topK?: { readonly k: number; readonly capacity: number };
}

export interface JobOracle {
  readonly job: string;
  /**
   * SELECT-list fragments over `payload` (the event's JSON text) giving the mapped pair: `key`,
   * then value columns. For jobs whose map emits several pairs per event, `unnestSql` adds the
   * UNNEST that multiplies rows (and `values` may refer to its alias).
   */
  readonly keySql: string;
  readonly values: Readonly<Record<string, string>>;
  /** Optional: an expression producing a LIST per event; one pair per element (aliased `item`). */
  readonly unnestSql?: string;
  readonly aggregates: readonly AggregateOracle[];
  /** The hot key: which result key gets `hotKeyFraction` of the events, and how a payload is rewritten for it. */
  readonly hotKey: {
    readonly key: string;
    /** Rewrites the event in place for the hot key; returns the partition key to send it with. */
    apply(event: Record<string, unknown>, partitionKey: string): string;
  };
  /** One event pair per record (tumbling/session with a one-pair map): the accounting identity applies. */
  readonly onePairPerEvent: boolean;
}

/** ⌊q·(n−1)⌋-th (0-based) non-null value in sorted order: Riffle's quantile definition (README). */
function quantileSql(column: string, q: number): string {
  // Not quantile_disc: DuckDB's discrete quantile picks another rank (for n = 10, q = 0.95 it
  // returns the 10th value, Riffle's rule the 9th), so the sorted list is indexed explicitly.
  return `list_sort(list(${column}) FILTER (WHERE ${column} IS NOT NULL))[floor(${q} * (count(${column}) - 1))::BIGINT + 1]`;
}

function meanSql(column: string): string {
  // fsum: DuckDB's compensated (Kahan–Babuška) sum; NULL when the window has no value, like Riffle.
  return `CASE WHEN count(${column}) = 0 THEN NULL ELSE fsum(${column}) / count(${column}) END`;
}

const num = (path: string) => `TRY_CAST(json_extract(payload, '${path}') AS DOUBLE)`;
const str = (path: string) => `json_extract_string(payload, '${path}')`;

export const JOB_ORACLES: Readonly<Record<string, JobOracle>> = {
  'sensor-averages': {
    job: 'sensor-averages',
    keySql: str('$.sensorId'),
    values: { temperature: num('$.temperature'), humidity: num('$.humidity') },
    aggregates: [
      { name: 'count', kind: 'count', compare: 'exact', sql: 'count(*)' },
      { name: 'temperature_avg', kind: 'mean', field: 'temperature', compare: 'relative', sql: meanSql('temperature') },
      { name: 'temperature_min', kind: 'min', field: 'temperature', compare: 'exact', sql: 'min(temperature)' },
      { name: 'temperature_max', kind: 'max', field: 'temperature', compare: 'exact', sql: 'max(temperature)' },
      { name: 'temperature_p95', kind: 'quantile', field: 'temperature', compare: 'quantile', sql: quantileSql('temperature', 0.95) },
      { name: 'humidity_avg', kind: 'mean', field: 'humidity', compare: 'relative', sql: meanSql('humidity') },
    ],
    hotKey: {
      key: 'sensor-hot',
      apply(event) {
        event.sensorId = 'sensor-hot';
        return 'sensor-hot';
      },
    },
    onePairPerEvent: true,
  },
  clickstream: {
    job: 'clickstream',
    keySql: str('$.page'),
    values: { userId: str('$.userId'), dwellMs: num('$.dwellMs') },
    aggregates: [
      { name: 'clicks', kind: 'count', compare: 'exact', sql: 'count(*)' },
      { name: 'users', kind: 'distinct', field: 'userId', compare: 'distinct', sql: 'count(DISTINCT userId)' },
      { name: 'dwell_p95_ms', kind: 'quantile', field: 'dwellMs', compare: 'quantile', sql: quantileSql('dwellMs', 0.95) },
    ],
    hotKey: {
      // The result key is the page; the partition key stays the user (the stream's entity).
      key: '/hot',
      apply(event, partitionKey) {
        event.page = '/hot';
        return partitionKey;
      },
    },
    onePairPerEvent: true,
  },
  'trending-hashtags': {
    job: 'trending-hashtags',
    keySql: `coalesce(${str('$.lang')}, 'und')`,
    // jobs/lib/hashtags.ts: '#' then 1–100 Unicode letters, digits or '_', lowercased, once per post.
    unnestSql: `list_distinct(list_transform(regexp_extract_all(coalesce(${str('$.text')}, ''), '#([\\p{L}\\p{N}_]{1,100})', 1), x -> lower(x)))`,
    values: { hashtag: 'item' },
    aggregates: [
      { name: 'mentions', kind: 'count', compare: 'exact', sql: 'count(*)' },
      {
        name: 'top_hashtags',
        kind: 'topK',
        field: 'hashtag',
        compare: 'topk',
        // Every hashtag's true count in the window; the comparison derives the bounds from it.
        sql: 'map_entries(histogram(hashtag))',
        topK: { k: 10, capacity: 64 },
      },
    ],
    hotKey: {
      key: 'hot',
      apply(event, partitionKey) {
        event.lang = 'hot';
        return partitionKey;
      },
    },
    onePairPerEvent: false,
  },
};

export const SUPPORTED_JOBS = Object.keys(JOB_ORACLES);

export function jobOracle(name: string): JobOracle {
  const oracle = JOB_ORACLES[name];
  if (!oracle) {
    const why = jobs[name]?.window.type === 'session' ? ': session merging and late-session rules need an oracle of their own' : '; add its SQL restatement to JOB_ORACLES in scripts/lib/verify/jobs.ts';
    throw new Error(`the verifier has no oracle for job '${name}' (supported: ${SUPPORTED_JOBS.join(', ')})${why}`);
  }
  return oracle;
}

/** Problems between the oracle's restatement and the live job definition (empty: they agree). */
export function checkJobMatches(oracle: JobOracle, job: Job | undefined = jobs[oracle.job]): string[] {
  if (!job) return [`job '${oracle.job}' is not in jobs/`];
  const problems: string[] = [];
  const names = Object.keys(job.aggregates);
  const expected = oracle.aggregates.map((a) => a.name);
  if (names.join(',') !== expected.join(',')) problems.push(`aggregates are [${names.join(', ')}], the oracle knows [${expected.join(', ')}]`);
  for (const a of oracle.aggregates) {
    const actual = job.aggregates[a.name];
    if (!actual) continue;
    if (actual.kind !== a.kind) problems.push(`${a.name} is ${actual.kind}, the oracle computes ${a.kind}`);
    if (actual.field !== a.field) problems.push(`${a.name} reads '${String(actual.field)}', the oracle reads '${String(a.field)}'`);
  }
  if (job.window.type === 'session') problems.push('session windows are not supported by the verifier');
  return problems;
}

/** The oracle of a job, refusing to run when it no longer restates the job in jobs/. */
export function checkedOracle(name: string): JobOracle {
  const oracle = jobOracle(name);
  const mismatch = checkJobMatches(oracle);
  if (mismatch.length) throw new Error(`the verifier's oracle for '${name}' no longer matches jobs/${name}.ts: ${mismatch.join('; ')}`);
  return oracle;
}
