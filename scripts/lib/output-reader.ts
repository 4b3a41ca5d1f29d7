// Reading Riffle's S3 output (results/, late/, rejected/) on any target, as the JSON records the
// functions wrote. Objects are read whatever their name or extension — LocalStack names them its own
// way, ignores GZIP and converts nothing — so the format is told by the bytes: Parquet by its PAR1
// magic (results on AWS and the local cloud), GZIP by its magic, anything else is JSON lines.
// Parquet rows come back in the records' shape: Glue's lowercase column names mapped to the record
// fields (windowstart → windowStart), times as ISO-8601 strings, BIGINTs as numbers.
// Results collapse to one per resultId, highest version.
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { gunzipSync } from 'node:zlib';
import { parquetReadObjects } from 'hyparquet';
import { LEADING_RESULT_COLUMNS, TRAILING_RESULT_COLUMNS } from '../../infra/results-schema';
import { jobs } from '../../jobs';

export interface OutputObject {
  key: string;
  etag?: string;
  size: number;
  lastModified?: Date;
}

export async function listObjects(s3: S3Client, bucket: string, prefix: string): Promise<OutputObject[]> {
  const objects: OutputObject[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    for (const o of page.Contents ?? []) {
      if (!o.Key) continue;
      objects.push({ key: o.Key, size: o.Size ?? 0, ...(o.ETag ? { etag: o.ETag } : {}), ...(o.LastModified ? { lastModified: o.LastModified } : {}) });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

export function isGzip(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
}

/** Object bytes → text, gunzipping when the bytes say GZIP (concatenated members included). */
export function objectText(data: Buffer): string {
  return (isGzip(data) ? gunzipSync(data) : data).toString('utf8');
}

/** Parquet's magic at both ends of the object. */
export function isParquet(data: Uint8Array): boolean {
  const magic = (at: number) => data[at] === 0x50 && data[at + 1] === 0x41 && data[at + 2] === 0x52 && data[at + 3] === 0x31;
  return data.length >= 12 && magic(0) && magic(data.length - 4);
}

/** Lowercase column name → the record's field name, for every field a Riffle record can have. */
function fieldNames(): Map<string, string> {
  const names = new Map<string, string>();
  for (const c of [...LEADING_RESULT_COLUMNS, ...TRAILING_RESULT_COLUMNS]) names.set(c.name, c.field);
  for (const job of Object.values(jobs)) for (const field of Object.keys(job.aggregates)) if (!names.has(field.toLowerCase())) names.set(field.toLowerCase(), field);
  return names;
}
let fields: Map<string, string> | undefined;

/** A Parquet value as JSON.parse would have produced it from the record: ISO times, plain numbers. */
function jsonValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(jsonValue);
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, jsonValue(v)]));
  return value;
}

/** The rows of a Parquet object as records (field names and JSON values restored). */
export async function parquetRecords(data: Buffer): Promise<Record<string, unknown>[]> {
  fields ??= fieldNames();
  const names = fields;
  const file = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  const rows = (await parquetReadObjects({ file })) as Record<string, unknown>[];
  return rows.map((row) => Object.fromEntries(Object.entries(row).map(([column, value]) => [names.get(column) ?? column, jsonValue(value)])));
}

/** JSON lines → objects; blank lines skipped; a malformed line throws naming the object and line. */
export function parseJsonLines(text: string, source: string): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      rows.push(JSON.parse(line) as Record<string, unknown>);
    } catch (error) {
      throw new Error(`${source}, line ${i + 1}: not JSON (${(error as Error).message})`);
    }
  });
  return rows;
}

export async function getObjectBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await (response.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

/** The records of one object: Parquet rows or JSON lines (gzipped or not). */
export async function objectRecords(data: Buffer, source: string): Promise<Record<string, unknown>[]> {
  if (isParquet(data)) {
    try {
      return await parquetRecords(data);
    } catch (error) {
      throw new Error(`${source}: not a readable Parquet object (${(error as Error).message})`, { cause: error });
    }
  }
  return parseJsonLines(objectText(data), source);
}

/** Every record under a prefix, whatever each object's format. */
export async function readRecords(s3: S3Client, bucket: string, prefix: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const object of await listObjects(s3, bucket, prefix)) {
    rows.push(...(await objectRecords(await getObjectBytes(s3, bucket, object.key), `s3://${bucket}/${object.key}`)));
  }
  return rows;
}

/** The name from before results were Parquet; reads Parquet objects as well (readRecords). */
export const readJsonLines = readRecords;

/**
 * One row per resultId, as the `results` view keeps it: the greatest job_version, then revision (a
 * reprocess run over the live rows), then state version, final first (rows without job_version or
 * revision: 1 and 0).
 */
export function latestResults<T extends Record<string, unknown>>(rows: readonly T[]): T[] {
  const rank = (row: T): number[] => [Number(row.job_version ?? 1), Number(row.revision ?? 0), Number(row.version), row.final === true ? 1 : 0];
  const better = (a: number[], b: number[]): boolean => {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (a[i] as number) > (b[i] as number);
    return false;
  };
  const best = new Map<string, T>();
  for (const row of rows) {
    const id = String(row.resultId);
    const seen = best.get(id);
    if (!seen || better(rank(row), rank(seen))) best.set(id, row);
  }
  return [...best.values()];
}
