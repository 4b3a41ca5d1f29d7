// The bad-input catalogue: every kind of bad record a producer can put on the input
// stream, sent between good records through the REAL mapper, reducer and closer handlers on the
// emulators. For each one: the bad record lands in rejected/ (or late/) with a specific reason and
// its own shard and sequence number; the good records around it are counted exactly; and nothing
// stalls — one mapper invocation per shard per batch, no batch item failures, no exception.
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { encodeAggregate } from '../../functions/core/kpl';
import type { Job } from '../../functions/core/job';
import { REJECTED_PAYLOAD_MAX_BYTES } from '../../functions/core/output-records';
import sensorAverages from '../../jobs/sensor-averages';
import { PipelineHarness } from '../support/pipeline-harness';

jest.setTimeout(120_000);

const job: Job = sensorAverages;
const WINDOW = 300_000;
// Three hours back, window-aligned: every good event is well inside the 1h future-skew guard.
const START = Math.floor((Date.now() - 3 * 3_600_000) / WINDOW) * WINDOW;

/** What goes on the stream: a JSON-able event, a text payload, or raw bytes. */
type Payload = Buffer | string | Record<string, unknown>;
type Row = Record<string, unknown>;

interface Sent {
  data: Buffer;
  partitionKey: string;
  shardId: string;
  sequenceNumber: string;
}

function bytesOf(p: Payload): Buffer {
  return Buffer.isBuffer(p) ? p : Buffer.from(typeof p === 'string' ? p : JSON.stringify(p), 'utf8');
}

/** A valid reading; `i` picks one of four sensors, `atMs` its event time. */
function reading(i: number, atMs: number): { sensorId: string; ts: number; temperature: number; humidity: number } {
  return { sensorId: `sensor-${i % 4}`, ts: atMs, temperature: 15 + (i % 9), humidity: 40 + (i % 20) };
}

/** `n` good readings spread over [fromMs, fromMs + spanMs). */
function goodReadings(n: number, fromMs = START, spanMs = 20 * 60_000): ReturnType<typeof reading>[] {
  return Array.from({ length: n }, (_, i) => reading(i, fromMs + Math.floor((i / n) * spanMs)));
}

/** Good payloads with special ones spliced in at evenly spread positions (so each sits between good ones). */
function interleave(good: readonly Payload[], special: readonly Payload[]): { payloads: Payload[]; badIndexes: number[] } {
  const slots: { payload: Payload; special: number }[] = good.map((payload) => ({ payload, special: -1 }));
  special.forEach((payload, j) => slots.splice(Math.floor(((j + 1) * slots.length) / (special.length + 1)), 0, { payload, special: j }));
  const badIndexes = special.map((_, j) => slots.findIndex((s) => s.special === j));
  return { payloads: slots.map((s) => s.payload), badIndexes };
}

/** PutRecords through the harness' client, keeping where each record landed (shard, sequence number). */
async function put(h: PipelineHarness, payloads: readonly Payload[], keyOf: (i: number) => string = (i) => `pk-${i}`): Promise<Sent[]> {
  const sent: Sent[] = [];
  for (let i = 0; i < payloads.length; i += 100) {
    const chunk = payloads.slice(i, i + 100).map((p, j) => ({ Data: bytesOf(p), PartitionKey: keyOf(i + j) }));
    const response = await h.clients.kinesis.send(new PutRecordsCommand({ StreamName: h.names.input, Records: chunk }));
    if (response.FailedRecordCount) throw new Error(`PutRecords: ${response.FailedRecordCount} records failed: ${JSON.stringify(response.Records?.find((r) => r.ErrorCode))}`);
    chunk.forEach((c, j) => {
      const r = response.Records?.[j];
      sent.push({ data: c.Data, partitionKey: c.PartitionKey, shardId: String(r?.ShardId), sequenceNumber: String(r?.SequenceNumber) });
    });
  }
  return sent;
}

interface Delivery {
  mapperInvocations: number;
  reducerInvocations: number;
  /** Exceptions thrown by a handler (each one would be a Lambda retry). */
  errors: unknown[];
  /** Batch item failures reported by a handler (each one would be a redelivery). */
  itemFailures: string[];
}

/**
 * Map everything, then reduce everything, like an ESM with large batches. A handler that throws
 * would be redelivered by the harness: `maxInvocations` keeps a poison record from looping forever
 * so that the test can report the stall instead of timing out.
 */
async function deliverAll(h: PipelineHarness): Promise<Delivery> {
  const errors: unknown[] = [];
  const itemFailures: string[] = [];
  const watch = async (_event: KinesisStreamEvent, invoke: () => Promise<KinesisStreamBatchResponse>): Promise<KinesisStreamBatchResponse> => {
    try {
      const response = await invoke();
      itemFailures.push(...response.batchItemFailures.map((f) => f.itemIdentifier));
      return response;
    } catch (error) {
      errors.push(error);
      throw error;
    }
  };
  // Counted by the harness itself: every delivery, retries included.
  const before = { ...h.invocations };
  await h.pump('mapper', { batchSize: 10_000, maxInvocations: 12, intercept: watch });
  await h.pump('reducer', { batchSize: 10_000, maxInvocations: 12, intercept: watch });
  return { mapperInvocations: h.invocations.mapper - before.mapper, reducerInvocations: h.invocations.reducer - before.reducer, errors, itemFailures };
}

/** One mapper invocation per shard that received records, one reducer invocation, nothing failed. */
function expectNoStall(delivery: Delivery, sent: readonly Sent[]): void {
  expect(delivery.errors.map(String)).toEqual([]);
  expect(delivery.itemFailures).toEqual([]);
  expect(delivery.mapperInvocations).toBe(new Set(sent.map((s) => s.shardId)).size);
  expect(delivery.reducerInvocations).toBe(1); // one shuffle shard, one batch
}

/** Event count per `key|windowStart ms` of readings (already-valid ones: the oracle is trivial on purpose). */
function expectedCounts(readings: readonly { sensorId: string; instantMs: number }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of readings) {
    const id = `${r.sensorId}|${Math.floor(r.instantMs / WINDOW) * WINDOW}`;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

function countsOf(results: readonly Row[]): Map<string, number> {
  return new Map(results.map((r) => [`${String(r.key)}|${Date.parse(String(r.windowStart))}`, Number(r.count)]));
}

function asGood(readings: readonly ReturnType<typeof reading>[]): { sensorId: string; instantMs: number }[] {
  return readings.map((r) => ({ sensorId: r.sensorId, instantMs: r.ts }));
}

/** The rejected/ rows for the given sent records, in sent order; fails if any is missing or extra. */
async function rejectedFor(h: PipelineHarness, bad: readonly Sent[]): Promise<Row[]> {
  const rows = await h.output('rejected');
  expect(rows).toHaveLength(bad.length);
  return bad.map((s) => {
    const row = rows.find((r) => r.sequenceNumber === s.sequenceNumber);
    if (!row) throw new Error(`no rejected/ row for record ${s.sequenceNumber}`);
    expect(row).toMatchObject({ job: job.name, shardId: s.shardId, partitionKey: s.partitionKey, subSequenceNumber: 0 });
    return row;
  });
}

async function withHarness(fn: (h: PipelineHarness) => Promise<void>): Promise<void> {
  const h = await new PipelineHarness({ job, inputShards: 2, shuffleBuckets: 4 }).start();
  try {
    await fn(h);
  } finally {
    await h.stop();
  }
}

interface Counted {
  payload: Payload;
  sensorId: string;
  /** The instant the payload's timestamp means (its window is where it must be counted). */
  instantMs: number;
}

interface CaseOutcome {
  /** rejected/ rows of the `rejected` payloads, in their order. */
  rows: Row[];
  results: Row[];
  sent: Sent[];
}

/**
 * The common shape of a case: good readings with the case's payloads spread between them, one
 * batch per shard. Checks the no-stall rules, that nothing went to late/, and that exactly the
 * good readings plus `counted` were counted; returns the rejected/ rows of `rejected`.
 */
async function runCase(h: PipelineHarness, c: { rejected: readonly Payload[]; counted?: readonly Counted[]; good?: number }): Promise<CaseOutcome> {
  const good = goodReadings(c.good ?? 40);
  const counted = c.counted ?? [];
  const special = [...c.rejected, ...counted.map((x) => x.payload)];
  const { payloads, badIndexes } = interleave(good, special);
  const sent = await put(h, payloads);
  expectNoStall(await deliverAll(h), sent);
  await h.closer({ drain: true });
  const results = await h.results();
  expect(countsOf(results)).toEqual(expectedCounts([...asGood(good), ...counted]));
  expect(await h.output('late')).toEqual([]);
  const rows = await rejectedFor(h, badIndexes.slice(0, c.rejected.length).map((i) => sent[i] as Sent));
  return { rows, results, sent };
}

function payloadOf(row: Row): Buffer {
  return Buffer.from(String(row.payload), 'base64');
}


/** A KPL aggregate (magic + protobuf + MD5) around an arbitrary protobuf body: a valid MD5 over a malformed message. */
function kplAround(body: Buffer): Buffer {
  const magic = Buffer.from([0xf3, 0x89, 0x9a, 0xc2]);
  return Buffer.concat([magic, body, createHash('md5').update(body).digest()]);
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('bad-input catalogue: each bad record is rejected with its reason; nothing stalls', () => {
  it('malformed JSON', async () => {
    await withHarness(async (h) => {
      const bad = ['{"sensorId":"s1","ts":1700000000000,', '{sensorId: "s1"}', '{"sensorId":"s1"}}', "{'sensorId':'s1'}", '{"a":1,}'];
      const { rows } = await runCase(h, { rejected: bad });
      expect(rows.map((r) => r.reason)).toEqual([
        expect.stringMatching(/^payload is not JSON: Expected double-quoted property name in JSON at position 36/),
        expect.stringMatching(/^payload is not JSON: Expected property name or '}' in JSON at position 1/),
        expect.stringMatching(/^payload is not JSON: Unexpected non-whitespace character after JSON at position 17/),
        expect.stringMatching(/^payload is not JSON: Expected property name or '}' in JSON at position 1/),
        expect.stringMatching(/^payload is not JSON: Expected double-quoted property name in JSON at position 7/),
      ] as unknown[]);
      // The raw bytes, intact, with their size and digest.
      rows.forEach((row, i) => {
        const raw = Buffer.from(bad[i] as string);
        expect(payloadOf(row)).toEqual(raw);
        expect(row).toMatchObject({ payloadBytes: raw.length, payloadTruncated: false, payloadSha256: sha256(raw) });
      });
    });
  });

  it('JSON that is not an object', async () => {
    await withHarness(async (h) => {
      const { rows } = await runCase(h, { rejected: ['[1,2,3]', 'null', '42', '"sensor-1"', 'true'] });
      expect(rows.map((r) => r.reason)).toEqual([
        'payload is JSON but not an object (got array)',
        'payload is JSON but not an object (got null)',
        'payload is JSON but not an object (got number)',
        'payload is JSON but not an object (got string)',
        'payload is JSON but not an object (got boolean)',
      ]);
    });
  });

  it('wrong types', async () => {
    await withHarness(async (h) => {
      const t = START + 60_000;
      const { rows } = await runCase(h, {
        rejected: [
          { sensorId: 's1', ts: t, temperature: 'hot' },
          { sensorId: 's1', ts: t, temperature: '20.5' }, // a numeric string is still a string
          { sensorId: 42, ts: t, temperature: 20 },
          { sensorId: 's1', ts: t, temperature: 20, humidity: '40%' },
          { sensorId: 's1', ts: t, temperature: -300 },
          { sensorId: 's1', ts: t, temperature: 20, humidity: 101 },
          { sensorId: ['s1'], ts: t, temperature: 20 },
          { sensorId: 's1', ts: { ms: t }, temperature: 20 },
          { sensorId: '', ts: t, temperature: 20 },
        ],
      });
      expect(rows.map((r) => r.reason)).toEqual([
        'schema: temperature: Invalid input: expected number, received string',
        'schema: temperature: Invalid input: expected number, received string',
        'schema: sensorId: Invalid input: expected string, received number',
        'schema: humidity: Invalid input: expected number, received string',
        'schema: temperature: temperature below absolute zero',
        'schema: humidity: Too big: expected number to be <=100',
        'schema: sensorId: Invalid input: expected string, received array',
        'schema: ts: Invalid input',
        'schema: sensorId: Too small: expected string to have >=1 characters',
      ]);
    });
  });

  it('missing fields (an inherited one does not count; optional humidity may be missing)', async () => {
    await withHarness(async (h) => {
      const t = START + 60_000;
      const { rows } = await runCase(h, {
        rejected: [
          { ts: t, temperature: 20 },
          { sensorId: 's1', temperature: 20 },
          { sensorId: 's1', ts: t },
          { sensorId: 's1', ts: t, temperature: null },
          {},
          // JSON.parse makes "__proto__" an own property, not the prototype: no temperature here.
          `{"__proto__":{"temperature":20},"sensorId":"s1","ts":${t}}`,
        ],
        counted: [{ payload: { sensorId: 'no-humidity', ts: t, temperature: 20 }, sensorId: 'no-humidity', instantMs: t }],
      });
      expect(rows.map((r) => r.reason)).toEqual([
        'schema: sensorId: Invalid input: expected string, received undefined',
        'schema: ts: Invalid input',
        'schema: temperature: Invalid input: expected number, received undefined',
        'schema: temperature: Invalid input: expected number, received null',
        'schema: sensorId: Invalid input: expected string, received undefined; ts: Invalid input; temperature: Invalid input: expected number, received undefined',
        'schema: temperature: Invalid input: expected number, received undefined',
      ]);
    });
  });

  it('NaN, Infinity, 1e400 and 1e308 are rejected; -0, 9e288 (twice) and 5e-324 count exactly', async () => {
    await withHarness(async (h) => {
      const t = START + 60_000;
      const { rows, results } = await runCase(h, {
        rejected: [
          `{"sensorId":"s1","ts":${t},"temperature":NaN}`,
          `{"sensorId":"s1","ts":${t},"temperature":Infinity}`,
          `{"sensorId":"s1","ts":${t},"temperature":1e400}`, // JSON.parse → Infinity
          `{"sensorId":"s1","ts":${t},"temperature":-1e400}`,
          `{"sensorId":"s1","ts":${t},"temperature":20,"humidity":1e400}`,
          `{"sensorId":"s1","ts":1e400,"temperature":20}`,
          `{"sensorId":"s1","ts":${t},"temperature":1e308}`, // finite, but beyond what the exact sum accepts
          `{"sensorId":"s1","ts":1e308,"temperature":20}`,
        ],
        counted: [
          { payload: `{"sensorId":"minus-zero","ts":${t},"temperature":-0,"humidity":-0}`, sensorId: 'minus-zero', instantMs: t },
          { payload: `{"sensorId":"huge-ok","ts":${t},"temperature":9e288}`, sensorId: 'huge-ok', instantMs: t },
          { payload: `{"sensorId":"huge-ok","ts":${t},"temperature":9e288}`, sensorId: 'huge-ok', instantMs: t },
          { payload: `{"sensorId":"tiny","ts":${t},"temperature":5e-324}`, sensorId: 'tiny', instantMs: t },
        ],
      });
      expect(rows.map((r) => r.reason)).toEqual([
        expect.stringMatching(/^payload is not JSON: Unexpected token 'N'/),
        expect.stringMatching(/^payload is not JSON: Unexpected token 'I'/),
        'schema: temperature: Invalid input: expected number, received Infinity',
        'schema: temperature: Invalid input: expected number, received -Infinity',
        'schema: humidity: Invalid input: expected number, received Infinity',
        'schema: ts: Invalid input',
        "temperature_avg: field 'temperature' must be at most 9.7e+288 in magnitude (2^960) to be summed exactly, got number 1e+308",
        'event time: event time after 9999-12-31 is not supported',
      ] as unknown[]);
      const byKey = new Map(results.map((r) => [String(r.key), r]));
      expect(byKey.get('minus-zero')).toMatchObject({ count: 1, temperature_avg: 0, temperature_min: 0, humidity_avg: 0 });
      expect(byKey.get('huge-ok')).toMatchObject({ count: 2, temperature_avg: 9e288, temperature_max: 9e288 }); // sum 1.8e289 stays finite
      expect(byKey.get('tiny')).toMatchObject({ count: 1, temperature_avg: 5e-324 });
    });
  });

  it('timestamps as epoch seconds, milliseconds, numeric strings and ISO-8601 count in the right window; garbage is rejected', async () => {
    await withHarness(async (h) => {
      const lastMsOfW0 = START + WINDOW - 1; // 1 ms before a window boundary
      const boundary = START + WINDOW; // exactly the next window's start
      const mid = START + 2 * WINDOW + 123_456;
      const iso = (ms: number) => new Date(ms).toISOString();
      const at2h = (ms: number) => `${new Date(ms + 2 * 3_600_000).toISOString().slice(0, 23)}+02:00`;
      const formats: [string, unknown, number][] = [
        ['millis', lastMsOfW0, lastMsOfW0],
        ['millis', boundary, boundary],
        ['seconds', Math.floor(mid / 1000), Math.floor(mid / 1000) * 1000],
        ['seconds', lastMsOfW0 / 1000, lastMsOfW0], // fractional seconds, kept to the millisecond
        ['seconds', boundary / 1000, boundary],
        ['numeric-string', String(mid), mid],
        ['numeric-string', String(boundary / 1000), boundary],
        ['iso-z', iso(lastMsOfW0), lastMsOfW0],
        ['iso-z', iso(boundary), boundary],
        ['iso-offset', at2h(lastMsOfW0), lastMsOfW0],
        ['iso-offset', at2h(boundary), boundary],
        ['iso-space', iso(mid).replace('T', ' '), mid],
        ['iso-micros', `${iso(lastMsOfW0).slice(0, 23)}999Z`, lastMsOfW0], // digits past the ms are truncated
      ];
      const { rows } = await runCase(h, {
        rejected: [
          { sensorId: 's1', ts: 'yesterday', temperature: 20 },
          { sensorId: 's1', ts: iso(mid).slice(0, 19), temperature: 20 }, // no zone
          { sensorId: 's1', ts: iso(mid).slice(0, 10), temperature: 20 }, // a date, no time
          { sensorId: 's1', ts: '2026-02-30T00:00:00Z', temperature: 20 },
          { sensorId: 's1', ts: '2026-01-01T24:00:00Z', temperature: 20 },
          { sensorId: 's1', ts: '', temperature: 20 },
          { sensorId: 's1', ts: true, temperature: 20 },
          { sensorId: 's1', ts: 'x'.repeat(65), temperature: 20 },
        ],
        counted: formats.map(([sensorId, ts, instantMs]) => ({ payload: { sensorId, ts, temperature: 20 }, sensorId, instantMs })),
      });
      expect(rows.map((r) => r.reason)).toEqual([
        `event time: event time "yesterday" is neither an ISO-8601 timestamp with a zone (e.g. '2024-05-01T12:00:00Z') nor epoch seconds/milliseconds`,
        expect.stringMatching(/^event time: event time ".*" has no time zone, so its instant is ambiguous; add 'Z' for UTC/),
        expect.stringMatching(/^event time: event time ".*" is a date without a time or zone; write e\.g\. '.*T00:00:00Z'$/),
        'event time: event time "2026-02-30T00:00:00Z" is not a calendar date',
        'event time: event time "2026-01-01T24:00:00Z" has a time of day out of range (00:00:00 to 23:59:59)',
        'schema: ts: Too small: expected string to have >=1 characters',
        'schema: ts: Invalid input',
        'schema: ts: Too big: expected string to have <=64 characters',
      ] as unknown[]);
    });
  });

  it('far future: beyond the 1h maxFutureSkew is rejected (ms, s or ISO); 30 minutes ahead is counted', async () => {
    await withHarness(async (h) => {
      const now = Date.now();
      const soon = now + 30 * 60_000;
      const { rows } = await runCase(h, {
        rejected: [
          { sensorId: 's1', ts: now + 2 * 3_600_000, temperature: 20 },
          { sensorId: 's1', ts: Math.floor((now + 3 * 86_400_000) / 1000), temperature: 20 },
          { sensorId: 's1', ts: '2999-01-01T00:00:00Z', temperature: 20 },
          { sensorId: 's1', ts: '10000-01-01T00:00:00Z', temperature: 20 }, // five-digit year: not ISO
        ],
        counted: [{ payload: { sensorId: 'soon', ts: soon, temperature: 20 }, sensorId: 'soon', instantMs: soon }],
      });
      expect(rows.map((r) => r.reason)).toEqual([
        expect.stringMatching(/^event time: event time \S+Z is 2 hours ahead of the clock \(allowed: 1h\)$/),
        expect.stringMatching(/^event time: event time \S+Z is 3 days ahead of the clock \(allowed: 1h\)$/),
        expect.stringMatching(/^event time: event time 2999-01-01T00:00:00\.000Z is 97\d years ahead of the clock \(allowed: 1h\)$/),
        expect.stringMatching(/^event time: event time "10000-01-01T00:00:00Z" is neither an ISO-8601 timestamp/),
      ] as unknown[]);
    });
  });

  it('far past: before 1970 is rejected; year 2000, 1970 and a closed window are late, not counted', async () => {
    await withHarness(async (h) => {
      // Phase 1 moves the watermark to about START + 19 min on both shards.
      const first = goodReadings(40);
      const sentFirst = await put(h, first);
      expectNoStall(await deliverAll(h), sentFirst);
      // Phase 2: the past, between good readings for the still-open window [15 min, 20 min).
      const y2000 = Date.UTC(2000, 0, 1, 12, 0, 0);
      const rejected: Payload[] = [
        { sensorId: 's1', ts: -1, temperature: 20 },
        { sensorId: 's1', ts: '1969-12-31T23:59:59Z', temperature: 20 },
        { sensorId: 's1', ts: -86_400, temperature: 20 }, // negative epoch seconds
      ];
      const late: { payload: Payload; windowStart: number }[] = [
        { payload: { sensorId: 'y2000', ts: y2000, temperature: 20 }, windowStart: y2000 },
        { payload: { sensorId: 'y2000', ts: new Date(y2000).toISOString(), temperature: 20 }, windowStart: y2000 },
        { payload: { sensorId: 'y2000', ts: y2000 / 1000, temperature: 20 }, windowStart: y2000 },
        { payload: { sensorId: 'epoch', ts: 0, temperature: 20 }, windowStart: 0 },
        { payload: { sensorId: 'sensor-1', ts: START + 60_000, temperature: 20 }, windowStart: START },
      ];
      const second = goodReadings(20, START + 19 * 60_000, 60_000);
      const { payloads, badIndexes } = interleave(second, [...rejected, ...late.map((l) => l.payload)]);
      const sent = await put(h, payloads);
      expectNoStall(await deliverAll(h), sent);
      await h.closer({ drain: true });

      expect(countsOf(await h.results())).toEqual(expectedCounts(asGood([...first, ...second])));
      const rows = await rejectedFor(h, badIndexes.slice(0, rejected.length).map((i) => sent[i] as Sent));
      expect(rows.map((r) => r.reason)).toEqual(Array(3).fill('event time: event time before 1970-01-01 is not supported'));
      const lateRows = await h.output('late');
      expect(lateRows).toHaveLength(late.length);
      late.forEach((l, j) => {
        const s = sent[badIndexes[rejected.length + j] as number] as Sent;
        const row = lateRows.find((r) => r.sequenceNumber === s.sequenceNumber);
        expect(row).toMatchObject({ kind: 'event', shardId: s.shardId, windowStart: new Date(l.windowStart - (l.windowStart % WINDOW)).toISOString() });
        expect(String(row?.reason)).toMatch(/^window \[.*\) closed at .* \(end \+ allowed lateness 120000ms\); watermark is /);
      });
    });
  });

  it('empty and whitespace-only payloads', async () => {
    await withHarness(async (h) => {
      const { rows } = await runCase(h, { rejected: [Buffer.alloc(0), ' ', '\n\t\r ', Buffer.from([0xef, 0xbb, 0xbf])] });
      expect(rows.map((r) => r.reason)).toEqual([
        'empty payload',
        'payload is not JSON: Unexpected end of JSON input',
        'payload is not JSON: Unexpected end of JSON input',
        'payload is not JSON: Unexpected end of JSON input', // a lone UTF-8 byte order mark
      ]);
      expect(rows[0]).toMatchObject({ payload: '', payloadBytes: 0, payloadSha256: sha256(Buffer.alloc(0)) });
    });
  });

  it('binary payloads: gzip, PNG, protobuf-like, NUL bytes, bytes that start like a KPL aggregate', async () => {
    await withHarness(async (h) => {
      const gzipped = gzipSync(Buffer.from(JSON.stringify(reading(1, START + 60_000)))); // a producer that compressed
      const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d]);
      const proto = Buffer.from([0x0a, 0x05, 0x73, 0x31, 0x32, 0x33, 0x34, 0x10, 0x96, 0x01]);
      const nul = Buffer.from([0x00, 0x00, 0x7b, 0x7d]);
      const kplish = Buffer.from([0xf3, 0x89, 0x9a, 0xc2, 0x01, 0x02]);
      const { rows } = await runCase(h, { rejected: [gzipped, png, proto, nul, kplish] });
      expect(rows.map((r) => r.reason)).toEqual([
        'payload is not valid UTF-8 (byte 0x8B at offset 1)',
        'payload is not valid UTF-8 (byte 0x89 at offset 0)',
        'payload is not valid UTF-8 (byte 0x96 at offset 8)',
        expect.stringMatching(/^payload is not JSON: Unexpected token/),
        'KPL aggregate truncated: 6 bytes, at least 20 needed for magic and MD5',
      ] as unknown[]);
      expect(payloadOf(rows[0] as Row)).toEqual(gzipped);
    });
  });

  it('invalid UTF-8 (bad continuation, overlong, surrogate, truncated, 0xFF); a real U+FFFD is fine', async () => {
    await withHarness(async (h) => {
      const t = START + 60_000;
      const around = (bytes: number[]) => Buffer.concat([Buffer.from('{"sensorId":"s'), Buffer.from(bytes), Buffer.from(`","ts":${t},"temperature":20}`)]);
      const { rows } = await runCase(h, {
        rejected: [around([0xc3, 0x28]), around([0xc0, 0xaf]), around([0xed, 0xa0, 0x80]), around([0xf0, 0x9f, 0x98]), around([0xff]), around([0x80])],
        // U+FFFD written as its valid UTF-8 bytes: the decoder's replacement check must not reject it.
        counted: [{ payload: around([0xef, 0xbf, 0xbd]), sensorId: 's\uFFFD', instantMs: t }],
      });
      expect(rows.map((r) => r.reason)).toEqual([
        'payload is not valid UTF-8 (byte 0xC3 at offset 14)',
        'payload is not valid UTF-8 (byte 0xC0 at offset 14)',
        'payload is not valid UTF-8 (byte 0xED at offset 14)',
        'payload is not valid UTF-8 (byte 0xF0 at offset 14)',
        'payload is not valid UTF-8 (byte 0xFF at offset 14)',
        'payload is not valid UTF-8 (byte 0x80 at offset 14)',
      ]);
    });
  });

  it('deeply nested JSON (100,000 levels) is refused before parsing; brackets inside strings are not nesting', async () => {
    await withHarness(async (h) => {
      const t = START + 60_000;
      const deepObject = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
      const deepArray = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
      const deepField = `{"sensorId":"s1","ts":${t},"temperature":20,"extra":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
      const unclosed = '['.repeat(100_000);
      const inString = `{"sensorId":"brackets","ts":${t},"temperature":20,"note":"${'[{'.repeat(100_000)}"}`;
      const { rows } = await runCase(h, {
        rejected: [deepObject, deepArray, deepField, unclosed],
        counted: [{ payload: inString, sensorId: 'brackets', instantMs: t }],
      });
      expect(rows.map((r) => r.reason)).toEqual(Array(4).fill('JSON nested deeper than 64 levels'));
      expect(rows[0]).toMatchObject({ payloadBytes: deepObject.length, payloadTruncated: true });
    });
  });

  it('oversize record (~1,000,000 bytes of valid JSON): schema rejects it; rejected/ keeps 64 KiB, the size and the SHA-256', async () => {
    await withHarness(async (h) => {
      const t = START + 60_000;
      const head = `{"ts":${t},"temperature":20,"sensorId":"`;
      const huge = Buffer.from(`${head}${'x'.repeat(1_000_000 - head.length - 2)}"}`);
      expect(huge.length).toBe(1_000_000);
      // An unknown field is dropped by the schema (zod strips it): a big but valid reading counts.
      const bigButValid = Buffer.from(JSON.stringify({ sensorId: 'big-note', ts: t, temperature: 20, note: 'y'.repeat(900_000) }));
      const { rows } = await runCase(h, { rejected: [huge], counted: [{ payload: bigButValid, sensorId: 'big-note', instantMs: t }] });
      expect(rows[0]?.reason).toBe('schema: sensorId: Too big: expected string to have <=128 characters');
      expect(rows[0]).toMatchObject({ payloadBytes: 1_000_000, payloadTruncated: true, payloadSha256: sha256(huge) });
      expect(payloadOf(rows[0] as Row)).toEqual(huge.subarray(0, REJECTED_PAYLOAD_MAX_BYTES));
    });
  });

  it('corrupted KPL aggregates: flipped byte, flipped MD5, truncated, valid MD5 over a malformed message', async () => {
    await withHarness(async (h) => {
      const t = START + 60_000;
      const users = Array.from({ length: 5 }, (_, i) => ({ partitionKey: `agg-${i}`, data: JSON.stringify({ sensorId: 'in-corrupt-aggregate', ts: t, temperature: 20 + i }) }));
      const flippedBody = encodeAggregate(users);
      flippedBody[40] = (flippedBody[40] as number) ^ 0x01;
      const flippedMd5 = encodeAggregate(users);
      flippedMd5[flippedMd5.length - 1] = (flippedMd5[flippedMd5.length - 1] as number) ^ 0x80;
      const truncated = encodeAggregate(users).subarray(0, 60);
      // Field 3 (a record) claims 5 bytes, 2 follow.
      const malformed = kplAround(Buffer.from([0x0a, 0x01, 0x6b, 0x1a, 0x05, 0x08, 0x00]));
      const unknownIndex = kplAround(Buffer.from([0x0a, 0x01, 0x6b, 0x1a, 0x06, 0x08, 0x07, 0x1a, 0x02, 0x7b, 0x7d])); // partition_key_index 7 of 1
      const empty = kplAround(Buffer.alloc(0));
      const { rows } = await runCase(h, { rejected: [flippedBody, flippedMd5, truncated, malformed, unknownIndex, empty] });
      expect(rows.map((r) => r.reason)).toEqual([
        expect.stringMatching(/^KPL aggregate MD5 mismatch \(trailer [0-9a-f]{32}, computed [0-9a-f]{32}\)$/),
        expect.stringMatching(/^KPL aggregate MD5 mismatch/),
        expect.stringMatching(/^KPL aggregate MD5 mismatch/),
        'KPL aggregate protobuf malformed: records at offset 8 claims 5 bytes but only 2 remain',
        'KPL aggregate protobuf malformed: record #0: partition_key_index 7 out of range (table has 1)',
        'KPL aggregate contains no user records',
      ] as unknown[]);
      // Nothing of a corrupt aggregate is trusted: its five readings are not counted (runCase checked the counts).
      expect(payloadOf(rows[0] as Row)).toEqual(flippedBody);
    });
  });

  it('a KPL aggregate with bad sub-records: only those are rejected (with their sub-sequence number and key), the rest count', async () => {
    await withHarness(async (h) => {
      const t = START + 60_000;
      const users = Array.from({ length: 8 }, (_, i) => ({ partitionKey: `user-${i}`, data: JSON.stringify({ sensorId: 'in-aggregate', ts: t + i, temperature: 20 + i }) }));
      users[2] = { partitionKey: 'user-2', data: '{"sensorId":"in-aggregate",' };
      users[5] = { partitionKey: 'user-5', data: JSON.stringify({ sensorId: 'in-aggregate', ts: t, temperature: 'warm' }) };
      users[7] = { partitionKey: 'user-7', data: Buffer.from([0xc3, 0x28]).toString('latin1') };
      const aggregate = encodeAggregate(users.map((u, i) => (i === 7 ? { partitionKey: u.partitionKey, data: Buffer.from([0xc3, 0x28]) } : u)));
      const good = goodReadings(40);
      const { payloads, badIndexes } = interleave(good, [aggregate]);
      const sent = await put(h, payloads);
      expectNoStall(await deliverAll(h), sent);
      await h.closer({ drain: true });
      const counted = [0, 1, 3, 4, 6].map((i) => ({ sensorId: 'in-aggregate', instantMs: t + i }));
      expect(countsOf(await h.results())).toEqual(expectedCounts([...asGood(good), ...counted]));
      const agg = sent[badIndexes[0] as number] as Sent;
      const rows = (await h.output('rejected')).sort((a, b) => Number(a.subSequenceNumber) - Number(b.subSequenceNumber));
      expect(rows.map((r) => [r.subSequenceNumber, r.partitionKey, r.sequenceNumber, r.shardId])).toEqual([
        [2, 'user-2', agg.sequenceNumber, agg.shardId],
        [5, 'user-5', agg.sequenceNumber, agg.shardId],
        [7, 'user-7', agg.sequenceNumber, agg.shardId],
      ]);
      expect(rows.map((r) => r.reason)).toEqual([
        expect.stringMatching(/^payload is not JSON: /),
        'schema: temperature: Invalid input: expected number, received string',
        'payload is not valid UTF-8 (byte 0xC3 at offset 0)',
      ] as unknown[]);
      // The sub-record's own bytes, not the whole aggregate.
      expect(payloadOf(rows[0] as Row).toString()).toBe(users[2]?.data);
    });
  });
});

// Pipeline bugs this catalogue found (fixed): each test states the behaviour we want.
describe('bad inputs that expose pipeline bugs', () => {
  // BUG 1 — mapper-batch.ts rejectEvent() stored JSON.stringify(decoded.value), not the record's bytes:
  // 1e400 shows up as null, -0 as 0, whitespace and key order are lost, and payloadBytes/Sha256 do
  // not match what the producer sent (rejected/ keeps the raw payload). Fix: keep the user record's bytes
  // (a Buffer view, no copy) on DecodedEvent and pass them to reject().
  it('rejected/ keeps the raw bytes of a record that failed validation (1e400 must not become null)', async () => {
    await withHarness(async (h) => {
      const raw = `{ "sensorId": "s1", "ts": ${START + 60_000}, "temperature": 1e400 }`;
      const { rows } = await runCase(h, { rejected: [raw] });
      expect(rows[0]?.reason).toBe('schema: temperature: Invalid input: expected number, received Infinity');
      expect(payloadOf(rows[0] as Row).toString()).toBe(raw);
      expect(rows[0]).toMatchObject({ payloadBytes: raw.length, payloadSha256: sha256(Buffer.from(raw)) });
    });
  });

  // BUG 2 — a key with an unpaired surrogate ("s\ud800", legal as a JSON escape) is accepted; DynamoDB
  // keys are UTF-8, where it becomes U+FFFD, so it is the same state item as "s\uFFFD". In one
  // reducer batch BatchGetItem fails ("Provided list of item keys contains duplicates") on every
  // retry: the reducer shard stalls until the batch goes to the on-failure destination, with every
  // other partial of those bundles. In separate batches the event is silently counted under the
  // other key. Fix: in MapperBatch.invalidPairs reject keys where !key.isWellFormed().
  it('a key with an unpaired surrogate is rejected, and does not stall the reducer or merge into "s\\uFFFD"', async () => {
    await withHarness(async (h) => {
      const t = START + 60_000;
      const { rows, results } = await runCase(h, {
        rejected: [`{"sensorId":"s\\ud800","ts":${t},"temperature":20}`],
        counted: [{ payload: `{"sensorId":"s\\ufffd","ts":${t},"temperature":30}`, sensorId: 's\uFFFD', instantMs: t }],
      });
      expect(rows[0]?.reason).toMatch(/surrogate|well-formed/);
      expect(results.find((r) => r.key === 's\uFFFD')).toMatchObject({ count: 1, temperature_avg: 30 });
    });
  });

  // BUG 3 — a late event keeps the whole event in its late/ record; near the 1 MiB Kinesis record
  // limit that record is over Firehose's 1,000 KiB, deliver() throws, and the mapper fails the same
  // way on every retry: the shard stalls until the batch is bisected down to the record and sent to
  // the on-failure destination (which keeps only its sequence numbers: the event is gone from late/).
  // Fix: truncate like rejected/ does — late events over 64 KiB carry payload (first 64 KiB,
  // base64), payloadBytes, payloadSha256, payloadTruncated instead of the parsed event.
  it('a late event near the 1 MiB record limit goes to late/ (truncated) without stalling the shard', async () => {
    await withHarness(async (h) => {
      const first = goodReadings(40);
      const sentFirst = await put(h, first);
      expectNoStall(await deliverAll(h), sentFirst);
      const head = JSON.stringify({ sensorId: 'sensor-1', ts: START + 60_000, temperature: 20, note: '' }).slice(0, -2);
      const big = Buffer.from(`${head}${'z'.repeat(1_040_000 - head.length - 2)}"}`);
      const second = goodReadings(10, START + 19 * 60_000, 60_000);
      const sent = await put(h, interleave(second, [big]).payloads);
      expectNoStall(await deliverAll(h), sent);
      await h.closer({ drain: true });
      expect(countsOf(await h.results())).toEqual(expectedCounts(asGood([...first, ...second])));
      expect(await h.output('late')).toHaveLength(1);
    });
  });
});
