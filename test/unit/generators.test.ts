// The event generators behind `npm run produce`: deterministic given the seed, the statistical
// shapes the README promises (daily temperature cycle, Zipf hashtags with bursts, sessions with
// gaps), injected fractions within tolerance, and every injected record doing what its flag says
// (bad ones fail the mapper's decode or the job's schema; late ones are late for every job on
// the stream; duplicates repeat a sent record byte for byte).
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { parseEventTime } from '../../functions/core/event-time';
import type { Job } from '../../functions/core/job';
import { z } from 'zod';
import { sum } from '../../functions/core/aggregates';
import { defineJob } from '../../functions/core/job';
import { tumbling } from '../../functions/core/windows';
import { jobNames, jobs } from '../../jobs';
import {
  badPayload,
  clickGenerator,
  GENERATORS,
  generateRecords,
  HASHTAGS,
  lateOffsetMs,
  MAX_CLICK_GAP_MS,
  postGenerator,
  type ProducedRecord,
  sampleGenerator,
  type RecordOptions,
  sensorGenerator,
  sensorProfiles,
  SESSION_BREAK_MS,
  trendingBursts,
  type GeneratedEvent,
} from '../../scripts/lib/generators';

const END = Date.parse('2026-06-01T12:00:00Z');
const H = 3_600_000;

function all(it: Iterator<GeneratedEvent>): GeneratedEvent[] {
  const out: GeneratedEvent[] = [];
  for (let r = it.next(); !r.done; r = it.next()) out.push(r.value);
  return out;
}

function records(options: Partial<RecordOptions> & { job: string }): ProducedRecord[] {
  return [...generateRecords({ count: 2000, durationMs: H, endMs: END, seed: 1, maxDelayMs: 0, lateFraction: 0, duplicateFraction: 0, badFraction: 0, ...options })];
}

describe('determinism', () => {
  it.each(Object.keys(GENERATORS))('%s: the same seed gives the same bytes; another seed other bytes', (job) => {
    const options = { job, count: 500, lateFraction: 0.05, duplicateFraction: 0.05, badFraction: 0.05, maxDelayMs: 5_000 };
    const a = records({ ...options, seed: 3 });
    const b = records({ ...options, seed: 3 });
    const c = records({ ...options, seed: 4 });
    expect(a.map((r) => [r.partitionKey, r.data.toString('hex'), r.flag])).toEqual(b.map((r) => [r.partitionKey, r.data.toString('hex'), r.flag]));
    expect(a.map((r) => r.data.toString('hex'))).not.toEqual(c.map((r) => r.data.toString('hex')));
  });

  it('the count is exact and event times stay in [end − duration − max delay, end]', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(GENERATORS)), fc.integer({ min: 1, max: 400 }), fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 0, max: 60_000 }), (job, count, seed, maxDelayMs) => {
        const out = records({ job, count, seed, maxDelayMs });
        expect(out).toHaveLength(count);
        for (const r of out) {
          expect(r.flag).toBe('ok');
          expect(r.eventTime).toBeLessThanOrEqual(END);
          expect(r.eventTime).toBeGreaterThanOrEqual(END - H - maxDelayMs);
          expect((jobs[job] as Job).schema.safeParse(JSON.parse(r.data.toString())).success).toBe(true);
        }
      }),
      { numRuns: 30 },
    );
  });
});

describe('sensor readings', () => {
  it('follow each sensor’s daily cycle: hourly means peak near its peak hour, amplitude as configured', () => {
    const count = 4 * 24 * 60; // 4 sensors (sensorCount), one reading a minute each over a day
    const events = all(sensorGenerator.events({ count, startMs: END - 24 * H, endMs: END, seed: 9 }));
    const profiles = sensorProfiles(4, 9);
    for (const p of profiles) {
      const hourly = Array.from({ length: 24 }, () => ({ sum: 0, n: 0 }));
      for (const e of events.filter((x) => x.key === p.id)) {
        const h = hourly[new Date(e.timeMs).getUTCHours()] as { sum: number; n: number };
        h.sum += e.event.temperature as number;
        h.n++;
      }
      const means = hourly.map((h) => h.sum / h.n);
      const peak = means.indexOf(Math.max(...means));
      expect(Math.max(...means) - Math.min(...means)).toBeGreaterThan(1.6 * p.amplitude);
      expect(Math.min(Math.abs(peak + 0.5 - p.peakHour), 24 - Math.abs(peak + 0.5 - p.peakHour))).toBeLessThanOrEqual(2);
    }
  });

  it('leave humidity out of about 5% of readings (it is optional)', () => {
    const events = all(sensorGenerator.events({ count: 10_000, startMs: END - H, endMs: END, seed: 2 }));
    const missing = events.filter((e) => !('humidity' in e.event)).length / events.length;
    expect(missing).toBeGreaterThan(0.035);
    expect(missing).toBeLessThan(0.065);
  });
});

describe('posts', () => {
  const events = all(postGenerator.events({ count: 20_000, startMs: END - 2 * H, endMs: END, seed: 4 }));
  const bursts = trendingBursts(END - 2 * H, END, 4);
  const tagsOf = (e: GeneratedEvent) => [...String(e.event.text).matchAll(/#(\w+)/g)].map((m) => (m[1] as string).toLowerCase());

  it('draw hashtags from a Zipf(1.1) popularity: rank 1 about 10^1.1 ≈ 12.6× rank 10', () => {
    const counts = new Map<string, number>();
    for (const e of events) for (const t of tagsOf(e)) counts.set(t, (counts.get(t) ?? 0) + 1);
    const rank = (i: number) => counts.get(HASHTAGS[i] as string) ?? 0;
    expect(rank(0) / rank(9)).toBeGreaterThan(8);
    expect(rank(0) / rank(9)).toBeLessThan(19);
    expect(rank(0) / rank(1)).toBeGreaterThan(1.6);
    expect(rank(0) / rank(1)).toBeLessThan(2.8);
  });

  it('put a trending burst’s hashtag in about half the posts of its interval and rarely outside', () => {
    const b = bursts[0] as { hashtag: string; startMs: number; endMs: number };
    const inside = events.filter((e) => e.timeMs >= b.startMs && e.timeMs < b.endMs);
    const outside = events.filter((e) => (e.timeMs < b.startMs || e.timeMs >= b.endMs) && !bursts.slice(1).some((o) => o.hashtag === b.hashtag && e.timeMs >= o.startMs && e.timeMs < o.endMs));
    const share = (list: GeneratedEvent[]) => list.filter((e) => tagsOf(e).includes(b.hashtag)).length / list.length;
    expect(share(inside)).toBeGreaterThan(0.4);
    expect(share(outside)).toBeLessThan(0.02);
  });

  it('mix languages (en about half) and leave lang out of about 4% (job key und)', () => {
    const share = (lang: string | undefined) => events.filter((e) => e.event.lang === lang).length / events.length;
    expect(share('en')).toBeGreaterThan(0.46);
    expect(share('en')).toBeLessThan(0.54);
    expect(share(undefined)).toBeGreaterThan(0.025);
    expect(share(undefined)).toBeLessThan(0.055);
    expect(new Set(events.map((e) => e.key)).size).toBe(events.length); // postIds are unique
  });
});

describe('clicks', () => {
  it('come in sessions: per user consecutive clicks are ≤ 5 min apart (same session) or ≥ 35 min (a new one)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 50, max: 1500 }), fc.integer({ min: 0, max: 1e6 }), fc.constantFrom(H, 3 * H, 12 * H), (count, seed, span) => {
        const events = all(clickGenerator.events({ count, startMs: END - span, endMs: END, seed }));
        expect(events).toHaveLength(count);
        const byUser = new Map<string, number[]>();
        for (let i = 0; i < events.length; i++) {
          const e = events[i] as GeneratedEvent;
          if (i > 0) expect(e.timeMs).toBeGreaterThanOrEqual((events[i - 1] as GeneratedEvent).timeMs); // time order
          expect(e.timeMs).toBeLessThanOrEqual(END);
          byUser.set(e.key, [...(byUser.get(e.key) ?? []), e.timeMs]);
        }
        for (const times of byUser.values()) {
          for (let i = 1; i < times.length; i++) {
            const gap = (times[i] as number) - (times[i - 1] as number);
            expect(gap <= MAX_CLICK_GAP_MS || gap >= SESSION_BREAK_MS).toBe(true);
          }
        }
      }),
      { numRuns: 15 },
    );
  });

  it('have returning users with several sessions, and sessions of several clicks', () => {
    const events = all(clickGenerator.events({ count: 5000, startMs: END - 6 * H, endMs: END, seed: 8 }));
    const byUser = new Map<string, number[]>();
    for (const e of events) byUser.set(e.key, [...(byUser.get(e.key) ?? []), e.timeMs]);
    const sessions = [...byUser.values()].map((t) => 1 + t.slice(1).filter((x, i) => x - (t[i] as number) >= SESSION_BREAK_MS).length);
    const total = sessions.reduce((a, b) => a + b, 0);
    expect(sessions.some((s) => s >= 2)).toBe(true);
    expect(events.length / total).toBeGreaterThan(4); // mean session length ≈ 7 clicks
    expect(events.length / total).toBeLessThan(10);
  });
});

describe('injected records', () => {
  const options = { count: 20_000, lateFraction: 0.05, duplicateFraction: 0.03, badFraction: 0.02, maxDelayMs: 10_000 };

  it.each(Object.keys(GENERATORS))('%s: fractions within tolerance (±4 standard deviations)', (job) => {
    const out = records({ job, ...options });
    const share = (flag: string, p: number) => {
      const n = out.filter((r) => r.flag === flag).length;
      const sd = Math.sqrt(out.length * p * (1 - p));
      expect(Math.abs(n - out.length * p)).toBeLessThan(4 * sd);
    };
    share('late', options.lateFraction);
    share('duplicate', options.duplicateFraction);
    share('bad', options.badFraction);
  });

  it.each(Object.keys(GENERATORS))('%s: bad records fail the decode, UTF-8 check or schema; all five kinds occur', (job) => {
    const schema = (jobs[job] as Job).schema;
    const bad = records({ job, ...options }).filter((r) => r.flag === 'bad');
    expect(new Set(bad.map((r) => r.badKind))).toEqual(new Set(['malformed-json', 'wrong-type', 'missing-field', 'invalid-utf8', 'empty']));
    for (const r of bad) {
      let valid = r.data.length > 0 && isUtf8(r.data);
      if (valid) {
        try {
          const parsed = schema.safeParse(JSON.parse(r.data.toString('utf8')));
          // The schema takes any string as a time; the mapper then rejects what is not a time.
          valid = parsed.success && parseEventTime((jobs[job] as Job).eventTime(parsed.data)).ok;
        } catch {
          valid = false;
        }
      }
      expect({ kind: r.badKind, valid }).toEqual({ kind: r.badKind, valid: false });
    }
  });

  it.each(Object.keys(GENERATORS))('%s: late records are older than every window + lateness + out-of-orderness of the stream', (job) => {
    const out = records({ job, ...options });
    const definition = jobs[job] as Job;
    const lateBy = lateOffsetMs(job, options.maxDelayMs);
    for (const other of Object.values(jobs) as Job[]) {
      if (other.source !== definition.source) continue;
      const reach = other.window.type === 'session' ? other.window.gapMs : other.window.sizeMs;
      expect(lateBy).toBeGreaterThan(reach + other.allowedLatenessMs + other.outOfOrdernessMs + options.maxDelayMs);
    }
    // The next on-time record's event time bounds the late record's position in the stream.
    for (let i = 0; i < out.length; i++) {
      const r = out[i] as ProducedRecord;
      if (r.flag !== 'late') continue;
      const next = out.slice(i + 1).find((x) => x.flag === 'ok');
      if (next) expect(r.eventTime as number).toBeLessThanOrEqual((next.eventTime as number) + options.maxDelayMs - lateBy);
      expect(definition.schema.safeParse(JSON.parse(r.data.toString())).success).toBe(true);
    }
  });

  it('duplicates repeat an earlier sent record byte for byte, with its partition key', () => {
    const out = records({ job: 'clickstream', ...options });
    const byN = new Map(out.map((r) => [r.n, r]));
    const dups = out.filter((r) => r.flag === 'duplicate');
    expect(dups.length).toBeGreaterThan(100);
    for (const d of dups) {
      const original = byN.get(d.duplicateOf as number) as ProducedRecord;
      expect(original.n).toBeLessThan(d.n);
      expect(original.flag === 'ok' || original.flag === 'late').toBe(true);
      expect(d.data.equals(original.data)).toBe(true);
      expect(d.partitionKey).toBe(original.partitionKey);
    }
  });
});

describe('generators for any job', () => {
  it('every job in the registry has one (its event type’s, or one from its samples)', () => {
    expect(Object.keys(GENERATORS).sort()).toEqual(jobNames());
  });

  it('a job with samples but no event type of its own gets valid, time-ordered events and bad records its schema rejects', () => {
    const job = defineJob({
      name: 'orders',
      schema: z.object({ orderId: z.string(), placedAt: z.string(), amount: z.number() }),
      eventTime: (o) => o.placedAt,
      map: (o) => [[o.orderId, { amount: o.amount }]],
      window: tumbling('1m'),
      aggregates: { revenue: sum('amount') },
      samples: [
        { orderId: 'o-1', placedAt: '2026-01-01T00:00:00Z', amount: 3 },
        { orderId: 'o-2', placedAt: '2026-01-01T00:00:01Z', amount: 4 },
      ],
    });
    const generator = sampleGenerator(job)!;
    expect(generator).toMatchObject({ keyField: 'orderId', timeField: 'placedAt', timeFormat: 'iso' });
    expect(Object.keys(generator.wrongTypes).sort()).toEqual(['amount', 'orderId', 'placedAt']);
    const events = all(generator.events({ count: 50, startMs: END - H, endMs: END, seed: 1 }));
    expect(events).toHaveLength(50);
    for (const [i, e] of events.entries()) {
      expect(job.schema.safeParse(e.event).success).toBe(true);
      if (i > 0) expect(e.timeMs).toBeGreaterThanOrEqual(events[i - 1]!.timeMs);
    }
    for (const kind of ['wrong-type', 'missing-field'] as const) {
      const bad = badPayload(kind, { orderId: 'o-1', placedAt: '2026-01-01T00:00:00Z', amount: 3 }, generator, 0.5);
      expect(job.schema.safeParse(JSON.parse(bad.toString())).success).toBe(false);
    }
    expect(sampleGenerator(defineJob({ ...jobs['sensor-averages']!, name: 'no-samples', samples: [] } as never))).toBeUndefined();
  });
});
