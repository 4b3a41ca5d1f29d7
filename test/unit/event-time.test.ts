// Event-time rule: zoned ISO-8601 strings, epoch seconds below 1e11 and milliseconds above, numeric
// strings and Dates; everything ambiguous or implausible is a reason, not a guess.
import fc from 'fast-check';
import { checkEventTimeSkew, MAX_EVENT_TIME_MS, parseEventTime } from '../../functions/core/event-time';

const ms = (v: unknown): number => {
  const r = parseEventTime(v);
  if (!r.ok) throw new Error(`expected ${String(v)} to parse: ${r.reason}`);
  return r.ms;
};
const reason = (v: unknown): string => {
  const r = parseEventTime(v);
  if (r.ok) throw new Error(`expected ${String(v)} to be rejected, got ${r.ms}`);
  return r.reason;
};

const T = Date.UTC(2024, 4, 1, 12, 0, 0); // 2024-05-01T12:00:00Z

describe('parseEventTime: ISO-8601 strings', () => {
  it('accepts Z and numeric offsets', () => {
    expect(ms('2024-05-01T12:00:00Z')).toBe(T);
    expect(ms('2024-05-01T12:00:00.000z')).toBe(T);
    expect(ms('2024-05-01T14:00:00+02:00')).toBe(T);
    expect(ms('2024-05-01T06:30:00-0530')).toBe(T);
    expect(ms('2024-05-01T17:00:00+05')).toBe(T);
    expect(ms('2024-05-01T12:00:00-00:00')).toBe(T);
    expect(ms('2024-05-01 12:00:00Z')).toBe(T);
    expect(ms('2024-05-01T12:00Z')).toBe(T);
  });

  it('keeps milliseconds and truncates finer fractions', () => {
    expect(ms('2024-05-01T12:00:00.5Z')).toBe(T + 500);
    expect(ms('2024-05-01T12:00:00.123Z')).toBe(T + 123);
    expect(ms('2024-05-01T12:00:00.123999999Z')).toBe(T + 123);
    expect(ms('2024-05-01T12:00:00,25Z')).toBe(T + 250);
  });

  it('rejects a string without a zone, saying to add Z', () => {
    expect(reason('2024-05-01T12:00:00')).toMatch(/has no time zone.*add 'Z'/);
    expect(reason('2024-05-01 12:00:00.123')).toMatch(/add 'Z'/);
  });

  it('rejects a date without a time', () => {
    expect(reason('2024-05-01')).toBe(`event time "2024-05-01" is a date without a time or zone; write e.g. '2024-05-01T00:00:00Z'`);
  });

  it('rejects impossible dates and times', () => {
    expect(ms('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
    expect(reason('2023-02-29T00:00:00Z')).toMatch(/not a calendar date/);
    expect(reason('2100-02-29T00:00:00Z')).toMatch(/not a calendar date/);
    expect(reason('2024-13-01T00:00:00Z')).toMatch(/not a calendar date/);
    expect(reason('2024-04-31T00:00:00Z')).toMatch(/not a calendar date/);
    expect(reason('2024-05-01T24:00:00Z')).toMatch(/time of day out of range/);
    expect(reason('2024-05-01T23:59:60Z')).toMatch(/time of day out of range/);
    expect(reason('2024-05-01T12:00:00+24:00')).toMatch(/zone offset out of range/);
  });

  it('rejects other strings with a reason that shows the expected forms', () => {
    expect(reason('yesterday')).toMatch(/^event time "yesterday" is neither an ISO-8601 timestamp with a zone .* nor epoch/);
    expect(reason('Wed, 01 May 2024 12:00:00 GMT')).toMatch(/neither an ISO-8601/);
    expect(reason('')).toMatch(/neither an ISO-8601/);
    expect(reason('x'.repeat(1000)).length).toBeLessThan(250);
  });

  it('round-trips every instant from 1970 to 9999 through toISOString', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_EVENT_TIME_MS }), (t) => {
        expect(ms(new Date(t).toISOString())).toBe(t);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('parseEventTime: numbers', () => {
  it('treats |n| < 1e11 as seconds and larger as milliseconds', () => {
    expect(ms(1_700_000_000)).toBe(1_700_000_000_000);
    expect(ms(1_700_000_000_123)).toBe(1_700_000_000_123);
    expect(ms(99_999_999_999)).toBe(99_999_999_999_000); // seconds: year 5138
    expect(ms(1e11)).toBe(1e11); // milliseconds: 1973-03-03
    expect(new Date(ms(1e11)).toISOString()).toBe('1973-03-03T09:46:40.000Z');
    expect(ms(0)).toBe(0);
  });

  it('keeps fractional seconds to the millisecond and truncates fractional milliseconds', () => {
    expect(ms(1_700_000_000.5)).toBe(1_700_000_000_500);
    expect(ms(1_700_000_000.123)).toBe(1_700_000_000_123); // 1700000000.123 * 1000 = ...122.9998 in binary
    expect(ms(1_700_000_000.1239)).toBe(1_700_000_000_123);
    expect(ms(1_700_000_000_123.9)).toBe(1_700_000_000_123);
  });

  it('recovers the exact millisecond from seconds with three decimals', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e14 - 1 }), (t) => {
        expect(ms(t / 1000)).toBe(t);
        expect(ms(String(t / 1000))).toBe(t);
      }),
      { numRuns: 10_000 },
    );
  });

  it('accepts numeric strings by the same rule', () => {
    expect(ms('1700000000')).toBe(1_700_000_000_000);
    expect(ms('1700000000123')).toBe(1_700_000_000_123);
    expect(ms('1700000000.5')).toBe(1_700_000_000_500);
    expect(ms('1.7e9')).toBe(1_700_000_000_000);
    expect(reason('-1700000000')).toBe('event time before 1970-01-01 is not supported');
    expect(reason('1e400')).toMatch(/not a finite number/);
  });

  it('accepts Dates and bigints', () => {
    expect(ms(new Date(T))).toBe(T);
    expect(reason(new Date(Number.NaN))).toBe('event time is an invalid Date');
    expect(ms(1_700_000_000n)).toBe(1_700_000_000_000);
  });
});

describe('parseEventTime: rejections', () => {
  it('rejects times before 1970', () => {
    const before = 'event time before 1970-01-01 is not supported';
    expect(reason(-1)).toBe(before);
    expect(reason(-1_700_000_000_000)).toBe(before);
    expect(reason('1969-12-31T23:59:59.999Z')).toBe(before);
    expect(reason('1970-01-01T00:30:00+01:00')).toBe(before);
    expect(reason(new Date(-1))).toBe(before);
  });

  it('rejects times after year 9999', () => {
    expect(ms('9999-12-31T23:59:59.999Z')).toBe(MAX_EVENT_TIME_MS);
    expect(reason(MAX_EVENT_TIME_MS + 1)).toBe('event time after 9999-12-31 is not supported');
    expect(reason('9999-12-31T23:00:00-01:00')).toBe('event time after 9999-12-31 is not supported');
    expect(reason('+275760-09-13T00:00:00Z')).toMatch(/neither an ISO-8601/);
  });

  it('rejects non-finite numbers, booleans, objects and missing values', () => {
    expect(reason(Number.NaN)).toBe('event time NaN is not a finite number');
    expect(reason(Number.POSITIVE_INFINITY)).toBe('event time Infinity is not a finite number');
    expect(reason(true)).toBe('event time is a boolean, not a timestamp');
    expect(reason({ seconds: 1 })).toBe('event time is an object, not a timestamp');
    expect(reason([1_700_000_000])).toBe('event time is an array, not a timestamp');
    expect(reason(null)).toBe('event time is null');
    expect(reason(undefined)).toBe('event time is missing (undefined)');
    expect(reason(Symbol('t'))).toBe('event time is a symbol, not a timestamp');
  });

  it('never throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.string(), fc.double(), fc.date({ noInvalidDate: false })), (v) => {
        const r = parseEventTime(v);
        if (r.ok) expect(r.ms >= 0 && r.ms <= MAX_EVENT_TIME_MS && Number.isInteger(r.ms)).toBe(true);
        else expect(r.reason).toMatch(/^event time /);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('checkEventTimeSkew', () => {
  const now = Date.UTC(2026, 0, 1);

  it('describes an event too far ahead of the clock', () => {
    expect(checkEventTimeSkew(Date.UTC(2099, 0, 1), now, 3_600_000)).toBe(
      'event time 2099-01-01T00:00:00.000Z is 73 years ahead of the clock (allowed: 1h)',
    );
    expect(checkEventTimeSkew(now + 2 * 3_600_000, now, 300_000)).toBe(
      'event time 2026-01-01T02:00:00.000Z is 2 hours ahead of the clock (allowed: 5m)',
    );
    expect(checkEventTimeSkew(now + 1_001, now, 1_000)).toMatch(/is 1 second ahead/);
  });

  it('accepts events up to the allowance, and any event in the past', () => {
    expect(checkEventTimeSkew(now + 3_600_000, now, 3_600_000)).toBeUndefined();
    expect(checkEventTimeSkew(now, now, 0)).toBeUndefined();
    expect(checkEventTimeSkew(0, now, 0)).toBeUndefined();
    expect(checkEventTimeSkew(MAX_EVENT_TIME_MS, now, Number.POSITIVE_INFINITY)).toBeUndefined();
  });

  it('does not throw for instants Date cannot represent', () => {
    expect(checkEventTimeSkew(1e17, now, 0)).toMatch(/^event time 100000000000000000 ms since the epoch is 3168753 years ahead/);
  });
});
