// Server-side encryption as AWS's describe calls report it, from what a template or API call
// configured: DynamoDB's SSEDescription (the KMS key ARN AWS would show, with a stable key id
// standing in for a KMS key the local cloud does not have) and Firehose's
// DeliveryStreamEncryptionConfiguration. Nothing is encrypted locally; the point is that a
// describe call answers as the deployed configuration says, as it would on AWS.
import { createHash } from 'node:crypto';

/** The DynamoDB API's SSESpecification (CloudFormation calls `Enabled` SSEEnabled). */
export interface SseSpecification {
  readonly Enabled?: boolean;
  readonly SSEType?: string;
  readonly KMSMasterKeyId?: string;
}

/** A stable key id (UUID layout) for a KMS key known by alias. */
function keyId(accountId: string, region: string, alias: string): string {
  const h = createHash('sha256').update(`kms/${accountId}/${region}/${alias}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The key ARN KMS resolves a key id, key ARN, alias name or alias ARN to. */
export function kmsKeyArn(key: string, accountId: string, region: string): string {
  if (/^arn:[^:]+:kms:[^:]*:[^:]*:key\//.test(key)) return key;
  if (key.startsWith('alias/') || /^arn:[^:]+:kms:[^:]*:[^:]*:alias\//.test(key)) return `arn:aws:kms:${region}:${accountId}:key/${keyId(accountId, region, key.slice(key.indexOf('alias/')))}`;
  return `arn:aws:kms:${region}:${accountId}:key/${key}`;
}

/** DescribeTable's SSEDescription; undefined when the table uses an AWS owned key (SSE not enabled). */
export function sseDescription(spec: SseSpecification, accountId: string, region: string): Record<string, unknown> | undefined {
  if (!spec.Enabled) return undefined;
  if (spec.SSEType === 'AES256') return { Status: 'ENABLED', SSEType: 'AES256' };
  return { Status: 'ENABLED', SSEType: 'KMS', KMSMasterKeyArn: kmsKeyArn(spec.KMSMasterKeyId || 'alias/aws/dynamodb', accountId, region) };
}

/** DescribeDeliveryStream's DeliveryStreamEncryptionConfiguration for a CreateDeliveryStream (or template) input. */
export function deliveryStreamEncryption(input: Readonly<Record<string, unknown>>, accountId: string, region: string): Record<string, unknown> {
  const config = input['DeliveryStreamEncryptionConfigurationInput'];
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return { Status: 'DISABLED' };
  const { KeyType: keyType, KeyARN: keyArn } = config as Record<string, unknown>;
  if (keyType === 'CUSTOMER_MANAGED_CMK' && typeof keyArn === 'string') return { KeyARN: kmsKeyArn(keyArn, accountId, region), KeyType: keyType, Status: 'ENABLED' };
  return { KeyType: typeof keyType === 'string' ? keyType : 'AWS_OWNED_CMK', Status: 'ENABLED' };
}
