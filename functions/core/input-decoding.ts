// Input decoding for the mapper: a Kinesis record (plain JSON or a KPL aggregate of JSON user
// records) becomes decoded events plus rejections with human-readable reasons; nothing here throws
// for bad input. Runs once per input record, so the JSON path avoids work beyond the decode itself.
import { isUtf8 } from 'node:buffer';
import { decodeAggregate, isKplAggregate } from './kpl';
import type { Position } from './positions';

export type { Position } from './positions';

export interface InputRecord {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  data: Buffer;
  /** Approximate arrival timestamp, epoch ms. */
  arrivalTime: number;
}

export interface DecodedEvent {
  position: Position;
  partitionKey: string;
  value: unknown;
  /** The user record's own bytes (a view, not a copy): what rejected/ and late/ keep. */
  raw: Buffer;
}

/** `raw` is the bytes that failed: the user record's own data for a KPL sub-record, else the whole record. */
export type Rejection = { position: Position; partitionKey: string; reason: string; raw: Buffer };

export interface DecodeOptions {
  /** Largest JSON document accepted, in bytes (per user record). Default 1 MiB, the classic Kinesis record limit. */
  maxPayloadBytes?: number;
  /** Deepest array/object nesting accepted; the top-level object is depth 1. Default 64. */
  maxDepth?: number;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
export const DEFAULT_MAX_DEPTH = 64;

/** Decodes one Kinesis record. Never throws for bad input. */
export function decodeRecord(rec: InputRecord, options?: DecodeOptions): { events: DecodedEvent[]; rejections: Rejection[] } {
  const events: DecodedEvent[] = [];
  const rejections: Rejection[] = [];
  decodeInto(rec, events, rejections, options);
  return { events, rejections };
}

/**
 * Like decodeRecord, appending to caller-owned arrays: the mapper's batch loop uses this so a batch
 * allocates two arrays, not two per record.
 */
export function decodeInto(rec: InputRecord, events: DecodedEvent[], rejections: Rejection[], options?: DecodeOptions): void {
  const maxBytes = options?.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const maxDepth = options?.maxDepth ?? DEFAULT_MAX_DEPTH;
  const data = rec.data;

  if (!isKplAggregate(data)) {
    const value = parseJsonObject(data, maxBytes, maxDepth);
    if (value === REJECTED) {
      rejections.push({ position: { seq: rec.sequenceNumber, sub: 0 }, partitionKey: rec.partitionKey, reason: lastReason, raw: data });
    } else {
      events.push({ position: { seq: rec.sequenceNumber, sub: 0 }, partitionKey: rec.partitionKey, value, raw: data });
    }
    return;
  }

  const agg = decodeAggregate(data);
  if (!agg.ok || agg.records.length === 0) {
    rejections.push({
      position: { seq: rec.sequenceNumber, sub: 0 },
      partitionKey: rec.partitionKey,
      reason: agg.ok ? 'KPL aggregate contains no user records' : agg.reason,
      raw: data,
    });
    return;
  }
  const records = agg.records;
  for (let sub = 0; sub < records.length; sub++) {
    const user = records[sub] as (typeof records)[number];
    const value = parseJsonObject(user.data, maxBytes, maxDepth);
    if (value === REJECTED) {
      rejections.push({ position: { seq: rec.sequenceNumber, sub }, partitionKey: user.partitionKey, reason: lastReason, raw: user.data });
    } else {
      events.push({ position: { seq: rec.sequenceNumber, sub }, partitionKey: user.partitionKey, value, raw: user.data });
    }
  }
}

/** Decodes one JSON-object payload (the per-user-record step of decodeRecord). Never throws. */
export function decodeJsonObject(
  data: Buffer,
  options?: DecodeOptions,
): { ok: true; value: Record<string, unknown> } | { ok: false; reason: string } {
  const value = parseJsonObject(data, options?.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES, options?.maxDepth ?? DEFAULT_MAX_DEPTH);
  return value === REJECTED ? { ok: false, reason: lastReason } : { ok: true, value };
}

// The hot path returns this sentinel and leaves the reason in a module variable instead of
// allocating a result object per record. Safe: JS is single-threaded and the reason is read
// immediately after the call.
const REJECTED: unique symbol = Symbol('rejected');
let lastReason = '';

function reject(reason: string): typeof REJECTED {
  lastReason = reason;
  return REJECTED;
}

function parseJsonObject(data: Buffer, maxBytes: number, maxDepth: number): Record<string, unknown> | typeof REJECTED {
  const len = data.length;
  if (len === 0) return reject('empty payload');
  if (len > maxBytes) return reject(`payload exceeds ${maxBytes} bytes (${len} bytes)`);
  // A UTF-8 byte order mark is legal but JSON.parse chokes on it (RFC 8259 lets parsers ignore it).
  const start = len >= 3 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf ? 3 : 0;
  const text = data.toString('utf8', start);
  // toString replaces every invalid sequence with U+FFFD, so its absence proves validity; searching a
  // one-byte (ASCII/Latin-1) string for U+FFFD is immediate. Only when one is there (a real U+FFFD
  // or a replacement) is the bytes' validity checked, and the offset only computed when invalid.
  if (text.indexOf('\uFFFD') !== -1 && !isUtf8(data)) {
    const at = firstInvalidUtf8(data);
    return reject(`payload is not valid UTF-8 (byte 0x${hex2(data[at] ?? 0)} at offset ${at})`);
  }
  // Depth d needs at least d opening brackets (and 2d characters): counting them with the native
  // String#indexOf is ~10x cheaper than the byte scan, which therefore runs only for bracket-heavy payloads.
  if (len - start > 2 * maxDepth && openingBracketsReach(text, maxDepth + 1) && nestingExceeds(data, start, maxDepth)) {
    return reject(`JSON nested deeper than ${maxDepth} levels`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return reject(`payload is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return reject(`payload is JSON but not an object (got ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value})`);
  }
  return value as Record<string, unknown>;
}

function hex2(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}

/** Whether `text` contains at least `limit` '{' or '[' characters (inside strings too: a cheap upper bound). */
function openingBracketsReach(text: string, limit: number): boolean {
  let count = 0;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++count >= limit) return true;
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++count >= limit) return true;
  return false;
}

/**
 * Bracket depth scan over the bytes, skipping string contents (and escapes in them). Runs before
 * JSON.parse so that a pathological document is refused without building it; it tolerates invalid
 * JSON (JSON.parse reports that afterwards).
 */
function nestingExceeds(data: Buffer, start: number, maxDepth: number): boolean {
  const n = data.length;
  let depth = 0;
  for (let i = start; i < n; i++) {
    const c = data[i];
    if (c === 0x22) {
      // Skip to the closing quote; a backslash escapes the byte after it.
      for (i++; i < n; i++) {
        const d = data[i];
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/**
 * Offset of the first byte of the first ill-formed UTF-8 sequence (WHATWG / Unicode "maximal subpart"
 * rules: no overlongs, no surrogates, nothing above U+10FFFF), or data.length when valid. Only used
 * on the error path, to say where the problem is.
 */
export function firstInvalidUtf8(data: Uint8Array): number {
  const n = data.length;
  let i = 0;
  while (i < n) {
    const b = data[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= n) return i; // truncated at the end
    const c1 = data[i + 1] as number;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= need; k++) {
      const c = data[i + k] as number;
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return n;
}
