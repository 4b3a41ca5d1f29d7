// Positions in a Kinesis shard: sequence numbers (decimal strings of up to 128 bits) and, for a
// KPL aggregate, the user record's sub-sequence index. The fence and the write-ahead ends compare
// them, so comparing must be numeric (a longer digit string is larger) and allocation-free.

/** Identifies one user record: Kinesis sequence number and KPL sub-sequence index (0 when not aggregated). */
export interface Position {
  seq: string;
  sub: number;
}

function isDigitString(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Numeric comparison of two decimal digit strings; the same order as BigInt(a) vs BigInt(b), without
 * allocating BigInts: skip leading zeros, a longer digit run is larger, equal lengths compare
 * lexicographically. Throws on anything but digits (a programming error, not bad input).
 */
export function compareSequenceNumbers(a: string, b: string): number {
  if (a === b) {
    if (!isDigitString(a)) throw new TypeError(`not a sequence number: ${JSON.stringify(a)}`);
    return 0;
  }
  if (!isDigitString(a)) throw new TypeError(`not a sequence number: ${JSON.stringify(a)}`);
  if (!isDigitString(b)) throw new TypeError(`not a sequence number: ${JSON.stringify(b)}`);
  let i = 0;
  let j = 0;
  while (i < a.length - 1 && a.charCodeAt(i) === 48) i++;
  while (j < b.length - 1 && b.charCodeAt(j) === 48) j++;
  const la = a.length - i;
  const lb = b.length - j;
  if (la !== lb) return la < lb ? -1 : 1;
  for (; i < a.length; i++, j++) {
    const d = a.charCodeAt(i) - b.charCodeAt(j);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Orders positions by sequence number (as a number), then sub-sequence. Returns -1, 0 or 1. */
export function comparePositions(a: Position, b: Position): number {
  const c = compareSequenceNumbers(a.seq, b.seq);
  if (c !== 0) return c;
  return a.sub === b.sub ? 0 : a.sub < b.sub ? -1 : 1;
}

/** The later of two positions (the first when equal). */
export function maxPosition(a: Position, b: Position): Position {
  return comparePositions(a, b) >= 0 ? a : b;
}

/** "<seq>" when sub is 0, else "<seq>:<sub>". */
export function formatPosition(p: Position): string {
  return p.sub === 0 ? p.seq : `${p.seq}:${p.sub}`;
}

const POSITION = /^(\d+)(?::(0|[1-9]\d*))?$/;

/** Inverse of formatPosition ("<seq>:0" is also accepted). Throws on anything else. */
export function parsePosition(s: string): Position {
  const m = POSITION.exec(s);
  const sub = m?.[2] === undefined ? 0 : Number(m[2]);
  if (!m || !Number.isSafeInteger(sub)) throw new Error(`not a record position: ${JSON.stringify(s)}`);
  return { seq: m[1] as string, sub };
}
