// Synthetic input for every job, deterministic given a seed. The example event types have their
// own generators — sensor readings with a daily temperature cycle, posts with Zipf-distributed
// hashtags and trending bursts, clicks in user sessions — chosen by the job's schema; any other
// job gets one derived from its `samples` (generatorFor). Each yields valid events in event-time
// order; generateRecords() then turns them into the records `npm run produce` sends, injecting
// disorder, late events, duplicates and malformed records at the requested fractions, each
// flagged so a verifier can tell them apart.
//
// Everything is streamed (an iterator, O(keys) memory) so `--count 10000000` does not build an array.
import { createHash } from 'node:crypto';
import { Click, Post, SensorReading } from '../../events/schemas';
import { parseEventTime } from '../../functions/core/event-time';
import type { Job } from '../../functions/core/job';
import { jobs } from '../../jobs';

// ---------------------------------------------------------------------------------------------
// Randomness

/** A seeded uniform [0, 1) generator. */
export type Rng = () => number;

/**
 * mulberry32: tiny, fast, and good enough for synthetic data (not for cryptography). Seeds are
 * mixed through SHA-256 with a label so that independent streams (sensor noise, session lengths…)
 * drawn from one user seed do not shift each other when one of them draws more numbers.
 */
export function seededRng(seed: number, label = ''): Rng {
  let a = createHash('sha256').update(`${seed}\u0000${label}`).digest().readUInt32LE(0);
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal (Box–Muller; one of the pair is dropped: simplicity over speed). */
export function gaussian(rng: Rng): number {
  const u = 1 - rng(); // (0, 1]: log(0) would be -∞
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

function exponential(rng: Rng, mean: number): number {
  return -Math.log(1 - rng()) * mean;
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)] as T;
}

/** Sampling from a fixed discrete distribution by binary search over its CDF. */
export class Discrete<T> {
  private readonly cdf: Float64Array;
  constructor(
    readonly items: readonly T[],
    weights: readonly number[],
  ) {
    const total = weights.reduce((a, b) => a + b, 0);
    this.cdf = new Float64Array(weights.length);
    let acc = 0;
    weights.forEach((w, i) => {
      acc += w / total;
      this.cdf[i] = acc;
    });
    this.cdf[weights.length - 1] = 1; // guard against rounding leaving the last bucket unreachable
  }

  sample(rng: Rng): T {
    const u = rng();
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.cdf[mid] as number) > u) hi = mid;
      else lo = mid + 1;
    }
    return this.items[lo] as T;
  }
}

/** Zipf weights 1/rank^s for ranks 1..n. */
export function zipfWeights(n: number, s: number): number[] {
  return Array.from({ length: n }, (_, i) => 1 / Math.pow(i + 1, s));
}

// ---------------------------------------------------------------------------------------------
// Job generators: valid events in event-time order

/** One valid event. `timeMs` is its event time; the wrapper writes it into the generator's time field. */
export interface GeneratedEvent {
  key: string;
  timeMs: number;
  event: Record<string, unknown>;
}

export interface JobGeneratorOptions {
  /** Events to generate (the generator may be asked for fewer). */
  count: number;
  startMs: number;
  endMs: number;
  seed: number;
}

export interface JobGenerator {
  /** The field holding the partition key (and the job's entity id); undefined: none (keys spread by position). */
  readonly keyField: string | undefined;
  /** The field holding the event time. */
  readonly timeField: string;
  /** How the event time is written: epoch milliseconds or seconds, or an ISO-8601 string (all are valid event times). */
  readonly timeFormat: 'ms' | 's' | 'iso';
  /** Required fields a "missing field" bad record may drop, and a wrong-typed value for each (empty: those kinds become malformed JSON). */
  readonly wrongTypes: Readonly<Record<string, unknown>>;
  events(options: JobGeneratorOptions): Iterator<GeneratedEvent>;
}

const DAY_MS = 86_400_000;

/**
 * Sensors report round-robin at evenly spread (jittered) times. Each sensor has its own base
 * temperature, amplitude and daily peak hour: temperature = base + amplitude·cos(2π(t − peak)/day)
 * + N(0, 0.4²). Humidity falls as temperature rises, and is missing from ~5% of readings
 * (the schema makes it optional), which keeps humidity_avg's null handling exercised.
 */
export interface SensorProfile {
  id: string;
  base: number;
  amplitude: number;
  /** Hour of day (UTC, fractional) of the daily maximum. */
  peakHour: number;
}

export function sensorCount(count: number): number {
  return Math.max(1, Math.min(1000, Math.ceil(count / 500)));
}

export function sensorProfiles(n: number, seed: number): SensorProfile[] {
  const rng = seededRng(seed, 'sensor-profiles');
  return Array.from({ length: n }, (_, i) => ({
    id: `sensor-${String(i + 1).padStart(4, '0')}`,
    base: 14 + 10 * rng(),
    amplitude: 3 + 4 * rng(),
    peakHour: 13 + 3 * rng(),
  }));
}

export const sensorGenerator: JobGenerator = {
  keyField: 'sensorId',
  timeField: 'ts',
  timeFormat: 'ms',
  wrongTypes: { sensorId: 4711, temperature: 'warm', ts: true },
  *events({ count, startMs, endMs, seed }) {
    const profiles = sensorProfiles(sensorCount(count), seed);
    const rng = seededRng(seed, 'sensor-readings');
    const span = endMs - startMs;
    for (let i = 0; i < count; i++) {
      // (i + u)/count with u ∈ [0, 1): strictly increasing and never past endMs.
      const t = Math.floor(startMs + ((i + rng()) / count) * span);
      const p = profiles[i % profiles.length] as SensorProfile;
      const phase = (2 * Math.PI * (t - p.peakHour * 3_600_000)) / DAY_MS;
      const temperature = Math.round((p.base + p.amplitude * Math.cos(phase) + 0.4 * gaussian(rng)) * 100) / 100;
      const event: Record<string, unknown> = { sensorId: p.id, ts: t, temperature };
      if (rng() >= 0.05) event.humidity = Math.round(Math.min(100, Math.max(0, 55 - 1.5 * (temperature - p.base) + 3 * gaussian(rng))) * 10) / 10;
      yield { key: p.id, timeMs: t, event };
    }
  },
};

/** The hashtag vocabulary, most popular first (Zipf ranks). */
export const HASHTAGS: readonly string[] = [
  'serverless', 'aws', 'typescript', 'javascript', 'cloud', 'devops', 'kinesis', 'lambda', 'dynamodb', 'streaming',
  'data', 'ai', 'opensource', 'rust', 'python', 'kubernetes', 'webdev', 'security', 'analytics', 'sql',
  ...Array.from({ length: 180 }, (_, i) => `topic${String(i + 21).padStart(3, '0')}`),
];
export const HASHTAG_ZIPF_S = 1.1;
export const LANGS: readonly (string | undefined)[] = ['en', 'es', 'pt', 'ja', 'de', 'fr', undefined];
const LANG_WEIGHTS = [50, 15, 10, 8, 7, 6, 4];
const WORDS = ['shipping', 'today', 'new', 'release', 'thoughts', 'on', 'why', 'the', 'best', 'way', 'to', 'scale', 'streams', 'loving', 'this', 'week'];

/** A burst: one tail hashtag appears in half the posts of [startMs, endMs). */
export interface TrendingBurst {
  hashtag: string;
  startMs: number;
  endMs: number;
}

export function trendingBursts(startMs: number, endMs: number, seed: number): TrendingBurst[] {
  const rng = seededRng(seed, 'post-bursts');
  const n = Math.max(1, Math.round((endMs - startMs) / (20 * 60_000)));
  return Array.from({ length: n }, () => {
    const start = startMs + rng() * (endMs - startMs);
    return { hashtag: HASHTAGS[20 + Math.floor(rng() * (HASHTAGS.length - 20))] as string, startMs: start, endMs: start + (5 + 10 * rng()) * 60_000 };
  });
}

/**
 * Posts at evenly spread times, 0–3 distinct hashtags each drawn from a Zipf(1.1) popularity over
 * 200 tags (written with random capitalisation: the job lowercases them), plus the hashtag of any
 * active trending burst in half the posts; `lang` from a fixed mix, absent from ~4% (job key 'und').
 */
export const postGenerator: JobGenerator = {
  keyField: 'postId',
  timeField: 'ts',
  timeFormat: 'iso',
  wrongTypes: { postId: 1234, text: 42, ts: { when: 'now' } },
  *events({ count, startMs, endMs, seed }) {
    const rng = seededRng(seed, 'posts');
    const tags = new Discrete(HASHTAGS, zipfWeights(HASHTAGS.length, HASHTAG_ZIPF_S));
    const langs = new Discrete(LANGS, LANG_WEIGHTS);
    const tagCount = new Discrete([0, 1, 2, 3], [15, 45, 30, 10]);
    const bursts = trendingBursts(startMs, endMs, seed);
    const prefix = Math.floor(seededRng(seed, 'post-ids')() * 0xffffff).toString(16).padStart(6, '0');
    const span = endMs - startMs;
    for (let i = 0; i < count; i++) {
      const t = Math.floor(startMs + ((i + rng()) / count) * span);
      const chosen = new Set<string>();
      const n = tagCount.sample(rng);
      while (chosen.size < n) chosen.add(tags.sample(rng));
      for (const b of bursts) if (t >= b.startMs && t < b.endMs && rng() < 0.5) chosen.add(b.hashtag);
      const words = Array.from({ length: 3 + Math.floor(rng() * 5) }, () => pick(rng, WORDS));
      const text = [...words, ...[...chosen].map((tag) => `#${rng() < 0.2 ? tag.toUpperCase() : tag}`)].join(' ');
      const postId = `post-${prefix}-${i.toString(36)}`;
      const lang = langs.sample(rng);
      const event: Record<string, unknown> = { postId, ts: t, text };
      if (lang !== undefined) event.lang = lang;
      yield { key: postId, timeMs: t, event };
    }
  },
};

export const PAGES: readonly string[] = [
  '/', '/search', '/products', '/cart', '/checkout', '/account', '/help', '/pricing', '/blog', '/about',
  ...Array.from({ length: 20 }, (_, i) => `/products/${i + 1}`),
];
/** Within a session consecutive clicks are at most this far apart; between sessions at least SESSION_BREAK_MS. */
export const MAX_CLICK_GAP_MS = 5 * 60_000;
/** Comfortably above clickstream-sessions' 30-minute gap, so generated sessions are the job's sessions. */
export const SESSION_BREAK_MS = 35 * 60_000;

/**
 * Clicks of users in sessions. Session lengths are 1 + Geometric (mean 7, at most 40 clicks);
 * session starts are uniform over the time range; clicks inside a session are 1 s–5 min apart
 * (exponential, mean 25 s). A session goes to a returning user who has been away at least
 * SESSION_BREAK_MS (60% of the time when one is available) or to a new user, so per user the
 * gaps are either ≤ 5 min (same session) or ≥ 35 min (a new session). Streams in time order with
 * a heap of active sessions; memory is O(sessions) for the start times.
 */
export const clickGenerator: JobGenerator = {
  keyField: 'userId',
  timeField: 'ts',
  timeFormat: 'ms',
  wrongTypes: { userId: null, page: 7, ts: 'yesterday' },
  *events({ count, startMs, endMs, seed }) {
    if (count <= 0) return;
    const lengthRng = seededRng(seed, 'session-lengths');
    const lengths: number[] = [];
    for (let left = count; left > 0; ) {
      const n = Math.min(left, 40, 1 + Math.floor(exponential(lengthRng, 6)));
      lengths.push(n);
      left -= n;
    }
    // Sorted uniform start times from exponential spacings (no sort, O(S)).
    const startRng = seededRng(seed, 'session-starts');
    const spacings = new Float64Array(lengths.length + 1);
    let total = 0;
    for (let i = 0; i < spacings.length; i++) total += spacings[i] = exponential(startRng, 1);
    const span = endMs - startMs;
    // Leave room for the sessions that start last (their span is a few minutes on average).
    const startSpan = span > 20 * 60_000 ? span - 10 * 60_000 : span / 2;
    const starts = new Float64Array(lengths.length);
    let acc = 0;
    for (let i = 0; i < starts.length; i++) {
      acc += spacings[i] as number;
      starts[i] = startMs + (acc / total) * startSpan;
    }

    const rng = seededRng(seed, 'clicks');
    const pages = new Discrete(PAGES, zipfWeights(PAGES.length, 1.0));
    const entry = new Discrete(['/', '/search', '/pricing', '/blog'], [40, 20, 15, 10]);
    const active = new MinHeap<ActiveSession>();
    const resting = new MinHeap<{ at: number; userId: string }>();
    const available: string[] = [];
    let users = 0;
    let nextSession = 0;
    let emitted = 0;
    while (emitted < count) {
      const nextStart = nextSession < starts.length ? (starts[nextSession] as number) : Number.POSITIVE_INFINITY;
      const top = active.peek();
      if (top === undefined || nextStart <= top.at) {
        const at = nextStart;
        while ((resting.peek()?.at ?? Number.POSITIVE_INFINITY) <= at) available.push((resting.pop() as { userId: string }).userId);
        let userId: string;
        if (available.length > 0 && rng() < 0.6) {
          const i = Math.floor(rng() * available.length);
          userId = available[i] as string;
          available[i] = available[available.length - 1] as string;
          available.pop();
        } else {
          userId = `user-${String(++users).padStart(5, '0')}`;
        }
        active.push({ at, userId, left: lengths[nextSession] as number, page: entry.sample(rng) });
        nextSession++;
        continue;
      }
      const s = active.pop() as ActiveSession;
      const t = Math.min(Math.floor(s.at), endMs);
      const event: Record<string, unknown> = { userId: s.userId, page: s.page, ts: t };
      if (rng() >= 0.03) event.dwellMs = Math.round(Math.exp(Math.log(8_000) + 0.8 * gaussian(rng)));
      emitted++;
      yield { key: s.userId, timeMs: t, event };
      if (--s.left > 0) {
        s.at = t + Math.min(MAX_CLICK_GAP_MS, Math.max(1_000, exponential(rng, 25_000)));
        s.page = pages.sample(rng);
        active.push(s);
      } else {
        resting.push({ at: t + SESSION_BREAK_MS + exponential(rng, 30 * 60_000), userId: s.userId });
      }
    }
  },
};

interface ActiveSession {
  at: number;
  userId: string;
  left: number;
  page: string;
}

/** A binary min-heap on `at`. */
class MinHeap<T extends { at: number }> {
  private readonly items: T[] = [];

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((a[parent] as T).at <= item.at) break;
      a[i] = a[parent] as T;
      i = parent;
    }
    a[i] = item;
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      const child = r < a.length && (a[r] as T).at < (a[l] as T).at ? r : l;
      if ((a[child] as T).at >= last.at) break;
      a[i] = a[child] as T;
      i = child;
    }
    a[i] = last;
    return top;
  }
}

/** The example event types' own generators, by schema (every job over that type uses it). */
const BY_SCHEMA = new Map<unknown, JobGenerator>([
  [SensorReading, sensorGenerator],
  [Post, postGenerator],
  [Click, clickGenerator],
]);

/**
 * A generator for any job from its `samples`: the samples in turn, each with its event time field
 * set to the generated time (written in the samples' own format). The time field is the one whose
 * value is the job's event time; the key field the one holding the first mapped key; bad records
 * use the fields whose wrong type or absence the schema rejects. Undefined without samples, or
 * when no field holds the event time.
 */
export function sampleGenerator(job: Job): JobGenerator | undefined {
  const samples = job.samples.filter((s): s is Record<string, unknown> => typeof s === 'object' && s !== null && !Array.isArray(s) && job.schema.safeParse(s).success);
  const first = samples[0];
  if (!first) return undefined;
  const eventTime = parseEventTime(job.eventTime(first));
  if (!eventTime.ok) return undefined;
  const timeField = Object.keys(first).find((f) => {
    const t = parseEventTime(first[f]);
    return t.ok && t.ms === eventTime.ms;
  });
  if (timeField === undefined) return undefined;
  const raw = first[timeField];
  const timeFormat = typeof raw === 'string' ? 'iso' : (raw as number) < 1e11 ? 's' : 'ms';
  const [firstPair] = [...job.map(first)];
  const keyField = firstPair ? Object.keys(first).find((f) => first[f] === firstPair[0]) : undefined;
  const wrongTypes: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(first)) {
    const wrong = typeof value === 'number' ? 'not a number' : typeof value === 'string' ? 4711 : 'wrong';
    const without = { ...first };
    delete without[field];
    if (!job.schema.safeParse({ ...first, [field]: wrong }).success && !job.schema.safeParse(without).success) wrongTypes[field] = wrong;
  }
  return {
    keyField,
    timeField,
    timeFormat,
    wrongTypes,
    *events({ count, startMs, endMs, seed }) {
      const rng = seededRng(seed, `samples:${job.name}`);
      const span = endMs - startMs;
      for (let i = 0; i < count; i++) {
        const t = Math.floor(startMs + ((i + rng()) / count) * span);
        const event = { ...(samples[i % samples.length] as Record<string, unknown>) };
        yield { key: keyField !== undefined ? String(event[keyField]) : `sample-${i % samples.length}`, timeMs: t, event };
      }
    },
  };
}

/** The generator of a job: its event type's own, else one from its samples. */
export function generatorFor(job: Job): JobGenerator | undefined {
  return BY_SCHEMA.get(job.schema) ?? sampleGenerator(job);
}

/** Generators by job name, for every job that has one (jobs sharing a stream share the event type's). */
export const GENERATORS: Readonly<Record<string, JobGenerator>> = Object.fromEntries(
  Object.keys(jobs).flatMap((name) => {
    const generator = generatorFor(jobs[name] as Job);
    return generator ? [[name, generator] as const] : [];
  }),
);

// ---------------------------------------------------------------------------------------------
// Records as sent: disorder, late events, duplicates, malformed records

export type RecordFlag = 'ok' | 'late' | 'duplicate' | 'bad';
export const BAD_KINDS = ['malformed-json', 'wrong-type', 'missing-field', 'invalid-utf8', 'empty'] as const;
export type BadKind = (typeof BAD_KINDS)[number];

/** One user record to send. */
export interface ProducedRecord {
  /** 0-based position in the produced sequence. */
  n: number;
  partitionKey: string;
  data: Buffer;
  flag: RecordFlag;
  badKind?: BadKind;
  /** Event time (ms) of ok, late and duplicate records. */
  eventTime?: number;
  /** For duplicates: `n` of the record whose bytes are sent again. */
  duplicateOf?: number;
}

export interface RecordOptions {
  job: string;
  count: number;
  /** Event times are spread over [endMs − durationMs, endMs]. */
  durationMs: number;
  endMs: number;
  seed: number;
  /** Disorder: each event's time is its position's time minus U(0, maxDelayMs). */
  maxDelayMs: number;
  lateFraction: number;
  duplicateFraction: number;
  badFraction: number;
}

/**
 * How far behind the stream a late event is put: beyond the largest reach of any window of any job
 * reading the same stream (window size, or the session gap) plus its allowed lateness and
 * out-of-orderness, plus the disorder and a minute of margin for watermark lag between batches.
 * So a late record is late for every job on the stream, once the watermark has caught up.
 */
export function lateOffsetMs(jobName: string, maxDelayMs: number): number {
  const job = jobs[jobName];
  if (!job) throw new Error(`unknown job '${jobName}'`);
  let reach = 0;
  for (const other of Object.values(jobs)) {
    if (other.source !== job.source) continue;
    const w = other.window;
    const size = w.type === 'session' ? w.gapMs : w.sizeMs;
    reach = Math.max(reach, size + other.allowedLatenessMs + other.outOfOrdernessMs);
  }
  return reach + maxDelayMs + 60_000;
}

/** Ring of recent sendable records for duplicates (recent, like a producer retrying). */
const DUPLICATE_POOL = 512;

/**
 * The records of a generated run, in send order. Per record the flags are drawn independently:
 * bad with probability badFraction, else a duplicate of a recent record with duplicateFraction,
 * else late with lateFraction, else a normal event. Bad and late records consume a generated event
 * (so time keeps advancing evenly); duplicates do not. Deterministic in (job, options).
 */
export function* generateRecords(options: RecordOptions): Generator<ProducedRecord> {
  const generator = GENERATORS[options.job];
  if (!generator) throw new Error(`no generator for job '${options.job}'`);
  const startMs = options.endMs - options.durationMs;
  const source = generator.events({ count: options.count, startMs, endMs: options.endMs, seed: options.seed });
  const rng = seededRng(options.seed, 'inject');
  const lateBy = lateOffsetMs(options.job, options.maxDelayMs);
  const recent: ProducedRecord[] = [];
  const format = (ms: number): number | string => (generator.timeFormat === 'iso' ? new Date(ms).toISOString() : generator.timeFormat === 's' ? Math.floor(ms / 1000) : ms);

  for (let n = 0; n < options.count; n++) {
    const u = rng();
    const kindRoll = rng();
    const valueRoll = rng();
    if (u >= options.badFraction && u < options.badFraction + options.duplicateFraction && recent.length > 0) {
      const original = recent[Math.floor(valueRoll * recent.length)] as ProducedRecord;
      yield { n, partitionKey: original.partitionKey, data: original.data, flag: 'duplicate', ...(original.eventTime !== undefined ? { eventTime: original.eventTime } : {}), duplicateOf: original.n };
      continue;
    }
    const next = source.next();
    if (next.done) throw new Error(`generator for '${options.job}' ended after ${n} of ${options.count} events`);
    const g = next.value;
    if (u < options.badFraction) {
      const badKind = BAD_KINDS[Math.floor(kindRoll * BAD_KINDS.length)] as BadKind;
      g.event[generator.timeField] = format(g.timeMs);
      yield { n, partitionKey: g.key, data: badPayload(badKind, g.event, generator, valueRoll), flag: 'bad', badKind };
      continue;
    }
    const late = u >= options.badFraction + options.duplicateFraction && u < options.badFraction + options.duplicateFraction + options.lateFraction;
    // Late: older than the reach of every window on the stream, by up to one more reach.
    const eventTime = late ? Math.floor(g.timeMs - lateBy - valueRoll * (lateBy - options.maxDelayMs - 60_000)) : Math.floor(g.timeMs - valueRoll * options.maxDelayMs);
    g.event[generator.timeField] = format(eventTime);
    const record: ProducedRecord = { n, partitionKey: g.key, data: Buffer.from(JSON.stringify(g.event)), flag: late ? 'late' : 'ok', eventTime };
    if (recent.length < DUPLICATE_POOL) recent.push(record);
    else recent[n % DUPLICATE_POOL] = record;
    yield record;
  }
}

/** A malformed record made from a valid event. Every kind fails the mapper's decode or schema. */
export function badPayload(kind: BadKind, event: Record<string, unknown>, generator: JobGenerator, roll: number): Buffer {
  const json = JSON.stringify(event);
  const fields = Object.keys(generator.wrongTypes);
  const field = fields[Math.floor(roll * fields.length)] as string;
  // A schema that rejects no field's absence or wrong type leaves malformed JSON as the bad record.
  if (fields.length === 0 && (kind === 'wrong-type' || kind === 'missing-field')) return badPayload('malformed-json', event, generator, roll);
  switch (kind) {
    case 'malformed-json':
      // Any proper prefix of an object's JSON is invalid JSON (the closing brace is missing).
      return Buffer.from(json.slice(0, Math.max(1, Math.floor(roll * (json.length - 1)))));
    case 'wrong-type':
      return Buffer.from(JSON.stringify({ ...event, [field]: generator.wrongTypes[field] }));
    case 'missing-field': {
      const copy = { ...event };
      delete copy[field];
      return Buffer.from(JSON.stringify(copy));
    }
    case 'invalid-utf8': {
      // 0xC3 0x28: a two-byte lead followed by a non-continuation byte, inside the key's string.
      const text = Buffer.from(json);
      const at = json.indexOf('"', json.indexOf(':') + 1) + 1;
      return Buffer.concat([text.subarray(0, at), Buffer.from([0xc3, 0x28]), text.subarray(at)]);
    }
    case 'empty':
      return Buffer.alloc(0);
  }
}
