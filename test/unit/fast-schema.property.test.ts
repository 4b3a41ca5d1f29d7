// The mapper's compiled schema check (functions/core/fast-schema.ts) against zod itself: on
// generated events — valid ones, near misses at every bound, wrong types, extra and missing keys —
// whatever the fast path accepts zod accepts with a deep-equal output (same keys, same order), so
// routing an event through the fast path never changes what is counted or rejected. Also: the
// mapper's reject reasons are zod's, and schemas the compiler does not model fall back to zod.
import fc from 'fast-check';
import { z } from 'zod';
import { fastValidator, UNSURE } from '../../functions/core/fast-schema';
import { mapBatch } from '../../functions/core/mapper-batch';
import { Click, Post, SensorReading } from '../../events/schemas';
import sensorAverages from '../../jobs/sensor-averages';

// A schema exercising every construct the compiler models, with exclusive and inclusive bounds.
const Everything = z.object({
  id: z.string().min(2).max(5),
  exact: z.string().length(3).optional(),
  n: z.number().gt(-1).lt(1),
  k: z.number().int().nonnegative().optional(),
  flag: z.boolean(),
  kind: z.enum(['a', 'b']),
  lit: z.literal(7).optional(),
  maybe: z.string().nullable(),
  when: z.union([z.number(), z.string().min(1)]),
  nested: z.object({ x: z.number().min(0).max(10) }).optional(),
});

const SCHEMAS: [string, z.ZodType<unknown>][] = [
  ['SensorReading', SensorReading as z.ZodType<unknown>],
  ['Click', Click as z.ZodType<unknown>],
  ['Post', Post as z.ZodType<unknown>],
  ['Everything', Everything as z.ZodType<unknown>],
];

// Values near every bound used above, of every JSON type (doubles include -0 and huge magnitudes).
const scalar = fc.oneof(
  fc.constantFrom(-273.15, -273.16, -1, -0.999, 0, -0, 0.999, 1, 7, 10, 10.001, 100, 100.5, 1.5, 2 ** 53, 1e308, 'a', 'b', 'c', '', 'ab', 'abc', 'abcde', 'abcdef', 'x'.repeat(129), true, false, null),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.string({ maxLength: 8 }),
);
const jsonValue = fc.oneof({ depthSize: 'small' }, scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(fc.constantFrom('x', 'y'), scalar, { maxKeys: 2 }));
const KEYS = ['sensorId', 'ts', 'temperature', 'humidity', 'userId', 'page', 'dwellMs', 'postId', 'text', 'lang', 'id', 'exact', 'n', 'k', 'flag', 'kind', 'lit', 'maybe', 'when', 'nested', 'extra'];

/** Events as JSON.parse produces them: a valid sample with keys replaced, removed or added. */
const eventFor = (samples: unknown[]) =>
  fc.tuple(fc.constantFrom(...samples), fc.dictionary(fc.constantFrom(...KEYS), jsonValue, { maxKeys: 3 }), fc.subarray(KEYS, { maxLength: 2 })).map(([sample, changes, removed]) => {
    const event: Record<string, unknown> = { ...(sample as object), ...changes };
    for (const key of removed) delete event[key];
    return JSON.parse(JSON.stringify(event)) as unknown;
  });

const VALID: Record<string, unknown[]> = {
  SensorReading: [{ sensorId: 's-1', ts: 1_700_000_000_000, temperature: 21.5, humidity: 40 }, { sensorId: 's', ts: '2026-01-01T00:00:00Z', temperature: -3 }],
  Click: [{ userId: 'u', page: '/a', ts: 1_700_000_000, dwellMs: 5 }],
  Post: [{ postId: 'p', ts: 1, text: 'hi #x', lang: 'en' }],
  Everything: [{ id: 'abc', exact: 'xyz', n: 0.5, k: 3, flag: true, kind: 'a', lit: 7, maybe: null, when: 'now', nested: { x: 3 } }, { id: 'ab', n: -0.5, flag: false, kind: 'b', maybe: 's', when: 5 }],
};

describe('fast schema path agrees with zod', () => {
  test.each(SCHEMAS)('%s compiles', (_name, schema) => {
    expect(fastValidator(schema)).toBeDefined();
  });

  test.each(SCHEMAS)('%s: fast accept ⇒ zod accepts with the same output; the samples are accepted', (name, schema) => {
    const fast = fastValidator(schema)!;
    for (const sample of VALID[name]!) expect(fast(sample)).toEqual(schema.parse(sample));
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(eventFor(VALID[name]!), (event) => {
        const out = fast(event);
        const zod = schema.safeParse(event);
        if (out === UNSURE) {
          rejected++;
          // Unsure must mean zod rejects: the fast path models every construct of these schemas.
          expect(zod.success).toBe(false);
          return;
        }
        accepted++;
        expect(zod.success).toBe(true);
        expect(out).toStrictEqual(zod.data);
        expect(Object.keys(out as object)).toEqual(Object.keys(zod.data as object));
      }),
      { numRuns: 400 },
    );
    // The generator reaches both sides of the check.
    expect(accepted).toBeGreaterThan(10);
    expect(rejected).toBeGreaterThan(10);
  });

  test('constructs it does not model fall back to zod (no fast path)', () => {
    expect(fastValidator(z.object({ a: z.string().email() }))).toBeUndefined();
    expect(fastValidator(z.object({ a: z.number().refine((n) => n > 1) }))).toBeUndefined();
    expect(fastValidator(z.object({ a: z.string().default('x') }))).toBeUndefined();
    expect(fastValidator(z.strictObject({ a: z.string() }))).toBeUndefined();
    expect(fastValidator(z.object({ constructor: z.string().optional() }))).toBeUndefined();
    expect(fastValidator(z.object({ a: z.coerce.number() }))).toBeUndefined();
  });

  test("the mapper rejects with zod's reason and counts what zod accepts", () => {
    const nowMs = 1_700_000_400_000;
    const records = [
      { sensorId: 's-1', ts: nowMs - 1000, temperature: 20, humidity: 50, extra: 'dropped' },
      { sensorId: 's-1', ts: nowMs - 1000, temperature: -300 },
      { sensorId: '', ts: nowMs - 1000, temperature: 1 },
      { sensorId: 's-2', ts: nowMs - 1000, temperature: 1, humidity: 101 },
    ].map((event, i) => ({ shardId: 'shardId-0', sequenceNumber: String(100 + i), partitionKey: 'k', data: Buffer.from(JSON.stringify(event)), arrivalTime: nowMs }));
    const out = mapBatch(sensorAverages, 'shardId-0', records, { watermark: Number.NEGATIVE_INFINITY, nowMs });
    expect(out.stats.events).toBe(1);
    expect(out.rejected.map((r) => r.reason)).toEqual([
      'schema: temperature: temperature below absolute zero',
      'schema: sensorId: Too small: expected string to have >=1 characters',
      'schema: humidity: Too big: expected number to be <=100',
    ]);
  });
});
