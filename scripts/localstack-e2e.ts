// `npm run localstack:e2e` — the produce → wait → query → compare round trip against LocalStack
// (after `npm run localstack:up` and `npm run localstack:deploy`), and the comparison itself,
// which the embedded-cloud e2e tests share: expected results are computed from the producer's
// --log (what Kinesis accepted) with plain arithmetic, independent of Riffle's aggregates.
//
// LocalStack has no "drain": a window closes only when the watermark passes its end plus the
// allowed lateness, and the watermark stops at the last event time minus the out-of-orderness
// bound once the input goes idle. So only windows that can close are expected; the rest stay open.
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { jobs } from '../jobs';
import type { Job } from '../functions/core/job';
import { parseDuration } from '../functions/core/duration';
import { parseEventTime } from '../functions/core/event-time';
import { type CommandSpec, type Parsed, parseCommand, runMain, UsageError } from './lib/cli';
import { GENERATORS } from './lib/generators';
import { deployedJobs, localstackStatus, resolveTarget, type Target } from './lib/targets';
import { produce, produceOptions, produceSpec } from './produce';
import { executeQuery } from './query';

// ---------------------------------------------------------------------------------------------
// The comparison

/** One line of `npm run produce -- --log` (see logLine in produce.ts). */
export interface SentRecord {
  n: number;
  flag: 'ok' | 'late' | 'duplicate' | 'bad';
  badKind?: string;
  duplicateOf?: number;
  partitionKey: string;
  shardId?: string;
  sequenceNumber?: string;
  subSequenceNumber?: number;
  aggregated: boolean;
  eventTime?: number;
  payload?: string;
  payloadBase64?: string;
  error?: string;
}

export function readSentLog(file: string): SentRecord[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as SentRecord);
}

const idOf = (seq: unknown, sub: unknown) => `${String(seq)}/${Number(sub ?? 0)}`;

interface ValidEvent {
  id: string;
  time: number;
  value: Record<string, unknown>;
}

/** The accepted records that are valid events (everything but flag 'bad'), parsed. */
function validEvents(sent: readonly SentRecord[]): ValidEvent[] {
  const out: ValidEvent[] = [];
  for (const r of sent) {
    if (r.sequenceNumber === undefined || r.flag === 'bad' || r.payload === undefined) continue;
    const value = JSON.parse(r.payload) as Record<string, unknown>;
    const t = parseEventTime(value.ts);
    if (!t.ok) continue;
    out.push({ id: idOf(r.sequenceNumber, r.subSequenceNumber), time: t.ms, value });
  }
  return out;
}

/** Exact lower quantile: the value at rank ⌊q·(n−1)⌋ of the sorted values (what DDSketch approximates). */
function lowerQuantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}

function hashtagsOf(text: string): string[] {
  return [...new Set([...text.matchAll(/#([\p{L}\p{N}_]{1,100})/gu)].map((m) => (m[1] as string).toLowerCase()))];
}

export interface ExpectedWindow {
  key: string;
  start: number;
  end: number;
  /** Events (mapped values) in the window. */
  values: { time: number; value: Record<string, unknown> }[];
}

/** Windows of `job` over its events; `lateWindows` holds `${id}|${windowStartMs}` pairs reported late. */
export function expectedWindows(job: Job, events: readonly ValidEvent[], lateWindows: ReadonlySet<string>, lateEvents: ReadonlySet<string>): Map<string, ExpectedWindow> {
  const windows = new Map<string, ExpectedWindow>();
  const add = (key: string, start: number, end: number, time: number, value: Record<string, unknown>) => {
    const id = `${key}|${start}`;
    let w = windows.get(id);
    if (!w) windows.set(id, (w = { key, start, end, values: [] }));
    w.values.push({ time, value });
  };
  const pairs = (e: ValidEvent): [string, Record<string, unknown>][] => {
    const v = e.value;
    switch (job.name) {
      case 'sensor-averages':
        return [[String(v.sensorId), v]];
      case 'trending-hashtags':
        return hashtagsOf(String(v.text)).map((h) => [String(v.lang ?? 'und'), { hashtag: h }]);
      case 'clickstream':
        return [[String(v.page), v]];
      case 'clickstream-sessions':
        return [[String(v.userId), v]];
      default:
        throw new Error(`no expectation for job '${job.name}'`);
    }
  };
  const w = job.window;
  if (w.type === 'session') {
    const byKey = new Map<string, { time: number; value: Record<string, unknown> }[]>();
    for (const e of events) {
      if (lateEvents.has(e.id)) continue;
      for (const [key, value] of pairs(e)) byKey.set(key, [...(byKey.get(key) ?? []), { time: e.time, value }]);
    }
    for (const [key, list] of byKey) {
      list.sort((a, b) => a.time - b.time);
      let session: { time: number; value: Record<string, unknown> }[] = [];
      const close = () => {
        if (session.length === 0) return;
        const start = (session[0] as { time: number }).time;
        const last = (session[session.length - 1] as { time: number }).time;
        for (const s of session) add(key, start, last + w.gapMs, s.time, s.value);
        session = [];
      };
      for (const item of list) {
        const previous = session[session.length - 1];
        if (previous && item.time - previous.time >= w.gapMs) close();
        session.push(item);
      }
      close();
    }
    return windows;
  }
  const slide = w.type === 'hopping' ? w.slideMs : w.sizeMs;
  for (const e of events) {
    for (const [key, value] of pairs(e)) {
      const last = Math.floor(e.time / slide) * slide;
      for (let start = last; start > e.time - w.sizeMs; start -= slide) {
        if (lateWindows.has(`${e.id}|${start}`)) continue;
        add(key, start, start + w.sizeMs, e.time, value);
      }
    }
  }
  return windows;
}

const close = (a: number, b: number, rel: number) => Math.abs(a - b) <= rel * Math.max(1, Math.abs(b));

/** Differences between one result row and its expected window (empty: equal within the aggregates' stated accuracy). */
function compareWindow(jobName: string, row: Record<string, unknown>, w: ExpectedWindow): string[] {
  const problems: string[] = [];
  const id = `${w.key} @ ${new Date(w.start).toISOString()}`;
  const n = w.values.length;
  const num = (field: string) => Number(row[field]);
  if (num('eventCount') !== n) problems.push(`${id}: eventCount ${String(row.eventCount)} ≠ ${n}`);
  if (Date.parse(String(row.windowEnd)) !== w.end) problems.push(`${id}: windowEnd ${String(row.windowEnd)} ≠ ${new Date(w.end).toISOString()}`);
  const vals = (field: string) => w.values.map((v) => v.value[field]).filter((x): x is number => typeof x === 'number');
  switch (jobName) {
    case 'sensor-averages': {
      const t = vals('temperature');
      const h = vals('humidity');
      const avg = t.reduce((a, b) => a + b, 0) / n;
      if (num('count') !== n) problems.push(`${id}: count ${String(row.count)} ≠ ${n}`);
      if (!close(num('temperature_avg'), avg, 1e-9)) problems.push(`${id}: temperature_avg ${String(row.temperature_avg)} ≠ ${avg}`);
      if (num('temperature_min') !== Math.min(...t)) problems.push(`${id}: temperature_min ${String(row.temperature_min)} ≠ ${Math.min(...t)}`);
      if (num('temperature_max') !== Math.max(...t)) problems.push(`${id}: temperature_max ${String(row.temperature_max)} ≠ ${Math.max(...t)}`);
      const p95 = lowerQuantile(t, 0.95);
      if (!close(num('temperature_p95'), p95, 0.01)) problems.push(`${id}: temperature_p95 ${String(row.temperature_p95)} not within 1% of ${p95}`);
      const hum = h.length ? h.reduce((a, b) => a + b, 0) / h.length : null;
      if (hum === null ? row.humidity_avg !== null : !close(num('humidity_avg'), hum, 1e-9)) problems.push(`${id}: humidity_avg ${String(row.humidity_avg)} ≠ ${String(hum)}`);
      break;
    }
    case 'trending-hashtags': {
      if (num('mentions') !== n) problems.push(`${id}: mentions ${String(row.mentions)} ≠ ${n}`);
      const counts = new Map<string, number>();
      for (const v of w.values) counts.set(String(v.value.hashtag), (counts.get(String(v.value.hashtag)) ?? 0) + 1);
      const top = row.top_hashtags as { value: string; count: number }[] | null;
      // Space-Saving reports lower bounds: true − n/(capacity + 1) ≤ count ≤ true (capacity 64).
      const slack = n / 65;
      for (const entry of top ?? []) {
        const truth = counts.get(entry.value) ?? 0;
        if (entry.count > truth || entry.count < truth - slack) problems.push(`${id}: top_hashtags ${entry.value}=${entry.count}, true count ${truth}`);
      }
      const best = Math.max(...counts.values());
      if (!top || top.length === 0 || (counts.get(top[0]?.value ?? '') ?? 0) < best - 2 * slack) problems.push(`${id}: top hashtag ${top?.[0]?.value ?? 'none'} is not the most mentioned (${best})`);
      break;
    }
    case 'clickstream': {
      if (num('clicks') !== n) problems.push(`${id}: clicks ${String(row.clicks)} ≠ ${n}`);
      const users = new Set(w.values.map((v) => String(v.value.userId))).size;
      if (Math.abs(num('users') - users) > Math.max(1, 0.02 * users)) problems.push(`${id}: users ${String(row.users)} not within 2% of ${users}`);
      const dwell = vals('dwellMs');
      if (dwell.length === 0 ? row.dwell_p95_ms !== null : !close(num('dwell_p95_ms'), lowerQuantile(dwell, 0.95), 0.01)) problems.push(`${id}: dwell_p95_ms ${String(row.dwell_p95_ms)} ≠ ~${dwell.length ? lowerQuantile(dwell, 0.95) : 'null'}`);
      break;
    }
    case 'clickstream-sessions': {
      if (num('clicks') !== n) problems.push(`${id}: clicks ${String(row.clicks)} ≠ ${n}`);
      const first = w.values.filter((v) => v.time === w.start).map((v) => v.value.page);
      const lastTime = Math.max(...w.values.map((v) => v.time));
      const last = w.values.filter((v) => v.time === lastTime).map((v) => v.value.page);
      // Equal event times: either page may be first/last.
      if (!first.includes(row.entry_page)) problems.push(`${id}: entry_page ${String(row.entry_page)} ∉ ${first.join('|')}`);
      if (!last.includes(row.exit_page)) problems.push(`${id}: exit_page ${String(row.exit_page)} ∉ ${last.join('|')}`);
      if (num('duration_ms') !== lastTime - w.start) problems.push(`${id}: duration_ms ${String(row.duration_ms)} ≠ ${lastTime - w.start}`);
      break;
    }
  }
  return problems;
}

export interface RoundTripInput {
  job: string;
  sent: readonly SentRecord[];
  /** Deduplicated result rows of the job (the `results` view). */
  results: readonly Record<string, unknown>[];
  late: readonly Record<string, unknown>[];
  rejected: readonly Record<string, unknown>[];
  /**
   * Only windows that close by this watermark are expected (LocalStack: the last event time minus
   * out-of-orderness). Omit when every window was closed (the harness's drain).
   */
  watermark?: number;
}

export interface RoundTripReport {
  job: string;
  expectedWindows: number;
  matchedWindows: number;
  accepted: number;
  rejected: number;
  late: number;
  problems: string[];
}

/** Compares what the pipeline wrote with what the producer's log says was sent. */
export function checkRoundTrip(input: RoundTripInput): RoundTripReport {
  const job = jobs[input.job] as Job | undefined;
  if (!job) throw new Error(`unknown job '${input.job}'`);
  const problems: string[] = [];
  const accepted = input.sent.filter((r) => r.sequenceNumber !== undefined);
  const byId = new Map(accepted.map((r) => [idOf(r.sequenceNumber, r.subSequenceNumber), r]));

  // Rejected: exactly the records sent malformed.
  const rejectedIds = new Set(input.rejected.filter((r) => r.job === input.job).map((r) => idOf(r.sequenceNumber, r.subSequenceNumber)));
  for (const id of rejectedIds) if (byId.get(id)?.flag !== 'bad') problems.push(`rejected ${id} was not sent malformed (${byId.get(id)?.flag ?? 'not in the log'})`);
  for (const r of accepted) if (r.flag === 'bad' && !rejectedIds.has(idOf(r.sequenceNumber, r.subSequenceNumber))) problems.push(`malformed record n=${r.n} (${r.badKind}) is not in rejected/`);

  // Late: only records sent late (or duplicates of them) may be reported late.
  const lateWindows = new Set<string>();
  const lateEvents = new Set<string>();
  const late = input.late.filter((r) => r.job === input.job);
  for (const r of late) {
    if (r.kind === 'partial') {
      problems.push(`late partial for ${String(r.key)} @ ${String(r.windowStart)}: a reducer found its window closed (cannot be checked against single events)`);
      continue;
    }
    const id = idOf(r.sequenceNumber, r.subSequenceNumber);
    const sent = byId.get(id);
    const original = sent?.flag === 'duplicate' ? accepted.find((x) => x.n === sent.duplicateOf) : sent;
    if (original?.flag !== 'late') problems.push(`on-time record ${id} (n=${sent?.n ?? '?'}) was reported late: ${String(r.reason)}`);
    lateEvents.add(id);
    lateWindows.add(`${id}|${Date.parse(String(r.windowStart))}`);
  }

  const events = validEvents(accepted);
  let expected = expectedWindows(job, events, lateWindows, lateEvents);
  if (input.watermark !== undefined) {
    const watermark = input.watermark;
    expected = new Map([...expected].filter(([, w]) => w.end + job.allowedLatenessMs <= watermark));
  }
  const rows = input.results.filter((r) => r.job === input.job);
  const seen = new Set<string>();
  let matched = 0;
  for (const row of rows) {
    const id = `${String(row.key)}|${Date.parse(String(row.windowStart))}`;
    const w = expected.get(id);
    if (!w) {
      // Windows past the watermark may or may not have closed yet; anything else is wrong.
      if (input.watermark === undefined) problems.push(`unexpected result ${String(row.key)} @ ${String(row.windowStart)}`);
      continue;
    }
    seen.add(id);
    const diff = compareWindow(input.job, row, w);
    if (diff.length === 0) matched++;
    problems.push(...diff);
  }
  for (const [id, w] of expected) if (!seen.has(id)) problems.push(`missing result ${w.key} @ ${new Date(w.start).toISOString()} (${w.values.length} events; ${id})`);
  return { job: input.job, expectedWindows: expected.size, matchedWindows: matched, accepted: accepted.length, rejected: rejectedIds.size, late: late.length, problems };
}

export function reportText(r: RoundTripReport): string {
  const head = `${r.job}: ${r.matchedWindows}/${r.expectedWindows} windows match · ${r.accepted} records accepted · ${r.rejected} rejected · ${r.late} late`;
  if (r.problems.length === 0) return `✓ ${head}`;
  return [`✗ ${head} · ${r.problems.length} problems:`, ...r.problems.slice(0, 20).map((p) => `    ${p}`), ...(r.problems.length > 20 ? [`    … ${r.problems.length - 20} more`] : [])].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The LocalStack command

export const e2eSpec: CommandSpec = {
  name: 'npm run localstack:e2e --',
  summary: 'produce to LocalStack, wait for the windows to close, query the results and compare them with what was sent',
  usage: 'npm run localstack:e2e -- [--job J] [--count 3000] [--duration 60m] [--timeout 10m] [--endpoint http://localhost:4566]',
  options: {
    job: { type: 'string', description: 'job to check (default: every deployed example job)' },
    count: { type: 'string', description: 'records to send per input stream', default: '3000', integer: { min: 100, max: 1_000_000 } },
    duration: { type: 'string', description: 'event-time span (sessions need more than their 30-minute gap to close)', default: '60m' },
    timeout: { type: 'string', description: 'how long to wait for the windows to close', default: '10m' },
    seed: { type: 'string', description: 'generator seed', default: '42', integer: { min: 0, max: 2 ** 31 - 1 } },
    endpoint: { type: 'string', description: 'LocalStack endpoint', default: 'http://localhost:4566' },
  },
  examples: ['npm run localstack:e2e', 'npm run localstack:e2e -- --job clickstream --count 5000'],
};

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

async function rows(target: Target, sql: string, job: string, sinceMs: number): Promise<Record<string, unknown>[]> {
  const run = await executeQuery({ sql, format: 'json', job, sinceMs, target: 'localstack', cache: true, athena: false }, { target });
  return JSON.parse(run.text) as Record<string, unknown>[];
}

async function main(parsed: Parsed): Promise<number> {
  const str = (n: string) => (typeof parsed.values[n] === 'string' ? (parsed.values[n] as string) : undefined);
  const endpoint = str('endpoint') ?? 'http://localhost:4566';
  const status = await localstackStatus(endpoint);
  if (!status.ok) throw new UsageError(status.message);
  const target = resolveTarget('localstack', { endpoint });
  const deployed = deployedJobs(target).filter((j) => GENERATORS[j]);
  const only = str('job');
  if (only !== undefined && !deployed.includes(only)) throw new UsageError(`job '${only}' is not deployed on LocalStack (deployed: ${deployed.join(', ') || 'none'}); add it to "riffle:jobs" in cdk.json and run \`npm run localstack:deploy\``);
  const checked = only !== undefined ? [only] : deployed;
  if (checked.length === 0) throw new UsageError('no example jobs are deployed on LocalStack; run `npm run localstack:deploy`');
  let timeoutMs: number;
  try {
    timeoutMs = parseDuration(str('timeout') ?? '10m', '--timeout');
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const logDir = path.resolve('.riffle/localstack-e2e');
  mkdirSync(logDir, { recursive: true });
  const endMs = Date.now();

  // One produce per input stream: jobs sharing a source are checked against the same records.
  const sentBySource = new Map<string, SentRecord[]>();
  for (const job of checked) {
    const source = (jobs[job] as Job).source;
    if (sentBySource.has(source)) continue;
    const existing = await rows(target, 'SELECT max(windowEnd) AS last FROM results_all', job, 0);
    const last = existing[0]?.last;
    const durationText = str('duration') ?? '60m';
    const argv = ['--job', job, '--count', str('count') ?? '3000', '--duration', durationText, '--end', new Date(endMs).toISOString(), '--seed', str('seed') ?? '42', '--bad-fraction', '1%', '--duplicate-fraction', '1%', '--target', 'localstack', '--endpoint', endpoint, '--log', path.join(logDir, `${source}.jsonl`)];
    const options = produceOptions(parseCommand(produceSpec, argv), endMs);
    if (typeof last === 'string' && Date.parse(last) > endMs - options.durationMs) {
      throw new UsageError(`results of an earlier run reach ${last}, inside this run's time range: their windows would mix. Start from a clean LocalStack (npm run localstack:down && npm run localstack:up && npm run localstack:deploy) or wait until ${new Date(Date.parse(last) + options.durationMs).toISOString()}`);
    }
    console.log(`producing ${options.count} records for ${source} (${job})…`);
    const code = await produce(options, { stdout: process.stdout, stderr: process.stderr, target });
    if (code !== 0) return code;
    sentBySource.set(source, readSentLog(path.join(logDir, `${source}.jsonl`)));
  }

  const reports: RoundTripReport[] = [];
  for (const job of checked) {
    const definition = jobs[job] as Job;
    const sent = sentBySource.get(definition.source) as SentRecord[];
    const maxEvent = Math.max(...validEvents(sent.filter((r) => r.sequenceNumber !== undefined)).map((e) => e.time));
    const watermark = maxEvent - definition.outOfOrdernessMs;
    // This run's windows only: they start at most one window (or session gap) before its first event.
    const sinceMs = endMs - parseDuration(str('duration') ?? '60m', '--duration') - 3_600_000;
    const started = Date.now();
    let report: RoundTripReport | undefined;
    // Poll until every closable window is there and right, or the timeout.
    for (;;) {
      report = checkRoundTrip({
        job,
        sent,
        results: await rows(target, 'SELECT * FROM results', job, sinceMs),
        late: await rows(target, 'SELECT * FROM late', job, sinceMs),
        rejected: await rows(target, 'SELECT * FROM rejected', job, sinceMs),
        watermark,
      });
      const waited = Math.round((Date.now() - started) / 1000);
      console.log(`  ${job}: ${report.matchedWindows}/${report.expectedWindows} windows, ${report.rejected} rejected (${waited} s)`);
      if (report.problems.length === 0 || Date.now() - started > timeoutMs) break;
      await sleep(15_000);
    }
    reports.push(report);
  }
  console.log('');
  for (const r of reports) console.log(reportText(r));
  return reports.every((r) => r.problems.length === 0) ? 0 : 1;
}

if (require.main === module) runMain(e2eSpec, main);
