// Request bodies of the local S3, streamed: an object upload goes from the socket through the
// `aws-chunked` decoder (SDK >= 3.729 sends it by default) and an MD5 hash straight into a temp
// file, so a 5 GB PUT holds a few hundred KB of memory, never the object. Only the small XML
// documents (DeleteObjects, CompleteMultipartUpload, bucket configuration) are read into memory,
// with a cap.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { header } from '../http';
import type { StreamingServiceRequest } from '../http';
import { entityTooLarge, S3Error } from './errors';

/** S3's single-request limit for PutObject and UploadPart. */
export const MAX_OBJECT_BYTES = 5 * 1024 ** 3;
/** Cap for the XML documents S3 requests carry (a 10,000-part CompleteMultipartUpload is ~1.5 MB). */
export const MAX_XML_BODY_BYTES = 16 * 1024 * 1024;

const MAX_CHUNK_HEADER = 4096;

/**
 * Decodes SigV4 streaming (`aws-chunked`) framing: `<hex size>[;chunk-signature=…]\r\n<data>\r\n`
 * … `0\r\n<trailers>\r\n`. Signatures and trailing checksums are not verified (any credentials are
 * accepted locally); a malformed or truncated framing is S3's IncompleteBody.
 */
export class AwsChunkedDecoder extends Transform {
  private state: 'size' | 'data' | 'crlf' | 'trailer' = 'size';
  private line = '';
  private remaining = 0;
  private crlf = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let pos = 0;
    try {
      while (pos < chunk.length) {
        if (this.state === 'trailer') return done();
        if (this.state === 'size') {
          const nl = chunk.indexOf(0x0a, pos);
          const end = nl < 0 ? chunk.length : nl + 1;
          this.line += chunk.subarray(pos, end).toString('latin1');
          pos = end;
          if (this.line.length > MAX_CHUNK_HEADER) throw incomplete('chunk header too long');
          if (nl < 0) continue;
          const sizeText = this.line.trim().split(';')[0]?.trim() ?? '';
          this.line = '';
          if (!/^[0-9a-fA-F]{1,16}$/.test(sizeText)) throw incomplete(`bad chunk size ${JSON.stringify(sizeText)}`);
          const size = parseInt(sizeText, 16);
          if (size === 0) this.state = 'trailer';
          else {
            this.remaining = size;
            this.state = 'data';
          }
        } else if (this.state === 'data') {
          const take = Math.min(this.remaining, chunk.length - pos);
          this.push(chunk.subarray(pos, pos + take));
          pos += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            this.state = 'crlf';
            this.crlf = 0;
          }
        } else {
          const expected = this.crlf === 0 ? 0x0d : 0x0a;
          if (chunk[pos] !== expected) throw incomplete('missing CRLF after chunk data');
          pos++;
          if (++this.crlf === 2) this.state = 'size';
        }
      }
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    done(this.state === 'trailer' ? undefined : incomplete('the body ended inside a chunk'));
  }
}

function incomplete(what: string): S3Error {
  return new S3Error('IncompleteBody', `malformed aws-chunked body: ${what}`, 400);
}

export function isAwsChunked(req: Pick<StreamingServiceRequest, 'headers'>): boolean {
  const encoding = header(req, 'content-encoding') ?? '';
  const sha = header(req, 'x-amz-content-sha256') ?? '';
  return encoding.split(',').some((e) => e.trim() === 'aws-chunked') || sha.startsWith('STREAMING-');
}

/** The decoding a request's payload needs between the socket and the file (aws-chunked framing or nothing). */
export function payloadDecoders(req: Pick<StreamingServiceRequest, 'headers'>): Transform[] {
  return isAwsChunked(req) ? [new AwsChunkedDecoder()] : [];
}

/** Declared payload size (x-amz-decoded-content-length for aws-chunked), if any; EntityTooLarge beyond `max`. */
export function declaredSize(req: StreamingServiceRequest, max = MAX_OBJECT_BYTES): number | undefined {
  const raw = isAwsChunked(req) ? header(req, 'x-amz-decoded-content-length') : header(req, 'content-length');
  if (raw === undefined) return undefined;
  const size = Number(raw);
  if (!Number.isSafeInteger(size) || size < 0) throw new S3Error('InvalidArgument', `invalid content length ${JSON.stringify(raw)}`, 400);
  if (size > max) throw entityTooLarge(max);
  return size;
}

export interface Spooled {
  readonly size: number;
  readonly md5: Buffer;
}

/** Counts bytes, hashes them (MD5, S3's ETag) and fails past `max`. */
class Meter extends Transform {
  size = 0;
  readonly hash = createHash('md5');
  constructor(private readonly max: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.max) return done(entityTooLarge(this.max));
    this.hash.update(chunk);
    done(null, chunk);
  }
}

/**
 * Writes `source` (through `decoders`) to `file`, flushed to disk before it resolves; the size and
 * MD5 of what was written. A client that disconnects, or a malformed body, rejects it.
 */
export async function spool(source: Readable, file: string, max = MAX_OBJECT_BYTES, decoders: readonly Transform[] = []): Promise<Spooled> {
  const meter = new Meter(max);
  await pipeline([source, ...decoders, meter, createWriteStream(file, { flush: true })]);
  return { size: meter.size, md5: meter.hash.digest() };
}

/** Reads a small request document whole (aws-chunked decoded); MaxMessageLengthExceeded past `max`. */
export async function readSmallBody(req: StreamingServiceRequest, max = MAX_XML_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const collect = new Writable({
    write(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size > max) return done(new S3Error('MaxMessageLengthExceeded', 'Your request was too big.', 400));
      chunks.push(chunk);
      done();
    },
  });
  await pipeline([req.body, ...payloadDecoders(req), collect]);
  return Buffer.concat(chunks, size);
}

/** Verifies a Content-MD5 header against the MD5 of what was received. */
export function checkContentMd5(req: StreamingServiceRequest, md5: Buffer): void {
  const expected = header(req, 'content-md5');
  if (expected !== undefined && md5.toString('base64') !== expected) {
    throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.', 400);
  }
}
