// mean(field): exact sum / count. Both parts are exact under any split and merge order (see sum.ts),
// so the mean is the same double however the events were grouped: round(exact sum) / count.
import { decodeError, isCount, requireFieldName } from './count';
import {
  canonicalParts,
  decodeParts,
  exactAdd,
  exactMerge,
  exactValue,
  MAX_EXACT_SUM_BYTES,
  summandReason,
  type ExactSum,
} from './sum';
import type { Aggregate } from './types';

export interface MeanAcc extends ExactSum {
  count: number;
}

export function mean(field: string): Aggregate<MeanAcc, number | null> {
  requireFieldName('mean(field)', field);
  return {
    kind: 'mean',
    field,
    stateSize: '≤ 1.1 KiB; typically a count and 1–2 doubles (25–60 B)',
    maxStateBytes: 17 + MAX_EXACT_SUM_BYTES, // [count, ...parts]
    relativeError: 0,
    zero: () => ({ p: [], n: 0, count: 0 }),
    check: (value) => summandReason(field, value),
    add(acc, value) {
      if (value === null || value === undefined) return acc;
      exactAdd(field, acc, value);
      acc.count++;
      return acc;
    },
    merge(a, b) {
      exactMerge('mean', a, b);
      a.count += b.count;
      return a;
    },
    result: (acc) => (acc.count === 0 ? null : exactValue(acc) / acc.count),
    encode: (acc) => [acc.count, ...canonicalParts(acc)],
    decode(json) {
      if (!Array.isArray(json) || !isCount(json[0])) {
        throw decodeError('mean', json, '[count, ...sum parts]');
      }
      const s = decodeParts('mean', json, json.slice(1));
      return { p: s.p, n: s.n, count: json[0] };
    },
  };
}
