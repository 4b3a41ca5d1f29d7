// sum(field): an exact sum, identical to the last bit however the values are split and merged.
//
// A compensated (Kahan/Neumaier) or double-double (hi, lo) sum still rounds, and where it
// rounds depends on the grouping, so mapper-combined and reducer-merged sums could differ in the
// last bits. Instead the running sum is kept as a Shewchuk expansion — non-overlapping doubles
// whose exact total is the exact sum of the inputs (the algorithm of Python's math.fsum) — and is
// rounded once, correctly (to nearest, ties to even), in result(). So result() is the correctly
// rounded exact sum for ANY accepted inputs and ANY merge order, not just realistic ones. Values
// must be at most 2^960 (≈ 9.7e288) in magnitude, so fewer than 2^53 of them cannot overflow the
// double range — a bound check() can enforce per value. In memory typical data keeps a handful
// of parts; encode() writes the canonical form (the greedy rounding of the exact value: usually 1–2
// parts, ≤ 40 for any double-range sum), so equal sums also encode identically.
import { decodeError, finiteReason, requireFieldName } from './count';
import type { Aggregate, Json } from './types';

export interface ExactSum {
  /** Partials in increasing magnitude, only p[0..n) in use (the array is reused to avoid allocating). */
  p: number[];
  n: number;
}

/** Largest accepted magnitude: < 2^53 values of at most 2^960 sum to less than 2^1013. */
export const MAX_SUMMAND = 2 ** 960;
// Keeping |x| + 2·|largest part| below 2^1023 keeps every intermediate TwoSum finite.
const OVERFLOW_LIMIT = 2 ** 1023;
// Realistic data never gets near this; it only bounds memory for adversarial inputs.
const MAX_PARTS = 64;
const MAX_CANONICAL_PARTS = 41;
/** JSON of the canonical parts: ≤ 41 numbers of ≤ 24 characters, commas and brackets. */
export const MAX_EXACT_SUM_BYTES = 2 + MAX_CANONICAL_PARTS * 25;

// Bound once: a global lookup per call is slow in vm contexts (see count.ts).
const { abs } = Math;

export function exactZero(): ExactSum {
  return { p: [], n: 0 };
}

// Shewchuk's GROW-EXPANSION with zero elimination (TwoSum against each part, keep the errors).
function grow(s: ExactSum, value: number): void {
  const p = s.p;
  const n = s.n;
  let x = value;
  let i = 0;
  for (let j = 0; j < n; j++) {
    let y = p[j] as number;
    if (abs(x) < abs(y)) {
      const t = x;
      x = y;
      y = t;
    }
    const hi = x + y;
    const lo = y - (hi - x);
    if (lo !== 0) p[i++] = lo;
    x = hi;
  }
  if (x !== 0) p[i++] = x;
  s.n = i;
}

function largestPart(s: ExactSum): number {
  return s.n > 0 ? abs(s.p[s.n - 1] as number) : 0;
}

/** The reject reason of sum/mean: not a finite number, or beyond MAX_SUMMAND. */
export function summandReason(field: string, value: unknown): string | undefined {
  return finiteReason(field, value, MAX_SUMMAND, ' (2^960) to be summed exactly');
}

/** Adds value to the sum exactly, or throws the reject reason (null/undefined are skipped). */
export function exactAdd(field: string, s: ExactSum, value: unknown): void {
  if (typeof value !== 'number' || !(value <= MAX_SUMMAND && value >= -MAX_SUMMAND)) {
    if (value === null || value === undefined) return;
    throw new TypeError(summandReason(field, value));
  }
  grow(s, value);
  if (s.n > MAX_PARTS) canonicalise(s);
}

/** a += b exactly; b is not modified. */
export function exactMerge(kind: string, a: ExactSum, b: ExactSum): void {
  // While b's parts are added one by one the running total stays below 2|A| + 2|B|. Only states
  // holding ≥ 2^53 values could get here, so this guards the invariant rather than user input.
  if (2 * largestPart(a) + 3 * largestPart(b) >= OVERFLOW_LIMIT) {
    throw new RangeError(`${kind}: merged sum would leave the double range (±${OVERFLOW_LIMIT.toPrecision(2)})`);
  }
  for (let j = 0; j < b.n; j++) grow(a, b.p[j] as number);
  if (a.n > MAX_PARTS) canonicalise(a);
}

/** The exact sum correctly rounded to a double (CPython's fsum final step, incl. the half-way fix-up). */
export function exactValue(s: ExactSum): number {
  const p = s.p;
  let n = s.n;
  if (n === 0) return 0;
  let hi = p[--n] as number;
  let lo = 0;
  while (n > 0) {
    const x = hi;
    const y = p[--n] as number;
    hi = x + y;
    lo = y - (hi - x);
    if (lo !== 0) break;
  }
  // hi + lo is a tie only if the remaining parts are zero; if they push the same way as lo,
  // the exact sum is past the half-way point and must round away from hi.
  if (n > 0) {
    const next = p[n - 1] as number;
    if ((lo < 0 && next < 0) || (lo > 0 && next > 0)) {
      const y = lo * 2;
      const x = hi + y;
      if (y === x - hi) hi = x;
    }
  }
  return hi;
}

/** The canonical parts, increasing in magnitude: each is the rounding of what the larger ones leave. */
export function canonicalParts(s: ExactSum): number[] {
  const work: ExactSum = { p: s.p.slice(0, s.n), n: s.n };
  const out: number[] = [];
  // Each part is ≤ 2^-53 of the one before, so there are at most 40 (1024 + 1074 bits / 53).
  while (work.n > 0 && out.length < MAX_CANONICAL_PARTS) {
    const h = exactValue(work);
    out.push(h);
    grow(work, -h);
  }
  return out.reverse();
}

function canonicalise(s: ExactSum): void {
  const parts = canonicalParts(s);
  s.p = parts;
  s.n = parts.length;
}

/** Rebuilds a sum from encoded parts; any finite numbers are accepted (the sum is re-derived exactly). */
export function decodeParts(kind: string, json: Json, parts: readonly Json[]): ExactSum {
  if (parts.length > MAX_CANONICAL_PARTS) throw decodeError(kind, json, `at most ${MAX_CANONICAL_PARTS} parts`);
  const s = exactZero();
  for (const x of parts) {
    if (typeof x !== 'number' || !(Math.abs(x) < OVERFLOW_LIMIT / 64)) throw decodeError(kind, json, 'finite numbers below 2^1017');
    grow(s, x);
  }
  return s;
}

export function sum(field: string): Aggregate<ExactSum, number> {
  requireFieldName('sum(field)', field);
  return {
    kind: 'sum',
    field,
    stateSize: '≤ 1 KiB; typically 1–2 doubles (20–45 B)',
    maxStateBytes: MAX_EXACT_SUM_BYTES,
    relativeError: 0,
    zero: exactZero,
    check: (value) => summandReason(field, value),
    add(acc, value) {
      exactAdd(field, acc, value);
      return acc;
    },
    merge(a, b) {
      exactMerge('sum', a, b);
      return a;
    },
    result: exactValue,
    encode: canonicalParts,
    decode(json) {
      if (!Array.isArray(json)) throw decodeError('sum', json, 'an array of finite numbers');
      return decodeParts('sum', json, json);
    },
  };
}
