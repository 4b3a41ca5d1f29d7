// One-time migration of a data directory written by the earlier local S3, which stored each key as
// a file path (`<root>/<bucket>/<key>` with `.meta/<bucket>/<key>.s3meta` sidecars) and so could
// not hold `a` next to `a/b`. Every old object is hard-linked into the current layout (store.ts)
// and recorded before the old tree is removed, so an interrupted migration simply runs again at
// the next start; the layout marker is written last.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LAYOUT_FILE, validBucketName, type ObjectMeta, type ObjectStore } from './store';

const LEGACY_META_SUFFIX = '.s3meta';

function decodeLegacySegment(segment: string): string {
  if (segment === '%') return '';
  return segment.replace(/%2E/g, '.').replace(/%25/g, '%');
}

/** Bucket directories of the old layout under `root`, if it has not been migrated yet. */
export async function legacyBuckets(root: string): Promise<string[]> {
  if (await fs.stat(path.join(root, LAYOUT_FILE)).then(() => true, () => false)) return [];
  const entries = await fs.readdir(root, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && validBucketName(e.name)).map((e) => e.name);
}

/** Moves every bucket of the old layout into `store`; returns the number of objects moved. */
export async function migrateLegacyLayout(root: string, store: ObjectStore, buckets: readonly string[]): Promise<number> {
  let objects = 0;
  const metaRoot = path.join(root, '.meta');
  for (const bucket of buckets) {
    await store.createBucket(bucket);
    const bucketDir = path.join(root, bucket);
    const files = await fs.readdir(bucketDir, { withFileTypes: true, recursive: true });
    for (const entry of files) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath, entry.name);
      const relative = path.relative(bucketDir, file);
      const key = relative.split(path.sep).map(decodeLegacySegment).join('/');
      const stat = await fs.stat(file);
      let meta: ObjectMeta & { etag?: string } = {};
      try {
        meta = JSON.parse(await fs.readFile(path.join(metaRoot, bucket, relative + LEGACY_META_SUFFIX), 'utf8')) as ObjectMeta & { etag?: string };
      } catch {
        // a file dropped in by hand: no sidecar
      }
      const { etag, ...rest } = meta;
      await store.commit(
        bucket,
        key,
        file,
        { size: stat.size, etag: etag ?? createHash('md5').update(await fs.readFile(file)).digest('hex'), meta: rest, lastModified: stat.mtimeMs },
        { link: true },
      );
      objects++;
    }
    const oldConfig = path.join(metaRoot, bucket, '.bucket-config');
    for (const name of await fs.readdir(oldConfig).catch(() => [] as string[])) {
      await fs.copyFile(path.join(oldConfig, name), store.configPath(bucket, name));
    }
    await fs.rm(bucketDir, { recursive: true, force: true });
    await fs.rm(path.join(metaRoot, bucket), { recursive: true, force: true });
  }
  await fs.rm(metaRoot, { recursive: true, force: true });
  return objects;
}
