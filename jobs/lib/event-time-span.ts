// A user-defined aggregate, written against the same contract as the built-ins: the span of
// event time covered by a window's events (last event time − first event time), in ms.
// clickstream-sessions uses it for session duration.
import type { Aggregate, Json } from '../../functions/core/aggregates/types';

interface Span {
  lo: number;
  hi: number;
}

export function eventTimeSpan(): Aggregate<Span, number | null> {
  return {
    kind: 'eventTimeSpan',
    stateSize: '≤ 40 B',
    maxStateBytes: 48,
    relativeError: 0,
    zero: () => ({ lo: Number.POSITIVE_INFINITY, hi: Number.NEGATIVE_INFINITY }),
    add(acc, _value, eventTime) {
      if (eventTime < acc.lo) acc.lo = eventTime;
      if (eventTime > acc.hi) acc.hi = eventTime;
      return acc;
    },
    merge(a, b) {
      if (b.lo < a.lo) a.lo = b.lo;
      if (b.hi > a.hi) a.hi = b.hi;
      return a;
    },
    result: (acc) => (acc.hi >= acc.lo ? acc.hi - acc.lo : null),
    encode: (acc): Json => (acc.hi >= acc.lo ? [acc.lo, acc.hi] : null),
    decode(json) {
      if (json === null) return { lo: Number.POSITIVE_INFINITY, hi: Number.NEGATIVE_INFINITY };
      const [lo, hi] = json as [number, number];
      return { lo, hi };
    },
  };
}
