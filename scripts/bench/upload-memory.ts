// Bench: the local cloud's memory while large S3 uploads stream through it. N concurrent PutObject
// calls of M MB each (default 4 × 500 MB, sent by the real SDK as aws-chunked streams with a CRC32
// trailer) go to an endpoint running in its own process (upload-memory-server.ts, with the same
// heap cap as `npm run local`), whose resident set size is sampled from /proc every 100 ms.
// Claims: peak RSS stays under 1.5 GB while the uploads run, and afterwards RSS returns to within
// 150 MB of its baseline. Every object is checked afterwards (size and MD5 ETag).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface UploadMemoryResult {
  uploads: number;
  bytesPerUpload: number;
  seconds: number;
  mbPerSec: number;
  baselineRssMb: number;
  peakRssMb: number;
  afterRssMb: number;
  objectsVerified: number;
  peakTargetMb: number;
  settleTargetMb: number;
  met: boolean;
}

const MB = 1_000_000;
const ROOT = path.resolve(__dirname, '../..');

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** `size` bytes of a repeating pseudo-random block, generated as it is read (the client holds none of it). */
function body(size: number, seed: number, hash: ReturnType<typeof createHash>): Readable {
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE(Math.imul(i + seed, 2654435761) >>> 0, i);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      const chunk = block.subarray(0, Math.min(block.length, size - sent));
      sent += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
}

export async function benchUploadMemory(opts: { uploads?: number; megabytes?: number; log?: (line: string) => void } = {}): Promise<UploadMemoryResult> {
  const uploads = opts.uploads ?? 4;
  const size = (opts.megabytes ?? 500) * MB;
  const log = opts.log ?? (() => undefined);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'riffle-bench-upload-'));
  const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx');
  const child = spawn(tsx, ['--max-old-space-size=1024', path.join(__dirname, 'upload-memory-server.ts'), dataDir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  let serverPid: number | undefined;
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`the local cloud process exited with ${code}`)));
    });
    const { endpoint, pid } = JSON.parse(line) as { endpoint: string; pid: number };
    serverPid = pid;
    const s3 = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' }, requestHandler: new NodeHttpHandler({ requestTimeout: 600_000 }) });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'uploads' }));
      await s3.send(new PutObjectCommand({ Bucket: 'uploads', Key: 'warm-up', Body: Buffer.alloc(1024 * 1024) }));
      await new Promise((r) => setTimeout(r, 1000));
      const baseline = rssMb(pid);
      log(`  baseline RSS of the local cloud: ${baseline.toFixed(0)} MB; ${uploads} concurrent PutObject of ${size / MB} MB…`);
      let peak = baseline;
      const sampler = setInterval(() => {
        try {
          peak = Math.max(peak, rssMb(pid));
        } catch {
          // process gone: the upload fails and says so
        }
      }, 100);
      const started = Date.now();
      const hashes = Array.from({ length: uploads }, () => createHash('md5'));
      try {
        await Promise.all(
          hashes.map((hash, i) => s3.send(new PutObjectCommand({ Bucket: 'uploads', Key: `big-${i}.bin`, Body: body(size, i + 1, hash), ContentLength: size }))),
        );
      } finally {
        clearInterval(sampler);
      }
      const seconds = (Date.now() - started) / 1000;
      peak = Math.max(peak, rssMb(pid));
      await new Promise((r) => setTimeout(r, 3000));
      const after = rssMb(pid);
      let verified = 0;
      for (const [i, hash] of hashes.entries()) {
        const head = await s3.send(new HeadObjectCommand({ Bucket: 'uploads', Key: `big-${i}.bin` }));
        if (head.ContentLength !== size || head.ETag !== `"${hash.digest('hex')}"`) throw new Error(`big-${i}.bin: stored ${head.ContentLength} bytes with ETag ${head.ETag}, not what was sent`);
        verified++;
      }
      const peakTargetMb = 1500;
      const settleTargetMb = 150;
      const result: UploadMemoryResult = {
        uploads,
        bytesPerUpload: size,
        seconds,
        mbPerSec: (uploads * size) / MB / seconds,
        baselineRssMb: Math.round(baseline),
        peakRssMb: Math.round(peak),
        afterRssMb: Math.round(after),
        objectsVerified: verified,
        peakTargetMb,
        settleTargetMb,
        met: peak < peakTargetMb && after - baseline <= settleTargetMb,
      };
      return result;
    } finally {
      s3.destroy();
    }
  } finally {
    if (serverPid !== undefined) {
      try {
        process.kill(serverPid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(undefined)));
    await rm(dataDir, { recursive: true, force: true });
  }
}
