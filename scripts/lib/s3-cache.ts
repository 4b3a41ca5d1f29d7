// Fetching Riffle's S3 output for `npm run query`: list only what a query can need, then copy each
// object once into a local cache DuckDB can read (httpfs does not work offline, so objects come
// through the AWS SDK): Parquet objects as they are (`.parquet`, so DuckDB reads only the columns
// and row groups a query needs), JSON-lines objects as plain JSON lines (`.ndjson`).
//
// - Listing prunes by the partition segments Riffle writes — `job=<job>/[format=parquet/]dt=YYYY-MM-DD/hour=HH/`
//   — and never by anything else: an object whose key has no (valid) dt= is fetched, so LocalStack's
//   own names (it ignores prefix expressions and writes `dt=!{partitionKeyFromQuery:dt}/…`) and any
//   other layout still work; rows are filtered again in SQL.
// - Objects of any name and extension are read: Parquet is told by its PAR1 magic, GZIP by its
//   magic bytes (LocalStack writes the JSON records as sent, whatever the stream's configuration).
// - The cache is keyed by bucket, key and ETag: an object is downloaded once, and again only if it
//   changes. Lines that are not JSON objects are dropped with a warning (and counted).
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ListObjectsV2Command, type ListObjectsV2CommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { getObjectBytes, isParquet, listObjects, objectText, type OutputObject } from './output-reader';

export const OUTPUT_KINDS = ['results', 'late', 'rejected'] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

/** What a query needs: one job (or all), and a time range [sinceMs, untilMs) on the partition time. */
export interface PartitionFilter {
  job?: string;
  sinceMs?: number;
  untilMs?: number;
}

export interface ListedObject extends OutputObject {
  bucket: string;
}

export interface FetchStats {
  listCalls: number;
  listed: number;
  /** Objects skipped because their partition (job, dt, hour) is outside the filter. */
  pruned: number;
  fetched: number;
  fetchedBytes: number;
  cached: number;
  /** Lines dropped because they were not JSON objects. */
  malformedLines: number;
  warnings: string[];
}

export function emptyFetchStats(): FetchStats {
  return { listCalls: 0, listed: 0, pruned: 0, fetched: 0, fetchedBytes: 0, cached: 0, malformedLines: 0, warnings: [] };
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** `YYYY-MM-DD` → epoch ms of its UTC midnight, or undefined when it is not a real date. */
function parseDay(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(ms).toISOString().startsWith(text) ? ms : undefined;
}

/** The partition values a key (or key prefix) names: job, and the [from, to) time its dt/hour cover. */
export function partitionOf(key: string): { job?: string; fromMs?: number; toMs?: number } {
  const out: { job?: string; fromMs?: number; toMs?: number } = {};
  let day: number | undefined;
  let hour: number | undefined;
  for (const segment of key.split('/')) {
    const eq = segment.indexOf('=');
    if (eq < 0) continue;
    const name = segment.slice(0, eq);
    const value = segment.slice(eq + 1);
    if (name === 'job' && out.job === undefined && value !== '') out.job = value;
    else if (name === 'dt' && day === undefined) day = parseDay(value);
    else if (name === 'hour' && hour === undefined && /^\d{2}$/.test(value) && Number(value) < 24) hour = Number(value);
  }
  if (day !== undefined) {
    out.fromMs = hour !== undefined ? day + hour * HOUR_MS : day;
    out.toMs = hour !== undefined ? out.fromMs + HOUR_MS : day + DAY_MS;
  }
  return out;
}

/** False only when the key's own partition segments prove that no row in it can match. */
export function keyMayMatch(key: string, filter: PartitionFilter): boolean {
  const p = partitionOf(key);
  if (filter.job !== undefined && p.job !== undefined && p.job !== filter.job) return false;
  if (p.fromMs !== undefined && p.toMs !== undefined) {
    if (filter.sinceMs !== undefined && p.toMs <= filter.sinceMs) return false;
    if (filter.untilMs !== undefined && p.fromMs >= filter.untilMs) return false;
  }
  return true;
}

/** Whether listing below `prefix` level by level can still prune anything. */
function canPruneBelow(prefix: string, filter: PartitionFilter): boolean {
  const p = partitionOf(prefix);
  const jobOpen = filter.job !== undefined && p.job === undefined;
  const timeOpen = (filter.sinceMs !== undefined || filter.untilMs !== undefined) && (p.fromMs === undefined || p.toMs === undefined || p.toMs - p.fromMs > HOUR_MS);
  return jobOpen || timeOpen;
}

/** A prefix segment Riffle's own layout uses for partitions (anything else is listed flat). */
function isPartitionSegment(segment: string): boolean {
  return /^job=[^/]+$/.test(segment) || /^format=[a-z]+$/.test(segment) || (/^dt=/.test(segment) && parseDay(segment.slice(3)) !== undefined) || /^hour=([01]\d|2[0-3])$/.test(segment);
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Objects under `<kind>/` in a bucket that may hold rows for the filter. Walks level by level
 * through Riffle's partition folders (job=, dt=, hour=), skipping the ones outside the filter; a
 * folder of any other name is listed flat and its keys are checked one by one.
 */
export async function listOutputObjects(s3: S3Client, bucket: string, kind: OutputKind, filter: PartitionFilter, stats: FetchStats = emptyFetchStats()): Promise<ListedObject[]> {
  const found: ListedObject[] = [];
  const take = (objects: readonly OutputObject[]) => {
    for (const o of objects) {
      stats.listed++;
      if (keyMayMatch(o.key, filter)) found.push({ ...o, bucket });
      else stats.pruned++;
    }
  };
  const flat = async (prefix: string) => {
    stats.listCalls++;
    take(await listObjects(s3, bucket, prefix));
  };
  const walk = async (prefix: string): Promise<void> => {
    if (!canPruneBelow(prefix, filter)) return flat(prefix);
    const folders: string[] = [];
    let token: string | undefined;
    do {
      stats.listCalls++;
      const page: ListObjectsV2CommandOutput = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/', ...(token ? { ContinuationToken: token } : {}) }));
      take((page.Contents ?? []).filter((o) => o.Key).map((o) => ({ key: o.Key as string, size: o.Size ?? 0, ...(o.ETag ? { etag: o.ETag } : {}), ...(o.LastModified ? { lastModified: o.LastModified } : {}) })));
      for (const cp of page.CommonPrefixes ?? []) if (cp.Prefix) folders.push(cp.Prefix);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    await mapLimit(folders, 8, async (folder) => {
      const segment = folder.slice(prefix.length, -1);
      if (!keyMayMatch(folder, filter)) {
        stats.pruned++;
        return;
      }
      await (isPartitionSegment(segment) ? walk(folder) : flat(folder));
    });
  };
  await walk(`${kind}/`);
  return found;
}

/**
 * Split a line holding several JSON objects back to back (`{…}{…}`, as a Firehose delivery without
 * newline delimiters would write them) at the top-level boundaries. String-aware.
 */
export function splitConcatenated(line: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) {
        parts.push(line.slice(start, i + 1));
        start = i + 1;
      }
    }
  }
  if (line.slice(start).trim() !== '') parts.push(line.slice(start));
  return parts.map((p) => p.trim()).filter(Boolean);
}

function isObjectLine(text: string): boolean {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
}

/** Object text → JSON lines of objects only; counts what had to be dropped. */
export function normalizeJsonLines(text: string): { lines: string[]; malformed: number; firstMalformed?: number } {
  const lines: string[] = [];
  let malformed = 0;
  let firstMalformed: number | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    if (isObjectLine(line)) {
      lines.push(line);
      return;
    }
    const parts = splitConcatenated(line);
    if (parts.length > 1 && parts.every(isObjectLine)) {
      lines.push(...parts);
      return;
    }
    malformed++;
    firstMalformed ??= i + 1;
  });
  return { lines, malformed, ...(firstMalformed !== undefined ? { firstMalformed } : {}) };
}

export type CachedFormat = 'parquet' | 'ndjson';

/** Write then rename: a query interrupted mid-download never leaves a truncated cache file. */
async function writeAtomically(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

/**
 * Cache file of one object version: bucket and key hashed (any characters), ETag as given, the
 * extension saying how DuckDB reads it.
 */
export function cachePath(dir: string, object: Pick<ListedObject, 'bucket' | 'key' | 'etag'>, format: CachedFormat = 'ndjson'): string {
  const id = createHash('sha256').update(`${object.bucket}\u0000${object.key}`).digest('hex').slice(0, 32);
  const etag = (object.etag ?? 'no-etag').replace(/[^A-Za-z0-9-]/g, '');
  return path.join(dir, `${id}-${etag}.${format}`);
}

/** Whether a cached file is Parquet (by the extension cachePath gave it). */
export const isParquetFile = (file: string): boolean => file.endsWith('.parquet');

/**
 * Local files for the objects — `.parquet` for Parquet objects, `.ndjson` for JSON lines —
 * downloading only what the cache lacks. Objects without an ETag are always downloaded. Files with
 * no rows are left out (DuckDB needs none of them).
 */
export async function fetchToCache(s3: S3Client, objects: readonly ListedObject[], dir: string, stats: FetchStats = emptyFetchStats(), options: { useCache?: boolean; concurrency?: number } = {}): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const useCache = options.useCache ?? true;
  const files = await mapLimit(objects, options.concurrency ?? 16, async (object) => {
    if (useCache && object.etag !== undefined) {
      const cached = (['parquet', 'ndjson'] as const).map((f) => cachePath(dir, object, f)).find((f) => existsSync(f));
      if (cached) {
        stats.cached++;
        return cached;
      }
    }
    const bytes = await getObjectBytes(s3, object.bucket, object.key);
    stats.fetched++;
    stats.fetchedBytes += bytes.length;
    if (isParquet(bytes)) {
      const file = cachePath(dir, object, 'parquet');
      await writeAtomically(file, bytes);
      return file;
    }
    const file = cachePath(dir, object, 'ndjson');
    const { lines, malformed, firstMalformed } = normalizeJsonLines(objectText(bytes));
    if (malformed > 0) {
      stats.malformedLines += malformed;
      stats.warnings.push(`s3://${object.bucket}/${object.key}: ${malformed} line(s) are not JSON objects and were skipped (first: line ${firstMalformed})`);
    }
    await writeAtomically(file, lines.length > 0 ? `${lines.join('\n')}\n` : '');
    return file;
  });
  // Empty objects (and objects of only malformed lines) contribute no rows.
  return files.filter((f) => statSync(f).size > 0);
}
