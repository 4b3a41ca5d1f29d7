// min(field) / max(field): exact extremes. The accumulator holds ±Infinity while empty, which no
// accepted value can equal (values must be finite), so add() needs no extra flag and never allocates.
import { decodeError, finiteReason, requireFieldName, requireFinite } from './count';
import type { Aggregate } from './types';

export interface ExtremeAcc {
  v: number;
}

function extreme(kind: 'min' | 'max', field: string): Aggregate<ExtremeAcc, number | null> {
  requireFieldName(`${kind}(field)`, field);
  const isMin = kind === 'min';
  const empty = isMin ? Infinity : -Infinity;
  return {
    kind,
    field,
    stateSize: '≤ 24 B',
    maxStateBytes: 24, // one double, e.g. -2.2250738585072014e-308
    relativeError: 0,
    zero: () => ({ v: empty }),
    check: (value) => finiteReason(field, value),
    add(acc, value) {
      if (value === null || value === undefined) return acc;
      // + 0 turns -0 into 0 so min(0, -0) does not depend on arrival order.
      const x = requireFinite(field, value) + 0;
      if (isMin ? x < acc.v : x > acc.v) acc.v = x;
      return acc;
    },
    merge(a, b) {
      if (isMin ? b.v < a.v : b.v > a.v) a.v = b.v;
      return a;
    },
    result: (acc) => (acc.v === empty ? null : acc.v),
    encode: (acc) => (acc.v === empty ? null : acc.v),
    decode(json) {
      if (json === null) return { v: empty };
      if (typeof json !== 'number' || json - json !== 0) throw decodeError(kind, json, 'a finite number or null');
      return { v: json + 0 };
    },
  };
}

export function min(field: string): Aggregate<ExtremeAcc, number | null> {
  return extreme('min', field);
}

export function max(field: string): Aggregate<ExtremeAcc, number | null> {
  return extreme('max', field);
}
