// Input decoding: the bad-input catalogue (one case each, every one a reason and never an exception),
// KPL sub-record handling, and position ordering against BigInt.
import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import { decodeInto, decodeJsonObject, decodeRecord, firstInvalidUtf8, type DecodedEvent, type InputRecord, type Rejection } from '../../functions/core/input-decoding';
import { comparePositions, compareSequenceNumbers, formatPosition, maxPosition, parsePosition, type Position } from '../../functions/core/positions';
import { encodeAggregate } from '../../functions/core/kpl';

const SEQ = '49590338271490256608559692538361571095921575989136588898';

function record(data: Buffer | string, over: Partial<InputRecord> = {}): InputRecord {
  return {
    shardId: 'shardId-000000000000',
    sequenceNumber: SEQ,
    partitionKey: 'sensor-1',
    data: typeof data === 'string' ? Buffer.from(data) : data,
    arrivalTime: 1_714_564_800_000,
    ...over,
  };
}

/** The single rejection reason for a non-aggregated payload (and checks that nothing was decoded). */
function reasonFor(data: Buffer | string, options?: Parameters<typeof decodeRecord>[1]): string {
  const rec = record(data);
  const { events, rejections } = decodeRecord(rec, options);
  expect(events).toEqual([]);
  expect(rejections).toHaveLength(1);
  const [rej] = rejections as [Rejection];
  expect(rej.position).toEqual({ seq: SEQ, sub: 0 });
  expect(rej.partitionKey).toBe('sensor-1');
  expect(rej.raw).toBe(rec.data);
  return rej.reason;
}

describe('decodeRecord: plain JSON', () => {
  it('decodes a JSON object with its position and partition key', () => {
    const payload = '{"sensorId":"s-1","temperature":21.5}';
    const { events, rejections } = decodeRecord(record(payload));
    expect(rejections).toEqual([]);
    expect(events).toEqual([{ position: { seq: SEQ, sub: 0 }, partitionKey: 'sensor-1', value: { sensorId: 's-1', temperature: 21.5 }, raw: Buffer.from(payload) }]);
  });

  it('accepts non-ASCII text, a literal U+FFFD, and a leading byte order mark', () => {
    expect(decodeRecord(record('{"city":"Zürich","emoji":"🌡️"}')).events[0]?.value).toEqual({ city: 'Zürich', emoji: '🌡️' });
    expect(decodeRecord(record('{"bad":"\uFFFD"}')).events[0]?.value).toEqual({ bad: '\uFFFD' });
    expect(decodeRecord(record(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')]))).events[0]?.value).toEqual({ a: 1 });
  });

  it('decodeInto appends to caller-owned arrays', () => {
    const events: DecodedEvent[] = [];
    const rejections: Rejection[] = [];
    decodeInto(record('{"a":1}', { sequenceNumber: '1' }), events, rejections);
    decodeInto(record('nope', { sequenceNumber: '2' }), events, rejections);
    decodeInto(record('{"a":3}', { sequenceNumber: '3' }), events, rejections);
    expect(events.map((e) => e.position.seq)).toEqual(['1', '3']);
    expect(rejections.map((r) => r.position.seq)).toEqual(['2']);
  });

  it('decodeJsonObject returns a result for one payload', () => {
    expect(decodeJsonObject(Buffer.from('{"k":"v"}'))).toEqual({ ok: true, value: { k: 'v' } });
    expect(decodeJsonObject(Buffer.from('[]'))).toEqual({ ok: false, reason: 'payload is JSON but not an object (got array)' });
  });
});

describe('decodeRecord: bad-input catalogue', () => {
  it('malformed JSON', () => {
    const reason = reasonFor('{"sensorId":"s-1","temperature":');
    expect(reason).toMatch(/^payload is not JSON: ./);
    expect(reason).toContain('JSON'); // the parser's own message follows the prefix
  });

  it('empty payload', () => {
    expect(reasonFor(Buffer.alloc(0))).toBe('empty payload');
  });

  it('binary garbage (a gzip stream)', () => {
    const gzip = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xab, 0x56, 0x4a, 0x54, 0xb2, 0x32]);
    expect(reasonFor(gzip)).toBe('payload is not valid UTF-8 (byte 0x8B at offset 1)');
  });

  it('invalid UTF-8 (Latin-1 text)', () => {
    const latin1 = Buffer.from('{"city":"Montréal"}', 'latin1');
    expect(reasonFor(latin1)).toBe('payload is not valid UTF-8 (byte 0xE9 at offset 14)');
  });

  it('invalid UTF-8: overlong, surrogate, beyond U+10FFFF, truncated at the end', () => {
    expect(reasonFor(Buffer.from([0x7b, 0xc0, 0xaf, 0x7d]))).toBe('payload is not valid UTF-8 (byte 0xC0 at offset 1)');
    expect(reasonFor(Buffer.from([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22]))).toBe('payload is not valid UTF-8 (byte 0xED at offset 2)');
    expect(reasonFor(Buffer.from([0x7b, 0xf4, 0x90, 0x80, 0x80]))).toBe('payload is not valid UTF-8 (byte 0xF4 at offset 1)');
    expect(reasonFor(Buffer.from([0x7b, 0x7d, 0xe2, 0x82]))).toBe('payload is not valid UTF-8 (byte 0xE2 at offset 2)');
  });

  it('deeply nested JSON (100,000 levels) is refused before parsing, without a stack overflow', () => {
    const depth = 100_000;
    expect(reasonFor('['.repeat(depth) + ']'.repeat(depth))).toBe('JSON nested deeper than 64 levels');
    expect(reasonFor('{"a":'.repeat(depth) + '1' + '}'.repeat(depth))).toBe('JSON nested deeper than 64 levels');
    // Unbalanced garbage of the same shape is refused the same way.
    expect(reasonFor('{"a":['.repeat(depth))).toBe('JSON nested deeper than 64 levels');
  });

  it('nesting limit: 64 levels pass, 65 do not; brackets inside strings do not count', () => {
    const nested = (d: number) => '{"a":'.repeat(d) + '0' + '}'.repeat(d);
    expect(decodeRecord(record(nested(64))).events).toHaveLength(1);
    expect(reasonFor(nested(65))).toBe('JSON nested deeper than 64 levels');
    expect(decodeRecord(record(`{"s":"${'[{'.repeat(500)}\\"${'['.repeat(100)}"}`)).events).toHaveLength(1);
    expect(reasonFor(nested(5), { maxDepth: 4 })).toBe('JSON nested deeper than 4 levels');
  });

  it('oversize payload', () => {
    const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
    expect(reasonFor(big)).toBe('payload exceeds 1048576 bytes (1048577 bytes)');
    expect(reasonFor('{"a":"0123456789"}', { maxPayloadBytes: 10 })).toBe('payload exceeds 10 bytes (18 bytes)');
  });

  it('JSON that is not an object', () => {
    expect(reasonFor('[{"a":1}]')).toBe('payload is JSON but not an object (got array)');
    expect(reasonFor('42')).toBe('payload is JSON but not an object (got number)');
    expect(reasonFor('"text"')).toBe('payload is JSON but not an object (got string)');
    expect(reasonFor('null')).toBe('payload is JSON but not an object (got null)');
    expect(reasonFor('true')).toBe('payload is JSON but not an object (got boolean)');
  });

  it('a KPL aggregate whose sub-record is bad JSON: that one rejected, siblings decoded', () => {
    const agg = encodeAggregate([
      { partitionKey: 'k0', data: '{"n":0}' },
      { partitionKey: 'k1', data: '{"n":1' },
      { partitionKey: 'k2', data: '{"n":2}' },
      { partitionKey: 'k3', data: Buffer.from([0xff]) },
    ]);
    const { events, rejections } = decodeRecord(record(agg, { partitionKey: 'outer' }));
    expect(events).toEqual([
      { position: { seq: SEQ, sub: 0 }, partitionKey: 'k0', value: { n: 0 }, raw: Buffer.from('{"n":0}') },
      { position: { seq: SEQ, sub: 2 }, partitionKey: 'k2', value: { n: 2 }, raw: Buffer.from('{"n":2}') },
    ]);
    expect(rejections).toHaveLength(2);
    expect(rejections[0]).toMatchObject({ position: { seq: SEQ, sub: 1 }, partitionKey: 'k1', reason: expect.stringMatching(/^payload is not JSON: /) });
    expect(rejections[0]?.raw.toString()).toBe('{"n":1');
    expect(rejections[1]).toMatchObject({ position: { seq: SEQ, sub: 3 }, partitionKey: 'k3', reason: 'payload is not valid UTF-8 (byte 0xFF at offset 0)' });
  });

  it('a corrupt KPL aggregate is one rejection carrying the whole record', () => {
    const agg = Buffer.from(encodeAggregate([{ partitionKey: 'k', data: '{}' }]));
    agg[agg.length - 1] = (agg[agg.length - 1] as number) ^ 0xff;
    const rec = record(agg, { partitionKey: 'outer' });
    const { events, rejections } = decodeRecord(rec);
    expect(events).toEqual([]);
    expect(rejections).toEqual([{ position: { seq: SEQ, sub: 0 }, partitionKey: 'outer', reason: expect.stringMatching(/^KPL aggregate MD5 mismatch/), raw: rec.data }]);
  });

  it('an empty KPL aggregate is rejected, not silently dropped', () => {
    expect(reasonFor(encodeAggregate([]))).toBe('KPL aggregate contains no user records');
  });

  it('never throws, and accounts for every non-aggregated record exactly once', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.json().map((j) => new Uint8Array(Buffer.from(j)))), (bytes) => {
        const { events, rejections } = decodeRecord(record(Buffer.from(bytes)));
        if (bytes[0] !== 0xf3) expect(events.length + rejections.length).toBe(1);
        for (const r of rejections) expect(r.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('firstInvalidUtf8', () => {
  it('agrees with TextDecoder (fatal) and isUtf8 on arbitrary bytes', () => {
    const fatal = new TextDecoder('utf-8', { fatal: true });
    const valid = (b: Uint8Array) => {
      try {
        fatal.decode(b);
        return true;
      } catch {
        return false;
      }
    };
    // Mostly-high bytes make multi-byte sequences (valid and not) common.
    const bytesArb = fc.array(fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0x80, max: 0xff }), fc.integer({ min: 0xe0, max: 0xf4 })), { maxLength: 40 });
    fc.assert(
      fc.property(bytesArb, (arr) => {
        const b = Uint8Array.from(arr);
        const at = firstInvalidUtf8(b);
        expect(at === b.length).toBe(valid(b));
        expect(at === b.length).toBe(isUtf8(b));
        expect(valid(b.subarray(0, at))).toBe(true);
        if (at < b.length) expect(valid(b.subarray(at))).toBe(false);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('positions', () => {
  // Decimal strings of 1–60 digits, sometimes with leading zeros, often sharing long prefixes.
  const seqArb = fc.oneof(
    fc.bigInt({ min: 0n, max: 10n ** 60n }).map(String),
    fc.tuple(fc.nat({ max: 3 }), fc.bigInt({ min: 0n, max: 10n ** 56n })).map(([z, n]) => '0'.repeat(z) + String(n)),
    fc.bigInt({ min: 0n, max: 999n }).map((n) => SEQ.slice(0, 53) + String(n)),
  );
  const posArb = fc.record({ seq: seqArb, sub: fc.nat({ max: 5 }) });

  it('compareSequenceNumbers orders like BigInt for strings of different lengths', () => {
    fc.assert(
      fc.property(seqArb, seqArb, (a, b) => {
        const expected = BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0;
        expect(compareSequenceNumbers(a, b)).toBe(expected);
      }),
      { numRuns: 5000 },
    );
    expect(compareSequenceNumbers('9', '10')).toBe(-1); // lexicographic order would say 1
    expect(compareSequenceNumbers('0010', '9')).toBe(1);
    expect(compareSequenceNumbers('000', '0')).toBe(0);
  });

  it('comparePositions orders by sequence number, then sub; sorting agrees with BigInt', () => {
    fc.assert(
      fc.property(fc.array(posArb, { maxLength: 20 }), (ps) => {
        const ours = [...ps].sort(comparePositions).map((p) => [BigInt(p.seq), p.sub]);
        const ref = [...ps]
          .map((p) => [BigInt(p.seq), p.sub] as const)
          .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] - y[1]));
        expect(ours).toEqual(ref.map((x) => [...x]));
      }),
      { numRuns: 2000 },
    );
    expect(comparePositions({ seq: '5', sub: 2 }, { seq: '5', sub: 10 })).toBe(-1);
    expect(comparePositions({ seq: '6', sub: 0 }, { seq: '5', sub: 10 })).toBe(1);
  });

  it('maxPosition picks the later position', () => {
    const a: Position = { seq: '100', sub: 0 };
    const b: Position = { seq: '99', sub: 7 };
    expect(maxPosition(a, b)).toBe(a);
    expect(maxPosition(b, a)).toBe(a);
    expect(maxPosition({ seq: '100', sub: 1 }, a)).toEqual({ seq: '100', sub: 1 });
  });

  it('formatPosition and parsePosition are inverses', () => {
    expect(formatPosition({ seq: SEQ, sub: 0 })).toBe(SEQ);
    expect(formatPosition({ seq: SEQ, sub: 3 })).toBe(`${SEQ}:3`);
    fc.assert(
      fc.property(fc.record({ seq: seqArb, sub: fc.nat() }), (p) => {
        expect(parsePosition(formatPosition(p))).toEqual(p);
      }),
    );
    expect(parsePosition(`${SEQ}:0`)).toEqual({ seq: SEQ, sub: 0 });
  });

  it('parsePosition and the comparators throw on garbage', () => {
    for (const bad of ['', 'abc', '12:', ':1', '1:-1', '1:01', '1.5', ' 1', '1:2:3', '0x10', '1:99999999999999999999']) {
      expect(() => parsePosition(bad)).toThrow(/not a record position/);
    }
    expect(() => compareSequenceNumbers('12a', '12')).toThrow(/not a sequence number/);
    expect(() => compareSequenceNumbers('', '')).toThrow(/not a sequence number/);
  });
});
