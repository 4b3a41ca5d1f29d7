// The local cloud's S3: the REST/XML subset the SDKs, the AWS CLI and Riffle use, stored as plain
// files so a user can browse (or point DuckDB at) `<dataDir>/s3/<bucket>/<key>` directly.
//
// Why not s3rver: it stores `<key>._S3rver_object` plus sidecar files (awkward to browse or glob),
// its PUT answers before the file is fully written (read-after-write race on Firehose output),
// it rejects any access key but S3RVER and cannot decode `aws-chunked` uploads, which SDK >= 3.729
// sends by default. Here: any credentials are accepted, aws-chunked (signed or unsigned, with
// checksum trailers) is decoded, writes are atomic (temp file + rename), and both path-style and
// virtual-host-style (`<bucket>.localhost:4566`, `<bucket>.s3.<anything>`) addressing work.
//
// Layout under the root: `<bucket>/<key>` data files (key segments `.`/`..`/empty and `%` are
// escaped), `.meta/<bucket>/<key>.s3meta` (ETag, content type, user metadata), `.tmp/` (writes in
// progress), `.uploads/<uploadId>/` (multipart parts), `.meta/<bucket>/.bucket-config/` (bucket
// sub-resources such as policy, stored and echoed, never enforced).
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { header, requestId, xmlEscape } from './http';
import type { HeaderValue, ServiceRequest, ServiceResponse } from './http';

const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

export class S3Error extends Error {
  override readonly name = 'S3Error';
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly extra: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

const noSuchBucket = (bucket: string): S3Error => new S3Error('NoSuchBucket', 'The specified bucket does not exist', 404, { BucketName: bucket });
const noSuchKey = (key: string): S3Error => new S3Error('NoSuchKey', 'The specified key does not exist.', 404, { Key: key });

interface ObjectMeta {
  etag: string;
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  expires?: string;
  metadata?: Record<string, string>;
}

export interface PutObjectOptions {
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface S3Operation {
  readonly operation: string;
  readonly bucket?: string;
  readonly key?: string;
}

/** Bucket sub-resources: `PUT` stores the body, `GET` echoes it or answers AWS's "not configured" error. */
const BUCKET_SUBRESOURCES: Readonly<Record<string, { readonly op: string; readonly missing?: readonly [string, string]; readonly empty?: string }>> = {
  policy: { op: 'BucketPolicy', missing: ['NoSuchBucketPolicy', 'The bucket policy does not exist'] },
  tagging: { op: 'BucketTagging', missing: ['NoSuchTagSet', 'The TagSet does not exist'] },
  cors: { op: 'BucketCors', missing: ['NoSuchCORSConfiguration', 'The CORS configuration does not exist'] },
  encryption: { op: 'BucketEncryption', missing: ['ServerSideEncryptionConfigurationNotFoundError', 'The server side encryption configuration was not found'] },
  lifecycle: { op: 'BucketLifecycleConfiguration', missing: ['NoSuchLifecycleConfiguration', 'The lifecycle configuration does not exist'] },
  publicAccessBlock: { op: 'PublicAccessBlock', missing: ['NoSuchPublicAccessBlockConfiguration', 'The public access block configuration was not found'] },
  ownershipControls: { op: 'BucketOwnershipControls', missing: ['OwnershipControlsNotFoundError', 'The bucket ownership controls were not found'] },
  website: { op: 'BucketWebsite', missing: ['NoSuchWebsiteConfiguration', 'The specified bucket does not have a website configuration'] },
  versioning: { op: 'BucketVersioning', empty: `<VersioningConfiguration xmlns="${XMLNS}"/>` },
  notification: { op: 'BucketNotificationConfiguration', empty: `<NotificationConfiguration xmlns="${XMLNS}"/>` },
  logging: { op: 'BucketLogging', empty: `<BucketLoggingStatus xmlns="${XMLNS}"/>` },
  acl: { op: 'BucketAcl' },
  accelerate: { op: 'BucketAccelerateConfiguration', empty: `<AccelerateConfiguration xmlns="${XMLNS}"/>` },
  requestPayment: { op: 'BucketRequestPayment', empty: `<RequestPaymentConfiguration xmlns="${XMLNS}"><Payer>BucketOwner</Payer></RequestPaymentConfiguration>` },
  replication: { op: 'BucketReplication', missing: ['ReplicationConfigurationNotFoundError', 'The replication configuration was not found'] },
  'intelligent-tiering': { op: 'BucketIntelligentTieringConfiguration' },
  analytics: { op: 'BucketAnalyticsConfiguration' },
  metrics: { op: 'BucketMetricsConfiguration' },
  inventory: { op: 'BucketInventoryConfiguration' },
  'object-lock': { op: 'ObjectLockConfiguration', missing: ['ObjectLockConfigurationNotFoundError', 'Object Lock configuration does not exist for this bucket'] },
};

function subresourceOf(query: URLSearchParams): string | undefined {
  for (const name of Object.keys(BUCKET_SUBRESOURCES)) if (query.has(name)) return name;
  return undefined;
}

// ---- key <-> filesystem path ---------------------------------------------------------------------

function encodeSegment(segment: string): string {
  if (segment === '') return '%';
  const escaped = segment.replace(/%/g, '%25');
  return escaped === '.' || escaped === '..' ? escaped.replace(/\./g, '%2E') : escaped;
}

function decodeSegment(segment: string): string {
  if (segment === '%') return '';
  return segment.replace(/%2E/g, '.').replace(/%25/g, '%');
}

function keyToRelative(key: string): string {
  return key.split('/').map(encodeSegment).join(path.sep);
}

const META_SUFFIX = '.s3meta';

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

function isoDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString();
}

function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function xml(body: string, status = 200, headers: Record<string, HeaderValue> = {}): ServiceResponse {
  return {
    status,
    headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId(), ...headers },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}`,
  };
}

function empty(status: number, headers: Record<string, HeaderValue> = {}): ServiceResponse {
  return { status, headers: { 'x-amz-request-id': requestId(), 'content-length': 0, ...headers } };
}

export function s3ErrorResponse(err: S3Error, method: string, resource: string): ServiceResponse {
  // HEAD responses carry no body; the SDK maps the bare status (404 → NotFound).
  if (method === 'HEAD') return empty(err.status, { 'x-amz-error-code': err.code });
  const extra = Object.entries(err.extra)
    .map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`)
    .join('');
  const id = requestId();
  return xml(
    `<Error><Code>${err.code}</Code><Message>${xmlEscape(err.message)}</Message>${extra}<Resource>${xmlEscape(resource)}</Resource><RequestId>${id}</RequestId></Error>`,
    err.status,
  );
}

/** Decodes an `aws-chunked` body (SigV4 streaming, signed or unsigned, trailers ignored). */
export function decodeAwsChunked(body: Buffer): Buffer {
  const chunks: Buffer[] = [];
  let pos = 0;
  while (pos < body.length) {
    const lineEnd = body.indexOf('\r\n', pos);
    if (lineEnd < 0) throw new S3Error('IncompleteBody', 'malformed aws-chunked body: missing chunk header terminator', 400);
    const sizeText = body.subarray(pos, lineEnd).toString('latin1').split(';')[0]?.trim() ?? '';
    const size = parseInt(sizeText, 16);
    if (!Number.isFinite(size) || size < 0) throw new S3Error('IncompleteBody', `malformed aws-chunked body: bad chunk size ${JSON.stringify(sizeText)}`, 400);
    if (size === 0) break; // trailers (x-amz-checksum-*, x-amz-trailer-signature) follow; not needed
    const start = lineEnd + 2;
    if (start + size > body.length) throw new S3Error('IncompleteBody', 'malformed aws-chunked body: truncated chunk', 400);
    chunks.push(body.subarray(start, start + size));
    pos = start + size + 2;
  }
  return Buffer.concat(chunks);
}

function isAwsChunked(req: ServiceRequest): boolean {
  const encoding = header(req, 'content-encoding') ?? '';
  const sha = header(req, 'x-amz-content-sha256') ?? '';
  return encoding.split(',').some((e) => e.trim() === 'aws-chunked') || sha.startsWith('STREAMING-');
}

function xmlValues(text: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g');
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(xmlUnescape(m[1] ?? ''));
  return out;
}

function xmlUnescape(text: string): string {
  return text.replace(/&(lt|gt|amp|apos|quot|#x[0-9a-fA-F]+|#\d+);/g, (_, e: string) => {
    switch (e) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'apos':
        return "'";
      case 'quot':
        return '"';
      default:
        return String.fromCodePoint(e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    }
  });
}

function validBucketName(name: string): boolean {
  return /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) && !/\.\./.test(name) && !/^\d+\.\d+\.\d+\.\d+$/.test(name);
}

export interface LocalS3Options {
  /** Directory holding the buckets (created if missing). */
  readonly rootDir: string;
  readonly region: string;
  readonly accountId: string;
}

export class LocalS3 {
  readonly rootDir: string;
  private readonly region: string;
  private readonly accountId: string;
  private readonly tmpDir: string;
  private readonly uploadsDir: string;
  private readonly metaRoot: string;

  constructor(options: LocalS3Options) {
    this.rootDir = path.resolve(options.rootDir);
    this.region = options.region;
    this.accountId = options.accountId;
    this.tmpDir = path.join(this.rootDir, '.tmp');
    this.uploadsDir = path.join(this.rootDir, '.uploads');
    this.metaRoot = path.join(this.rootDir, '.meta');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.rootDir, { recursive: true });
    // Leftovers of writes interrupted by a crash are garbage: the rename never happened.
    await fs.rm(this.tmpDir, { recursive: true, force: true });
    await fs.mkdir(this.tmpDir, { recursive: true });
  }

  // ---- programmatic API (Firehose delivery, the deployer, tests) ---------------------------------

  async createBucket(bucket: string): Promise<void> {
    if (!validBucketName(bucket)) throw new S3Error('InvalidBucketName', `The specified bucket is not valid: ${bucket}`, 400, { BucketName: bucket });
    await fs.mkdir(this.bucketDir(bucket), { recursive: true });
  }

  async bucketExists(bucket: string): Promise<boolean> {
    if (!validBucketName(bucket)) return false;
    try {
      return (await fs.stat(this.bucketDir(bucket))).isDirectory();
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async putObject(bucket: string, key: string, body: Buffer, options: PutObjectOptions = {}): Promise<{ etag: string }> {
    await this.requireBucket(bucket);
    const meta: ObjectMeta = { etag: md5Hex(body) };
    if (options.contentType) meta.contentType = options.contentType;
    if (options.contentEncoding) meta.contentEncoding = options.contentEncoding;
    if (options.metadata && Object.keys(options.metadata).length > 0) meta.metadata = { ...options.metadata };
    await this.writeObject(bucket, key, body, meta);
    return { etag: meta.etag };
  }

  async getObject(bucket: string, key: string): Promise<Buffer | undefined> {
    try {
      return await fs.readFile(this.objectPath(bucket, key));
    } catch (err) {
      if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
      throw err;
    }
  }

  async listKeys(bucket: string, prefix = ''): Promise<string[]> {
    await this.requireBucket(bucket);
    return (await this.collect(bucket, prefix)).map((o) => o.key);
  }

  /** Absolute path of an object's data file (for users and tools that read files directly). */
  objectPath(bucket: string, key: string): string {
    return path.join(this.bucketDir(bucket), keyToRelative(key));
  }

  // ---- REST API ----------------------------------------------------------------------------------

  /** Which S3 operation a request is (for stats and routing); pure. */
  classify(req: ServiceRequest): S3Operation {
    const { bucket, key } = this.address(req);
    const q = req.query;
    const m = req.method;
    if (!bucket) return { operation: m === 'GET' ? 'ListBuckets' : 'Unknown' };
    if (key === undefined) {
      const sub = subresourceOf(q);
      const op = sub ? BUCKET_SUBRESOURCES[sub]?.op : undefined;
      let operation: string;
      if (m === 'GET') {
        if (q.has('location')) operation = 'GetBucketLocation';
        else if (op) operation = `Get${op}`;
        else if (q.has('uploads')) operation = 'ListMultipartUploads';
        else if (q.has('versions')) operation = 'ListObjectVersions';
        else operation = q.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
      } else if (m === 'PUT') operation = op ? `Put${op}` : 'CreateBucket';
      else if (m === 'HEAD') operation = 'HeadBucket';
      else if (m === 'DELETE') operation = op ? `Delete${op}` : 'DeleteBucket';
      else if (m === 'POST' && q.has('delete')) operation = 'DeleteObjects';
      else operation = 'Unknown';
      return { operation, bucket };
    }
    let operation = 'Unknown';
    const copy = header(req, 'x-amz-copy-source') !== undefined;
    if (m === 'GET') {
      if (q.has('uploadId')) operation = 'ListParts';
      else if (q.has('tagging')) operation = 'GetObjectTagging';
      else if (q.has('acl')) operation = 'GetObjectAcl';
      else if (q.has('attributes')) operation = 'GetObjectAttributes';
      else operation = 'GetObject';
    } else if (m === 'HEAD') operation = 'HeadObject';
    else if (m === 'PUT') {
      if (q.has('partNumber') && q.has('uploadId')) operation = copy ? 'UploadPartCopy' : 'UploadPart';
      else if (q.has('tagging')) operation = 'PutObjectTagging';
      else if (q.has('acl')) operation = 'PutObjectAcl';
      else operation = copy ? 'CopyObject' : 'PutObject';
    } else if (m === 'DELETE') {
      if (q.has('uploadId')) operation = 'AbortMultipartUpload';
      else if (q.has('tagging')) operation = 'DeleteObjectTagging';
      else operation = 'DeleteObject';
    } else if (m === 'POST') {
      if (q.has('uploads')) operation = 'CreateMultipartUpload';
      else if (q.has('uploadId')) operation = 'CompleteMultipartUpload';
      else if (q.has('select')) operation = 'SelectObjectContent';
    }
    return { operation, bucket, key };
  }

  async handle(req: ServiceRequest, classified: S3Operation = this.classify(req)): Promise<ServiceResponse> {
    const resource = req.path;
    try {
      return await this.dispatch(req, classified);
    } catch (err) {
      if (err instanceof S3Error) return s3ErrorResponse(err, req.method, resource);
      if ((err as NodeJS.ErrnoException).code === 'ENAMETOOLONG') {
        return s3ErrorResponse(new S3Error('KeyTooLongError', 'a key segment is too long for the local filesystem (255 bytes)', 400), req.method, resource);
      }
      if (['EEXIST', 'ENOTDIR', 'EISDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) {
        return s3ErrorResponse(
          new S3Error('InvalidRequest', 'the local S3 stores keys as files and cannot hold both a key and another key under it as a "folder" (e.g. "a" and "a/b")', 400),
          req.method,
          resource,
        );
      }
      throw err;
    }
  }

  private async dispatch(req: ServiceRequest, { operation, bucket, key }: S3Operation): Promise<ServiceResponse> {
    if (operation === 'ListBuckets') return this.listBuckets();
    if (!bucket) return this.notImplemented(operation, req);
    if (!validBucketName(bucket) && operation !== 'CreateBucket') throw noSuchBucket(bucket);
    switch (operation) {
      case 'CreateBucket':
        return this.handleCreateBucket(bucket);
      case 'HeadBucket':
        await this.requireBucket(bucket);
        return empty(200, { 'x-amz-bucket-region': this.region });
      case 'DeleteBucket':
        return this.deleteBucket(bucket);
      case 'GetBucketLocation':
        await this.requireBucket(bucket);
        return xml(`<LocationConstraint xmlns="${XMLNS}">${this.region === 'us-east-1' ? '' : this.region}</LocationConstraint>`);
      case 'ListObjects':
      case 'ListObjectsV2':
        return this.listObjects(bucket, req.query, operation === 'ListObjectsV2');
      case 'ListMultipartUploads':
        await this.requireBucket(bucket);
        return xml(`<ListMultipartUploadsResult xmlns="${XMLNS}"><Bucket>${xmlEscape(bucket)}</Bucket><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>`);
      case 'DeleteObjects':
        return this.deleteObjects(bucket, req.body);
    }
    const sub = subresourceOf(req.query);
    if (key === undefined && sub) return this.bucketSubresource(req, bucket, sub);
    if (key === undefined) return this.notImplemented(operation, req);
    switch (operation) {
      case 'PutObject':
        return this.handlePutObject(req, bucket, key);
      case 'GetObject':
      case 'HeadObject':
        return this.handleGetObject(req, bucket, key, operation === 'HeadObject');
      case 'DeleteObject':
        await this.requireBucket(bucket);
        await this.removeObject(bucket, key);
        return empty(204);
      case 'CopyObject':
        return this.copyObject(req, bucket, key);
      case 'CreateMultipartUpload':
        return this.createMultipartUpload(req, bucket, key);
      case 'UploadPart':
        return this.uploadPart(req);
      case 'CompleteMultipartUpload':
        return this.completeMultipartUpload(req, bucket, key);
      case 'AbortMultipartUpload':
        await fs.rm(this.uploadDir(req.query.get('uploadId') ?? ''), { recursive: true, force: true });
        return empty(204);
      case 'PutObjectTagging':
      case 'PutObjectAcl':
        await this.requireObject(bucket, key);
        return empty(200);
      case 'DeleteObjectTagging':
        return empty(204);
      case 'GetObjectTagging':
        await this.requireObject(bucket, key);
        return xml(`<Tagging xmlns="${XMLNS}"><TagSet/></Tagging>`);
      default:
        return this.notImplemented(operation, req);
    }
  }

  private notImplemented(operation: string, req: ServiceRequest): ServiceResponse {
    return s3ErrorResponse(
      new S3Error('NotImplemented', `the local cloud's S3 does not implement ${operation} (${req.method} ${req.path})`, 501),
      req.method,
      req.path,
    );
  }

  /** Bucket and key from virtual-host-style or path-style addressing. `key` is undefined for bucket-level requests. */
  address(req: ServiceRequest): { bucket?: string; key?: string } {
    const host = req.hostname.toLowerCase();
    let vhostBucket: string | undefined;
    const s3Host = /^(.+?)\.s3[.-]/.exec(host);
    if (s3Host) vhostBucket = s3Host[1];
    else if (host.endsWith('.localhost')) vhostBucket = host.slice(0, -'.localhost'.length);
    const segments = req.path.split('/').slice(1);
    const decode = (s: string): string => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    };
    if (vhostBucket) {
      const rest = segments.map(decode).join('/');
      return rest === '' ? { bucket: vhostBucket } : { bucket: vhostBucket, key: rest };
    }
    const [first, ...rest] = segments;
    if (!first) return {};
    const key = rest.map(decode).join('/');
    return rest.length === 0 || key === '' ? { bucket: decode(first) } : { bucket: decode(first), key };
  }

  // ---- buckets ----------------------------------------------------------------------------------

  private bucketDir(bucket: string): string {
    return path.join(this.rootDir, bucket);
  }

  private metaPath(bucket: string, key: string): string {
    return path.join(this.metaRoot, bucket, keyToRelative(key) + META_SUFFIX);
  }

  private uploadDir(uploadId: string): string {
    if (!/^[A-Za-z0-9-]+$/.test(uploadId)) throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', 404, { UploadId: uploadId });
    return path.join(this.uploadsDir, uploadId);
  }

  private async requireBucket(bucket: string): Promise<void> {
    if (!(await this.bucketExists(bucket))) throw noSuchBucket(bucket);
  }

  private async handleCreateBucket(bucket: string): Promise<ServiceResponse> {
    if (!validBucketName(bucket)) throw new S3Error('InvalidBucketName', 'The specified bucket is not valid.', 400, { BucketName: bucket });
    if (await this.bucketExists(bucket)) {
      // us-east-1 answers 200 to the owner re-creating its bucket; other regions 409.
      if (this.region !== 'us-east-1') {
        throw new S3Error('BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.', 409, { BucketName: bucket });
      }
    }
    await this.createBucket(bucket);
    return empty(200, { location: `/${bucket}` });
  }

  private async listBuckets(): Promise<ServiceResponse> {
    const entries = await fs.readdir(this.rootDir, { withFileTypes: true });
    const buckets: { name: string; created: number }[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || !validBucketName(entry.name)) continue;
      const stat = await fs.stat(path.join(this.rootDir, entry.name));
      buckets.push({ name: entry.name, created: stat.birthtimeMs || stat.mtimeMs });
    }
    buckets.sort((a, b) => (a.name < b.name ? -1 : 1));
    const items = buckets.map((b) => `<Bucket><Name>${xmlEscape(b.name)}</Name><CreationDate>${isoDate(b.created)}</CreationDate></Bucket>`).join('');
    return xml(
      `<ListAllMyBucketsResult xmlns="${XMLNS}"><Owner><ID>${this.accountId}</ID><DisplayName>riffle</DisplayName></Owner><Buckets>${items}</Buckets></ListAllMyBucketsResult>`,
    );
  }

  private async deleteBucket(bucket: string): Promise<ServiceResponse> {
    await this.requireBucket(bucket);
    if ((await this.collect(bucket, '', 1)).length > 0) {
      throw new S3Error('BucketNotEmpty', 'The bucket you tried to delete is not empty', 409, { BucketName: bucket });
    }
    await fs.rm(this.bucketDir(bucket), { recursive: true, force: true });
    await fs.rm(path.join(this.metaRoot, bucket), { recursive: true, force: true });
    return empty(204);
  }

  private async bucketSubresource(req: ServiceRequest, bucket: string, sub: string): Promise<ServiceResponse> {
    await this.requireBucket(bucket);
    const spec = BUCKET_SUBRESOURCES[sub];
    const file = path.join(this.metaRoot, bucket, '.bucket-config', sub);
    if (req.method === 'PUT') {
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, req.body);
      return empty(sub === 'policy' ? 204 : 200);
    }
    if (req.method === 'DELETE') {
      await fs.rm(file, { force: true });
      return empty(204);
    }
    if (req.method !== 'GET') return this.notImplemented(`${req.method} ?${sub}`, req);
    try {
      const stored = await fs.readFile(file);
      return { status: 200, headers: { 'content-type': sub === 'policy' ? 'application/json' : 'application/xml', 'x-amz-request-id': requestId() }, body: stored };
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (sub === 'acl') {
      const owner = `<ID>${this.accountId}</ID><DisplayName>riffle</DisplayName>`;
      return xml(
        `<AccessControlPolicy xmlns="${XMLNS}"><Owner>${owner}</Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">${owner}</Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`,
      );
    }
    if (spec?.empty) return xml(spec.empty);
    if (spec?.missing) throw new S3Error(spec.missing[0], spec.missing[1], 404, { BucketName: bucket });
    return this.notImplemented(`Get${spec?.op ?? sub}`, req);
  }

  // ---- objects ----------------------------------------------------------------------------------

  private async readMeta(bucket: string, key: string, stat: Stats): Promise<ObjectMeta> {
    try {
      return JSON.parse(await fs.readFile(this.metaPath(bucket, key), 'utf8')) as ObjectMeta;
    } catch (err) {
      if (!isNotFound(err) && !(err instanceof SyntaxError)) throw err;
      // A file dropped into the bucket directory by hand: a stable pseudo-ETag from size and mtime.
      return { etag: md5Hex(Buffer.from(`${stat.size}:${stat.mtimeMs}`)) };
    }
  }

  private async statObject(bucket: string, key: string): Promise<Stats | undefined> {
    try {
      const stat = await fs.stat(this.objectPath(bucket, key));
      return stat.isFile() ? stat : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async requireObject(bucket: string, key: string): Promise<Stats> {
    await this.requireBucket(bucket);
    const stat = await this.statObject(bucket, key);
    if (!stat) throw noSuchKey(key);
    return stat;
  }

  /** Atomic: readers see the old object or the new one, never a partial file. */
  private async writeObject(bucket: string, key: string, body: Buffer, meta: ObjectMeta): Promise<void> {
    const target = this.objectPath(bucket, key);
    const metaTarget = this.metaPath(bucket, key);
    const tmp = path.join(this.tmpDir, randomUUID());
    await fs.mkdir(this.tmpDir, { recursive: true });
    await fs.writeFile(tmp, body);
    await fs.writeFile(`${tmp}.meta`, JSON.stringify(meta));
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.mkdir(path.dirname(metaTarget), { recursive: true });
    await fs.rename(`${tmp}.meta`, metaTarget);
    await fs.rename(tmp, target);
  }

  private async removeObject(bucket: string, key: string): Promise<void> {
    await fs.rm(this.objectPath(bucket, key), { force: true });
    await fs.rm(this.metaPath(bucket, key), { force: true });
    await this.pruneEmptyDirs(this.bucketDir(bucket), path.dirname(this.objectPath(bucket, key)));
    await this.pruneEmptyDirs(path.join(this.metaRoot, bucket), path.dirname(this.metaPath(bucket, key)));
  }

  /** Removes empty "folders" left by a delete, so listings do not show phantom common prefixes. */
  private async pruneEmptyDirs(stopAt: string, dir: string): Promise<void> {
    let current = dir;
    while (current.startsWith(stopAt + path.sep)) {
      try {
        await fs.rmdir(current);
      } catch {
        return; // not empty (or gone): stop
      }
      current = path.dirname(current);
    }
  }

  private objectHeaders(meta: ObjectMeta, stat: Stats): Record<string, HeaderValue> {
    const headers: Record<string, HeaderValue> = {
      'x-amz-request-id': requestId(),
      etag: `"${meta.etag}"`,
      'last-modified': httpDate(stat.mtimeMs),
      'content-type': meta.contentType ?? 'binary/octet-stream',
      'accept-ranges': 'bytes',
    };
    if (meta.contentEncoding) headers['content-encoding'] = meta.contentEncoding;
    if (meta.contentDisposition) headers['content-disposition'] = meta.contentDisposition;
    if (meta.contentLanguage) headers['content-language'] = meta.contentLanguage;
    if (meta.cacheControl) headers['cache-control'] = meta.cacheControl;
    if (meta.expires) headers.expires = meta.expires;
    for (const [k, v] of Object.entries(meta.metadata ?? {})) headers[`x-amz-meta-${k}`] = v;
    return headers;
  }

  private async handlePutObject(req: ServiceRequest, bucket: string, key: string): Promise<ServiceResponse> {
    await this.requireBucket(bucket);
    const body = isAwsChunked(req) ? decodeAwsChunked(req.body) : req.body;
    const contentMd5 = header(req, 'content-md5');
    if (contentMd5 && createHash('md5').update(body).digest('base64') !== contentMd5) {
      throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.', 400);
    }
    if (header(req, 'if-none-match') === '*' && (await this.statObject(bucket, key))) {
      throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412, { Condition: 'If-None-Match' });
    }
    const meta = this.metaFromHeaders(req, md5Hex(body));
    await this.writeObject(bucket, key, body, meta);
    const headers: Record<string, HeaderValue> = { etag: `"${meta.etag}"` };
    // Echo a header checksum the client sent (the SDK's default CRC32), as S3 does.
    for (const [name, value] of Object.entries(req.headers)) {
      if (name.startsWith('x-amz-checksum-') && name !== 'x-amz-checksum-type' && typeof value === 'string') headers[name] = value;
    }
    return empty(200, headers);
  }

  private metaFromHeaders(req: ServiceRequest, etag: string): ObjectMeta {
    const meta: ObjectMeta = { etag };
    const contentType = header(req, 'content-type');
    if (contentType) meta.contentType = contentType;
    const encoding = (header(req, 'content-encoding') ?? '')
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e && e !== 'aws-chunked')
      .join(', ');
    if (encoding) meta.contentEncoding = encoding;
    const disposition = header(req, 'content-disposition');
    if (disposition) meta.contentDisposition = disposition;
    const language = header(req, 'content-language');
    if (language) meta.contentLanguage = language;
    const cacheControl = header(req, 'cache-control');
    if (cacheControl) meta.cacheControl = cacheControl;
    const expires = header(req, 'expires');
    if (expires) meta.expires = expires;
    const metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (name.startsWith('x-amz-meta-') && typeof value === 'string') metadata[name.slice('x-amz-meta-'.length)] = value;
    }
    if (Object.keys(metadata).length > 0) meta.metadata = metadata;
    return meta;
  }

  private async handleGetObject(req: ServiceRequest, bucket: string, key: string, headOnly: boolean): Promise<ServiceResponse> {
    const stat = await this.requireObject(bucket, key);
    const meta = await this.readMeta(bucket, key, stat);
    const headers = this.objectHeaders(meta, stat);
    const ifMatch = header(req, 'if-match');
    if (ifMatch && ifMatch !== '*' && !ifMatch.split(',').some((e) => e.trim().replace(/"/g, '') === meta.etag)) {
      throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412, { Condition: 'If-Match' });
    }
    const ifNoneMatch = header(req, 'if-none-match');
    if (ifNoneMatch && (ifNoneMatch === '*' || ifNoneMatch.split(',').some((e) => e.trim().replace(/"/g, '') === meta.etag))) {
      return { status: 304, headers: { etag: headers.etag ?? '', 'last-modified': headers['last-modified'] ?? '' } };
    }
    for (const [param, name] of [
      ['response-content-type', 'content-type'],
      ['response-content-disposition', 'content-disposition'],
      ['response-content-encoding', 'content-encoding'],
      ['response-cache-control', 'cache-control'],
      ['response-content-language', 'content-language'],
      ['response-expires', 'expires'],
    ] as const) {
      const value = req.query.get(param);
      if (value) headers[name] = value;
    }
    const size = stat.size;
    const range = header(req, 'range');
    let start = 0;
    let end = size - 1;
    let status = 200;
    if (range) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (m && (m[1] || m[2])) {
        if (m[1]) {
          start = Number(m[1]);
          end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
        } else {
          start = Math.max(0, size - Number(m[2]));
        }
        if (start >= size || start > end) {
          throw new S3Error('InvalidRange', 'The requested range is not satisfiable', 416, { RangeRequested: range, ActualObjectSize: String(size) });
        }
        status = 206;
        headers['content-range'] = `bytes ${start}-${end}/${size}`;
      }
    }
    const length = size === 0 ? 0 : end - start + 1;
    headers['content-length'] = length;
    if (headOnly) return { status, headers };
    if (length === 0) return { status, headers, body: Buffer.alloc(0) };
    return { status, headers, body: createReadStream(this.objectPath(bucket, key), { start, end }) };
  }

  private async copyObject(req: ServiceRequest, bucket: string, key: string): Promise<ServiceResponse> {
    await this.requireBucket(bucket);
    const source = decodeURIComponent((header(req, 'x-amz-copy-source') ?? '').split('?')[0] ?? '').replace(/^\//, '');
    const slash = source.indexOf('/');
    if (slash <= 0) throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', 400);
    const srcBucket = source.slice(0, slash);
    const srcKey = source.slice(slash + 1);
    const stat = await this.requireObject(srcBucket, srcKey);
    const data = await fs.readFile(this.objectPath(srcBucket, srcKey));
    const meta =
      (header(req, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase() === 'REPLACE'
        ? this.metaFromHeaders(req, md5Hex(data))
        : { ...(await this.readMeta(srcBucket, srcKey, stat)), etag: md5Hex(data) };
    await this.writeObject(bucket, key, data, meta);
    return xml(`<CopyObjectResult xmlns="${XMLNS}"><LastModified>${isoDate(Date.now())}</LastModified><ETag>"${meta.etag}"</ETag></CopyObjectResult>`);
  }

  private async deleteObjects(bucket: string, body: Buffer): Promise<ServiceResponse> {
    await this.requireBucket(bucket);
    const text = body.toString('utf8');
    const quiet = /<Quiet>\s*true\s*<\/Quiet>/i.test(text);
    const keys = xmlValues(text, 'Key');
    let deleted = '';
    for (const key of keys) {
      await this.removeObject(bucket, key);
      if (!quiet) deleted += `<Deleted><Key>${xmlEscape(key)}</Key></Deleted>`;
    }
    return xml(`<DeleteResult xmlns="${XMLNS}">${deleted}</DeleteResult>`);
  }

  private async createMultipartUpload(req: ServiceRequest, bucket: string, key: string): Promise<ServiceResponse> {
    await this.requireBucket(bucket);
    const uploadId = randomUUID();
    const dir = this.uploadDir(uploadId);
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'upload.json'), JSON.stringify({ bucket, key, meta: this.metaFromHeaders(req, '') }));
    return xml(
      `<InitiateMultipartUploadResult xmlns="${XMLNS}"><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${uploadId}</UploadId></InitiateMultipartUploadResult>`,
    );
  }

  private async uploadPart(req: ServiceRequest): Promise<ServiceResponse> {
    const dir = this.uploadDir(req.query.get('uploadId') ?? '');
    const partNumber = Number(req.query.get('partNumber'));
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10000) {
      throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', 400);
    }
    try {
      await fs.access(path.join(dir, 'upload.json'));
    } catch {
      throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', 404);
    }
    const body = isAwsChunked(req) ? decodeAwsChunked(req.body) : req.body;
    await fs.writeFile(path.join(dir, `part-${partNumber}`), body);
    return empty(200, { etag: `"${md5Hex(body)}"` });
  }

  private async completeMultipartUpload(req: ServiceRequest, bucket: string, key: string): Promise<ServiceResponse> {
    const uploadId = req.query.get('uploadId') ?? '';
    const dir = this.uploadDir(uploadId);
    let upload: { meta: ObjectMeta };
    try {
      upload = JSON.parse(await fs.readFile(path.join(dir, 'upload.json'), 'utf8')) as { meta: ObjectMeta };
    } catch {
      throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', 404, { UploadId: uploadId });
    }
    const text = req.body.toString('utf8');
    const partNumbers = xmlValues(text, 'PartNumber').map(Number);
    const buffers: Buffer[] = [];
    const digests: Buffer[] = [];
    for (const n of partNumbers) {
      let part: Buffer;
      try {
        part = await fs.readFile(path.join(dir, `part-${n}`));
      } catch {
        throw new S3Error('InvalidPart', `One or more of the specified parts could not be found (part ${n}).`, 400);
      }
      buffers.push(part);
      digests.push(createHash('md5').update(part).digest());
    }
    const body = Buffer.concat(buffers);
    const etag = `${md5Hex(Buffer.concat(digests))}-${partNumbers.length}`;
    await this.writeObject(bucket, key, body, { ...upload.meta, etag });
    await fs.rm(dir, { recursive: true, force: true });
    return xml(
      `<CompleteMultipartUploadResult xmlns="${XMLNS}"><Location>/${xmlEscape(bucket)}/${xmlEscape(key)}</Location><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><ETag>"${etag}"</ETag></CompleteMultipartUploadResult>`,
    );
  }

  // ---- listing ----------------------------------------------------------------------------------

  /** Objects under `prefix`, sorted by key in S3's (UTF-8 byte) order. */
  private async collect(bucket: string, prefix: string, limit = Infinity): Promise<{ key: string; stat: Stats }[]> {
    const out: { key: string; stat: Stats }[] = [];
    const walk = async (dir: string, keyPrefix: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      for (const entry of entries) {
        if (out.length >= limit) return;
        const childKey = keyPrefix + decodeSegment(entry.name);
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          const dirKey = `${childKey}/`;
          // Only descend where keys can still match the prefix.
          if (dirKey.startsWith(prefix) || prefix.startsWith(dirKey)) await walk(full, dirKey);
        } else if (entry.isFile() && childKey.startsWith(prefix)) {
          out.push({ key: childKey, stat: await fs.stat(full) });
        }
      }
    };
    await walk(this.bucketDir(bucket), '');
    return out.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  }

  private async listObjects(bucket: string, q: URLSearchParams, v2: boolean): Promise<ServiceResponse> {
    await this.requireBucket(bucket);
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const maxKeys = Math.min(1000, Math.max(0, Number(q.get('max-keys') ?? 1000) || 0));
    const urlEncode = q.get('encoding-type') === 'url';
    const enc = (s: string): string => xmlEscape(urlEncode ? encodeURIComponent(s).replace(/%2F/g, '/') : s);
    const token = q.get('continuation-token');
    const after = v2 ? (token ? Buffer.from(token, 'base64url').toString('utf8') : (q.get('start-after') ?? '')) : (q.get('marker') ?? '');

    const objects = await this.collect(bucket, prefix);
    type Entry = { kind: 'object'; key: string; stat: Stats } | { kind: 'prefix'; key: string };
    const entries: Entry[] = [];
    const seenPrefixes = new Set<string>();
    for (const o of objects) {
      if (delimiter) {
        const idx = o.key.indexOf(delimiter, prefix.length);
        if (idx >= 0) {
          const common = o.key.slice(0, idx + delimiter.length);
          if (!seenPrefixes.has(common)) {
            seenPrefixes.add(common);
            entries.push({ kind: 'prefix', key: common });
          }
          continue;
        }
      }
      entries.push({ kind: 'object', key: o.key, stat: o.stat });
    }
    const afterBuf = Buffer.from(after);
    const remaining = after ? entries.filter((e) => Buffer.compare(Buffer.from(e.key), afterBuf) > 0) : entries;
    const page = remaining.slice(0, maxKeys);
    const truncated = remaining.length > page.length;
    const last = page[page.length - 1];

    let contents = '';
    for (const e of page) {
      if (e.kind !== 'object') continue;
      const meta = await this.readMeta(bucket, e.key, e.stat);
      contents +=
        `<Contents><Key>${enc(e.key)}</Key><LastModified>${isoDate(e.stat.mtimeMs)}</LastModified>` +
        `<ETag>&quot;${meta.etag}&quot;</ETag><Size>${e.stat.size}</Size><StorageClass>STANDARD</StorageClass>` +
        (v2 ? '' : `<Owner><ID>${this.accountId}</ID><DisplayName>riffle</DisplayName></Owner>`) +
        `</Contents>`;
    }
    const prefixes = page
      .filter((e) => e.kind === 'prefix')
      .map((e) => `<CommonPrefixes><Prefix>${enc(e.key)}</Prefix></CommonPrefixes>`)
      .join('');
    let head = `<Name>${xmlEscape(bucket)}</Name><Prefix>${enc(prefix)}</Prefix>`;
    if (delimiter) head += `<Delimiter>${enc(delimiter)}</Delimiter>`;
    head += `<MaxKeys>${maxKeys}</MaxKeys>`;
    if (urlEncode) head += '<EncodingType>url</EncodingType>';
    head += `<IsTruncated>${truncated}</IsTruncated>`;
    if (v2) {
      head += `<KeyCount>${page.length}</KeyCount>`;
      if (token) head += `<ContinuationToken>${xmlEscape(token)}</ContinuationToken>`;
      if (q.get('start-after')) head += `<StartAfter>${enc(q.get('start-after') ?? '')}</StartAfter>`;
      if (truncated && last) head += `<NextContinuationToken>${Buffer.from(last.key).toString('base64url')}</NextContinuationToken>`;
    } else {
      head += `<Marker>${enc(q.get('marker') ?? '')}</Marker>`;
      if (truncated && last) head += `<NextMarker>${enc(last.key)}</NextMarker>`;
    }
    return xml(`<ListBucketResult xmlns="${XMLNS}">${head}${contents}${prefixes}</ListBucketResult>`);
  }
}
