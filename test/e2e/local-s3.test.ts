// The local cloud's S3 with the real AWS SDK v3 client, for what S3 clients rely on and a
// file-per-key store got wrong: `a` next to `a/b`, any valid 1,024-byte key (NUL, `..`, long
// segments), deleting a key that exists only as a prefix, UTF-8 listing order and paging, AWS's
// errors for bad keys and continuation tokens, copies over 8 MB (UploadPartCopy with ranges, what
// `aws s3 cp` does between buckets), multipart uploads that survive a SIGKILL of the server,
// conditional requests, and the one-time migration of a data directory in the old layout.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { startLocalServer } from '../../local/server';
import type { LocalServer } from '../../local/server';

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const MiB = 1024 * 1024;
const quiet = { warn: () => undefined };

function client(endpoint: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'any', secretAccessKey: 'any' } });
}

async function bytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await out.Body?.transformToByteArray()) ?? []);
}

async function allKeys(s3: S3Client, bucket: string, extra: { Prefix?: string; MaxKeys?: number; StartAfter?: string } = {}): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ...extra, ...(token ? { ContinuationToken: token } : {}) }));
    keys.push(...(out.Contents ?? []).map((c) => c.Key ?? ''));
    token = out.NextContinuationToken;
  } while (token);
  return keys;
}

/** A deterministic buffer (not all one byte, so misplaced ranges show). */
function pattern(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) b.writeUInt32LE(Math.imul(i + seed, 2654435761) >>> 0, Math.min(i, size - 4));
  return b;
}

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

describe('local S3 with the SDK', () => {
  let dataDir: string;
  let server: LocalServer;
  let s3: S3Client;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'riffle-s3-e2e-'));
    server = await startLocalServer({ port: 0, dataDir, ttlSweepIntervalMs: 0, logger: quiet });
    s3 = client(server.endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: 'keys' }));
  });

  afterAll(async () => {
    s3?.destroy();
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps `a` next to `a/b`, and deleting a key that exists only as a prefix changes nothing', async () => {
    for (const key of ['a', 'a/b', 'a/b/c']) await s3.send(new PutObjectCommand({ Bucket: 'keys', Key: key, Body: `body of ${key}` }));
    const top = await s3.send(new ListObjectsV2Command({ Bucket: 'keys', Prefix: 'a', Delimiter: '/' }));
    expect(top.Contents?.map((c) => c.Key)).toEqual(['a']);
    expect(top.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/']);
    for (const key of ['a', 'a/b', 'a/b/c']) expect((await bytes(s3, 'keys', key)).toString()).toBe(`body of ${key}`);

    await s3.send(new DeleteObjectCommand({ Bucket: 'keys', Key: 'a/' })); // 204, as S3 answers for a missing key
    await s3.send(new DeleteObjectCommand({ Bucket: 'keys', Key: 'a/b/' }));
    expect(await allKeys(s3, 'keys', { Prefix: 'a' })).toEqual(['a', 'a/b', 'a/b/c']);
    await s3.send(new DeleteObjectCommand({ Bucket: 'keys', Key: 'a' }));
    expect(await allKeys(s3, 'keys', { Prefix: 'a' })).toEqual(['a/b', 'a/b/c']);
  });

  it('stores any valid key up to 1,024 UTF-8 bytes and answers KeyTooLongError beyond, without revealing the data directory', async () => {
    const keys = ['nul\u0000key', 'ctl\u0001\t\u001f', '../../outside', 'a//b', '.', '..', `${'s'.repeat(300)}/${'t'.repeat(300)}`, 'é'.repeat(512), '😀 space+plus%25'];
    expect(Buffer.byteLength('é'.repeat(512))).toBe(1024);
    for (const [i, key] of keys.entries()) await s3.send(new PutObjectCommand({ Bucket: 'keys', Key: key, Body: `v${i}` }));
    for (const [i, key] of keys.entries()) expect((await bytes(s3, 'keys', key)).toString()).toBe(`v${i}`);
    const listed = await allKeys(s3, 'keys');
    for (const key of keys) expect(listed).toContain(key);

    const tooLong = 'é'.repeat(512) + 'x';
    const err = await s3.send(new PutObjectCommand({ Bucket: 'keys', Key: tooLong, Body: 'x' })).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'KeyTooLongError', $metadata: { httpStatusCode: 400 } });
    const raw = await fetch(`${server.endpoint}/keys/${encodeURIComponent(tooLong)}`, { method: 'PUT', body: 'x' });
    expect(raw.status).toBe(400);
    const text = await raw.text();
    expect(text).toContain('<Code>KeyTooLongError</Code>');
    expect(text).not.toContain(dataDir);
    const badEncoding = await fetch(`${server.endpoint}/keys/%E9%ZZ`);
    expect(badEncoding.status).toBe(400);
    expect(await badEncoding.text()).toContain('<Code>InvalidURI</Code>');
  });

  it('lists in UTF-8 byte order and pages through continuation tokens, StartAfter and delimiters; refuses a forged token', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'order' }));
    const keys = ['z', 'é', '\uFFFD', '😀', 'b/1', 'b/2', 'b', 'a', 'b/1/x'];
    for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: 'order', Key: key, Body: key }));
    const expected = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(expected.indexOf('\uFFFD')).toBeLessThan(expected.indexOf('😀')); // JavaScript's sort would swap them
    expect(await allKeys(s3, 'order', { MaxKeys: 2 })).toEqual(expected);
    expect(await allKeys(s3, 'order', { StartAfter: 'b/1', MaxKeys: 3 })).toEqual(expected.slice(expected.indexOf('b/1') + 1));
    const grouped = await s3.send(new ListObjectsV2Command({ Bucket: 'order', Delimiter: '/', MaxKeys: 2 }));
    expect([...(grouped.Contents ?? []).map((c) => c.Key), ...(grouped.CommonPrefixes ?? []).map((p) => p.Prefix)]).toEqual(['a', 'b']);
    const next = await s3.send(new ListObjectsV2Command({ Bucket: 'order', Delimiter: '/', MaxKeys: 2, ContinuationToken: grouped.NextContinuationToken }));
    expect(next.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['b/']);
    expect(next.Contents?.map((c) => c.Key)).toEqual(['z']);

    await expect(s3.send(new ListObjectsV2Command({ Bucket: 'order', ContinuationToken: 'not-a-token-we-issued' }))).rejects.toMatchObject({
      name: 'InvalidArgument',
      $metadata: { httpStatusCode: 400 },
    });
    const deleted = await s3.send(new DeleteObjectsCommand({ Bucket: 'order', Delete: { Objects: [{ Key: 'a' }, { Key: 'é'.repeat(513) }] } }));
    expect(deleted.Deleted?.map((d) => d.Key)).toEqual(['a']);
    expect(deleted.Errors?.map((e) => e.Code)).toEqual(['KeyTooLongError']);
  });

  it('copies a 12 MiB object with CopyObject and with UploadPartCopy byte ranges', async () => {
    const big = pattern(12 * MiB, 7);
    await s3.send(new PutObjectCommand({ Bucket: 'keys', Key: 'big/source.bin', Body: big, ContentType: 'application/x-test' }));
    await s3.send(new CopyObjectCommand({ Bucket: 'keys', Key: 'big/copy.bin', CopySource: 'keys/big/source.bin' }));
    expect(md5(await bytes(s3, 'keys', 'big/copy.bin'))).toBe(md5(big));
    expect((await s3.send(new HeadObjectCommand({ Bucket: 'keys', Key: 'big/copy.bin' }))).ContentType).toBe('application/x-test');

    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'keys', Key: 'big/parts.bin' }));
    const ranges = [
      [0, 5 * MiB - 1],
      [5 * MiB, 10 * MiB - 1],
      [10 * MiB, 12 * MiB - 1],
    ] as const;
    const parts = [];
    for (const [i, [first, last]] of ranges.entries()) {
      const out = await s3.send(
        new UploadPartCopyCommand({ Bucket: 'keys', Key: 'big/parts.bin', UploadId, PartNumber: i + 1, CopySource: 'keys/big/source.bin', CopySourceRange: `bytes=${first}-${last}` }),
      );
      expect(out.CopyPartResult?.ETag).toBe(`"${md5(big.subarray(first, last + 1))}"`);
      parts.push({ PartNumber: i + 1, ETag: out.CopyPartResult?.ETag });
    }
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'keys', Key: 'big/parts.bin', UploadId, MultipartUpload: { Parts: parts } }));
    expect(done.ETag).toMatch(/-3"$/);
    expect(md5(await bytes(s3, 'keys', 'big/parts.bin'))).toBe(md5(big));
    await expect(
      s3.send(new UploadPartCopyCommand({ Bucket: 'keys', Key: 'big/parts.bin', UploadId, PartNumber: 1, CopySource: 'keys/big/source.bin', CopySourceRange: 'bytes=0-1' })),
    ).rejects.toMatchObject({ name: 'NoSuchUpload' });
  });

  it('answers conditional requests as S3 does', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket: 'keys', Key: 'cond', Body: 'one' }));
    await expect(s3.send(new PutObjectCommand({ Bucket: 'keys', Key: 'cond', Body: 'two', IfNoneMatch: '*' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    await expect(s3.send(new GetObjectCommand({ Bucket: 'keys', Key: 'cond', IfNoneMatch: put.ETag }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 304 } });
    await expect(s3.send(new GetObjectCommand({ Bucket: 'keys', Key: 'cond', IfMatch: '"nope"' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    const ranged = await s3.send(new GetObjectCommand({ Bucket: 'keys', Key: 'cond', Range: 'bytes=-2' }));
    expect(await ranged.Body?.transformToString()).toBe('ne');
    expect((await bytes(s3, 'keys', 'cond')).toString()).toBe('one');
  });
});

describe('local S3 durability', () => {
  it('completes a multipart upload whose parts were acknowledged before the server was killed', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'riffle-s3-kill-'));
    const child = spawn(TSX, [path.join(ROOT, 'test/fixtures/local/server-process.ts'), dataDir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`server process exited with ${code}`)));
      });
      const { endpoint, pid } = JSON.parse(line) as { endpoint: string; pid: number };
      const first = pattern(5 * MiB, 1);
      const second = pattern(1234, 2);
      const before = client(endpoint);
      let uploadId: string | undefined;
      try {
        await before.send(new CreateBucketCommand({ Bucket: 'durable' }));
        uploadId = (await before.send(new CreateMultipartUploadCommand({ Bucket: 'durable', Key: 'upload.bin', ContentType: 'application/x-parts' }))).UploadId;
        await before.send(new UploadPartCommand({ Bucket: 'durable', Key: 'upload.bin', UploadId: uploadId, PartNumber: 1, Body: first }));
        await before.send(new UploadPartCommand({ Bucket: 'durable', Key: 'upload.bin', UploadId: uploadId, PartNumber: 2, Body: second }));
        await before.send(new PutObjectCommand({ Bucket: 'durable', Key: 'acked', Body: 'acknowledged before the kill' }));
      } finally {
        before.destroy();
      }
      // tsx runs the server in a child process of its own: kill that one, as a crash would.
      process.kill(pid, 'SIGKILL');
      await new Promise((r) => child.once('exit', r));

      const server = await startLocalServer({ port: 0, dataDir, ttlSweepIntervalMs: 0, logger: quiet });
      const after = client(server.endpoint);
      try {
        expect((await bytes(after, 'durable', 'acked')).toString()).toBe('acknowledged before the kill');
        const uploads = await after.send(new ListMultipartUploadsCommand({ Bucket: 'durable' }));
        expect(uploads.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([['upload.bin', uploadId]]);
        const listed = await after.send(new ListPartsCommand({ Bucket: 'durable', Key: 'upload.bin', UploadId: uploadId }));
        expect(listed.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual([
          [1, first.length, `"${md5(first)}"`],
          [2, second.length, `"${md5(second)}"`],
        ]);
        await after.send(
          new CompleteMultipartUploadCommand({
            Bucket: 'durable',
            Key: 'upload.bin',
            UploadId: uploadId,
            MultipartUpload: { Parts: (listed.Parts ?? []).map((p) => ({ PartNumber: p.PartNumber, ETag: p.ETag })) },
          }),
        );
        const got = await after.send(new GetObjectCommand({ Bucket: 'durable', Key: 'upload.bin' }));
        expect(got.ContentType).toBe('application/x-parts');
        expect(md5(Buffer.from((await got.Body?.transformToByteArray()) ?? []))).toBe(md5(Buffer.concat([first, second])));
      } finally {
        after.destroy();
        await server.stop();
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('moves a data directory of the old file-per-key layout into the current store once', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'riffle-s3-legacy-'));
    try {
      const s3Dir = path.join(dataDir, 's3');
      await mkdir(path.join(s3Dir, 'old-bucket', 'results', 'dt=2024-01-01'), { recursive: true });
      await mkdir(path.join(s3Dir, '.meta', 'old-bucket', 'results', 'dt=2024-01-01'), { recursive: true });
      await writeFile(path.join(s3Dir, 'old-bucket', 'results', 'dt=2024-01-01', 'part.json'), '{"n":1}\n');
      await writeFile(path.join(s3Dir, '.meta', 'old-bucket', 'results', 'dt=2024-01-01', 'part.json.s3meta'), JSON.stringify({ etag: md5(Buffer.from('{"n":1}\n')), contentType: 'application/json' }));
      await writeFile(path.join(s3Dir, 'old-bucket', '%2E%2E'), 'dot-dot key'); // the old escaping of the key ".."
      const warnings: string[] = [];
      const server = await startLocalServer({ port: 0, dataDir, ttlSweepIntervalMs: 0, logger: { warn: (m) => warnings.push(m) } });
      const s3 = client(server.endpoint);
      try {
        expect(await allKeys(s3, 'old-bucket')).toEqual(['..', 'results/dt=2024-01-01/part.json']);
        const got = await s3.send(new GetObjectCommand({ Bucket: 'old-bucket', Key: 'results/dt=2024-01-01/part.json' }));
        expect(got.ContentType).toBe('application/json');
        expect(got.ETag).toBe(`"${md5(Buffer.from('{"n":1}\n'))}"`);
        expect(await got.Body?.transformToString()).toBe('{"n":1}\n');
        expect(warnings.join('\n')).toMatch(/moved 2 object\(s\) in 1 bucket\(s\)/);
        expect((await readdir(s3Dir)).sort()).toEqual(['.tmp', '.uploads', '_buckets', '_riffle-s3.json']);
      } finally {
        s3.destroy();
        await server.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
