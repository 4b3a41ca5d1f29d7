// topK(field, k): the k most frequent values, as a mergeable Misra–Gries / Space-Saving summary.
//
// Agarwal et al., "Mergeable Summaries" (PODS 2012) show Space-Saving and Misra–Gries summaries
// are isomorphic (one's counters determine the other's), and give the merge we use: add the
// counters of both summaries, then subtract the (C+1)-th largest count from every counter and drop
// those that reach 0. Single values are folded the same way in batches (prune only once the map
// holds 2C keys), which keeps add() amortised O(1) without a min-heap. Guarantees, for any split
// and merge tree:
//   true(x) − err ≤ count(x) ≤ true(x),   err ≤ (n − Σ counts) / (C + 1) ≤ n / (C + 1)
// so every value more frequent than n/(C+1) is kept. Reported counts are these guaranteed lower
// bounds; while no more than C distinct values have been seen nothing is pruned and they are exact.
import { decodeError, describeValue, isCount, requireFieldName, scalarKey, scalarReason } from './count';
import type { Aggregate, Json } from './types';

export interface TopKAcc {
  counts: Map<string, number>;
  /** Upper bound on how far any count (0 for absent values) is below the true count. */
  err: number;
}

export interface TopKEntry {
  value: string;
  count: number;
}

/** Longest value accepted (longer ones are rejected): bounds the encoded state. */
export const MAX_TOPK_VALUE_LENGTH = 128;
export const MAX_TOPK_K = 100;
export const MAX_TOPK_CAPACITY = 400;
// Per counter: a value of 128 characters escaped to ≤ 6 bytes each, quotes, a ≤ 16-digit count, commas.
const COUNTER_BYTES = 2 + 6 * MAX_TOPK_VALUE_LENGTH + 1 + 16 + 1;

let scratch = new Float64Array(256);

/** The (capacity+1)-th largest count, or 0 when there are no more than `capacity` counters. */
function threshold(counts: Map<string, number>, capacity: number): number {
  const size = counts.size;
  if (size <= capacity) return 0;
  if (scratch.length < size) scratch = new Float64Array(size * 2);
  let i = 0;
  for (const c of counts.values()) scratch[i++] = c;
  const sorted = scratch.subarray(0, size).sort();
  return sorted[size - capacity - 1] as number;
}

function prune(acc: TopKAcc, capacity: number): void {
  const cut = threshold(acc.counts, capacity);
  if (cut === 0) return;
  for (const [value, c] of acc.counts) {
    if (c <= cut) acc.counts.delete(value);
    else acc.counts.set(value, c - cut);
  }
  acc.err += cut;
}

function byCountThenValue(a: [string, number], b: [string, number]): number {
  return b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}

export interface TopKOptions {
  /** Counters kept (default max(64, 4k), at most 400): counts are within n/(capacity+1). */
  capacity?: number;
}

export function topK(field: string, k: number, options: TopKOptions = {}): Aggregate<TopKAcc, TopKEntry[]> {
  requireFieldName('topK(field, k)', field);
  const call = `topK('${field}', ${typeof k === 'number' ? k : describeValue(k)})`;
  if (!Number.isInteger(k) || k < 1 || k > MAX_TOPK_K) {
    throw new RangeError(`${call}: k must be a whole number from 1 to ${MAX_TOPK_K}, e.g. topK('${field}', 10)`);
  }
  const capacity = options.capacity ?? Math.max(64, 4 * k);
  if (!Number.isInteger(capacity) || capacity < k || capacity > MAX_TOPK_CAPACITY) {
    throw new RangeError(
      `${call}: capacity must be a whole number from k (${k}) to ${MAX_TOPK_CAPACITY}, got ${describeValue(capacity)}; omit it for the default`,
    );
  }
  const maxStateBytes = 32 + capacity * COUNTER_BYTES;
  return {
    kind: 'topK',
    field,
    stateSize: `≤ ${Math.ceil(maxStateBytes / 1024)} KiB (${capacity} counters of values ≤ ${MAX_TOPK_VALUE_LENGTH} characters); typically value length + ~6 B per counter`,
    maxStateBytes,
    relativeError: 1 / (capacity + 1),
    zero: () => ({ counts: new Map(), err: 0 }),
    check: (value) => scalarReason(field, value, MAX_TOPK_VALUE_LENGTH),
    add(acc, value) {
      if (value === null || value === undefined) return acc;
      const key = scalarKey(field, value, MAX_TOPK_VALUE_LENGTH);
      const counts = acc.counts;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      if (counts.size > 2 * capacity) prune(acc, capacity);
      return acc;
    },
    merge(a, b) {
      const counts = a.counts;
      for (const [value, c] of b.counts) counts.set(value, (counts.get(value) ?? 0) + c);
      a.err += b.err;
      if (counts.size > 2 * capacity) prune(a, capacity);
      return a;
    },
    result(acc) {
      // Pruning first would only lower counts by a common amount, so rank the unpruned counters.
      return [...acc.counts]
        .sort(byCountThenValue)
        .slice(0, k)
        .map(([value, count]) => ({ value, count }));
    },
    encode(acc): Json {
      const cut = threshold(acc.counts, capacity);
      const flat: Json[] = [];
      for (const [value, c] of [...acc.counts].sort(byCountThenValue)) {
        if (c <= cut) break;
        flat.push(value, c - cut);
      }
      return { e: acc.err + cut, c: flat };
    },
    decode(json) {
      const bad = (): Error => decodeError('topK', json, '{e: error bound, c: [value, count, ...]}');
      if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad();
      const { e, c } = json;
      if (!isCount(e) || !Array.isArray(c) || c.length % 2 !== 0) throw bad();
      const counts = new Map<string, number>();
      for (let i = 0; i < c.length; i += 2) {
        const value = c[i];
        const n = c[i + 1];
        if (typeof value !== 'string' || value.length > MAX_TOPK_VALUE_LENGTH || counts.has(value)) throw bad();
        if (!isCount(n) || n === 0) throw bad();
        counts.set(value, n);
      }
      const acc = { counts, err: e };
      prune(acc, capacity); // a state written with a larger capacity is still a valid summary once pruned
      return acc;
    },
  };
}
