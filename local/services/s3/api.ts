// The local cloud's S3 REST API: which operation a request is, and its answer in S3's protocol
// (headers, XML documents, errors) — the subset the SDKs, the AWS CLI (cp, sync, multipart upload
// and copy, ranged downloads) and Riffle use. Storage is elsewhere: objects in store.ts, multipart
// uploads in multipart.ts, listings in listing.ts, request bodies in body.ts.
//
// Why not s3rver: it stores keys as file paths (so `a` and `a/b` cannot coexist), its PUT answers
// before the file is fully written, it rejects any access key but S3RVER and cannot decode
// `aws-chunked` uploads, which SDK >= 3.729 sends by default. Here any credentials are accepted,
// both path-style and virtual-host-style (`<bucket>.localhost:4566`) addressing work, and an
// upload is streamed to disk and committed atomically before it is acknowledged.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { header, requestId } from '../http';
import type { HeaderValue, ServiceRequest, ServiceResponse, StreamingServiceRequest } from '../http';
import { checkContentMd5, declaredSize, MAX_OBJECT_BYTES, payloadDecoders, readSmallBody, spool } from './body';
import { BUCKET_SUBRESOURCES, bucketSubresource, subresourceOf } from './bucket-config';
import { noSuchBucket, noSuchKey, preconditionFailed, S3Error } from './errors';
import { decodePathSegment, validateKey } from './keys';
import { listObjectsResponse } from './listing';
import { legacyBuckets, migrateLegacyLayout } from './migrate';
import { MultipartUploads, parsePartNumber, type Upload } from './multipart';
import { ObjectStore, validBucketName, type ObjectMeta, type ObjectRecord, type StoreLogger } from './store';
import { empty, httpDate, isoDate, s3ErrorResponse, s3XmlText, xml, xmlElements, xmlValues, XMLNS } from './xml';

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

export interface LocalS3Options {
  /** Directory holding the store (created if missing). */
  readonly rootDir: string;
  readonly region: string;
  readonly accountId: string;
  readonly logger?: StoreLogger;
  /** Called with the size of each object written through the REST API (stats). */
  readonly onObjectWritten?: (bytes: number) => void;
}

type RequestHead = Pick<ServiceRequest, 'method' | 'path' | 'query' | 'headers' | 'hostname'>;

export class LocalS3 {
  readonly rootDir: string;
  private readonly region: string;
  private readonly accountId: string;
  private readonly logger: StoreLogger;
  private readonly store: ObjectStore;
  private readonly uploads: MultipartUploads;

  constructor(private readonly options: LocalS3Options) {
    this.rootDir = options.rootDir;
    this.region = options.region;
    this.accountId = options.accountId;
    this.logger = options.logger ?? { warn: (m) => console.warn(`[riffle local s3] ${m}`) };
    this.store = new ObjectStore(this.rootDir, this.logger);
    this.uploads = new MultipartUploads(this.store);
  }

  async init(): Promise<void> {
    await fs.mkdir(this.rootDir, { recursive: true });
    const legacy = await legacyBuckets(this.rootDir);
    await this.store.init();
    if (legacy.length > 0) {
      const moved = await migrateLegacyLayout(this.rootDir, this.store, legacy);
      this.logger.warn(`s3: moved ${moved} object(s) in ${legacy.length} bucket(s) from the old file-per-key layout to the current one (once)`);
    }
    await this.store.markLayout();
  }

  // ---- programmatic API (Firehose delivery, tests) ----------------------------------------------

  async createBucket(bucket: string): Promise<void> {
    await this.store.createBucket(bucket);
  }

  async bucketExists(bucket: string): Promise<boolean> {
    return this.store.bucketExists(bucket);
  }

  /** Writes an object atomically (Firehose's ObjectSink); resolves once it is on disk. */
  async putObject(bucket: string, key: string, body: Buffer, options: PutObjectOptions = {}): Promise<{ etag: string }> {
    validateKey(key);
    await this.store.index(bucket);
    const tmp = this.store.tempPath();
    await fs.writeFile(tmp, body, { flush: true });
    const meta: ObjectMeta = {
      ...(options.contentType ? { contentType: options.contentType } : {}),
      ...(options.contentEncoding ? { contentEncoding: options.contentEncoding } : {}),
      ...(options.metadata && Object.keys(options.metadata).length > 0 ? { metadata: { ...options.metadata } } : {}),
    };
    const record = await this.store.commit(bucket, key, tmp, { size: body.length, etag: createHash('md5').update(body).digest('hex'), meta });
    return { etag: record.etag };
  }

  async getObject(bucket: string, key: string): Promise<Buffer | undefined> {
    if (!(await this.store.bucketExists(bucket))) return undefined;
    const opened = await this.store.open(bucket, key);
    if (!opened) return undefined;
    try {
      return await opened.handle.readFile();
    } finally {
      await opened.handle.close();
    }
  }

  async listKeys(bucket: string, prefix = ''): Promise<string[]> {
    const index = await this.store.index(bucket);
    return index.sorted.filter((k) => k.startsWith(prefix));
  }

  // ---- REST API ----------------------------------------------------------------------------------

  /** Which S3 operation a request is (for stats and routing); never throws. */
  classify(req: RequestHead): S3Operation {
    const { bucket, key } = this.address(req, false);
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

  /** Answers a request; S3 errors become S3's XML error documents. Other exceptions are bugs (500). */
  async handle(req: StreamingServiceRequest, classified: S3Operation = this.classify(req)): Promise<ServiceResponse> {
    try {
      return await this.dispatch(req, classified);
    } catch (err) {
      if (err instanceof S3Error) return s3ErrorResponse(err, req.method, req.path);
      throw err;
    }
  }

  /**
   * Bucket and key from virtual-host-style or path-style addressing; `key` is undefined for
   * bucket-level requests. `strict` throws InvalidURI for bad percent-encoding.
   */
  address(req: Pick<ServiceRequest, 'hostname' | 'path'>, strict = true): { bucket?: string; key?: string } {
    const host = req.hostname.toLowerCase();
    let vhostBucket: string | undefined;
    const s3Host = /^(.+?)\.s3[.-]/.exec(host);
    if (s3Host) vhostBucket = s3Host[1];
    else if (host.endsWith('.localhost')) vhostBucket = host.slice(0, -'.localhost'.length);
    const segments = req.path.split('/').slice(1);
    const decode = (s: string): string => {
      try {
        return decodePathSegment(s);
      } catch (err) {
        if (strict) throw err;
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

  private async dispatch(req: StreamingServiceRequest, { operation }: S3Operation): Promise<ServiceResponse> {
    const { bucket, key } = this.address(req);
    if (operation === 'ListBuckets') return this.listBuckets();
    if (!bucket) return this.notImplemented(operation, req);
    if (!validBucketName(bucket) && operation !== 'CreateBucket') throw noSuchBucket(bucket);
    switch (operation) {
      case 'CreateBucket':
        return this.handleCreateBucket(req, bucket);
      case 'HeadBucket':
        await this.store.index(bucket);
        return empty(200, { 'x-amz-bucket-region': this.region });
      case 'DeleteBucket':
        await this.store.deleteBucket(bucket);
        return empty(204);
      case 'GetBucketLocation':
        await this.store.index(bucket);
        return xml(`<LocationConstraint xmlns="${XMLNS}">${this.region === 'us-east-1' ? '' : this.region}</LocationConstraint>`);
      case 'ListObjects':
      case 'ListObjectsV2':
        return listObjectsResponse(bucket, await this.store.index(bucket), req.query, operation === 'ListObjectsV2', this.accountId);
      case 'ListMultipartUploads':
        return this.listMultipartUploads(bucket);
      case 'DeleteObjects':
        return this.deleteObjects(req, bucket);
    }
    const sub = subresourceOf(req.query);
    if (key === undefined && sub) {
      await this.store.index(bucket);
      return (await bucketSubresource(this.store, req.method, bucket, sub, () => readSmallBody(req), this.accountId)) ?? this.notImplemented(operation, req);
    }
    if (key === undefined) return this.notImplemented(operation, req);
    validateKey(key);
    switch (operation) {
      case 'PutObject':
        return this.putObjectRequest(req, bucket, key);
      case 'GetObject':
      case 'HeadObject':
        return this.getObjectRequest(req, bucket, key, operation === 'HeadObject');
      case 'DeleteObject':
        await this.store.delete(bucket, key);
        return empty(204);
      case 'CopyObject':
        return this.copyObject(req, bucket, key);
      case 'CreateMultipartUpload':
        return this.createMultipartUpload(req, bucket, key);
      case 'UploadPart':
        return this.uploadPart(req, bucket, key);
      case 'UploadPartCopy':
        return this.uploadPartCopy(req, bucket, key);
      case 'CompleteMultipartUpload':
        return this.completeMultipartUpload(req, bucket, key);
      case 'ListParts':
        return this.listParts(req, bucket, key);
      case 'AbortMultipartUpload': {
        await this.store.index(bucket);
        const uploadId = req.query.get('uploadId') ?? '';
        await this.uploads.get(uploadId, bucket, key);
        await this.uploads.abort(uploadId);
        return empty(204);
      }
      case 'PutObjectTagging':
      case 'PutObjectAcl':
        await readSmallBody(req);
        await this.requireObject(bucket, key);
        return empty(200);
      case 'DeleteObjectTagging':
        await this.requireObject(bucket, key);
        return empty(204);
      case 'GetObjectTagging':
        await this.requireObject(bucket, key);
        return xml(`<Tagging xmlns="${XMLNS}"><TagSet/></Tagging>`);
      default:
        return this.notImplemented(operation, req);
    }
  }

  private notImplemented(operation: string, req: RequestHead): ServiceResponse {
    return s3ErrorResponse(new S3Error('NotImplemented', `the local cloud's S3 does not implement ${operation} (${req.method} ${req.path})`, 501), req.method, req.path);
  }

  // ---- buckets ----------------------------------------------------------------------------------

  private async handleCreateBucket(req: StreamingServiceRequest, bucket: string): Promise<ServiceResponse> {
    await readSmallBody(req); // CreateBucketConfiguration: the location is this server's region
    if (!validBucketName(bucket)) throw new S3Error('InvalidBucketName', 'The specified bucket is not valid.', 400, { BucketName: bucket });
    // us-east-1 answers 200 to the owner re-creating its bucket; other regions 409.
    if ((await this.store.bucketExists(bucket)) && this.region !== 'us-east-1') {
      throw new S3Error('BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.', 409, { BucketName: bucket });
    }
    await this.store.createBucket(bucket);
    return empty(200, { location: `/${bucket}` });
  }

  private async listBuckets(): Promise<ServiceResponse> {
    const items = (await this.store.listBuckets()).map((b) => `<Bucket><Name>${s3XmlText(b.name)}</Name><CreationDate>${isoDate(b.created)}</CreationDate></Bucket>`).join('');
    return xml(`<ListAllMyBucketsResult xmlns="${XMLNS}"><Owner><ID>${this.accountId}</ID><DisplayName>riffle</DisplayName></Owner><Buckets>${items}</Buckets></ListAllMyBucketsResult>`);
  }

  // ---- objects ----------------------------------------------------------------------------------

  private async requireObject(bucket: string, key: string): Promise<ObjectRecord> {
    const record = await this.store.head(bucket, key);
    if (!record) throw noSuchKey(key);
    return record;
  }

  private objectHeaders(record: ObjectRecord): Record<string, HeaderValue> {
    const headers: Record<string, HeaderValue> = {
      'x-amz-request-id': requestId(),
      etag: `"${record.etag}"`,
      'last-modified': httpDate(record.lastModified),
      'content-type': record.contentType ?? 'binary/octet-stream',
      'accept-ranges': 'bytes',
    };
    if (record.contentEncoding) headers['content-encoding'] = record.contentEncoding;
    if (record.contentDisposition) headers['content-disposition'] = record.contentDisposition;
    if (record.contentLanguage) headers['content-language'] = record.contentLanguage;
    if (record.cacheControl) headers['cache-control'] = record.cacheControl;
    if (record.expires) headers.expires = record.expires;
    for (const [k, v] of Object.entries(record.metadata ?? {})) headers[`x-amz-meta-${k}`] = v;
    return headers;
  }

  private metaFromHeaders(req: RequestHead): ObjectMeta {
    const encoding = (header(req, 'content-encoding') ?? '')
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e && e !== 'aws-chunked')
      .join(', ');
    const metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (name.startsWith('x-amz-meta-') && typeof value === 'string') metadata[name.slice('x-amz-meta-'.length)] = value;
    }
    const pick = (name: string): string | undefined => header(req, name) || undefined;
    return {
      contentType: pick('content-type'),
      contentEncoding: encoding || undefined,
      contentDisposition: pick('content-disposition'),
      contentLanguage: pick('content-language'),
      cacheControl: pick('cache-control'),
      expires: pick('expires'),
      ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
    };
  }

  /** Streams the request body into a temp file; the caller commits or removes it. */
  private async receive(req: StreamingServiceRequest): Promise<{ tmp: string; size: number; md5: Buffer }> {
    const declared = declaredSize(req);
    const tmp = this.store.tempPath();
    try {
      const { size, md5 } = await spool(req.body, tmp, MAX_OBJECT_BYTES, payloadDecoders(req));
      if (declared !== undefined && size !== declared) {
        throw new S3Error('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header.', 400);
      }
      checkContentMd5(req, md5);
      return { tmp, size, md5 };
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  private async putObjectRequest(req: StreamingServiceRequest, bucket: string, key: string): Promise<ServiceResponse> {
    await this.store.index(bucket);
    const { tmp, size, md5 } = await this.receive(req);
    const ifNoneMatch = header(req, 'if-none-match');
    const ifMatch = header(req, 'if-match');
    const record = await this.store.commit(
      bucket,
      key,
      tmp,
      { size, etag: md5.toString('hex'), meta: this.metaFromHeaders(req) },
      {
        check: (current) => {
          if (ifNoneMatch === '*' && current) throw preconditionFailed('If-None-Match');
          if (ifMatch !== undefined) {
            if (!current) throw noSuchKey(key);
            if (!etagMatches(ifMatch, current.etag)) throw preconditionFailed('If-Match');
          }
        },
      },
    );
    this.options.onObjectWritten?.(size);
    const headers: Record<string, HeaderValue> = { etag: `"${record.etag}"` };
    // Echo a header checksum the client sent (the SDK's default CRC32), as S3 does.
    for (const [name, value] of Object.entries(req.headers)) {
      if (name.startsWith('x-amz-checksum-') && name !== 'x-amz-checksum-type' && typeof value === 'string') headers[name] = value;
    }
    return empty(200, headers);
  }

  private async getObjectRequest(req: StreamingServiceRequest, bucket: string, key: string, headOnly: boolean): Promise<ServiceResponse> {
    await this.store.index(bucket);
    let handle: FileHandle | undefined;
    let record: ObjectRecord | undefined;
    if (headOnly) record = await this.store.head(bucket, key);
    else {
      const opened = await this.store.open(bucket, key);
      record = opened?.record;
      handle = opened?.handle;
    }
    if (!record) throw noSuchKey(key);
    let streaming = false;
    try {
      const headers = this.objectHeaders(record);
      const verdict = evaluateConditions(req, record, '');
      if (verdict === 'not-modified') return { status: 304, headers: { etag: headers.etag ?? '', 'last-modified': headers['last-modified'] ?? '' } };
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
      const size = record.size;
      const range = parseRange(header(req, 'range'), size);
      let status = 200;
      let start = 0;
      let end = size - 1;
      if (range) {
        ({ start, end } = range);
        status = 206;
        headers['content-range'] = `bytes ${start}-${end}/${size}`;
      }
      const length = size === 0 ? 0 : end - start + 1;
      headers['content-length'] = length;
      if (headOnly || !handle) return { status, headers };
      if (length === 0) return { status, headers, body: Buffer.alloc(0) };
      streaming = true;
      return { status, headers, body: handle.createReadStream({ start, end }) };
    } finally {
      if (handle && !streaming) await handle.close();
    }
  }

  private parseCopySource(req: RequestHead): { bucket: string; key: string } {
    const raw = (header(req, 'x-amz-copy-source') ?? '').split('?')[0] ?? '';
    let source: string;
    try {
      source = decodeURIComponent(raw).replace(/^\//, '');
    } catch {
      throw new S3Error('InvalidArgument', 'Invalid copy source encoding', 400, { ArgumentName: 'x-amz-copy-source', ArgumentValue: raw });
    }
    const slash = source.indexOf('/');
    if (slash <= 0 || slash === source.length - 1) throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', 400, { ArgumentName: 'x-amz-copy-source', ArgumentValue: raw });
    const key = source.slice(slash + 1);
    validateKey(key);
    return { bucket: source.slice(0, slash), key };
  }

  /** Opens a copy source and applies the x-amz-copy-source-if-* conditions. */
  private async openCopySource(req: StreamingServiceRequest): Promise<{ record: ObjectRecord; handle: FileHandle; bucket: string; key: string }> {
    const { bucket, key } = this.parseCopySource(req);
    if (!(await this.store.bucketExists(bucket))) throw noSuchBucket(bucket);
    const opened = await this.store.open(bucket, key);
    if (!opened) throw noSuchKey(key);
    if (evaluateConditions(req, opened.record, 'x-amz-copy-source-') !== 'ok') {
      await opened.handle.close();
      throw preconditionFailed('x-amz-copy-source-If-*');
    }
    return { ...opened, bucket, key };
  }

  private async copyInto(handle: FileHandle, range?: { start: number; end: number }): Promise<{ tmp: string; size: number; md5: Buffer }> {
    const tmp = this.store.tempPath();
    try {
      const { size, md5 } = await spool(handle.createReadStream(range ?? {}), tmp);
      return { tmp, size, md5 };
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  private async copyObject(req: StreamingServiceRequest, bucket: string, key: string): Promise<ServiceResponse> {
    await this.store.index(bucket);
    const directive = (header(req, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
    if (directive !== 'COPY' && directive !== 'REPLACE') throw new S3Error('InvalidArgument', 'Unknown metadata directive.', 400, { ArgumentName: 'x-amz-metadata-directive', ArgumentValue: directive });
    const source = await this.openCopySource(req);
    if (source.bucket === bucket && source.key === key && directive === 'COPY') {
      await source.handle.close();
      throw new S3Error(
        'InvalidRequest',
        "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        400,
      );
    }
    if (source.record.size > MAX_OBJECT_BYTES) {
      await source.handle.close();
      throw new S3Error('InvalidRequest', `The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_OBJECT_BYTES}`, 400);
    }
    const { tmp, size, md5 } = await this.copyInto(source.handle);
    const { key: _k, size: _s, etag: _e, lastModified: _l, data: _d, ...sourceMeta } = source.record;
    const meta = directive === 'REPLACE' ? this.metaFromHeaders(req) : sourceMeta;
    const record = await this.store.commit(bucket, key, tmp, { size, etag: md5.toString('hex'), meta });
    return xml(`<CopyObjectResult xmlns="${XMLNS}"><LastModified>${isoDate(record.lastModified)}</LastModified><ETag>"${record.etag}"</ETag></CopyObjectResult>`);
  }

  private async deleteObjects(req: StreamingServiceRequest, bucket: string): Promise<ServiceResponse> {
    await this.store.index(bucket);
    const text = (await readSmallBody(req)).toString('utf8');
    const quiet = /<Quiet>\s*true\s*<\/Quiet>/i.test(text);
    const keys = xmlElements(text, 'Object').map((o) => xmlValues(o, 'Key')[0] ?? '');
    if (keys.length > 1000) throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.', 400);
    let results = '';
    for (const key of keys) {
      try {
        validateKey(key);
        await this.store.delete(bucket, key);
        if (!quiet) results += `<Deleted><Key>${s3XmlText(key)}</Key></Deleted>`;
      } catch (err) {
        if (!(err instanceof S3Error)) throw err;
        results += `<Error><Key>${s3XmlText(key)}</Key><Code>${err.code}</Code><Message>${s3XmlText(err.message)}</Message></Error>`;
      }
    }
    return xml(`<DeleteResult xmlns="${XMLNS}">${results}</DeleteResult>`);
  }

  // ---- multipart --------------------------------------------------------------------------------

  private async upload(req: RequestHead, bucket: string, key: string): Promise<Upload> {
    await this.store.index(bucket);
    return this.uploads.get(req.query.get('uploadId') ?? '', bucket, key);
  }

  private async createMultipartUpload(req: StreamingServiceRequest, bucket: string, key: string): Promise<ServiceResponse> {
    await this.store.index(bucket);
    const upload = await this.uploads.create(bucket, key, this.metaFromHeaders(req));
    return xml(
      `<InitiateMultipartUploadResult xmlns="${XMLNS}"><Bucket>${s3XmlText(bucket)}</Bucket><Key>${s3XmlText(key)}</Key><UploadId>${upload.uploadId}</UploadId></InitiateMultipartUploadResult>`,
    );
  }

  private async uploadPart(req: StreamingServiceRequest, bucket: string, key: string): Promise<ServiceResponse> {
    const upload = await this.upload(req, bucket, key);
    const partNumber = parsePartNumber(req.query.get('partNumber'));
    const { tmp, size, md5 } = await this.receive(req);
    try {
      const part = await this.uploads.putPart(upload, partNumber, tmp, size, md5);
      return empty(200, { etag: `"${part.etag}"` });
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  private async uploadPartCopy(req: StreamingServiceRequest, bucket: string, key: string): Promise<ServiceResponse> {
    const upload = await this.upload(req, bucket, key);
    const partNumber = parsePartNumber(req.query.get('partNumber'));
    const source = await this.openCopySource(req);
    let range: { start: number; end: number } | undefined;
    const rawRange = header(req, 'x-amz-copy-source-range');
    if (rawRange !== undefined) {
      const m = /^bytes=(\d+)-(\d+)$/.exec(rawRange.trim());
      const start = Number(m?.[1]);
      const end = Number(m?.[2]);
      if (!m || start > end || end >= source.record.size) {
        await source.handle.close();
        throw new S3Error('InvalidArgument', `Range specified is not valid for source object of size: ${source.record.size}`, 400, { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: rawRange });
      }
      range = { start, end };
    }
    const { tmp, size, md5 } = await this.copyInto(source.handle, range);
    try {
      const part = await this.uploads.putPart(upload, partNumber, tmp, size, md5);
      return xml(`<CopyPartResult xmlns="${XMLNS}"><LastModified>${isoDate(part.lastModified)}</LastModified><ETag>"${part.etag}"</ETag></CopyPartResult>`);
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  private async completeMultipartUpload(req: StreamingServiceRequest, bucket: string, key: string): Promise<ServiceResponse> {
    const upload = await this.upload(req, bucket, key);
    const text = (await readSmallBody(req)).toString('utf8');
    const parts = xmlElements(text, 'Part').map((p) => {
      const partNumber = Number(xmlValues(p, 'PartNumber')[0]);
      if (!Number.isInteger(partNumber)) throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.', 400);
      const etag = xmlValues(p, 'ETag')[0];
      return etag === undefined ? { partNumber } : { partNumber, etag };
    });
    const record = await this.uploads.complete(upload, parts);
    this.options.onObjectWritten?.(record.size);
    return xml(
      `<CompleteMultipartUploadResult xmlns="${XMLNS}"><Location>/${s3XmlText(bucket)}/${s3XmlText(key)}</Location><Bucket>${s3XmlText(bucket)}</Bucket><Key>${s3XmlText(key)}</Key><ETag>"${record.etag}"</ETag></CompleteMultipartUploadResult>`,
    );
  }

  private async listParts(req: StreamingServiceRequest, bucket: string, key: string): Promise<ServiceResponse> {
    const upload = await this.upload(req, bucket, key);
    const marker = Number(req.query.get('part-number-marker') ?? 0) || 0;
    const maxParts = Math.min(1000, Math.max(0, Number(req.query.get('max-parts') ?? 1000) || 1000));
    const all = (await this.uploads.parts(upload)).filter((p) => p.partNumber > marker);
    const page = all.slice(0, maxParts);
    const truncated = all.length > page.length;
    const parts = page
      .map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><LastModified>${isoDate(p.lastModified)}</LastModified><ETag>"${p.etag}"</ETag><Size>${p.size}</Size></Part>`)
      .join('');
    const next = page.at(-1)?.partNumber ?? marker;
    return xml(
      `<ListPartsResult xmlns="${XMLNS}"><Bucket>${s3XmlText(bucket)}</Bucket><Key>${s3XmlText(key)}</Key><UploadId>${upload.uploadId}</UploadId>` +
        `<PartNumberMarker>${marker}</PartNumberMarker><NextPartNumberMarker>${next}</NextPartNumberMarker><MaxParts>${maxParts}</MaxParts><IsTruncated>${truncated}</IsTruncated>` +
        `<StorageClass>STANDARD</StorageClass>${parts}</ListPartsResult>`,
    );
  }

  private async listMultipartUploads(bucket: string): Promise<ServiceResponse> {
    await this.store.index(bucket);
    const uploads = (await this.uploads.list(bucket))
      .map((u) => `<Upload><Key>${s3XmlText(u.key)}</Key><UploadId>${u.uploadId}</UploadId><Initiated>${isoDate(u.initiated)}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`)
      .join('');
    return xml(`<ListMultipartUploadsResult xmlns="${XMLNS}"><Bucket>${s3XmlText(bucket)}</Bucket><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${uploads}</ListMultipartUploadsResult>`);
  }
}

function etagMatches(list: string, etag: string): boolean {
  return list.split(',').some((e) => {
    const t = e.trim().replace(/^W\//, '').replace(/"/g, '');
    return t === '*' || t === etag;
  });
}

/**
 * RFC 7232 as S3 applies it: If-Match / If-Unmodified-Since fail with 412, If-None-Match /
 * If-Modified-Since answer 304 (for copy sources, every failed condition is a 412).
 */
function evaluateConditions(req: RequestHead, record: ObjectRecord, prefix: '' | 'x-amz-copy-source-'): 'ok' | 'not-modified' {
  const ifMatch = header(req, `${prefix}if-match`);
  const ifNoneMatch = header(req, `${prefix}if-none-match`);
  const modifiedSince = Date.parse(header(req, `${prefix}if-modified-since`) ?? '');
  const unmodifiedSince = Date.parse(header(req, `${prefix}if-unmodified-since`) ?? '');
  const modifiedSecond = Math.floor(record.lastModified / 1000) * 1000;
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, record.etag)) throw preconditionFailed('If-Match');
  } else if (!Number.isNaN(unmodifiedSince) && modifiedSecond > unmodifiedSince) {
    throw preconditionFailed('If-Unmodified-Since');
  }
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, record.etag)) return 'not-modified';
  } else if (!Number.isNaN(modifiedSince) && modifiedSecond <= modifiedSince) {
    return 'not-modified';
  }
  return 'ok';
}

/** A satisfiable `Range: bytes=…` (single range), undefined to send the whole object; InvalidRange otherwise. */
function parseRange(range: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!range) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  if (!m || (!m[1] && !m[2])) return undefined; // S3 ignores a range it cannot parse
  let start: number;
  let end: number;
  if (m[1]) {
    start = Number(m[1]);
    end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
  } else {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  }
  if (start >= size || start > end) throw new S3Error('InvalidRange', 'The requested range is not satisfiable', 416, { RangeRequested: range, ActualObjectSize: String(size) });
  return { start, end };
}
