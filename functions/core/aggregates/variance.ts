// variance(field) / stddev(field): sample variance (n − 1 denominator, like SQL VARIANCE/STDDEV)
// by Welford's update and Chan et al.'s parallel merge of (count, mean, M2).
//
// Scale-aware: M2 is kept divided by 4^e, where 2^e bounds the largest |x| seen (a power of two,
// so scaling is exact). Unscaled, the products d·(x − mean) underflow for |x| below ~1e-154 and
// merged results lost every significant digit (a fast-check counterexample with values around
// 2.7e-162 merged to a stddev off by 2.2e-162); scaled, they stay near 1 whatever the magnitude, and
// stddev is finished as 2^e·√(M2/4^e/(n−1)) without ever forming the subnormal variance. The
// variance itself is returned as a double, so below ~1e-308 it underflows as the true value does.
//
// Not bit-exact across merge orders: each merge rounds. The difference between any two groupings
// is a few ulps of max|x|² (the property tests bound it by 1e-12 · max|x|²), far below the
// statistical noise of a sample variance.
import { decodeError, finiteReason, isCount, requireFieldName } from './count';
import type { Aggregate } from './types';

export interface VarianceAcc {
  n: number;
  mean: number;
  /** M2 / 4^e. */
  m2: number;
  /** Scale exponent: every |x| added so far is ≤ 2^e. */
  e: number;
}

// With |x| ≤ 1e145 the mean and the differences x − mean stay far from overflow.
const MAX_ABS = 1e145;
/** The exponent of the smallest subnormal: the scale of an accumulator that has seen only zeros. */
const MIN_EXPONENT = -1074;
const MAX_EXPONENT = 1023;

/** 2^e for an integer e in [MIN_EXPONENT, MAX_EXPONENT] (exact). */
function pow2(e: number): number {
  return 2 ** e;
}

/** The least e with |x| ≤ 2^e. */
function exponentOf(abs: number): number {
  if (abs === 0) return MIN_EXPONENT;
  // `+ 0` turns Math.ceil's −0 (for 0.5 < abs < 1) into 0, which JSON would do anyway.
  let e = Math.max(MIN_EXPONENT, Math.ceil(Math.log2(abs)) + 0);
  // Math.log2 may round either way near powers of two.
  while (e > MIN_EXPONENT && pow2(e - 1) >= abs) e -= 1;
  while (pow2(e) < abs) e += 1;
  return e;
}

/** M2/4^from expressed at scale `to` (≥ from); what falls below double range was negligible there. */
function rescaled(m2: number, from: number, to: number): number {
  if (from === to || m2 === 0) return m2;
  const f = pow2(Math.max(MIN_EXPONENT, from - to));
  return m2 * f * f;
}

function moments(
  kind: 'variance' | 'stddev',
  field: string,
  finish: (acc: VarianceAcc) => number,
): Aggregate<VarianceAcc, number | null> {
  requireFieldName(`${kind}(field)`, field);
  const reason = (value: unknown): string | undefined => finiteReason(field, value, MAX_ABS, ` for ${kind}`);
  return {
    kind,
    field,
    stateSize: '≤ 76 B',
    maxStateBytes: 2 + 16 + 2 * 25 + 6, // [n, mean, m2, e]
    relativeError: 0,
    zero: () => ({ n: 0, mean: 0, m2: 0, e: MIN_EXPONENT }),
    check: reason,
    add(acc, value) {
      if (typeof value !== 'number' || !(value <= MAX_ABS && value >= -MAX_ABS)) {
        if (value === null || value === undefined) return acc;
        throw new TypeError(reason(value));
      }
      const x = value;
      let s = pow2(acc.e);
      if (Math.abs(x) > s) {
        const e = exponentOf(Math.abs(x));
        acc.m2 = rescaled(acc.m2, acc.e, e);
        acc.e = e;
        s = pow2(e);
      }
      const n = acc.n + 1;
      const d = x - acc.mean;
      acc.n = n;
      acc.mean += d / n;
      acc.m2 += (d / s) * ((x - acc.mean) / s);
      return acc;
    },
    merge(a, b) {
      if (b.n === 0) return a;
      if (a.n === 0) {
        a.n = b.n;
        a.mean = b.mean;
        a.m2 = b.m2;
        a.e = b.e;
        return a;
      }
      const e = Math.max(a.e, b.e);
      const am2 = rescaled(a.m2, a.e, e);
      const bm2 = rescaled(b.m2, b.e, e);
      const n = a.n + b.n;
      const d = b.mean - a.mean;
      const ds = d / pow2(e);
      a.m2 = am2 + bm2 + ((ds * ds * a.n) / n) * b.n;
      a.mean += (d * b.n) / n;
      a.n = n;
      a.e = e;
      return a;
    },
    result: (acc) => (acc.n < 2 ? null : finish(acc)),
    encode: (acc) => [acc.n, acc.mean, acc.m2, acc.e],
    decode(json) {
      if (Array.isArray(json) && (json.length === 3 || json.length === 4)) {
        // Three elements: the unscaled [n, mean, M2] of states written before scaling (e = 0).
        const [n, m, m2, e = 0] = json;
        if (
          isCount(n) &&
          typeof m === 'number' &&
          Number.isFinite(m) &&
          typeof m2 === 'number' &&
          m2 >= 0 &&
          m2 < Infinity &&
          typeof e === 'number' &&
          Number.isInteger(e) &&
          e >= MIN_EXPONENT &&
          e <= MAX_EXPONENT
        ) {
          return { n, mean: m, m2, e };
        }
      }
      throw decodeError(kind, json, '[count, mean, M2/4^e, e] with finite mean, M2 ≥ 0 and an integer exponent e');
    },
  };
}

/** Sample variance; null for fewer than 2 values (it is undefined there). */
export function variance(field: string): Aggregate<VarianceAcc, number | null> {
  return moments('variance', field, (acc) => {
    const s = pow2(acc.e);
    return ((acc.m2 / (acc.n - 1)) * s) * s;
  });
}

/** Sample standard deviation; null for fewer than 2 values. */
export function stddev(field: string): Aggregate<VarianceAcc, number | null> {
  return moments('stddev', field, (acc) => Math.sqrt(acc.m2 / (acc.n - 1)) * pow2(acc.e));
}
