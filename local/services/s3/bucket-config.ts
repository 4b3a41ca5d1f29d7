// Bucket sub-resources (?policy, ?tagging, ?cors, ?versioning, …): PUT stores the document, GET
// echoes it back or answers what S3 answers for an unconfigured bucket, DELETE removes it. They
// are stored so that tools which configure buckets (the CDK deployer, the AWS CLI) succeed; none
// of them is enforced locally.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { requestId } from '../http';
import type { ServiceResponse } from '../http';
import { S3Error } from './errors';
import type { ObjectStore } from './store';
import { empty, xml, XMLNS } from './xml';

export const BUCKET_SUBRESOURCES: Readonly<Record<string, { readonly op: string; readonly missing?: readonly [string, string]; readonly empty?: string }>> = {
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

export function subresourceOf(query: URLSearchParams): string | undefined {
  for (const name of Object.keys(BUCKET_SUBRESOURCES)) if (query.has(name)) return name;
  return undefined;
}

/** Answers a sub-resource request; undefined when the method is not one S3 supports for it. */
export async function bucketSubresource(
  store: ObjectStore,
  method: string,
  bucket: string,
  sub: string,
  body: () => Promise<Buffer>,
  ownerId: string,
): Promise<ServiceResponse | undefined> {
  const spec = BUCKET_SUBRESOURCES[sub];
  const file = store.configPath(bucket, sub);
  if (method === 'PUT') {
    const document = await body();
    const tmp = store.tempPath();
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(tmp, document, { flush: true });
    await fs.rename(tmp, file);
    return empty(sub === 'policy' ? 204 : 200);
  }
  if (method === 'DELETE') {
    await fs.rm(file, { force: true });
    return empty(204);
  }
  if (method !== 'GET') return undefined;
  try {
    const stored = await fs.readFile(file);
    return { status: 200, headers: { 'content-type': sub === 'policy' ? 'application/json' : 'application/xml', 'x-amz-request-id': requestId() }, body: stored };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (sub === 'acl') {
    const owner = `<ID>${ownerId}</ID><DisplayName>riffle</DisplayName>`;
    return xml(
      `<AccessControlPolicy xmlns="${XMLNS}"><Owner>${owner}</Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">${owner}</Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`,
    );
  }
  if (spec?.empty) return xml(spec.empty);
  if (spec?.missing) throw new S3Error(spec.missing[0], spec.missing[1], 404, { BucketName: bucket });
  return undefined;
}
