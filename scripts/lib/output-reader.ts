// Reading Riffle's S3 output (results/, late/, rejected/) on any target. Objects are read
// whatever their name or extension — LocalStack names them its own way and ignores GZIP — and
// GZIP is detected by its magic bytes. Results collapse to one per resultId, highest version.
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { gunzipSync } from 'node:zlib';

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

export async function readJsonLines(s3: S3Client, bucket: string, prefix: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const object of await listObjects(s3, bucket, prefix)) {
    rows.push(...parseJsonLines(objectText(await getObjectBytes(s3, bucket, object.key)), `s3://${bucket}/${object.key}`));
  }
  return rows;
}

/** One row per resultId: the highest version (DESIGN §4: downstream dedup). */
export function latestResults<T extends Record<string, unknown>>(rows: readonly T[]): T[] {
  const best = new Map<string, T>();
  for (const row of rows) {
    const id = String(row.resultId);
    const seen = best.get(id);
    if (!seen || Number(row.version) > Number(seen.version) || (Number(row.version) === Number(seen.version) && row.final === true && seen.final !== true)) {
      best.set(id, row);
    }
  }
  return [...best.values()];
}
