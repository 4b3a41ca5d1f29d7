// The job API: the one way a Riffle pipeline is defined. defineJob validates the definition
// eagerly, so a wrong job fails when its module is loaded — at `cdk synth` — with an error that
// names the field and the fix, never later inside a Lambda.
import type { ZodType } from 'zod';
import type { AnyAggregate } from './aggregates/types';
import { Duration, parseDuration } from './duration';
import { WindowSpec } from './windows';

/** Mapped values: one object of named fields per (key, event). */
export type MappedValues = Record<string, unknown>;

export type EmitMode = 'final' | 'update';

export interface JobDefinition<E, V extends MappedValues = MappedValues> {
  /** Job name: lowercase letters, digits and '-', 1–40 characters. Names streams, stacks and output prefixes. */
  readonly name: string;
  /**
   * Version of the definition: a whole number ≥ 1. Bump it when a change alters what the state
   * holds (window, lateness, aggregates, map…) on a deployed job: the new version keeps its state
   * apart from the old one's, its results carry `job_version`, and a deploy refuses such a change
   * without a bump (README "Changing a deployed job"). @default 1
   */
  readonly version?: number;
  /**
   * Name of the input stream this job reads. Jobs that share a source share one input stream
   * and are deployed in one stack. @default the job name
   */
  readonly source?: string;
  /** Schema of an input event (zod). Events that fail it go to rejected/ with the zod message. */
  readonly schema: ZodType<E>;
  /** Event time of an event: epoch ms or s (see event-time.ts for the rule), ISO-8601 string or Date. */
  readonly eventTime: (event: E) => unknown;
  /** Map an event to zero or more (key, values) pairs. Keys are strings of at most 512 characters. */
  readonly map: (event: E) => Iterable<readonly [string, V]>;
  readonly window: WindowSpec;
  /** How long after a window's end it still accepts events. @default '0s' */
  readonly allowedLateness?: Duration;
  /** Bound on event-time disorder within a shard, subtracted from the watermark. @default '0s' */
  readonly outOfOrderness?: Duration;
  /** A shard silent this long stops holding the watermark back. @default '1m' */
  readonly idleTimeout?: Duration;
  /** Events further ahead of the wall clock than this are rejected (protects the watermark). @default '1h' */
  readonly maxFutureSkew?: Duration;
  /** Output fields: name → aggregate. */
  readonly aggregates: Readonly<Record<string, AnyAggregate>>;
  /** 'final': one result per window when it closes. 'update': also a result after every state change. @default 'final' */
  readonly emit?: EmitMode;
  /**
   * Example events (valid per the schema). defineJob maps them to check that every aggregate
   * reads a field the map emits. The example jobs take theirs from events/.
   */
  readonly samples?: readonly unknown[];
}

/**
 * A validated job with durations resolved to milliseconds. `eventTime` and `map` are declared as
 * methods: TypeScript compares method parameters bivariantly, so any Job<E, V> is a Job (the
 * registry's and the handlers' type) without a cast. The schema guards the event type at runtime.
 */
export interface Job<E = unknown, V extends MappedValues = MappedValues> {
  readonly name: string;
  /** The definition's version (≥ 1): results carry it as `job_version`. */
  readonly version: number;
  readonly source: string;
  readonly schema: ZodType<E>;
  eventTime(event: E): unknown;
  map(event: E): Iterable<readonly [string, V]>;
  readonly window: WindowSpec;
  readonly allowedLatenessMs: number;
  readonly outOfOrdernessMs: number;
  readonly idleTimeoutMs: number;
  readonly maxFutureSkewMs: number;
  readonly aggregates: Readonly<Record<string, AnyAggregate>>;
  readonly emit: EmitMode;
  /** The definition's example events (empty when it gave none): tools derive test input from them. */
  readonly samples: readonly unknown[];
}

const NAME = /^[a-z][a-z0-9-]{0,39}$/;
/** Result-record fields an aggregate may not shadow. */
const RESERVED_FIELDS = new Set(['resultId', 'job', 'key', 'windowStart', 'windowEnd', 'final', 'version', 'eventCount', 'emittedAt', 'job_version', 'revision']);

export class JobDefinitionError extends Error {
  constructor(job: string, field: string, message: string) {
    super(`job '${job}': ${field}: ${message}`);
    this.name = 'JobDefinitionError';
  }
}

function duration(job: string, field: string, value: Duration | undefined, fallback: string): number {
  try {
    const ms = parseDuration(value ?? fallback, field);
    return ms;
  } catch (error) {
    throw new JobDefinitionError(job, field, (error as Error).message.replace(`${field}: `, ''));
  }
}

/** Jobs made by defineJob (validated): what the registry accepts as a job module's default export. */
const definedJobs = new WeakSet<object>();

export function isDefinedJob(value: unknown): value is Job {
  return typeof value === 'object' && value !== null && definedJobs.has(value);
}

export function defineJob<E, V extends MappedValues>(definition: JobDefinition<E, V>): Job<E, V> {
  const name = String(definition.name ?? '');
  if (!NAME.test(name)) {
    throw new JobDefinitionError(name || '?', 'name', `'${name}' is not a valid job name; use 1–40 lowercase letters, digits and '-', starting with a letter (e.g. 'sensor-averages')`);
  }
  const fail = (field: string, message: string): never => {
    throw new JobDefinitionError(name, field, message);
  };
  const version = definition.version ?? 1;
  if (!Number.isSafeInteger(version) || version < 1) fail('version', `must be a whole number ≥ 1 (bump it by one for each incompatible change), got ${JSON.stringify(definition.version)}`);
  const source = definition.source ?? name;
  if (!NAME.test(source)) fail('source', `'${source}' is not a valid stream name; use 1–40 lowercase letters, digits and '-'`);
  if (!definition.schema || typeof (definition.schema as { safeParse?: unknown }).safeParse !== 'function') {
    fail('schema', 'must be a zod schema (e.g. SensorReading from events/)');
  }
  for (const fn of ['eventTime', 'map'] as const) {
    if (typeof definition[fn] !== 'function') fail(fn, `must be a function of the event, got ${typeof definition[fn]}`);
  }
  const window = definition.window as WindowSpec | undefined;
  if (!window || !['tumbling', 'hopping', 'session'].includes(window.type)) {
    fail('window', "must be tumbling('5m'), hopping('10m', '1m') or session('30m') from functions/core/windows");
  }
  const allowedLatenessMs = duration(name, 'allowedLateness', definition.allowedLateness, '0s');
  const outOfOrdernessMs = duration(name, 'outOfOrderness', definition.outOfOrderness, '0s');
  const idleTimeoutMs = duration(name, 'idleTimeout', definition.idleTimeout, '1m');
  const maxFutureSkewMs = duration(name, 'maxFutureSkew', definition.maxFutureSkew, '1h');
  if (idleTimeoutMs <= 0) fail('idleTimeout', 'must be positive');

  const aggregates = definition.aggregates;
  if (!aggregates || typeof aggregates !== 'object' || Object.keys(aggregates).length === 0) {
    fail('aggregates', "define at least one output, e.g. { count: count() }");
  }
  const seenLower = new Map<string, string>();
  for (const [field, aggregate] of Object.entries(aggregates)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(field)) {
      fail(`aggregates.${field}`, 'output names must be identifiers (letters, digits, _), usable as SQL column names');
    }
    if (RESERVED_FIELDS.has(field)) fail(`aggregates.${field}`, `'${field}' is a result-record field; choose another name`);
    const lower = field.toLowerCase();
    const clash = seenLower.get(lower);
    if (clash !== undefined) {
      fail(`aggregates.${field}`, `duplicate aggregate name: '${field}' and '${clash}' are the same column in SQL (names are case-insensitive there); rename one`);
    }
    seenLower.set(lower, field);
    if (!aggregate || typeof aggregate.add !== 'function' || typeof aggregate.merge !== 'function') {
      fail(`aggregates.${field}`, 'is not an aggregate; use count(), mean(field), … from functions/core/aggregates');
    }
  }
  const emit = definition.emit ?? 'final';
  if (emit !== 'final' && emit !== 'update') fail('emit', `'${String(emit)}' is not an emit mode; use 'final' or 'update'`);

  const job: Job<E, V> = {
    name,
    version,
    source,
    schema: definition.schema,
    eventTime: definition.eventTime,
    map: definition.map,
    window: window as WindowSpec,
    allowedLatenessMs,
    outOfOrdernessMs,
    idleTimeoutMs,
    maxFutureSkewMs,
    aggregates,
    emit,
    samples: definition.samples ?? [],
  };
  if (definition.samples) checkSamples(job, definition.samples, fail);
  definedJobs.add(job);
  return job;
}

/** Map the sample events and check that every field aggregate reads a field the map emits. */
function checkSamples<E, V extends MappedValues>(job: Job<E, V>, samples: readonly unknown[], fail: (field: string, message: string) => never): void {
  const emitted = new Set<string>();
  samples.forEach((sample, index) => {
    const parsed = job.schema.safeParse(sample);
    if (!parsed.success) fail(`samples[${index}]`, `does not match the schema: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    for (const [key, values] of job.map(parsed.data as E)) {
      if (typeof key !== 'string') fail('map', `must return [key, values] pairs with string keys; got a ${typeof key} key for samples[${index}]`);
      for (const field of Object.keys(values)) emitted.add(field);
    }
  });
  if (samples.length === 0) return;
  for (const [name, aggregate] of Object.entries(job.aggregates)) {
    if (aggregate.field !== undefined && !emitted.has(aggregate.field)) {
      fail(`aggregates.${name}`, `${aggregate.kind}('${aggregate.field}') reads field '${aggregate.field}', which map never emits (it emits: ${[...emitted].sort().join(', ') || 'nothing'}); fix the field name or the map`);
    }
  }
}
