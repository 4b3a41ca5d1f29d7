// Glue (Hive) column types for the local Firehose's record format conversion: parses a type string
// as the Glue Data Catalog holds it (`bigint`, `array<struct<value:string,count:bigint>>`) and maps it
// to the Parquet schema elements the writer needs. Hand-written: the grammar is small and no
// maintained JS package parses Hive type strings. Types the local cloud cannot write (decimal,
// binary, map, union) are rejected with the column that uses them, so a stack fails at deploy
// rather than writing something different from AWS.
import type { SchemaElement } from 'hyparquet-writer';

export type HiveType =
  | { readonly kind: 'string' | 'boolean' | 'tinyint' | 'smallint' | 'int' | 'bigint' | 'float' | 'double' | 'timestamp' | 'date' }
  | { readonly kind: 'array'; readonly element: HiveType }
  | { readonly kind: 'struct'; readonly fields: readonly { readonly name: string; readonly type: HiveType }[] };

export class HiveTypeError extends Error {
  override readonly name = 'HiveTypeError';
}

const PRIMITIVES: Readonly<Record<string, HiveType['kind']>> = {
  string: 'string',
  varchar: 'string',
  char: 'string',
  boolean: 'boolean',
  tinyint: 'tinyint',
  smallint: 'smallint',
  int: 'int',
  integer: 'int',
  bigint: 'bigint',
  float: 'float',
  double: 'double',
  timestamp: 'timestamp',
  date: 'date',
};

const UNSUPPORTED = new Set(['decimal', 'binary', 'map', 'uniontype', 'interval']);

/** Parses a Hive type string; throws HiveTypeError naming what is wrong. */
export function parseHiveType(text: string): HiveType {
  let pos = 0;
  const src = text.trim();
  const fail = (what: string): never => {
    throw new HiveTypeError(`type '${text}': ${what} at position ${pos}`);
  };
  const skip = () => {
    while (pos < src.length && /\s/.test(src[pos] as string)) pos++;
  };
  const word = (): string => {
    skip();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(pos));
    if (!m) fail('expected a name');
    pos += (m as RegExpExecArray)[0].length;
    return (m as RegExpExecArray)[0];
  };
  const expect = (c: string) => {
    skip();
    if (src[pos] !== c) fail(`expected '${c}'`);
    pos++;
  };
  const type = (): HiveType => {
    const name = word().toLowerCase();
    if (name === 'array') {
      expect('<');
      const element = type();
      expect('>');
      return { kind: 'array', element };
    }
    if (name === 'struct') {
      expect('<');
      const fields: { name: string; type: HiveType }[] = [];
      for (;;) {
        skip();
        const field = word();
        expect(':');
        fields.push({ name: field.toLowerCase(), type: type() });
        skip();
        if (src[pos] === ',') {
          pos++;
          continue;
        }
        expect('>');
        return { kind: 'struct', fields };
      }
    }
    if (UNSUPPORTED.has(name)) throw new HiveTypeError(`type '${text}': ${name} is not supported by the local cloud's format conversion (string, boolean, integers, float, double, timestamp, date, array, struct)`);
    const kind = PRIMITIVES[name];
    if (!kind) fail(`unknown type '${name}'`);
    skip();
    // varchar(n) / char(n): the length is not enforced by the Parquet SerDe either.
    if (src[pos] === '(' && (name === 'varchar' || name === 'char')) {
      const close = src.indexOf(')', pos);
      if (close < 0) fail("expected ')'");
      pos = close + 1;
    }
    return { kind } as HiveType;
  };
  const result = type();
  skip();
  if (pos !== src.length) fail('unexpected text');
  return result;
}

/**
 * Parquet schema elements (depth-first, as the Parquet footer lists them) for one column: lists use
 * the standard three-level LIST layout, structs a group, every level OPTIONAL (Hive columns are
 * nullable). Timestamps are INT64 milliseconds (Firehose's Hive writer uses INT96; readers map
 * both to TIMESTAMP).
 */
export function parquetElements(name: string, type: HiveType): SchemaElement[] {
  const optional = 'OPTIONAL' as const;
  switch (type.kind) {
    case 'string':
      return [{ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: optional }];
    case 'boolean':
      return [{ name, type: 'BOOLEAN', repetition_type: optional }];
    case 'tinyint':
      return [{ name, type: 'INT32', converted_type: 'INT_8', repetition_type: optional }];
    case 'smallint':
      return [{ name, type: 'INT32', converted_type: 'INT_16', repetition_type: optional }];
    case 'int':
      return [{ name, type: 'INT32', repetition_type: optional }];
    case 'bigint':
      return [{ name, type: 'INT64', repetition_type: optional }];
    case 'float':
      return [{ name, type: 'FLOAT', repetition_type: optional }];
    case 'double':
      return [{ name, type: 'DOUBLE', repetition_type: optional }];
    case 'timestamp':
      return [{ name, type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', repetition_type: optional }];
    case 'date':
      return [{ name, type: 'INT32', converted_type: 'DATE', repetition_type: optional }];
    case 'array':
      return [
        { name, repetition_type: optional, converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        ...parquetElements('element', type.element),
      ];
    case 'struct':
      return [{ name, repetition_type: optional, num_children: type.fields.length }, ...type.fields.flatMap((f) => parquetElements(f.name, f.type))];
  }
}

/** The type as Hive spells it (for messages). */
export function hiveTypeText(type: HiveType): string {
  if (type.kind === 'array') return `array<${hiveTypeText(type.element)}>`;
  if (type.kind === 'struct') return `struct<${type.fields.map((f) => `${f.name}:${hiveTypeText(f.type)}`).join(',')}>`;
  return type.kind;
}
