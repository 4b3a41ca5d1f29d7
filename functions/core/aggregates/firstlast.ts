// first(field) / last(field): the value at the earliest / latest event time.
//
// Events at the same time would make the answer depend on arrival order, so ties are broken by
// the value itself (first keeps the smaller, last the larger, under a total order over
// booleans < numbers < strings). The result is then a pure min/max over (time, value) pairs —
// commutative and associative, so exact under any split and merge order.
import { decodeError, describeValue, requireFieldName, scalarReason } from './count';
import type { Aggregate, Json } from './types';

type Scalar = number | string | boolean;

export interface EdgeAcc {
  /** Event time of the kept value; NaN while empty (never equal to an accepted event time). */
  t: number;
  v: Scalar;
}

/** Longest string value accepted; bounds the encoded state. */
export const MAX_EDGE_STRING = 256;

function typeRank(v: Scalar): number {
  return typeof v === 'boolean' ? 0 : typeof v === 'number' ? 1 : 2;
}

/** Total order over accepted values: booleans < numbers < strings, each in its natural order. */
function compareScalars(a: Scalar, b: Scalar): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  return a < b ? -1 : a > b ? 1 : 0;
}

function requireScalar(field: string, value: unknown): Scalar {
  if (typeof value === 'number' && value - value === 0) return value + 0; // -0 → 0: the tie-break must not see two zeros
  if (typeof value === 'boolean' || (typeof value === 'string' && value.length <= MAX_EDGE_STRING)) return value;
  throw new TypeError(scalarReason(field, value, MAX_EDGE_STRING));
}

function edge(kind: 'first' | 'last', field: string): Aggregate<EdgeAcc, Scalar | null> {
  requireFieldName(`${kind}(field)`, field);
  const requireTime = (eventTime: unknown): number => {
    if (typeof eventTime === 'number' && eventTime - eventTime === 0) return eventTime + 0;
    throw new TypeError(`${kind}('${field}'): event time must be a finite number, got ${describeValue(eventTime)}`);
  };
  const sign = kind === 'first' ? -1 : 1;
  // Whether (t, v) should replace the kept pair: earlier (first) / later (last), then smaller / larger.
  const wins = (acc: EdgeAcc, t: number, v: Scalar): boolean =>
    acc.t !== acc.t || (t - acc.t) * sign > 0 || (t === acc.t && compareScalars(v, acc.v) * sign > 0);
  return {
    kind,
    field,
    stateSize: '≤ 1.6 KiB; a time and a number: ≤ 45 B',
    // [time, value]: a 256-character string escapes to at most 6 bytes per character.
    maxStateBytes: 3 + 24 + 2 + MAX_EDGE_STRING * 6,
    relativeError: 0,
    zero: () => ({ t: NaN, v: 0 }),
    check: (value) => scalarReason(field, value, MAX_EDGE_STRING),
    add(acc, value, eventTime) {
      if (value === null || value === undefined) return acc;
      const v = requireScalar(field, value);
      const t = requireTime(eventTime);
      if (wins(acc, t, v)) {
        acc.t = t;
        acc.v = v;
      }
      return acc;
    },
    merge(a, b) {
      if (b.t === b.t && wins(a, b.t, b.v)) {
        a.t = b.t;
        a.v = b.v;
      }
      return a;
    },
    result: (acc) => (acc.t !== acc.t ? null : acc.v),
    encode: (acc): Json => (acc.t !== acc.t ? null : [acc.t, acc.v]),
    decode(json) {
      if (json === null) return { t: NaN, v: 0 };
      if (Array.isArray(json) && json.length === 2) {
        const [t, v] = json;
        if (typeof t === 'number' && t - t === 0) {
          try {
            return { t, v: requireScalar(field, v) };
          } catch {
            // fall through to the decode error
          }
        }
      }
      throw decodeError(kind, json, 'null or [eventTime, value]');
    },
  };
}

/** The value with the earliest event time (ties: the smallest value). */
export function first(field: string): Aggregate<EdgeAcc, Scalar | null> {
  return edge('first', field);
}

/** The value with the latest event time (ties: the largest value). */
export function last(field: string): Aggregate<EdgeAcc, Scalar | null> {
  return edge('last', field);
}
