// variance(field) / stddev(field): sample variance (n − 1 denominator, like SQL VARIANCE/STDDEV)
// by Welford's update and Chan et al.'s parallel merge of (count, mean, M2).
//
// Unlike sum/mean this is not bit-exact across merge orders: each merge rounds. The difference
// between any two groupings is a few ulps of max|x|² (the property tests bound it by
// 1e-12 · max|x|²), far below the statistical noise of a sample variance.
import { decodeError, finiteReason, isCount, requireFieldName } from './count';
import type { Aggregate } from './types';

export interface VarianceAcc {
  n: number;
  mean: number;
  m2: number;
}

// With |x| ≤ 1e145, M2 ≤ n·(2·max|x|)² stays finite for any n < 2^53.
const MAX_ABS = 1e145;

function moments(
  kind: 'variance' | 'stddev',
  field: string,
  finish: (v: number) => number,
): Aggregate<VarianceAcc, number | null> {
  requireFieldName(`${kind}(field)`, field);
  const reason = (value: unknown): string | undefined => finiteReason(field, value, MAX_ABS, ` for ${kind}`);
  return {
    kind,
    field,
    stateSize: '≤ 70 B',
    maxStateBytes: 2 + 16 + 2 * 25, // [n, mean, m2]
    relativeError: 0,
    zero: () => ({ n: 0, mean: 0, m2: 0 }),
    check: reason,
    add(acc, value) {
      if (typeof value !== 'number' || !(value <= MAX_ABS && value >= -MAX_ABS)) {
        if (value === null || value === undefined) return acc;
        throw new TypeError(reason(value));
      }
      const x = value;
      const n = acc.n + 1;
      const d = x - acc.mean;
      acc.n = n;
      acc.mean += d / n;
      acc.m2 += d * (x - acc.mean);
      return acc;
    },
    merge(a, b) {
      if (b.n === 0) return a;
      if (a.n === 0) {
        a.n = b.n;
        a.mean = b.mean;
        a.m2 = b.m2;
        return a;
      }
      const n = a.n + b.n;
      const d = b.mean - a.mean;
      a.m2 += b.m2 + ((d * d * a.n) / n) * b.n;
      a.mean += (d * b.n) / n;
      a.n = n;
      return a;
    },
    result: (acc) => (acc.n < 2 ? null : finish(acc.m2 / (acc.n - 1))),
    encode: (acc) => [acc.n, acc.mean, acc.m2],
    decode(json) {
      if (Array.isArray(json) && json.length === 3) {
        const [n, m, m2] = json;
        if (isCount(n) && typeof m === 'number' && Number.isFinite(m) && typeof m2 === 'number' && m2 >= 0 && m2 < Infinity) {
          return { n, mean: m, m2 };
        }
      }
      throw decodeError(kind, json, '[count, mean, M2] with finite mean and M2 ≥ 0');
    },
  };
}

/** Sample variance; null for fewer than 2 values (it is undefined there). */
export function variance(field: string): Aggregate<VarianceAcc, number | null> {
  return moments('variance', field, (v) => v);
}

/** Sample standard deviation; null for fewer than 2 values. */
export function stddev(field: string): Aggregate<VarianceAcc, number | null> {
  return moments('stddev', field, Math.sqrt);
}
