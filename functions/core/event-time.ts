// Event-time parsing for whatever a job's `eventTime` extractor returns, and the future-skew guard.
// Windows are in event time, so an ambiguous or implausible timestamp is rejected with a reason
// rather than guessed at: a wrong guess would put the event in a wrong window silently.
import { formatDuration } from './duration';

export type EventTimeResult = { ok: true; ms: number } | { ok: false; reason: string };

/** |n| below this is epoch seconds, otherwise epoch milliseconds (1e11 s ≈ year 5138; 1e11 ms ≈ 1973-03-03). */
export const EPOCH_SECONDS_BELOW = 1e11;
/** 9999-12-31T23:59:59.999Z, the last instant with a four-digit year. */
export const MAX_EVENT_TIME_MS = 253_402_300_799_999;

const BEFORE_1970 = 'event time before 1970-01-01 is not supported';

// RFC 3339 / ISO-8601 extended format: date, 'T' (or a space, as RFC 3339 allows), hh:mm[:ss[.fff…]],
// then an optional zone so that its absence can be reported specifically.
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const NUMERIC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Parses an event time to epoch milliseconds (UTC). The rule:
 *
 * - **ISO-8601 / RFC 3339 strings** `YYYY-MM-DDThh:mm[:ss[.fraction]]<zone>` with an explicit zone,
 *   `Z` or `±hh:mm` (also `±hhmm`, `±hh`); a space may replace `T`. Digits past milliseconds are
 *   truncated. A string without a zone, or a date without a time, is ambiguous (whose midnight?) and
 *   is rejected, with a reason that says to add `Z`. Field ranges are checked (no Feb 30, no 24:00,
 *   no leap second 60).
 * - **Numbers** (finite): |n| < 1e11 is epoch **seconds**, otherwise epoch **milliseconds**. Fractional
 *   seconds are kept to the millisecond; fractional milliseconds are truncated.
 * - **Numeric strings** (`"1700000000"`, `"1700000000.5"`, `"1.7e12"`) follow the number rule.
 * - **Date** objects (valid ones) and **bigints** (by the number rule) are accepted.
 * - Rejected: anything before 1970-01-01 ("event time before 1970-01-01 is not supported"), after
 *   9999-12-31, NaN/Infinity, booleans, null/undefined, other objects and strings.
 *
 * Never throws.
 */
export function parseEventTime(value: unknown): EventTimeResult {
  switch (typeof value) {
    case 'number':
      return fromNumber(value, value);
    case 'string':
      return fromString(value);
    case 'bigint':
      return fromNumber(Number(value), value);
    case 'object':
      if (value === null) return { ok: false, reason: 'event time is null' };
      // toString tag rather than instanceof: Dates made in another realm (vm, worker) count too.
      if (Object.prototype.toString.call(value) === '[object Date]') {
        const ms = (value as Date).getTime();
        if (Number.isNaN(ms)) return { ok: false, reason: 'event time is an invalid Date' };
        return inRange(ms);
      }
      return { ok: false, reason: `event time is ${Array.isArray(value) ? 'an array' : 'an object'}, not a timestamp` };
    case 'undefined':
      return { ok: false, reason: 'event time is missing (undefined)' };
    default:
      return { ok: false, reason: `event time is a ${typeof value}, not a timestamp` };
  }
}

function fromNumber(n: number, original: unknown): EventTimeResult {
  if (!Number.isFinite(n)) return { ok: false, reason: `event time ${String(original)} is not a finite number` };
  if (n < 0) return { ok: false, reason: BEFORE_1970 };
  let ms: number;
  if (n < EPOCH_SECONDS_BELOW) {
    const exact = n * 1000;
    const rounded = Math.round(exact);
    // 1700000000.123 * 1000 is 1700000000122.9998 in binary floating point. A result within the
    // rounding error of the double (relative 2^-52, twice: the literal and the product; 2^-50 leaves a
    // margin) of a whole millisecond is that millisecond; otherwise truncate like ISO sub-ms digits.
    ms = Math.abs(exact - rounded) <= Math.max(1e-6, exact * 2 ** -50) ? rounded : Math.floor(exact);
  } else {
    ms = Math.floor(n);
  }
  return inRange(ms);
}

function fromString(s: string): EventTimeResult {
  const m = ISO.exec(s);
  if (m) return fromIsoMatch(s, m);
  if (NUMERIC.test(s)) return fromNumber(Number(s), JSON.stringify(s));
  const shown = show(s);
  if (DATE_ONLY.test(s)) {
    return { ok: false, reason: `event time ${shown} is a date without a time or zone; write e.g. '${s}T00:00:00Z'` };
  }
  return {
    ok: false,
    reason: `event time ${shown} is neither an ISO-8601 timestamp with a zone (e.g. '2024-05-01T12:00:00Z') nor epoch seconds/milliseconds`,
  };
}

function fromIsoMatch(s: string, m: RegExpExecArray): EventTimeResult {
  const [, ys, mos, ds, hs, mis, ss, frac, z, sign, oh, om] = m;
  if (z === undefined && sign === undefined) {
    return {
      ok: false,
      reason: `event time ${show(s)} has no time zone, so its instant is ambiguous; add 'Z' for UTC or an offset like '+02:00'`,
    };
  }
  const year = Number(ys);
  const month = Number(mos);
  const day = Number(ds);
  const hour = Number(hs);
  const minute = Number(mis);
  const second = ss === undefined ? 0 : Number(ss);
  const offH = oh === undefined ? 0 : Number(oh);
  const offM = om === undefined ? 0 : Number(om);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return { ok: false, reason: `event time ${show(s)} is not a calendar date` };
  }
  if (hour > 23 || minute > 59 || second > 59) {
    return { ok: false, reason: `event time ${show(s)} has a time of day out of range (00:00:00 to 23:59:59)` };
  }
  if (offH > 23 || offM > 59) {
    return { ok: false, reason: `event time ${show(s)} has a zone offset out of range` };
  }
  const millis = frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'));
  // Date.UTC maps years 0–99 to 1900–1999; setUTCFullYear does not.
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, millis);
  const offset = (sign === '-' ? -1 : 1) * (offH * 60 + offM) * 60_000;
  return inRange(d.getTime() - offset);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function inRange(ms: number): EventTimeResult {
  if (ms < 0) return { ok: false, reason: BEFORE_1970 };
  if (ms > MAX_EVENT_TIME_MS) return { ok: false, reason: 'event time after 9999-12-31 is not supported' };
  return { ok: true, ms };
}

function show(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 61)}...` : s);
}

const UNITS: readonly [string, number][] = [
  ['year', 365.25 * 86_400_000],
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1_000],
];

/** Roughly, in the largest unit that fits: '73 years', '2 hours', '1 second', '250 ms'. */
function humanSpan(ms: number): string {
  for (const [unit, size] of UNITS) {
    if (ms >= size) {
      const n = Math.round(ms / size);
      return `${n} ${unit}${n === 1 ? '' : 's'}`;
    }
  }
  return `${Math.round(ms)} ms`;
}

/**
 * Returns a rejection reason when the event claims to be further in the future than `maxFutureMs`
 * ahead of `nowMs` (a producer with a broken clock, or seconds mistaken for milliseconds upstream);
 * such an event would otherwise hold a window open or drag the watermark forward. Else undefined.
 */
export function checkEventTimeSkew(ms: number, nowMs: number, maxFutureMs: number): string | undefined {
  const ahead = ms - nowMs;
  if (!(ahead > maxFutureMs)) return undefined;
  const allowed = Number.isSafeInteger(maxFutureMs) && maxFutureMs >= 0 ? formatDuration(maxFutureMs) : `${maxFutureMs}ms`;
  // toISOString throws beyond ±8.64e15 ms; callers may pass any number.
  const when = Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${ms} ms since the epoch`;
  return `event time ${when} is ${humanSpan(ahead)} ahead of the clock (allowed: ${allowed})`;
}
