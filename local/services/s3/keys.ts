// What an S3 object key may be, and how keys sort. Keys are opaque strings to the store (objects
// are filed under a hash of the key, see store.ts), so any valid S3 key works: `a` next to `a/b`,
// empty segments, `..`, control characters, up to 1,024 UTF-8 bytes. Listing order is S3's:
// binary order of the UTF-8 bytes, which is Unicode code point order — not JavaScript's UTF-16
// order, which differs for characters above U+FFFF versus U+E000–U+FFFF.
import { S3Error } from './errors';

export const MAX_KEY_BYTES = 1024;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Throws AWS's error for a key S3 would refuse (too long, not UTF-8, empty). */
export function validateKey(key: string): void {
  if (key.length === 0) throw new S3Error('InvalidArgument', 'Object key must not be empty', 400);
  if (LONE_SURROGATE.test(key)) throw new S3Error('InvalidArgument', 'Object key must be valid UTF-8 (it contains an unpaired surrogate)', 400);
  const size = Buffer.byteLength(key, 'utf8');
  if (size > MAX_KEY_BYTES) throw new S3Error('KeyTooLongError', 'Your key is too long', 400, { MaxSizeAllowed: String(MAX_KEY_BYTES), Size: String(size) });
}

/** A percent-encoded path segment → text; S3's InvalidURI when it is not valid percent-encoded UTF-8. */
export function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new S3Error('InvalidURI', "Couldn't parse the specified URI.", 400, { URI: segment });
  }
}

// Maps UTF-16 code units so that plain `<` on the mapped values is code point order: surrogates
// (U+D800–U+DFFF, which encode code points above U+FFFF) move above U+E000–U+FFFF.
function fix(unit: number): number {
  return unit >= 0xd800 ? (unit >= 0xe000 ? unit - 0x800 : unit + 0x2000) : unit;
}

/** S3's key order (UTF-8 byte order) without encoding: negative, zero or positive. */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fix(x) - fix(y);
  }
  return a.length - b.length;
}

/** Index of the first element of `sorted` that is ≥ `key` (or > `key` with `after`). */
export function lowerBound(sorted: readonly string[], key: string, after = false): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareKeys(sorted[mid] as string, key);
    if (c < 0 || (after && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
