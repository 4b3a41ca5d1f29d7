// The local S3's key order and listing pages (local/services/s3/keys.ts, listing.ts) against a
// reference model: S3 sorts keys by their UTF-8 bytes, groups keys under a delimiter into common
// prefixes, and pages so that following NextContinuationToken (or StartAfter) visits every entry
// exactly once. Property-based over keys with multi-byte and astral characters (where UTF-16 order
// differs from UTF-8 order); also the continuation-token check and the aws-chunked decoder.
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import fc from 'fast-check';
import { AwsChunkedDecoder } from '../../local/services/s3/body';
import { compareKeys } from '../../local/services/s3/keys';
import { decodeContinuationToken, encodeContinuationToken, listPage, type ListEntry } from '../../local/services/s3/listing';
import type { ObjectRecord } from '../../local/services/s3/store';

const utf8Order = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** The listing S3 documents: every key under the prefix, rolled up at the first delimiter after it. */
function reference(keys: readonly string[], prefix: string, delimiter: string): string[] {
  const out: string[] = [];
  for (const key of [...new Set(keys)].sort(utf8Order)) {
    if (!key.startsWith(prefix)) continue;
    const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    const entry = cut >= 0 ? key.slice(0, cut + delimiter.length) : key;
    if (out[out.length - 1] !== entry) out.push(entry);
  }
  return out;
}

function indexOf(keys: readonly string[]): { sorted: string[]; records: Map<string, ObjectRecord> } {
  const unique = [...new Set(keys)];
  const records = new Map(unique.map((key) => [key, { key, size: 0, etag: 'e', lastModified: 0, data: 'd' } as ObjectRecord]));
  return { sorted: unique.sort(compareKeys), records };
}

const entryKey = (e: ListEntry): string => (e.kind === 'object' ? e.record.key : e.prefix);

// Characters chosen so that UTF-16 and UTF-8 order disagree (U+E000..U+FFFF vs astral) and so that
// delimiters and prefixes collide often.
const char = fc.constantFrom('a', 'b', '/', '-', 'é', '\uE000', '\uFFFD', '😀', '\u0000', '~');
const key = fc.array(char, { minLength: 1, maxLength: 6 }).map((cs) => cs.join(''));

describe('local S3 key order', () => {
  it('is UTF-8 byte order, not UTF-16 code unit order', () => {
    fc.assert(
      fc.property(key, key, (a, b) => {
        expect(Math.sign(compareKeys(a, b))).toBe(Math.sign(utf8Order(a, b)));
      }),
      { numRuns: 500 },
    );
    expect(compareKeys('\uFFFD', '😀')).toBeLessThan(0); // UTF-16 order says the opposite
  });
});

describe('local S3 listing pages', () => {
  it('visits every entry exactly once, in order, whatever the page size, prefix and delimiter', () => {
    fc.assert(
      fc.property(fc.array(key, { maxLength: 40 }), fc.constantFrom('', 'a', 'a/', '/', 'é'), fc.constantFrom('', '/', '-', 'é'), fc.integer({ min: 1, max: 7 }), (keys, prefix, delimiter, maxKeys) => {
        const index = indexOf(keys);
        const seen: string[] = [];
        let after = '';
        for (let guard = 0; guard < 100; guard++) {
          const page = listPage(index, { prefix, delimiter, maxKeys, after });
          expect(page.entries.length).toBeLessThanOrEqual(maxKeys);
          seen.push(...page.entries.map(entryKey));
          if (!page.truncated) break;
          // The server hands this back as an opaque token; it must survive the round trip.
          after = decodeContinuationToken(encodeContinuationToken(entryKey(page.entries[page.entries.length - 1] as ListEntry)));
        }
        expect(seen).toEqual(reference(keys, prefix, delimiter));
      }),
      { numRuns: 500 },
    );
  });

  it('starts after a start-after key that is not itself stored', () => {
    const index = indexOf(['a', 'a/1', 'a/2', 'b', 'c/1']);
    expect(listPage(index, { prefix: '', delimiter: '', maxKeys: 10, after: 'a/10' }).entries.map(entryKey)).toEqual(['a/2', 'b', 'c/1']);
    expect(listPage(index, { prefix: '', delimiter: '/', maxKeys: 10, after: 'a' }).entries.map(entryKey)).toEqual(['a/', 'b', 'c/']);
  });

  it('refuses continuation tokens it did not issue', () => {
    for (const token of ['garbage', '', 'AAAA', Buffer.from('a/b').toString('base64url'), `${encodeContinuationToken('k')}x`]) {
      expect(() => decodeContinuationToken(token)).toThrow(expect.objectContaining({ code: 'InvalidArgument', status: 400 }) as Error);
    }
    expect(decodeContinuationToken(encodeContinuationToken('a/\u0000/😀'))).toBe('a/\u0000/😀');
  });
});

describe('aws-chunked decoding', () => {
  const frame = (parts: readonly Buffer[], trailer = 'x-amz-checksum-crc32:AAAAAA==\r\n'): Buffer =>
    Buffer.concat([...parts.flatMap((p) => [Buffer.from(`${p.length.toString(16)};chunk-signature=abc\r\n`), p, Buffer.from('\r\n')]), Buffer.from(`0\r\n${trailer}\r\n`)]);

  it('reassembles the payload whatever the network chunking', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 6 }), fc.integer({ min: 1, max: 64 }), async (parts, slice) => {
        const wire = frame(parts.map((p) => Buffer.from(p)));
        const pieces: Buffer[] = [];
        for (let i = 0; i < wire.length; i += slice) pieces.push(wire.subarray(i, i + slice));
        const decoded = await buffer(Readable.from(pieces).pipe(new AwsChunkedDecoder()));
        expect(decoded.equals(Buffer.concat(parts.map((p) => Buffer.from(p))))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('fails a truncated or malformed body with IncompleteBody', async () => {
    const whole = frame([Buffer.from('hello')]);
    for (const bad of [whole.subarray(0, 8), Buffer.from('zz\r\nhello\r\n0\r\n\r\n'), Buffer.from('5\r\nhelloXX0\r\n\r\n')]) {
      const decoder = Readable.from([bad]).pipe(new AwsChunkedDecoder());
      await expect(buffer(decoder)).rejects.toMatchObject({ code: 'IncompleteBody' });
    }
  });
});
