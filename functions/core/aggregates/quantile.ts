// quantile(field, q): approximate quantiles with Datadog's DDSketch (@datadog/sketches-js),
// relative accuracy 1%: the result is within 1% of the value at rank ⌊q·(n−1)⌋ of the sorted values.
//
// The library does the per-value work (logarithmic key mapping, dense bin stores; accept() does not
// allocate except when a store grows). Three parts are done here instead:
// - merge: sketches-js 2.1.1's merge() drops the negative-value store (a bug of that release),
//   so bins are merged key by key through the stores' own add().
// - encoding: toProto() writes the whole padded bin array as 8-byte doubles (1.4 KB base64 for a
//   single value, 5.5 KB for a 400-bin span, and it drops min/max). We write JSON
//   {p, n: [first key, ...runs], z, lo, hi} per store, where a positive run entry is a bin count and
//   a negative one skips that many empty bins: ~2–5 B per occupied bin, no protobuf decode.
// - a bin limit: each store keeps at most 2048 bins (a 6·10^17 dynamic range at 1%); beyond that the
//   lowest-magnitude bins are folded into the lowest kept one, as Datadog's collapsing stores do.
//   The fold threshold only grows with the largest key, so folding early or late gives the same
//   bins: the state, and so the result, is a pure function of the values' keys — identical for any
//   split and merge order. Values with |x| < 2.2e-308 count as 0.
import { DDSketch } from '@datadog/sketches-js';
import { decodeError, describeValue, finiteReason, isCount, requireFieldName, requireFinite } from './count';
import type { Aggregate, Json } from './types';

export type QuantileAcc = DDSketch;
type Store = DDSketch['store'];

const RELATIVE_ACCURACY = 0.01;
export const BIN_LIMIT = 2048;
// Keys of finite doubles lie within ±log_γ(1.8e308) ≈ ±35 500.
const MAX_ABS_KEY = 40_000;
// Per store: "p":[key, up to 2048 entries of ≤ 16 digits (counts) or skips, commas]; plus z, lo, hi.
const MAX_STORE_BYTES = 6 + 7 + BIN_LIMIT * 17;
const MAX_QUANTILE_BYTES = 2 * MAX_STORE_BYTES + 3 * 30;

function newSketch(): DDSketch {
  return new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
}

/** Adds every bin of `from` into `into` (only the occupied key range is walked). */
function mergeStore(into: Store, from: Store): void {
  if (from.count === 0) return;
  const bins = from.bins;
  for (let key = from.minKey; key <= from.maxKey; key++) {
    const c = bins[key - from.offset] as number;
    if (c > 0) into.add(key, c);
  }
}

/** Folds bins below maxKey − BIN_LIMIT + 1 into that bin; returns the store to keep. */
function collapse(store: Store): Store {
  if (store.count === 0 || store.maxKey - store.minKey < BIN_LIMIT) return store;
  const floor = store.maxKey - BIN_LIMIT + 1;
  const out = newSketch().store;
  let folded = 0;
  for (let key = store.minKey; key <= store.maxKey; key++) {
    const c = store.bins[key - store.offset] as number;
    if (c === 0) continue;
    if (key < floor) folded += c;
    else {
      if (folded > 0) out.add(floor, folded);
      folded = 0;
      out.add(key, c);
    }
  }
  return out;
}

function normalise(acc: QuantileAcc): void {
  acc.store = collapse(acc.store);
  acc.negativeStore = collapse(acc.negativeStore);
}

/** The key of the bin holding the value of (0-based) index `index` in key order. */
function keyAtIndex(store: Store, index: number): number {
  let running = 0;
  for (let key = store.minKey; key <= store.maxKey; key++) {
    running += store.bins[key - store.offset] as number;
    if (running > index) return key;
  }
  return store.maxKey;
}

/** Value of index ⌊q·(n−1)⌋ in sorted order: negatives (by decreasing magnitude), zeros, positives. */
function valueAtQuantile(acc: QuantileAcc, q: number): number {
  const index = Math.floor(q * (acc.count - 1));
  const negatives = acc.negativeStore.count;
  let value: number;
  if (index < negatives) value = -acc.mapping.value(keyAtIndex(acc.negativeStore, negatives - 1 - index));
  else if (index < negatives + acc.zeroCount) value = 0;
  else value = acc.mapping.value(keyAtIndex(acc.store, index - negatives - acc.zeroCount));
  // The exact value lies in [min, max], so clamping can only bring the estimate closer.
  return Math.min(Math.max(value, acc.min), acc.max);
}

function encodeStore(store: Store): Json[] {
  const runs: Json[] = [];
  let skip = 0;
  for (let key = store.minKey; key <= store.maxKey; key++) {
    const c = store.bins[key - store.offset] as number;
    if (c === 0) {
      if (runs.length > 0) skip++;
      continue;
    }
    if (runs.length === 0) runs.push(key);
    else if (skip > 0) runs.push(-skip);
    skip = 0;
    runs.push(c);
  }
  return runs;
}

function decodeStore(json: Json, runs: Json | undefined, store: Store): void {
  if (runs === undefined) return;
  const bad = (): Error => decodeError('quantile', json, 'store runs [first key, count | -skip, ...]');
  if (!Array.isArray(runs) || runs.length === 1) throw bad();
  if (runs.length === 0) return;
  let key = runs[0];
  if (typeof key !== 'number' || !Number.isInteger(key) || Math.abs(key) > MAX_ABS_KEY) throw bad();
  for (let i = 1; i < runs.length; i++) {
    const entry = runs[i];
    if (typeof entry !== 'number' || !Number.isSafeInteger(entry) || entry === 0) throw bad();
    if (entry < 0) key -= entry;
    else store.add(key++, entry);
    if (key > MAX_ABS_KEY + 1) throw bad();
  }
}

function sketchQuantile(field: string, q: number): Aggregate<QuantileAcc, number | null> {
  requireFieldName('quantile(field, q)', field);
  if (typeof q !== 'number' || !(q > 0 && q < 1)) {
    throw new RangeError(
      `quantile('${field}', ${typeof q === 'number' ? q : describeValue(q)}): q must be strictly between 0 and 1, ` +
        `e.g. 0.95 for the 95th percentile; use min('${field}') or max('${field}') for the extremes`,
    );
  }
  return {
    kind: 'quantile',
    field,
    stateSize: '≤ 68 KiB (2 × 2048 bins); typically 2–5 B per occupied bin: ~30 B for one value, ~1.4 KiB for 100k values over 3 decades',
    maxStateBytes: MAX_QUANTILE_BYTES,
    relativeError: RELATIVE_ACCURACY,
    zero: newSketch,
    check: (value) => finiteReason(field, value),
    add(acc, value) {
      if (value === null || value === undefined) return acc;
      acc.accept(requireFinite(field, value) + 0); // + 0: -0 and 0 are the same for min/max
      return acc;
    },
    merge(a, b) {
      if (b.count === 0) return a;
      mergeStore(a.store, b.store);
      mergeStore(a.negativeStore, b.negativeStore);
      a.zeroCount += b.zeroCount;
      a.count += b.count;
      a.sum += b.sum;
      if (b.min < a.min) a.min = b.min;
      if (b.max > a.max) a.max = b.max;
      normalise(a);
      return a;
    },
    result(acc) {
      if (acc.count === 0) return null;
      normalise(acc);
      return valueAtQuantile(acc, q);
    },
    encode(acc): Json {
      if (acc.count === 0) return null;
      normalise(acc); // in place: folding is idempotent and does not change result()
      const out: { [key: string]: Json } = {};
      if (acc.store.count > 0) out.p = encodeStore(acc.store);
      if (acc.negativeStore.count > 0) out.n = encodeStore(acc.negativeStore);
      if (acc.zeroCount > 0) out.z = acc.zeroCount;
      out.lo = acc.min;
      out.hi = acc.max;
      return out;
    },
    decode(json) {
      const acc = newSketch();
      if (json === null) return acc;
      const bad = (): Error => decodeError('quantile', json, 'null or {p?, n?, z?, lo, hi}');
      if (typeof json !== 'object' || Array.isArray(json)) throw bad();
      const { p, n, z, lo, hi } = json;
      decodeStore(json, p, acc.store);
      decodeStore(json, n, acc.negativeStore);
      if (z !== undefined) {
        if (!isCount(z)) throw bad();
        acc.zeroCount = z;
      }
      acc.count = acc.store.count + acc.negativeStore.count + acc.zeroCount;
      if (typeof lo !== 'number' || typeof hi !== 'number' || !(lo <= hi) || lo - lo !== 0 || hi - hi !== 0 || acc.count === 0) {
        throw bad();
      }
      acc.min = lo;
      acc.max = hi;
      normalise(acc);
      return acc;
    },
  };
}

/**
 * Below this many values a quantile state is the values themselves (exact, and ~10× cheaper to
 * build than a sketch: most windows of most jobs hold few values per key). The sketch takes
 * over at the first value past it; a sketch's bins depend only on the values, so converting
 * early or late gives the same state, and results stay identical for any split and merge order.
 */
export const EXACT_QUANTILE_VALUES = 32;

/** Exact values while few, else a DDSketch. */
export interface HybridQuantileAcc {
  values: number[] | null;
  sketch: QuantileAcc | null;
}

export function quantile(field: string, q: number): Aggregate<HybridQuantileAcc, number | null> {
  const inner = sketchQuantile(field, q);
  const toSketch = (acc: HybridQuantileAcc): QuantileAcc => {
    if (!acc.sketch) {
      acc.sketch = inner.zero();
      for (const v of acc.values ?? []) acc.sketch.accept(v);
      acc.values = null;
    }
    return acc.sketch;
  };
  return {
    ...inner,
    stateSize: `${inner.stateSize}; up to ${EXACT_QUANTILE_VALUES} values kept exactly (≤ 25 B each)`,
    maxStateBytes: Math.max(inner.maxStateBytes, 2 + EXACT_QUANTILE_VALUES * 25),
    zero: () => ({ values: [], sketch: null }),
    add(acc, value) {
      if (value === null || value === undefined) return acc;
      const v = requireFinite(field, value) + 0;
      if (acc.values && acc.values.length < EXACT_QUANTILE_VALUES) acc.values.push(v);
      else toSketch(acc).accept(v);
      return acc;
    },
    merge(a, b) {
      if (b.values && a.values && a.values.length + b.values.length <= EXACT_QUANTILE_VALUES) {
        for (const v of b.values) a.values.push(v);
        return a;
      }
      const sketch = toSketch(a);
      if (b.values) for (const v of b.values) sketch.accept(v);
      else if (b.sketch) inner.merge(sketch, b.sketch);
      return a;
    },
    result(acc) {
      if (acc.sketch) return inner.result(acc.sketch);
      const values = acc.values ?? [];
      if (values.length === 0) return null;
      const sorted = [...values].sort((x, y) => x - y);
      return sorted[Math.floor(q * (sorted.length - 1))] as number;
    },
    encode(acc): Json {
      if (acc.sketch) return inner.encode(acc.sketch);
      const values = acc.values ?? [];
      // Sorted: the encoding is canonical, like the sketch's.
      return values.length === 0 ? null : { v: [...values].sort((x, y) => x - y) };
    },
    decode(json) {
      if (json !== null && typeof json === 'object' && !Array.isArray(json) && 'v' in json) {
        const values = json.v;
        if (!Array.isArray(values) || values.length > EXACT_QUANTILE_VALUES || !values.every((x) => typeof x === 'number' && Number.isFinite(x))) {
          throw decodeError('quantile', json, `{v: up to ${EXACT_QUANTILE_VALUES} finite numbers}`);
        }
        return { values: values as number[], sketch: null };
      }
      const sketch = inner.decode(json);
      return sketch.count === 0 ? { values: [], sketch: null } : { values: null, sketch };
    },
  };
}
