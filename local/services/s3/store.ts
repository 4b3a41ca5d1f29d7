// The local S3's object store. Keys never become file names: each object is a data file named by a
// random id plus a small JSON record named by the SHA-256 of its key, so any valid S3 key can be
// stored (`a` next to `a/b`, 1,024-byte keys, NUL, `..`) and no key can reach the file system.
// A write is atomic and durable before it is acknowledged: the bytes are spooled to `.tmp/` and
// flushed, renamed into `data/`, then the record is written to `.tmp/`, flushed and renamed over
// the old one — that rename is the commit point; readers see the old object or the new one. A
// crash leaves at worst an unreferenced data file, swept when the bucket is next loaded.
//
// Layout under the root (one process owns it; local/server.ts locks the data directory):
//   _buckets/<bucket>/keys/<h[0:2]>/<h>.json   object record (key, size, ETag, metadata, data id)
//   _buckets/<bucket>/data/<id[0:2]>/<id>      object bytes
//   _buckets/<bucket>/config/<subresource>     bucket configuration (policy, tags, …), echoed only
//   .uploads/<uploadId>/                       multipart uploads in progress (multipart.ts)
//   .tmp/                                      writes in progress, cleared at start
// Each bucket's records are loaded into memory on first use: a sorted key array (S3's order)
// serves listings without touching the disk.
import { createHash, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { noSuchBucket, S3Error } from './errors';
import { compareKeys, lowerBound } from './keys';

export const LAYOUT_FILE = '_riffle-s3.json';
export const LAYOUT_VERSION = 2;

/** Object headers S3 stores and returns. */
export interface ObjectMeta {
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly contentDisposition?: string;
  readonly contentLanguage?: string;
  readonly cacheControl?: string;
  readonly expires?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface ObjectRecord extends ObjectMeta {
  readonly key: string;
  readonly size: number;
  /** Without quotes: MD5 hex, or `<md5 of part MD5s>-<parts>` for multipart objects. */
  readonly etag: string;
  /** Epoch milliseconds. */
  readonly lastModified: number;
  /** Id of the data file. */
  readonly data: string;
}

export interface BucketIndex {
  readonly name: string;
  readonly dir: string;
  readonly records: Map<string, ObjectRecord>;
  /** Every key, in S3 order. */
  readonly sorted: string[];
}

export interface StoreLogger {
  warn(message: string): void;
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export function validBucketName(name: string): boolean {
  return /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) && !/\.\./.test(name) && !/^\d+\.\d+\.\d+\.\d+$/.test(name);
}

/** Serialises the commit step per object key (the old data file is removed by whoever replaced it). */
class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const tail = new Promise<void>((r) => (release = r));
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

export class ObjectStore {
  readonly tmpDir: string;
  readonly bucketsDir: string;
  readonly uploadsDir: string;
  private readonly indexes = new Map<string, Promise<BucketIndex>>();
  private readonly locks = new KeyedLock();
  private readonly madeDirs = new Set<string>();

  constructor(
    readonly root: string,
    private readonly logger: StoreLogger,
  ) {
    this.tmpDir = path.join(root, '.tmp');
    this.bucketsDir = path.join(root, '_buckets');
    this.uploadsDir = path.join(root, '.uploads');
  }

  /** Clears interrupted writes and creates the layout; call before anything else. */
  async init(): Promise<void> {
    // Leftovers of writes interrupted by a crash are garbage: their commit rename never happened.
    await fs.rm(this.tmpDir, { recursive: true, force: true });
    await fs.mkdir(this.tmpDir, { recursive: true });
    await fs.mkdir(this.bucketsDir, { recursive: true });
    await fs.mkdir(this.uploadsDir, { recursive: true });
  }

  /** Marks the root as this layout (after any migration finished). */
  async markLayout(): Promise<void> {
    await fs.writeFile(path.join(this.root, LAYOUT_FILE), `${JSON.stringify({ layout: LAYOUT_VERSION })}\n`);
  }

  /** A fresh temp file path on the store's file system (renamed into place on commit). */
  tempPath(): string {
    return path.join(this.tmpDir, randomUUID());
  }

  // ---- buckets ----------------------------------------------------------------------------------

  private bucketDir(bucket: string): string {
    return path.join(this.bucketsDir, bucket);
  }

  async bucketExists(bucket: string): Promise<boolean> {
    if (!validBucketName(bucket)) return false;
    if (this.indexes.has(bucket)) return true;
    try {
      return (await fs.stat(this.bucketDir(bucket))).isDirectory();
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async createBucket(bucket: string): Promise<void> {
    if (!validBucketName(bucket)) throw new S3Error('InvalidBucketName', `The specified bucket is not valid: ${bucket}`, 400, { BucketName: bucket });
    for (const sub of ['keys', 'data', 'config']) await fs.mkdir(path.join(this.bucketDir(bucket), sub), { recursive: true });
  }

  async listBuckets(): Promise<{ name: string; created: number }[]> {
    const out: { name: string; created: number }[] = [];
    for (const entry of await fs.readdir(this.bucketsDir, { withFileTypes: true })) {
      if (!entry.isDirectory() || !validBucketName(entry.name)) continue;
      const stat = await fs.stat(path.join(this.bucketsDir, entry.name));
      out.push({ name: entry.name, created: stat.birthtimeMs || stat.mtimeMs });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Removes an empty bucket; BucketNotEmpty otherwise. */
  async deleteBucket(bucket: string): Promise<void> {
    const index = await this.index(bucket);
    if (index.records.size > 0) throw new S3Error('BucketNotEmpty', 'The bucket you tried to delete is not empty', 409, { BucketName: bucket });
    this.indexes.delete(bucket);
    await fs.rm(index.dir, { recursive: true, force: true });
    for (const d of this.madeDirs) if (d.startsWith(index.dir + path.sep)) this.madeDirs.delete(d);
  }

  /** Where a bucket sub-resource (policy, tagging, …) is kept. */
  configPath(bucket: string, name: string): string {
    return path.join(this.bucketDir(bucket), 'config', name);
  }

  /** The bucket's in-memory index (loaded on first use); NoSuchBucket when it does not exist. */
  index(bucket: string): Promise<BucketIndex> {
    let loading = this.indexes.get(bucket);
    if (!loading) {
      loading = this.load(bucket);
      this.indexes.set(bucket, loading);
      loading.catch(() => this.indexes.delete(bucket));
    }
    return loading;
  }

  private async load(bucket: string): Promise<BucketIndex> {
    if (!(await this.bucketExists(bucket))) throw noSuchBucket(bucket);
    const dir = this.bucketDir(bucket);
    const records = new Map<string, ObjectRecord>();
    const files: string[] = [];
    for (const shard of await fs.readdir(path.join(dir, 'keys')).catch(() => [] as string[])) {
      for (const name of await fs.readdir(path.join(dir, 'keys', shard)).catch(() => [] as string[])) {
        if (name.endsWith('.json')) files.push(path.join(dir, 'keys', shard, name));
      }
    }
    await mapLimit(files, 32, async (file) => {
      try {
        const record = JSON.parse(await fs.readFile(file, 'utf8')) as ObjectRecord;
        if (typeof record.key === 'string' && typeof record.data === 'string') records.set(record.key, record);
      } catch (err) {
        this.logger.warn(`s3: unreadable object record ${path.relative(this.root, file)} skipped (${(err as Error).message})`);
      }
    });
    // Sweep data files no record points at (a crash between the data rename and the record rename).
    const referenced = new Set([...records.values()].map((r) => r.data));
    let swept = 0;
    for (const shard of await fs.readdir(path.join(dir, 'data')).catch(() => [] as string[])) {
      for (const name of await fs.readdir(path.join(dir, 'data', shard)).catch(() => [] as string[])) {
        if (referenced.has(name)) continue;
        await fs.rm(path.join(dir, 'data', shard, name), { force: true });
        swept++;
      }
    }
    if (swept > 0) this.logger.warn(`s3: removed ${swept} unreferenced data file(s) of interrupted writes in bucket ${bucket}`);
    const sorted = [...records.keys()].sort(compareKeys);
    return { name: bucket, dir, records, sorted };
  }

  // ---- objects ----------------------------------------------------------------------------------

  private recordPath(index: BucketIndex, key: string): string {
    const h = createHash('sha256').update(key, 'utf8').digest('hex');
    return path.join(index.dir, 'keys', h.slice(0, 2), `${h}.json`);
  }

  dataPath(index: BucketIndex, id: string): string {
    return path.join(index.dir, 'data', id.slice(0, 2), id);
  }

  private async mkdirOnce(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    await fs.mkdir(dir, { recursive: true });
    this.madeDirs.add(dir);
  }

  async head(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    return (await this.index(bucket)).records.get(key);
  }

  /**
   * Opens an object for reading. The open handle keeps reading the bytes it opened even if the
   * object is replaced meanwhile; the caller closes it (a read stream with autoClose does).
   */
  async open(bucket: string, key: string): Promise<{ record: ObjectRecord; handle: FileHandle } | undefined> {
    const index = await this.index(bucket);
    for (let attempt = 0; attempt < 5; attempt++) {
      const record = index.records.get(key);
      if (!record) return undefined;
      try {
        return { record, handle: await fs.open(this.dataPath(index, record.data), 'r') };
      } catch (err) {
        if (!isNotFound(err)) throw err;
        // Replaced between the lookup and the open: look again. Unchanged means the file was removed by hand.
        if (index.records.get(key) === record) return undefined;
      }
    }
    return undefined;
  }

  /**
   * Makes the bytes in `file` (a temp file of this store) the object `key`. `check` runs under the
   * key's lock with the current object (conditional writes); a throw there aborts the write.
   * `link` keeps `file` (migration hard-links old files); otherwise it is moved.
   */
  async commit(
    bucket: string,
    key: string,
    file: string,
    fields: { readonly size: number; readonly etag: string; readonly meta: ObjectMeta; readonly lastModified?: number },
    options: { readonly check?: (current: ObjectRecord | undefined) => void; readonly link?: boolean } = {},
  ): Promise<ObjectRecord> {
    let moved: string | undefined;
    try {
      const index = await this.index(bucket);
      return await this.locks.run(`${bucket}/${key}`, async () => {
        const current = index.records.get(key);
        options.check?.(current);
        const id = randomUUID();
        const dataFile = this.dataPath(index, id);
        await this.mkdirOnce(path.dirname(dataFile));
        if (options.link) await fs.link(file, dataFile);
        else await fs.rename(file, dataFile);
        moved = dataFile;
        const record: ObjectRecord = { ...dropUndefined(fields.meta), key, size: fields.size, etag: fields.etag, lastModified: fields.lastModified ?? Date.now(), data: id };
        const recordTmp = `${this.tempPath()}.json`;
        await fs.writeFile(recordTmp, JSON.stringify(record), { flush: true });
        const recordFile = this.recordPath(index, key);
        await this.mkdirOnce(path.dirname(recordFile));
        await fs.rename(recordTmp, recordFile); // the commit point
        moved = undefined;
        index.records.set(key, record);
        if (current) await fs.rm(this.dataPath(index, current.data), { force: true });
        else index.sorted.splice(lowerBound(index.sorted, key), 0, key);
        return record;
      });
    } finally {
      if (moved) await fs.rm(moved, { force: true });
      if (!options.link) await fs.rm(file, { force: true });
    }
  }

  /** Deletes an object; false when there was none (S3 answers 204 either way). */
  async delete(bucket: string, key: string): Promise<boolean> {
    const index = await this.index(bucket);
    return this.locks.run(`${bucket}/${key}`, async () => {
      const current = index.records.get(key);
      if (!current) return false;
      await fs.rm(this.recordPath(index, key), { force: true });
      index.records.delete(key);
      const at = lowerBound(index.sorted, key);
      if (index.sorted[at] === key) index.sorted.splice(at, 1);
      await fs.rm(this.dataPath(index, current.data), { force: true });
      return true;
    });
  }
}

function dropUndefined(meta: ObjectMeta): ObjectMeta {
  return Object.fromEntries(Object.entries(meta).filter(([, v]) => v !== undefined)) as ObjectMeta;
}
