// Amazon S3 REST requests → IAM checks, per the Service Authorization Reference: object
// operations on `arn:aws:s3:::bucket/key` (multipart uploads are s3:PutObject; a copy also reads
// its source with s3:GetObject), bucket operations on `arn:aws:s3:::bucket` (HEAD bucket and
// listing are s3:ListBucket, with the s3:prefix / s3:delimiter / s3:max-keys condition keys),
// ListBuckets on "*". Bucket and key come from virtual-host-style (`<bucket>.localhost`,
// `<bucket>.s3.…`) or path-style addressing, as the local S3 reads them.
import { bodyBuffer, type Authorization, type GateRequest, type ServiceCall } from './call';

/** Bucket sub-resource → [GET action, PUT action, DELETE action]. */
const BUCKET_SUBRESOURCES: Readonly<Record<string, readonly [string, string, string]>> = {
  acl: ['GetBucketAcl', 'PutBucketAcl', 'PutBucketAcl'],
  cors: ['GetBucketCORS', 'PutBucketCORS', 'PutBucketCORS'],
  encryption: ['GetEncryptionConfiguration', 'PutEncryptionConfiguration', 'PutEncryptionConfiguration'],
  lifecycle: ['GetLifecycleConfiguration', 'PutLifecycleConfiguration', 'PutLifecycleConfiguration'],
  location: ['GetBucketLocation', 'GetBucketLocation', 'GetBucketLocation'],
  logging: ['GetBucketLogging', 'PutBucketLogging', 'PutBucketLogging'],
  metrics: ['GetMetricsConfiguration', 'PutMetricsConfiguration', 'PutMetricsConfiguration'],
  notification: ['GetBucketNotification', 'PutBucketNotification', 'PutBucketNotification'],
  ownershipControls: ['GetBucketOwnershipControls', 'PutBucketOwnershipControls', 'PutBucketOwnershipControls'],
  policy: ['GetBucketPolicy', 'PutBucketPolicy', 'DeleteBucketPolicy'],
  publicAccessBlock: ['GetBucketPublicAccessBlock', 'PutBucketPublicAccessBlock', 'PutBucketPublicAccessBlock'],
  replication: ['GetReplicationConfiguration', 'PutReplicationConfiguration', 'PutReplicationConfiguration'],
  tagging: ['GetBucketTagging', 'PutBucketTagging', 'PutBucketTagging'],
  versioning: ['GetBucketVersioning', 'PutBucketVersioning', 'PutBucketVersioning'],
  website: ['GetBucketWebsite', 'PutBucketWebsite', 'DeleteBucketWebsite'],
  uploads: ['ListBucketMultipartUploads', 'ListBucketMultipartUploads', 'ListBucketMultipartUploads'],
  versions: ['ListBucketVersions', 'ListBucketVersions', 'ListBucketVersions'],
};

/** Object sub-resource → [GET action, PUT action, DELETE action]. */
const OBJECT_SUBRESOURCES: Readonly<Record<string, readonly [string, string, string]>> = {
  tagging: ['GetObjectTagging', 'PutObjectTagging', 'DeleteObjectTagging'],
  acl: ['GetObjectAcl', 'PutObjectAcl', 'PutObjectAcl'],
  retention: ['GetObjectRetention', 'PutObjectRetention', 'PutObjectRetention'],
  'legal-hold': ['GetObjectLegalHold', 'PutObjectLegalHold', 'PutObjectLegalHold'],
  attributes: ['GetObjectAttributes', 'GetObjectAttributes', 'GetObjectAttributes'],
};

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Bucket and key of a request (the local S3's addressing rules). */
export function s3Address(req: Pick<GateRequest, 'hostname' | 'path'>): { bucket?: string; key?: string } {
  const host = req.hostname.toLowerCase();
  const vhost = /^(.+?)\.s3[.-]/.exec(host)?.[1] ?? (host.endsWith('.localhost') ? host.slice(0, -'.localhost'.length) : undefined);
  const segments = req.path.split('/').slice(1);
  if (vhost) {
    const key = segments.map(decode).join('/');
    return key === '' ? { bucket: vhost } : { bucket: vhost, key };
  }
  const [first, ...rest] = segments;
  if (!first) return {};
  const key = rest.map(decode).join('/');
  return key === '' ? { bucket: decode(first) } : { bucket: decode(first), key };
}

function pick(method: string, actions: readonly [string, string, string]): string {
  return method === 'PUT' || method === 'POST' ? actions[1] : method === 'DELETE' ? actions[2] : actions[0];
}

/** The keys a DeleteObjects (POST ?delete) body names. */
function deleteKeys(body: Buffer | undefined): string[] {
  if (!body) return [];
  const text = body.toString('utf8');
  const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  return [...text.matchAll(/<Key>([\s\S]*?)<\/Key>/g)].map((m) => unescape(m[1] ?? ''));
}

export function s3Call(req: GateRequest): ServiceCall {
  const base = { service: 's3', protocol: 's3-xml' } as const;
  const { bucket, key } = s3Address(req);
  const method = req.method;
  const q = req.query;
  const s3 = (action: string, resource: string, context?: Authorization['context']): Authorization => ({ action: `s3:${action}`, resource, ...(context ? { context } : {}) });
  if (!bucket) return { ...base, operation: 'ListBuckets', reach: 'list', authorizations: [s3('ListAllMyBuckets', '*')] };
  const bucketArn = `arn:aws:s3:::${bucket}`;
  if (key === undefined) {
    const sub = Object.keys(BUCKET_SUBRESOURCES).find((s) => q.has(s));
    if (sub) return { ...base, operation: sub, reach: 'resource', target: bucket, authorizations: [s3(pick(method, BUCKET_SUBRESOURCES[sub] as readonly [string, string, string]), bucketArn)] };
    if (method === 'POST' && q.has('delete')) {
      const keys = deleteKeys(bodyBuffer(req));
      return { ...base, operation: 'DeleteObjects', reach: 'resource', target: bucket, authorizations: keys.map((k) => s3('DeleteObject', `${bucketArn}/${k}`)) };
    }
    if (method === 'PUT') return { ...base, operation: 'CreateBucket', reach: 'create', target: bucket, authorizations: [s3('CreateBucket', bucketArn)] };
    if (method === 'DELETE') return { ...base, operation: 'DeleteBucket', reach: 'resource', target: bucket, authorizations: [s3('DeleteBucket', bucketArn)] };
    const listing = {
      's3:prefix': q.get('prefix') ?? undefined,
      's3:delimiter': q.get('delimiter') ?? undefined,
      's3:max-keys': q.get('max-keys') ?? undefined,
    };
    return { ...base, operation: method === 'HEAD' ? 'HeadBucket' : 'ListObjects', reach: 'resource', target: bucket, authorizations: [s3('ListBucket', bucketArn, listing)] };
  }
  const objectArn = `${bucketArn}/${key}`;
  const on = (operation: string, ...authorizations: Authorization[]): ServiceCall => ({ ...base, operation, reach: 'resource', target: bucket, authorizations });
  const sub = Object.keys(OBJECT_SUBRESOURCES).find((s) => q.has(s));
  if (sub) return on(sub, s3(pick(method, OBJECT_SUBRESOURCES[sub] as readonly [string, string, string]), objectArn));
  const copySource = req.headers['x-amz-copy-source'];
  const source = typeof copySource === 'string' ? decode(copySource.replace(/^\//, '').split('?')[0] ?? '') : undefined;
  const copy = source ? [s3('GetObject', `arn:aws:s3:::${source}`)] : [];
  const write = s3('PutObject', objectArn, {
    's3:x-amz-server-side-encryption': typeof req.headers['x-amz-server-side-encryption'] === 'string' ? req.headers['x-amz-server-side-encryption'] : undefined,
    's3:x-amz-acl': typeof req.headers['x-amz-acl'] === 'string' ? req.headers['x-amz-acl'] : undefined,
  });
  if (q.has('uploadId')) {
    if (method === 'DELETE') return on('AbortMultipartUpload', s3('AbortMultipartUpload', objectArn));
    if (method === 'GET') return on('ListParts', s3('ListMultipartUploadParts', objectArn));
    return on(method === 'PUT' ? 'UploadPart' : 'CompleteMultipartUpload', write, ...copy);
  }
  if (method === 'POST' && q.has('uploads')) return on('CreateMultipartUpload', write);
  if (method === 'PUT') return on(source ? 'CopyObject' : 'PutObject', write, ...copy);
  if (method === 'DELETE') return on('DeleteObject', s3(q.has('versionId') ? 'DeleteObjectVersion' : 'DeleteObject', objectArn));
  if (method === 'POST' && q.has('restore')) return on('RestoreObject', s3('RestoreObject', objectArn));
  return on(method === 'HEAD' ? 'HeadObject' : 'GetObject', s3(q.has('versionId') ? 'GetObjectVersion' : 'GetObject', objectArn));
}
