// KPL aggregated records (Kinesis Producer Library format: magic, protobuf AggregatedRecord, MD5).
// A hand-written reader/writer for the three messages involved, so the mapper bundle carries no
// protobuf runtime and de-aggregation costs no more than walking the bytes once.
// Format: https://github.com/awslabs/amazon-kinesis-producer/blob/master/aggregation-format.md
import { createHash } from 'node:crypto';

/** First four bytes of every KPL aggregate. */
export const KPL_MAGIC: readonly number[] = Object.freeze([0xf3, 0x89, 0x9a, 0xc2]);
const MAGIC_BYTES = 4;
const MD5_BYTES = 16;

/** One user record recovered from an aggregate. `data` is a view into the aggregate's buffer (no copy). */
export interface KplUserRecord {
  partitionKey: string;
  explicitHashKey?: string;
  data: Buffer;
}

/** A user record to aggregate. String data is encoded as UTF-8. */
export interface KplRecordInput {
  partitionKey: string;
  explicitHashKey?: string;
  data: Uint8Array | string;
}

export type KplDecodeResult = { ok: true; records: KplUserRecord[] } | { ok: false; reason: string };

/** True when `data` starts with the KPL magic bytes (it may still be a corrupt aggregate). */
export function isKplAggregate(data: Uint8Array): boolean {
  return data.length >= MAGIC_BYTES && data[0] === 0xf3 && data[1] === 0x89 && data[2] === 0x9a && data[3] === 0xc2;
}

// Thrown only inside this module and always caught by decodeAggregate, so parsing code can bail out
// from any depth without threading error values through every helper.
class Malformed extends Error {}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

/** Cursor over a protobuf byte range. Offsets in messages are absolute (the magic is offset 0). */
class Reader {
  pos: number;
  /** Mutable so one reader can descend into an embedded message and come back (no allocation per record). */
  end: number;
  constructor(
    private readonly buf: Buffer,
    start: number,
    end: number,
  ) {
    this.pos = start;
    this.end = end;
  }

  /**
   * Unsigned varint as a JS number. Values above 2^53 lose precision, which is harmless here: they
   * are only ever indexes or lengths, and any such value is out of range anyway.
   */
  varint(): number {
    const start = this.pos;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Malformed(`truncated varint at offset ${start}`);
      const b = this.buf[this.pos++] as number;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new Malformed(`varint longer than 10 bytes at offset ${start}`);
  }

  /** Reads a length prefix and returns the end offset of the delimited range. */
  lengthDelimited(what: string): number {
    const at = this.pos;
    const len = this.varint();
    if (len > this.end - this.pos) {
      throw new Malformed(`${what} at offset ${at} claims ${len} bytes but only ${this.end - this.pos} remain`);
    }
    return this.pos + len;
  }

  /** Skips one field's value per the wire rules. Groups (deprecated, but legal) are skipped iteratively. */
  skip(wireType: number, field: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.advance(8, field);
        return;
      case WIRE_LEN:
        this.pos = this.lengthDelimited(`field ${field}`);
        return;
      case WIRE_FIXED32:
        this.advance(4, field);
        return;
      case WIRE_START_GROUP:
        this.skipGroup(field);
        return;
      case WIRE_END_GROUP:
        throw new Malformed(`unexpected end-group for field ${field} at offset ${this.pos}`);
      default:
        throw new Malformed(`invalid wire type ${wireType} for field ${field} at offset ${this.pos}`);
    }
  }

  private advance(n: number, field: number): void {
    if (this.end - this.pos < n) throw new Malformed(`field ${field} truncated at offset ${this.pos}`);
    this.pos += n;
  }

  // An explicit stack instead of recursion: a 1 MiB record of nested start-groups must not be able
  // to overflow the call stack.
  private skipGroup(field: number): void {
    const open = [field];
    while (open.length > 0) {
      if (this.pos >= this.end) throw new Malformed(`group for field ${open[open.length - 1]} is not terminated`);
      const t = this.tag();
      const f = Math.floor(t / 8);
      const wireType = t % 8;
      if (wireType === WIRE_START_GROUP) open.push(f);
      else if (wireType === WIRE_END_GROUP) {
        const expected = open.pop();
        if (f !== expected) throw new Malformed(`end-group for field ${f} closes group ${expected}`);
      } else this.skip(wireType, f);
    }
  }

  /** A field key (field number × 8 + wire type); split with division, not >>> 3: keys can exceed 32 bits. */
  tag(): number {
    const at = this.pos;
    const tag = this.varint();
    if (tag < 8) throw new Malformed(`field number 0 at offset ${at}`);
    return tag;
  }
}

function expectWire(actual: number, expected: number, name: string, at: number): void {
  if (actual !== expected) {
    throw new Malformed(`${name} has wire type ${actual}, expected ${expected} (offset ${at})`);
  }
}

const NO_INDEX = -1;

/**
 * De-aggregates a KPL record. Checks the MD5 before parsing (a corrupt aggregate is rejected as a
 * whole: nothing in it can be trusted). Unknown fields are skipped; a missing required field, a
 * wire-type mismatch on a known field, or a key index outside its table is malformed. Never throws.
 */
export function decodeAggregate(input: Uint8Array): KplDecodeResult {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (!isKplAggregate(buf)) return { ok: false, reason: 'not a KPL aggregate (magic bytes missing)' };
  if (buf.length < MAGIC_BYTES + MD5_BYTES) {
    return {
      ok: false,
      reason: `KPL aggregate truncated: ${buf.length} bytes, at least ${MAGIC_BYTES + MD5_BYTES} needed for magic and MD5`,
    };
  }
  const end = buf.length - MD5_BYTES;
  const digest = createHash('md5').update(buf.subarray(MAGIC_BYTES, end)).digest();
  if (!digest.equals(buf.subarray(end))) {
    return {
      ok: false,
      reason: `KPL aggregate MD5 mismatch (trailer ${buf.toString('hex', end)}, computed ${digest.toString('hex')})`,
    };
  }
  try {
    return { ok: true, records: parseAggregated(buf, MAGIC_BYTES, end) };
  } catch (err) {
    if (err instanceof Malformed) return { ok: false, reason: `KPL aggregate protobuf malformed: ${err.message}` };
    // Not expected; converted anyway because callers rely on decoding never throwing.
    return { ok: false, reason: `KPL aggregate could not be decoded: ${String(err)}` };
  }
}

function parseAggregated(buf: Buffer, start: number, end: number): KplUserRecord[] {
  const r = new Reader(buf, start, end);
  const pkTable: string[] = [];
  const ehkTable: string[] = [];
  // Records are resolved after the whole message is read: protobuf allows the key tables to come
  // after the records that index them.
  const pkIdx: number[] = [];
  const ehkIdx: number[] = [];
  const dataStart: number[] = [];
  const dataEnd: number[] = [];

  while (r.pos < end) {
    const at = r.pos;
    const t = r.tag();
    const field = Math.floor(t / 8);
    const wireType = t % 8;
    if (field === 1 || field === 2) {
      const name = field === 1 ? 'partition_key_table' : 'explicit_hash_key_table';
      expectWire(wireType, WIRE_LEN, name, at);
      const e = r.lengthDelimited(name);
      (field === 1 ? pkTable : ehkTable).push(buf.toString('utf8', r.pos, e));
      r.pos = e;
    } else if (field === 3) {
      expectWire(wireType, WIRE_LEN, 'records', at);
      const e = r.lengthDelimited('records');
      r.end = e;
      parseRecord(r, pkIdx.length, pkIdx, ehkIdx, dataStart, dataEnd);
      r.end = end;
    } else {
      r.skip(wireType, field);
    }
  }

  const out: KplUserRecord[] = new Array(pkIdx.length);
  for (let i = 0; i < pkIdx.length; i++) {
    const p = pkIdx[i] as number;
    const h = ehkIdx[i] as number;
    const partitionKey = pkTable[p];
    if (partitionKey === undefined) {
      throw new Malformed(`record #${i}: partition_key_index ${p} out of range (table has ${pkTable.length})`);
    }
    const data = buf.subarray(dataStart[i], dataEnd[i]);
    if (h === NO_INDEX) {
      out[i] = { partitionKey, data };
    } else {
      const explicitHashKey = ehkTable[h];
      if (explicitHashKey === undefined) {
        throw new Malformed(`record #${i}: explicit_hash_key_index ${h} out of range (table has ${ehkTable.length})`);
      }
      out[i] = { partitionKey, explicitHashKey, data };
    }
  }
  return out;
}

/** Parses one embedded Record from r.pos to r.end, leaving r.pos at r.end. */
function parseRecord(
  r: Reader,
  n: number,
  pkIdx: number[],
  ehkIdx: number[],
  dataStart: number[],
  dataEnd: number[],
): void {
  const start = r.pos;
  // Proto2 semantics: a repeated occurrence of a singular field overrides the earlier one.
  let pk = NO_INDEX;
  let ehk = NO_INDEX;
  let ds = NO_INDEX;
  let de = NO_INDEX;
  while (r.pos < r.end) {
    const at = r.pos;
    const t = r.tag();
    const field = Math.floor(t / 8);
    const wireType = t % 8;
    if (field === 1) {
      expectWire(wireType, WIRE_VARINT, `record #${n} partition_key_index`, at);
      pk = r.varint();
    } else if (field === 2) {
      expectWire(wireType, WIRE_VARINT, `record #${n} explicit_hash_key_index`, at);
      ehk = r.varint();
    } else if (field === 3) {
      expectWire(wireType, WIRE_LEN, `record #${n} data`, at);
      const e = r.lengthDelimited(`record #${n} data`);
      ds = r.pos;
      de = e;
      r.pos = e;
    } else {
      // Field 4 (tags) included: Riffle has no use for them, so they are skipped unparsed.
      r.skip(wireType, field);
    }
  }
  if (pk === NO_INDEX) throw new Malformed(`record #${n} (offset ${start}) has no partition_key_index`);
  if (ds === NO_INDEX) throw new Malformed(`record #${n} (offset ${start}) has no data`);
  pkIdx.push(pk);
  ehkIdx.push(ehk);
  dataStart.push(ds);
  dataEnd.push(de);
}

// ---------------------------------------------------------------------------------------------
// Encoder: fields in field-number order with no tags, which is exactly what the KPL and
// aws-kinesis-agg emit, so the output is byte-identical to theirs for the same input.

function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

function writeBytes(buf: Buffer, pos: number, tag: number, bytes: Uint8Array): number {
  buf[pos++] = tag;
  pos = writeVarint(buf, pos, bytes.length);
  buf.set(bytes, pos);
  return pos + bytes.length;
}

/**
 * Builds one KPL aggregate (magic + protobuf + MD5) from user records, deduplicating partition and
 * explicit hash keys into the tables. Does not enforce the Kinesis 1 MiB record limit: callers that
 * pack records decide where to split.
 */
export function encodeAggregate(records: readonly KplRecordInput[]): Buffer {
  const pkIndex = new Map<string, number>();
  const ehkIndex = new Map<string, number>();
  const pkBytes: Buffer[] = [];
  const ehkBytes: Buffer[] = [];
  const recPk: number[] = [];
  const recEhk: number[] = [];
  const recData: Uint8Array[] = [];
  const recSize: number[] = [];
  let size = 0;

  for (const rec of records) {
    let p = pkIndex.get(rec.partitionKey);
    if (p === undefined) {
      p = pkBytes.length;
      pkIndex.set(rec.partitionKey, p);
      const b = Buffer.from(rec.partitionKey, 'utf8');
      pkBytes.push(b);
      size += 1 + varintSize(b.length) + b.length;
    }
    let h = NO_INDEX;
    if (rec.explicitHashKey !== undefined) {
      const known = ehkIndex.get(rec.explicitHashKey);
      if (known === undefined) {
        h = ehkBytes.length;
        ehkIndex.set(rec.explicitHashKey, h);
        const b = Buffer.from(rec.explicitHashKey, 'utf8');
        ehkBytes.push(b);
        size += 1 + varintSize(b.length) + b.length;
      } else {
        h = known;
      }
    }
    const data = typeof rec.data === 'string' ? Buffer.from(rec.data, 'utf8') : rec.data;
    const inner = 1 + varintSize(p) + (h === NO_INDEX ? 0 : 1 + varintSize(h)) + 1 + varintSize(data.length) + data.length;
    size += 1 + varintSize(inner) + inner;
    recPk.push(p);
    recEhk.push(h);
    recData.push(data);
    recSize.push(inner);
  }

  const out = Buffer.allocUnsafe(MAGIC_BYTES + size + MD5_BYTES);
  out.set(KPL_MAGIC, 0);
  let pos = MAGIC_BYTES;
  for (const b of pkBytes) pos = writeBytes(out, pos, (1 << 3) | WIRE_LEN, b);
  for (const b of ehkBytes) pos = writeBytes(out, pos, (2 << 3) | WIRE_LEN, b);
  for (let i = 0; i < recData.length; i++) {
    out[pos++] = (3 << 3) | WIRE_LEN;
    pos = writeVarint(out, pos, recSize[i] as number);
    out[pos++] = (1 << 3) | WIRE_VARINT;
    pos = writeVarint(out, pos, recPk[i] as number);
    const h = recEhk[i] as number;
    if (h !== NO_INDEX) {
      out[pos++] = (2 << 3) | WIRE_VARINT;
      pos = writeVarint(out, pos, h);
    }
    pos = writeBytes(out, pos, (3 << 3) | WIRE_LEN, recData[i] as Uint8Array);
  }
  createHash('md5').update(out.subarray(MAGIC_BYTES, pos)).digest().copy(out, pos);
  return out;
}
