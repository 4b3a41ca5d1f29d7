// Verifier, the comparison: Riffle's results (every emission read back from S3) against the
// oracle's expected windows, plus the record-level checks the oracle computed (rejected/, late/,
// watermark bounds), into one verdict table. Results are deduplicated here as the README tells
// downstream to do — the highest `version` per `resultId` — and re-emissions of one version must
// be identical. Pure: the tests call it again on tampered results to show it can fail.
import { createHash } from 'node:crypto';
import type { Job } from '../../../functions/core/job';
import type { AggregateOracle, JobOracle } from './jobs';
import type { ExpectedWindow, OracleResult } from './oracle';

export type Row = Record<string, unknown>;

export interface VerdictRow {
  check: string;
  expected: string;
  actual: string;
  pass: boolean;
}

export interface FaultFired {
  category: string;
  description: string;
  fired: number;
}

export interface VerdictInput {
  oracle: JobOracle;
  job: Job;
  expected: OracleResult;
  /** Every result emission Riffle wrote (all versions). */
  results: readonly Row[];
  firehoseErrorObjects: number;
  failedBatchObjects: number;
  /** Planned faults and how often each fired; undefined: run without faults. */
  faults?: readonly FaultFired[];
}

export interface WindowProblem {
  key: string;
  start: number;
  problem: string;
  /** For count problems: Riffle's eventCount (0 when missing) and the oracle's. */
  counts?: { actual: number; expected: number };
}

export interface Verdict {
  rows: VerdictRow[];
  pass: boolean;
  /** Examples of what failed (at most a few per check), for the report. */
  problems: string[];
  /** Windows whose results differ from the oracle's (for diagnostics). */
  windowProblems: WindowProblem[];
  /** Σ eventCount over the deduplicated results. */
  counted: number;
  /** Result emissions beyond one per resultId, and of those, re-emissions of a version already emitted. */
  reEmissions: number;
  sameVersionReEmissions: number;
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** README "Outputs": the first 32 hex digits of SHA-256 over job, key, window start and end (ms), NUL-separated. */
export function expectedResultId(job: string, key: string, start: number, end: number): string {
  return createHash('sha256').update(`${job}\u0000${key}\u0000${start}\u0000${end}`).digest('hex').slice(0, 32);
}

/** One row per resultId: the highest version; a final row wins a tie. */
export function dedupeResults(rows: readonly Row[]): Row[] {
  const best = new Map<string, Row>();
  for (const row of rows) {
    const id = String(row.resultId);
    const seen = best.get(id);
    const v = Number(row.version);
    if (!seen || v > Number(seen.version) || (v === Number(seen.version) && row.final === true && seen.final !== true)) best.set(id, row);
  }
  return [...best.values()];
}

/** The aggregate fields of a result row, canonically serialised (re-emission comparison). */
function valuesOf(row: Row, oracle: JobOracle): string {
  return JSON.stringify(oracle.aggregates.map((a) => row[a.name] ?? null));
}

/** Why an actual aggregate value is outside its bound of the expected one, or undefined when within. */
export function aggregateProblem(a: AggregateOracle, expected: unknown, actual: unknown, windowPairs: number): string | undefined {
  const show = (x: unknown) => JSON.stringify(x);
  if (a.compare === 'topk') return topKProblem(a, expected, actual, windowPairs);
  if (expected === null || expected === undefined) return actual === null || actual === undefined ? undefined : `expected null, got ${show(actual)}`;
  if (typeof actual !== 'number' || typeof expected !== 'number') return `expected ${show(expected)}, got ${show(actual)}`;
  const diff = Math.abs(actual - expected);
  switch (a.compare) {
    case 'exact':
      return actual === expected ? undefined : `expected ${expected}, got ${actual}`;
    case 'relative':
      return diff <= 1e-9 * Math.abs(expected) + 1e-12 ? undefined : `expected ${expected}, got ${actual} (relative error ${(diff / Math.abs(expected)).toExponential(2)} > 1e-9)`;
    case 'quantile':
      return diff <= 0.01 * Math.abs(expected) + 1e-12 ? undefined : `expected ${expected} ±1%, got ${actual}`;
    case 'distinct': {
      const bound = Math.max(0.5, 0.0243 * expected);
      return diff <= bound ? undefined : `expected ${expected} ±${bound.toFixed(2)} (max of 2% and 3σ), got ${actual}`;
    }
  }
}

/** Misra–Gries: each reported count is in [true − n/(capacity+1), true]; nothing provably heavier is missing. */
function topKProblem(a: AggregateOracle, expected: unknown, actual: unknown, n: number): string | undefined {
  const spec = a.topK ?? { k: 10, capacity: 64 };
  const truth = new Map<string, number>();
  for (const e of Array.isArray(expected) ? (expected as { key: unknown; value: unknown }[]) : []) truth.set(String(e.key), Number(e.value));
  if (!Array.isArray(actual)) return `expected a list of {value, count}, got ${JSON.stringify(actual)}`;
  const reported = actual as { value?: unknown; count?: unknown }[];
  if (reported.length > spec.k) return `${reported.length} entries reported, at most ${spec.k}`;
  const bound = n / (spec.capacity + 1);
  const seen = new Set<string>();
  for (const r of reported) {
    const value = String(r.value);
    const count = Number(r.count);
    const exact = truth.get(value) ?? 0;
    seen.add(value);
    if (!(count <= exact && count >= exact - bound)) return `'${value}': reported ${count}, true count ${exact} (allowed ${Math.max(0, Math.ceil(exact - bound))}–${exact})`;
  }
  const floor = reported.length === spec.k ? Math.min(...reported.map((r) => Number(r.count))) : 0;
  for (const [value, exact] of truth) {
    if (!seen.has(value) && exact - bound > floor) return `'${value}' (true count ${exact}) is missing though it must outrank a reported count of ${floor}`;
  }
  return undefined;
}

export function verdict(input: VerdictInput): Verdict {
  const { oracle, job, expected } = input;
  const rows: VerdictRow[] = [];
  const problems: string[] = [];
  const windowProblems: WindowProblem[] = [];
  const add = (check: string, exp: number | string, act: number | string, pass: boolean) =>
    rows.push({ check, expected: typeof exp === 'number' ? fmt(exp) : exp, actual: typeof act === 'number' ? fmt(act) : act, pass });
  const example = (list: string[], text: string) => {
    if (list.length < 5) list.push(text);
  };

  // ---- results: dedupe, identity, finality ------------------------------------------------
  const latest = dedupeResults(input.results);
  const byVersion = new Map<string, string>();
  let sameVersion = 0;
  let differing = 0;
  for (const row of input.results) {
    const id = `${String(row.resultId)}#${String(row.version)}`;
    const values = valuesOf(row, oracle);
    const seen = byVersion.get(id);
    if (seen === undefined) byVersion.set(id, values);
    else {
      sameVersion++;
      if (seen !== values) {
        differing++;
        example(problems, `resultId ${String(row.resultId)} version ${String(row.version)} was emitted twice with different values`);
      }
    }
  }
  let badIdentity = 0;
  for (const row of latest) {
    const start = Date.parse(String(row.windowStart));
    const end = Date.parse(String(row.windowEnd));
    const idOk = row.resultId === expectedResultId(job.name, String(row.key), start, end);
    const sizeOk = job.window.type === 'session' || end - start === job.window.sizeMs;
    if (row.final !== true || row.job !== job.name || !idOk || !sizeOk) {
      badIdentity++;
      example(problems, `result ${String(row.resultId)} (${String(row.key)} ${String(row.windowStart)}–${String(row.windowEnd)}): final=${String(row.final)}, job=${String(row.job)}, resultId ${idOk ? 'matches' : 'does not match'} sha256(job, key, window)`);
    }
  }

  // ---- results vs oracle ---------------------------------------------------------------------
  const expectedBy = new Map<string, ExpectedWindow>(expected.windows.map((w) => [`${w.key}\u0000${w.start}`, w]));
  const actualBy = new Map<string, Row>();
  for (const row of latest) actualBy.set(`${String(row.key)}\u0000${Date.parse(String(row.windowStart))}`, row);
  let lost = 0;
  let doubled = 0;
  let missingWindows = 0;
  let extraWindows = 0;
  let countMismatches = 0;
  const aggFailures = new Map<string, number>(oracle.aggregates.map((a) => [a.name, 0]));
  let counted = 0;
  for (const row of latest) counted += Number(row.eventCount ?? 0);
  for (const [id, w] of expectedBy) {
    const row = actualBy.get(id);
    if (!row) {
      missingWindows++;
      lost += w.n;
      windowProblems.push({ key: w.key, start: w.start, problem: `missing: expected ${w.n} events, no result`, counts: { actual: 0, expected: w.n } });
      continue;
    }
    const n = Number(row.eventCount);
    if (n !== w.n) {
      countMismatches++;
      if (n < w.n) lost += w.n - n;
      else doubled += n - w.n;
      windowProblems.push({ key: w.key, start: w.start, problem: `eventCount ${n}, expected ${w.n}`, counts: { actual: n, expected: w.n } });
    }
    for (const a of oracle.aggregates) {
      const problem = aggregateProblem(a, w.values[a.name], row[a.name], w.n);
      if (problem) {
        aggFailures.set(a.name, (aggFailures.get(a.name) ?? 0) + 1);
        windowProblems.push({ key: w.key, start: w.start, problem: `${a.name}: ${problem}` });
      }
    }
  }
  for (const [id, row] of actualBy) {
    if (expectedBy.has(id)) continue;
    extraWindows++;
    doubled += Number(row.eventCount ?? 0);
    const [key, start] = id.split('\u0000') as [string, string];
    windowProblems.push({
      key,
      start: Number(start),
      problem: `unexpected result with ${String(row.eventCount)} events (the oracle counts none here)`,
      counts: { actual: Number(row.eventCount ?? 0), expected: 0 },
    });
  }
  for (const p of windowProblems.slice(0, 8)) example(problems, `${p.key} @ ${new Date(p.start).toISOString()}: ${p.problem}`);

  const c = expected.counts;
  const k = expected.checks;
  add('windows (key × window): one final result each', expected.windows.length, `${fmt(expected.windows.length - missingWindows)}${extraWindows ? ` + ${fmt(extraWindows)} extra` : ''}`, missingWindows === 0 && extraWindows === 0);
  // Hopping windows and multi-pair maps count (event × key × window) values, not events.
  const unit = oracle.onePairPerEvent ? 'events' : 'mapped values';
  add(`${unit} lost (expected − counted, per window)`, 0, lost, lost === 0);
  add(`${unit} double-counted (counted − expected)`, 0, doubled, doubled === 0);
  add('eventCount equal per window', expected.windows.length, expected.windows.length - countMismatches - missingWindows, countMismatches === 0 && missingWindows === 0);
  const tolerance: Record<AggregateOracle['compare'], string> = {
    exact: 'exact',
    relative: '≤ 1e-9 rel.',
    quantile: '≤ 1% rel. of rank ⌊q(n−1)⌋',
    distinct: '≤ max(2%, 3σ)',
    topk: 'Misra–Gries bounds',
  };
  const matched = expected.windows.length - missingWindows;
  for (const a of oracle.aggregates) {
    const failed = aggFailures.get(a.name) ?? 0;
    add(`${a.name} (${a.kind}, ${tolerance[a.compare]})`, matched, matched - failed, failed === 0);
  }
  add('results final, window size, resultId = sha256(…)', latest.length, latest.length - badIdentity, badIdentity === 0);
  add('re-emitted versions identical', `0 differing`, `${fmt(differing)} of ${fmt(sameVersion)}`, differing === 0);

  // ---- rejected/, late/, watermark bounds (oracle.ts) ----------------------------------------
  add('rejected/: every bad record, with a reason', c.bad, k.badRejected, k.badRejected === c.bad && k.badRejectedWithoutReason === 0);
  add('rejected/: valid or unknown records', 0, k.validRejected + k.unknownRejected, k.validRejected + k.unknownRejected === 0);
  add('late/: rows that match no sent event+window', 0, k.unknownLateEvents, k.unknownLateEvents === 0);
  add('late/: partial eventCount = events in its range', `${fmt(k.latePartials)} partials`, `${fmt(k.latePartials - k.latePartialCountMismatches)} match`, k.latePartialCountMismatches === 0);
  add('late/: events whose own watermark < end + lateness', 0, k.lateBeforeWatermark, k.lateBeforeWatermark === 0);
  add('producer-late: in late/, or counted (not provably past watermark)', c.lateFlagged, c.lateFlagged - k.lateFlaggedCountedPastBound, k.lateFlaggedCountedPastBound === 0);
  add('past the watermark lower bound → in late/', k.mustBeLate, k.mustBeLate - k.mustBeLateButCounted, k.mustBeLateButCounted === 0);
  add('before the watermark upper bound → counted', k.mustCount, k.mustCount - k.mustCountButLate, k.mustCountButLate === 0);
  if (oracle.onePairPerEvent) {
    const accounted = counted + c.lateRecords + k.rejectedRecords;
    add('accounted: counted + late + rejected = sent', c.sent, accounted, accounted === c.sent);
  }
  add('event time in SQL = producer-logged', '0 differ', `${fmt(k.eventTimeMismatches)} differ`, k.eventTimeMismatches === 0);
  add('Firehose error output, exhausted batches', '0, 0', `${fmt(input.firehoseErrorObjects)}, ${fmt(input.failedBatchObjects)}`, input.firehoseErrorObjects === 0 && input.failedBatchObjects === 0);

  // ---- faults: every planned kind must have fired, or the run did not test what it claims ------
  // (Individual faults may miss — e.g. no late/ delivery after a round's arming — as long as
  // another fault of the same kind fired; the report's fault table shows each one.)
  if (input.faults) {
    const categories = [...new Set(input.faults.map((f) => f.category))];
    const silent = categories.filter((cat) => !input.faults?.some((f) => f.category === cat && f.fired > 0));
    for (const cat of silent) example(problems, `no fault of kind '${cat}' fired`);
    add('fault kinds that fired', categories.length, categories.length - silent.length, silent.length === 0);
  }

  return {
    rows,
    pass: rows.every((r) => r.pass),
    problems,
    windowProblems,
    counted,
    reEmissions: input.results.length - latest.length,
    sameVersionReEmissions: sameVersion,
  };
}
