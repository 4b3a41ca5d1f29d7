// A job's fingerprint: a hash of everything in its definition that decides what its state holds —
// window, allowed lateness, out-of-orderness, the aggregates with their parameters, the source text
// of eventTime and map, and the schema — computed at synth and recorded in the deployed stack (one
// output per job). A deploy compares the deployed fingerprint with the new one (evolutionVerdict):
// a changed definition would fold new-definition contributions into old-definition state (or
// decode accumulators of other aggregates), so it is refused with what changed and what to do. Pure: no AWS, no CDK.
//
// Aggregate parameters are mostly closure-captured (quantile's q, topK's k), so an aggregate is
// described by its declared properties and by a probe: the encoded state and result after a fixed
// series of values. Two aggregates that answer the probe identically with the same kind, field and
// bounds compute the same thing for every practical purpose. Function source text is what the
// synth process sees (esbuild's output): a pure reformatting can change it, which errs on the safe
// side (a refusal that was not needed).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { formatDuration } from './duration';
import type { AnyAggregate } from './aggregates/types';
import type { Job } from './job';
import { describeWindow } from './windows';

/** The parts a fingerprint hashes, each as readable text (what a refusal names as changed). */
export type FingerprintPart = 'window' | 'allowedLateness' | 'outOfOrderness' | 'aggregates' | 'eventTime' | 'map' | 'schema';

export interface JobFingerprint {
  readonly job: string;
  /** The definition's `version`. */
  readonly version: number;
  /** SHA-256 (first 16 hex digits) over every part. */
  readonly hash: string;
  /** Per part, the first 8 hex digits of its own hash — what tells a refusal which parts changed. */
  readonly parts: Readonly<Record<string, string>>;
  /** Per aggregate name, the hash of its description (tells an added, removed or changed aggregate). */
  readonly aggregates: Readonly<Record<string, string>>;
}

const shortHash = (text: string, digits: number): string => createHash('sha256').update(text).digest('hex').slice(0, digits);

/** Values fed to an aggregate's probe: numbers of several magnitudes, repeated, in a fixed order. */
const PROBE_VALUES: readonly number[] = Array.from({ length: 200 }, (_, i) => ((i * 37) % 101) + (i % 7) * 0.25);

function probe(aggregate: AnyAggregate): string {
  try {
    let acc: unknown = aggregate.zero();
    PROBE_VALUES.forEach((value, i) => {
      acc = aggregate.add(acc, value, 1_000_000 + i * 1_000);
    });
    return JSON.stringify([aggregate.encode(acc), aggregate.result(acc)]);
  } catch (error) {
    // A user-defined aggregate that refuses numbers: its refusal is part of what it is.
    return `throws: ${(error as Error)?.message ?? String(error)}`;
  }
}

/** Readable description of one aggregate: kind, field, bounds and the probe's answer. */
export function describeAggregate(aggregate: AnyAggregate): string {
  return JSON.stringify({
    kind: aggregate.kind,
    field: aggregate.field ?? null,
    maxStateBytes: aggregate.maxStateBytes,
    relativeError: aggregate.relativeError,
    probe: probe(aggregate),
  });
}

function describeSchema(schema: unknown): string {
  try {
    return JSON.stringify(z.toJSONSchema(schema as z.ZodType, { unrepresentable: 'any' }));
  } catch {
    // Schemas JSON Schema cannot express (custom refinements…): their definition's shape.
    return JSON.stringify((schema as { def?: unknown }).def ?? null, (_key, value: unknown) => (typeof value === 'function' ? String(value) : value));
  }
}

/** Every fingerprinted part of a job, as text. */
export function fingerprintParts(job: Job): Record<FingerprintPart, string> {
  const aggregates = Object.entries(job.aggregates).map(([name, aggregate]) => `${name}=${describeAggregate(aggregate)}`);
  return {
    window: describeWindow(job.window),
    allowedLateness: formatDuration(job.allowedLatenessMs),
    outOfOrderness: formatDuration(job.outOfOrdernessMs),
    aggregates: aggregates.join('\n'),
    eventTime: String(job.eventTime),
    map: String(job.map),
    schema: describeSchema(job.schema),
  };
}

export function jobFingerprint(job: Job): JobFingerprint {
  const parts = fingerprintParts(job);
  const partHashes: Record<string, string> = {};
  for (const [name, text] of Object.entries(parts)) partHashes[name] = shortHash(text, 8);
  const aggregates: Record<string, string> = {};
  for (const [name, aggregate] of Object.entries(job.aggregates)) aggregates[name] = shortHash(describeAggregate(aggregate), 8);
  return { job: job.name, version: job.version, hash: shortHash(JSON.stringify(parts), 16), parts: partHashes, aggregates };
}

/** The stack output (one per job) that records the deployed fingerprint, e.g. SensorAveragesFingerprint. */
export function fingerprintOutputKey(pascalJobName: string): string {
  return `${pascalJobName}Fingerprint`;
}

/** The fingerprint as a stack output value (compact JSON, well under CloudFormation's 4 KiB). */
export function encodeFingerprint(fingerprint: JobFingerprint): string {
  return JSON.stringify({ j: fingerprint.job, v: fingerprint.version, h: fingerprint.hash, p: fingerprint.parts, a: fingerprint.aggregates });
}

/** A recorded output value → fingerprint; undefined when it is not one (an older stack). */
export function decodeFingerprint(text: string | undefined): JobFingerprint | undefined {
  if (text === undefined) return undefined;
  try {
    const raw = JSON.parse(text) as { j?: unknown; v?: unknown; h?: unknown; p?: unknown; a?: unknown };
    if (typeof raw.j !== 'string' || typeof raw.v !== 'number' || typeof raw.h !== 'string' || typeof raw.p !== 'object' || raw.p === null) return undefined;
    return { job: raw.j, version: raw.v, hash: raw.h, parts: raw.p as Record<string, string>, aggregates: (raw.a ?? {}) as Record<string, string> };
  } catch {
    return undefined;
  }
}

/** What changed between two fingerprints, as phrases ("aggregate 'p50' added", "window"). */
export function fingerprintChanges(before: JobFingerprint, after: JobFingerprint): string[] {
  const changes: string[] = [];
  for (const part of Object.keys({ ...before.parts, ...after.parts })) {
    if (part === 'aggregates' || before.parts[part] === after.parts[part]) continue;
    changes.push(part);
  }
  if (before.parts.aggregates !== after.parts.aggregates) {
    const names = [...new Set([...Object.keys(before.aggregates), ...Object.keys(after.aggregates)])];
    const aggregateChanges: string[] = [];
    for (const name of names) {
      if (!(name in before.aggregates)) aggregateChanges.push(`aggregate '${name}' added`);
      else if (!(name in after.aggregates)) aggregateChanges.push(`aggregate '${name}' removed`);
      else if (before.aggregates[name] !== after.aggregates[name]) aggregateChanges.push(`aggregate '${name}' changed`);
    }
    // Same aggregates, each unchanged, yet the list differs: their order (state is positional).
    changes.push(...(aggregateChanges.length > 0 ? aggregateChanges : ['aggregates reordered']));
  }
  return changes;
}

export type EvolutionVerdict =
  /** First deploy of the job, or nothing state-relevant changed (version may still have been bumped). */
  | { readonly kind: 'new' | 'unchanged' }
  /** The definition changed (bumped or not), or the version went down: the deploy must not go ahead. */
  | { readonly kind: 'refused'; readonly changes: readonly string[]; readonly message: string };

export interface VerdictContext {
  readonly job: string;
  /** How to reprocess with the new definition, e.g. "npm run reprocess -- --job J --from T1 --to T2". */
  readonly reprocessHint?: string;
}

/**
 * Whether deploying `next` over a stack that recorded `deployed` may go ahead, and what to tell the
 * user. Any state-relevant change is refused, with or without a `version` bump: state items and
 * shuffle records carry no version, so a changed definition running over the old state would fold
 * new-definition contributions into old accumulators — a silent change of results. The way to
 * deploy a change is a new job (its own state and results), which the message spells out.
 */
export function evolutionVerdict(deployed: JobFingerprint | undefined, next: JobFingerprint, context: VerdictContext): EvolutionVerdict {
  if (!deployed) return { kind: 'new' };
  const changes = fingerprintChanges(deployed, next);
  const file = `jobs/${context.job}.ts`;
  const reprocess = context.reprocessHint ?? `npm run reprocess -- --job ${context.job} --from <start> --to <end>`;
  if (next.version < deployed.version) {
    return {
      kind: 'refused',
      changes,
      message: `job '${context.job}': version ${next.version} is lower than the deployed version ${deployed.version}; a job's version only goes up (set version: ${deployed.version} in ${file})`,
    };
  }
  if (changes.length === 0) return { kind: 'unchanged' };
  const successor = `${context.job}-v${deployed.version + 1}`;
  return {
    kind: 'refused',
    changes,
    message:
      `job '${context.job}' changed (${changes.join(', ')}): a deployed job's definition cannot change in place — its open windows hold state built by the old definition, and mixing the two would silently change results. ` +
      `Deploy the change as a new job: copy ${file} to jobs/${successor}.ts (name: '${successor}', version: ${deployed.version + 1}), restore ${file}, add '${successor}' to riffle:jobs and deploy — ` +
      `the new job has its own state and results, and its mapper starts at the oldest record the input stream retains; remove '${context.job}' from riffle:jobs once the new job has caught up. ` +
      `To recompute '${context.job}''s past windows with the changed definition without deploying it, run: ${reprocess}`,
  };
}

/** One message per job whose deploy must not go ahead. */
export interface DeployCheck {
  readonly refused: string[];
}

/** Fingerprints recorded in a stack's outputs, by job. */
export function fingerprintsIn(outputs: Readonly<Record<string, string>> | undefined): Map<string, JobFingerprint> {
  const found = new Map<string, JobFingerprint>();
  for (const [key, value] of Object.entries(outputs ?? {})) {
    if (!key.endsWith('Fingerprint')) continue;
    const fingerprint = decodeFingerprint(value);
    if (fingerprint) found.set(fingerprint.job, fingerprint);
  }
  return found;
}

/** Compare what is deployed with what is about to be, job by job (jobs only on one side are new or left alone). */
export function checkDeploy(deployed: ReadonlyMap<string, JobFingerprint>, next: ReadonlyMap<string, JobFingerprint>, reprocessHint?: (job: string) => string): DeployCheck {
  const check: DeployCheck = { refused: [] };
  for (const [job, fingerprint] of next) {
    const verdict = evolutionVerdict(deployed.get(job), fingerprint, { job, ...(reprocessHint ? { reprocessHint: reprocessHint(job) } : {}) });
    if (verdict.kind === 'refused') check.refused.push(verdict.message);
  }
  return check;
}
