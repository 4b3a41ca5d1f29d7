// The sliver of CBOR (RFC 8949) the gate needs for Kinesis clients that speak it (the Java SDK,
// the KCL): encoding small answers (error maps, empty lists) and finding a top-level text field
// (`StreamName`) in a request. Hand-written because it is this small; kinesalite's own CBOR
// dependency is not one of ours to rely on.

function head(major: number, length: number): Buffer {
  if (length < 24) return Buffer.from([(major << 5) | length]);
  if (length < 0x100) return Buffer.from([(major << 5) | 24, length]);
  if (length < 0x10000) {
    const b = Buffer.alloc(3);
    b[0] = (major << 5) | 25;
    b.writeUInt16BE(length, 1);
    return b;
  }
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(length, 1);
  return b;
}

export type CborValue = string | number | boolean | null | readonly CborValue[] | { readonly [key: string]: CborValue };

/** Encodes strings, non-negative integers, booleans, null, arrays and string-keyed maps. */
export function cborEncode(value: CborValue): Buffer {
  if (value === null) return Buffer.from([0xf6]);
  if (value === true) return Buffer.from([0xf5]);
  if (value === false) return Buffer.from([0xf4]);
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) throw new Error(`cborEncode: only non-negative integers, got ${value}`);
    return head(0, value);
  }
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map((v: CborValue) => cborEncode(v))]);
  const entries = Object.entries(value as Record<string, CborValue>);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, v]) => [cborEncode(k), cborEncode(v)])]);
}

/**
 * The text value following the text key `key` (e.g. StreamName) in a CBOR body, found by
 * its byte pattern; undefined when absent. Binary record data could in theory contain the same
 * bytes, so this is only used to name the resource of a request, never to change its content.
 */
export function cborTextField(body: Buffer, key: string): string | undefined {
  const needle = cborEncode(key);
  for (let at = body.indexOf(needle); at >= 0; at = body.indexOf(needle, at + 1)) {
    let i = at + needle.length;
    const first = body[i];
    if (first === undefined || first >> 5 !== 3) continue;
    const info = first & 0x1f;
    let length: number;
    i++;
    if (info < 24) length = info;
    else if (info === 24 && i < body.length) length = body[i++] as number;
    else if (info === 25 && i + 1 < body.length) {
      length = body.readUInt16BE(i);
      i += 2;
    } else continue;
    if (i + length > body.length) continue;
    return body.subarray(i, i + length).toString('utf8');
  }
  return undefined;
}
