// count(): the number of events in a window — plus the value checks every field aggregate shares
// (kept here, the dependency-free base aggregate, so the other aggregate modules import only this).
import type { Aggregate, Json } from './types';

/** A short, human-readable description of a rejected value for reject reasons: `string "abc"`, `NaN`. */
export function describeValue(value: unknown): string {
  if (typeof value === 'number') return Number.isFinite(value) ? `number ${value}` : String(value);
  if (typeof value === 'string') return `string ${preview(JSON.stringify(value))}`;
  if (typeof value === 'bigint') return `bigint ${value}n`;
  if (typeof value === 'boolean') return `boolean ${value}`;
  if (Array.isArray(value)) return `array ${safeJson(value)}`;
  if (typeof value === 'object' && value !== null) return `object ${safeJson(value)}`;
  return typeof value;
}

function safeJson(value: unknown): string {
  try {
    return preview(JSON.stringify(value) ?? '');
  } catch {
    return '(unserialisable)'; // cycles, bigint members
  }
}

function preview(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

// Hot paths avoid global lookups (Math.*, String, Number.*): under Jest's vm-context environment
// each costs ~0.7 µs, which made the property tests 100× slower; plain Node is unaffected.
//
// Each aggregate has a `reason(value)` (its check(): undefined when acceptable, else the reject
// reason; null/undefined are acceptable because they are skipped) and an add() that throws a
// TypeError with that same reason. Reasons are built only for bad values, so checks of good
// values allocate nothing.

/** The reject reason unless `value` is null/undefined or a finite number with |value| ≤ maxAbs. */
export function finiteReason(field: string, value: unknown, maxAbs = Infinity, what = ''): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number' && value - value === 0) {
    if (value <= maxAbs && value >= -maxAbs) return undefined;
    return `field '${field}' must be at most ${maxAbs.toPrecision(2)} in magnitude${what}, got ${describeValue(value)}`;
  }
  return `field '${field}' must be a finite number, got ${describeValue(value)}`;
}

/** Throws the reject reason unless `value` is a finite number (callers skip null/undefined first). */
export function requireFinite(field: string, value: unknown): number {
  if (typeof value === 'number' && value - value === 0) return value;
  throw new TypeError(finiteReason(field, value));
}

/** The reject reason for distinct/topK values: strings of ≤ maxLength, finite numbers, booleans. */
export function scalarReason(field: string, value: unknown, maxLength: number): string | undefined {
  if (value === null || value === undefined || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') {
    return value - value === 0 ? undefined : `field '${field}' must be a string, finite number or boolean, got ${describeValue(value)}`;
  }
  if (typeof value !== 'string') {
    return `field '${field}' must be a string, finite number or boolean, got ${describeValue(value)}`;
  }
  return value.length <= maxLength
    ? undefined
    : `field '${field}' is ${value.length} characters long, over the ${maxLength} allowed; map it to a shorter key (a prefix or a hash)`;
}

/**
 * The string key of a value for distinct/topK: strings as they are, finite numbers and booleans
 * stringified (so 1 and '1' are the same key). Longer strings are rejected to bound the state.
 */
export function scalarKey(field: string, value: unknown, maxLength: number): string {
  if (typeof value === 'string' && value.length <= maxLength) return value;
  const reason = scalarReason(field, value, maxLength);
  if (reason !== undefined) throw new TypeError(reason);
  return `${value as number | boolean}`;
}

/** Validates a factory's field argument, naming the call that is wrong. */
export function requireFieldName(call: string, field: unknown): string {
  if (typeof field !== 'string' || field.length === 0) {
    throw new TypeError(`${call}: field must be the non-empty name of a mapped value, got ${describeValue(field)}`);
  }
  return field;
}

/** The error thrown by decode() for state that this aggregate did not encode. */
export function decodeError(kind: string, json: unknown, expected: string): Error {
  return new Error(`${kind}: cannot decode state ${safeJson(json)}: expected ${expected}`);
}

export function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

export interface CountAcc {
  n: number;
}

export function count(): Aggregate<CountAcc, number> {
  return {
    kind: 'count',
    stateSize: '≤ 16 B',
    maxStateBytes: 16, // a safe integer: at most 16 digits
    relativeError: 0,
    zero: () => ({ n: 0 }),
    check: () => undefined,
    add(acc) {
      acc.n++;
      return acc;
    },
    merge(a, b) {
      a.n += b.n;
      return a;
    },
    result: (acc) => acc.n,
    encode: (acc) => acc.n,
    decode(json: Json) {
      if (!isCount(json)) throw decodeError('count', json, 'a non-negative integer');
      return { n: json };
    },
  };
}
