// Multipart uploads (CreateMultipartUpload, UploadPart, UploadPartCopy, ListParts,
// ListMultipartUploads, CompleteMultipartUpload, AbortMultipartUpload), kept on disk so that an
// upload survives a restart or a kill: `.uploads/<uploadId>/upload.json` (bucket, key, headers),
// `part-<n>` (the part's bytes, renamed into place once flushed) and `part-<n>.json` (its ETag).
// Completing concatenates the parts into one temp file and commits it as the object (store.ts),
// with S3's checks: ascending part numbers, ETags that match, every part but the last ≥ 5 MiB.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { noSuchUpload, S3Error } from './errors';
import type { ObjectMeta, ObjectRecord, ObjectStore } from './store';

export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_PARTS = 10_000;

export interface Upload {
  readonly uploadId: string;
  readonly bucket: string;
  readonly key: string;
  readonly meta: ObjectMeta;
  readonly initiated: number;
  readonly dir: string;
}

export interface PartInfo {
  readonly partNumber: number;
  readonly etag: string;
  readonly size: number;
  readonly lastModified: number;
}

export function parsePartNumber(raw: string | null): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PARTS) throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PARTS}, inclusive`, 400, { ArgumentName: 'partNumber', ArgumentValue: String(raw) });
  return n;
}

export class MultipartUploads {
  constructor(private readonly store: ObjectStore) {}

  private dir(uploadId: string): string {
    if (!/^[A-Za-z0-9-]{1,64}$/.test(uploadId)) throw noSuchUpload(uploadId);
    return path.join(this.store.uploadsDir, uploadId);
  }

  async create(bucket: string, key: string, meta: ObjectMeta): Promise<Upload> {
    const uploadId = randomUUID();
    const dir = this.dir(uploadId);
    await fs.mkdir(dir, { recursive: true });
    const upload = { bucket, key, meta, initiated: Date.now() };
    const tmp = this.store.tempPath();
    await fs.writeFile(tmp, JSON.stringify(upload), { flush: true });
    await fs.rename(tmp, path.join(dir, 'upload.json'));
    return { ...upload, uploadId, dir };
  }

  /** The upload, which must belong to `bucket`/`key`; NoSuchUpload otherwise. */
  async get(uploadId: string, bucket: string, key: string): Promise<Upload> {
    const dir = this.dir(uploadId);
    let stored: { bucket: string; key: string; meta?: ObjectMeta; initiated?: number };
    try {
      stored = JSON.parse(await fs.readFile(path.join(dir, 'upload.json'), 'utf8')) as typeof stored;
    } catch {
      throw noSuchUpload(uploadId);
    }
    if (stored.bucket !== bucket || stored.key !== key) throw noSuchUpload(uploadId);
    const initiated = stored.initiated ?? (await fs.stat(dir)).mtimeMs;
    return { uploadId, bucket, key, meta: stored.meta ?? {}, initiated, dir };
  }

  /** Moves a spooled temp file into place as part `partNumber` (replacing an earlier one). */
  async putPart(upload: Upload, partNumber: number, file: string, size: number, md5: Buffer): Promise<PartInfo> {
    const info: PartInfo = { partNumber, etag: md5.toString('hex'), size, lastModified: Date.now() };
    await fs.rename(file, path.join(upload.dir, `part-${partNumber}`));
    const tmp = this.store.tempPath();
    await fs.writeFile(tmp, JSON.stringify(info), { flush: true });
    await fs.rename(tmp, path.join(upload.dir, `part-${partNumber}.json`));
    return info;
  }

  async parts(upload: Upload): Promise<PartInfo[]> {
    const names = await fs.readdir(upload.dir).catch(() => [] as string[]);
    const numbers = names.filter((n) => /^part-\d+$/.test(n)).map((n) => Number(n.slice(5)));
    const out: PartInfo[] = [];
    for (const partNumber of numbers.sort((a, b) => a - b)) out.push(await this.part(upload, partNumber));
    return out;
  }

  private async part(upload: Upload, partNumber: number): Promise<PartInfo> {
    const file = path.join(upload.dir, `part-${partNumber}`);
    try {
      return JSON.parse(await fs.readFile(`${file}.json`, 'utf8')) as PartInfo;
    } catch {
      // The part was renamed into place but its ETag record was not written (a crash between the two).
      const stat = await fs.stat(file);
      const hash = createHash('md5');
      for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
      return { partNumber, etag: hash.digest('hex'), size: stat.size, lastModified: stat.mtimeMs };
    }
  }

  /** Uploads in progress in a bucket, oldest first. */
  async list(bucket: string): Promise<Upload[]> {
    const out: Upload[] = [];
    for (const uploadId of await fs.readdir(this.store.uploadsDir).catch(() => [] as string[])) {
      try {
        const stored = JSON.parse(await fs.readFile(path.join(this.store.uploadsDir, uploadId, 'upload.json'), 'utf8')) as { bucket: string; key: string };
        if (stored.bucket === bucket) out.push(await this.get(uploadId, bucket, stored.key));
      } catch {
        // not an upload (or half-created): skip
      }
    }
    return out.sort((a, b) => a.initiated - b.initiated);
  }

  /** Concatenates the listed parts into the object; the upload is gone afterwards. */
  async complete(upload: Upload, requested: readonly { partNumber: number; etag?: string }[]): Promise<ObjectRecord> {
    if (requested.length === 0) throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.', 400);
    const infos: PartInfo[] = [];
    let previous = 0;
    for (const { partNumber, etag } of requested) {
      if (partNumber <= previous) throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order. The parts list must be specified in order by part number.', 400);
      previous = partNumber;
      let info: PartInfo;
      try {
        info = await this.part(upload, partNumber);
      } catch {
        throw invalidPart(partNumber);
      }
      if (etag !== undefined && etag.replace(/"/g, '') !== info.etag) throw invalidPart(partNumber);
      infos.push(info);
    }
    infos.slice(0, -1).forEach((info) => {
      if (info.size < MIN_PART_BYTES) {
        throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.', 400, {
          ProposedSize: String(info.size),
          MinSizeAllowed: String(MIN_PART_BYTES),
          PartNumber: String(info.partNumber),
          ETag: info.etag,
        });
      }
    });
    const tmp = this.store.tempPath();
    const out = await fs.open(tmp, 'w');
    let size = 0;
    try {
      for (const info of infos) {
        for await (const chunk of createReadStream(path.join(upload.dir, `part-${info.partNumber}`))) {
          await out.write(chunk as Buffer);
          size += (chunk as Buffer).length;
        }
      }
      await out.sync();
    } finally {
      await out.close();
    }
    const etag = `${createHash('md5')
      .update(Buffer.concat(infos.map((i) => Buffer.from(i.etag, 'hex'))))
      .digest('hex')}-${infos.length}`;
    const record = await this.store.commit(upload.bucket, upload.key, tmp, { size, etag, meta: upload.meta });
    await fs.rm(upload.dir, { recursive: true, force: true });
    return record;
  }

  async abort(uploadId: string): Promise<boolean> {
    const dir = this.dir(uploadId);
    const existed = await fs.stat(dir).then(() => true, () => false);
    await fs.rm(dir, { recursive: true, force: true });
    return existed;
  }
}

function invalidPart(partNumber: number): S3Error {
  return new S3Error('InvalidPart', 'One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.', 400, {
    PartNumber: String(partNumber),
  });
}
