// The OpenX JSON SerDe as Firehose's record format conversion applies it, for the local cloud: a
// JSON record → one row of a Glue table's columns. What is emulated (the Firehose developer guide's
// "Convert input data format" and the OpenXJsonSerDe API reference):
// - keys match columns case-insensitively unless CaseInsensitive is false (Glue names are lowercase);
//   ColumnToJsonKeyMappings renames; ConvertDotsInJsonKeysToUnderscores turns a.b into a_b;
// - keys with no column are dropped, columns with no key are NULL;
// - a string column takes a string as is and any other value as its JSON text;
// - numbers and booleans take their JSON type or a string that parses as one (the SerDe is lenient);
// - timestamps take yyyy-MM-dd'T'HH:mm:ss[.fraction]Z and yyyy-[M]M-[d]d HH:mm:ss[.fraction] (UTC);
// - anything else is a conversion failure for the whole record, with a message naming the column.
// Limits: integers beyond ±2^53 lose precision (JSON.parse), timestamps keep milliseconds.
import type { HiveType } from './hive-type';
import { hiveTypeText } from './hive-type';

export interface OpenXOptions {
  /** Default true: JSON keys are lowercased before they are matched. */
  readonly caseInsensitive: boolean;
  /** Column name → JSON key. */
  readonly columnToJsonKey: ReadonlyMap<string, string>;
  readonly dotsToUnderscores: boolean;
}

export interface TableColumn {
  readonly name: string;
  readonly type: HiveType;
}

export class ConversionError extends Error {
  override readonly name = 'ConversionError';
}

const INT_RANGE: Readonly<Record<string, readonly [number, number]>> = {
  tinyint: [-128, 127],
  smallint: [-32768, 32767],
  int: [-2147483648, 2147483647],
  bigint: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

const ISO_Z = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/;
const SQL_TIME = /^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

const show = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
};

/** Epoch ms of a timestamp string in one of the OpenX formats Firehose documents, or undefined. */
export function parseTimestamp(text: string): number | undefined {
  const m = ISO_Z.exec(text) ?? SQL_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Number(((m[7] ?? '') + '000').slice(0, 3));
  const t = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const d = new Date(t);
  // Reject what Date.UTC would roll over (Feb 30, hour 24…).
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day || d.getUTCHours() !== hour || d.getUTCMinutes() !== minute || d.getUTCSeconds() !== second) return undefined;
  return t;
}

/** The object with its keys as the SerDe sees them (lowercased, dots replaced) for matching. */
function normalisedKeys(object: Record<string, unknown>, options: OpenXOptions): Map<string, unknown> {
  const keys = new Map<string, unknown>();
  for (const [key, value] of Object.entries(object)) {
    let k = options.dotsToUnderscores ? key.replace(/\./g, '_') : key;
    if (options.caseInsensitive) k = k.toLowerCase();
    keys.set(k, value);
  }
  return keys;
}

function convert(value: unknown, type: HiveType, path: string, options: OpenXOptions): unknown {
  if (value === null || value === undefined) return null;
  const fail = (): never => {
    throw new ConversionError(`column ${path} (${hiveTypeText(type)}): cannot convert ${show(value)}`);
  };
  switch (type.kind) {
    case 'string':
      return typeof value === 'string' ? value : JSON.stringify(value);
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
      return fail();
    case 'tinyint':
    case 'smallint':
    case 'int':
    case 'bigint': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
      const [lo, hi] = INT_RANGE[type.kind] as readonly [number, number];
      if (!Number.isInteger(n) || n < lo || n > hi) fail();
      return type.kind === 'bigint' ? BigInt(n) : n;
    }
    case 'float':
    case 'double': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      if (Number.isNaN(n)) fail();
      return n;
    }
    case 'timestamp': {
      const t = typeof value === 'string' ? parseTimestamp(value) : undefined;
      if (t === undefined) fail();
      return new Date(t as number);
    }
    case 'date': {
      const m = typeof value === 'string' ? DATE.exec(value) : null;
      const t = m ? parseTimestamp(`${value as string}T00:00:00Z`) : undefined;
      if (t === undefined) fail();
      return Math.round((t as number) / 86_400_000);
    }
    case 'array':
      if (!Array.isArray(value)) return fail();
      return value.map((element, i) => convert(element, type.element, `${path}[${i}]`, options));
    case 'struct': {
      if (typeof value !== 'object' || Array.isArray(value)) return fail();
      const keys = normalisedKeys(value as Record<string, unknown>, options);
      return Object.fromEntries(type.fields.map((f) => [f.name, convert(keys.get(options.caseInsensitive ? f.name.toLowerCase() : f.name), f.type, `${path}.${f.name}`, options)]));
    }
  }
}

/** One JSON document → the row of `columns` (column name → value ready for the Parquet writer). */
export function deserializeRecord(document: unknown, columns: readonly TableColumn[], options: OpenXOptions): Record<string, unknown> {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new ConversionError(`the record is not a JSON object (${show(document)})`);
  }
  const keys = normalisedKeys(document as Record<string, unknown>, options);
  const row: Record<string, unknown> = {};
  for (const column of columns) {
    const mapped = options.columnToJsonKey.get(column.name);
    const key = mapped !== undefined ? (options.caseInsensitive ? mapped.toLowerCase() : mapped) : options.caseInsensitive ? column.name.toLowerCase() : column.name;
    row[column.name] = convert(keys.get(key), column.type, column.name, options);
  }
  return row;
}
