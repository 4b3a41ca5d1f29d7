// AWS::DynamoDB::Table and AWS::DynamoDB::GlobalTable: the table with its keys, billing mode,
// secondary indexes, server-side encryption, tags and TTL — created with the same DynamoDB API
// calls CloudFormation makes, so DescribeTable (SSEDescription) and ListTagsOfResource answer
// what the template configured. Streams, Kinesis streaming and extra replicas are reported as
// not emulated. The partition key is registered for IAM's dynamodb:LeadingKeys.
import {
  CreateTableCommand,
  DescribeTableCommand,
  TagResourceCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
  type SSEType,
} from '@aws-sdk/client-dynamodb';
import type { DeployedResource, HandlerArgs, ResourceStatus } from '../types';
import { bool, errorName, errorText, isRecord, nameFor, num, str, tagMap, waitUntil } from './common';

/** The template's SSESpecification (`SSEEnabled`) as the API takes it (`Enabled`). */
function sseSpecification(p: Record<string, unknown>): { Enabled: boolean; SSEType?: SSEType; KMSMasterKeyId?: string } | undefined {
  const spec = isRecord(p['SSESpecification']) ? p['SSESpecification'] : undefined;
  if (!spec) return undefined;
  const enabled = bool(spec['SSEEnabled']) ?? false;
  const type = str(spec['SSEType']) as SSEType | undefined;
  const key = str(spec['KMSMasterKeyId']);
  return { Enabled: enabled, ...(type ? { SSEType: type } : {}), ...(key ? { KMSMasterKeyId: key } : {}) };
}

export async function deployTable(a: HandlerArgs, global: boolean): Promise<DeployedResource> {
  const { dynamodb } = a.opts.clients;
  const name = nameFor(a, 'dynamodb', 'TableName');
  const p = a.props;
  const billing = str(p['BillingMode']) ?? 'PROVISIONED'; // CloudFormation's default for both table types
  const payPerRequest = billing === 'PAY_PER_REQUEST';
  const throughput = (v: unknown) =>
    isRecord(v) ? { ReadCapacityUnits: num(v['ReadCapacityUnits']) ?? 5, WriteCapacityUnits: num(v['WriteCapacityUnits']) ?? 5 } : { ReadCapacityUnits: 5, WriteCapacityUnits: 5 };
  const gsis = Array.isArray(p['GlobalSecondaryIndexes']) ? p['GlobalSecondaryIndexes'].filter(isRecord) : [];
  const lsis = Array.isArray(p['LocalSecondaryIndexes']) ? p['LocalSecondaryIndexes'].filter(isRecord) : [];
  const sse = sseSpecification(p);
  // A global table's tags live on its replicas; the local region's replica is the table here.
  const replica = global && Array.isArray(p['Replicas']) ? p['Replicas'].filter(isRecord).find((r) => str(r['Region']) === a.st.scope.region) : undefined;
  const tags = tagMap(global ? replica?.['Tags'] : p['Tags']);
  const input = {
    TableName: name,
    AttributeDefinitions: p['AttributeDefinitions'],
    KeySchema: p['KeySchema'],
    BillingMode: billing,
    ...(payPerRequest ? {} : { ProvisionedThroughput: throughput(p['ProvisionedThroughput']) }),
    ...(gsis.length
      ? {
          GlobalSecondaryIndexes: gsis.map((g) => ({
            IndexName: g['IndexName'],
            KeySchema: g['KeySchema'],
            Projection: g['Projection'],
            ...(payPerRequest ? {} : { ProvisionedThroughput: throughput(g['ProvisionedThroughput']) }),
          })),
        }
      : {}),
    ...(lsis.length ? { LocalSecondaryIndexes: lsis.map((l) => ({ IndexName: l['IndexName'], KeySchema: l['KeySchema'], Projection: l['Projection'] })) } : {}),
    ...(sse ? { SSESpecification: sse } : {}),
    ...(Object.keys(tags).length ? { Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) } : {}),
  } as unknown as CreateTableCommandInput;
  let status: ResourceStatus = 'created';
  try {
    await dynamodb.send(new CreateTableCommand(input));
  } catch (e) {
    if (errorName(e) !== 'ResourceInUseException') throw e;
    status = 'reused';
  }
  await waitUntil(async () => (await dynamodb.send(new DescribeTableCommand({ TableName: name }))).Table?.TableStatus === 'ACTIVE', `table ${name} to become ACTIVE`);
  const arn = `arn:aws:dynamodb:${a.st.scope.region}:${a.st.scope.accountId}:table/${name}`;
  if (status === 'reused') {
    // A table made before encryption and tags were recorded locally gets them now.
    if (Object.keys(tags).length) await dynamodb.send(new TagResourceCommand({ ResourceArn: arn, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }));
    if (sse) await dynamodb.send(new UpdateTableCommand({ TableName: name, SSESpecification: sse }));
  }
  const ttl = isRecord(p['TimeToLiveSpecification']) ? p['TimeToLiveSpecification'] : undefined;
  if (ttl && bool(ttl['Enabled']) !== false && str(ttl['AttributeName'])) {
    try {
      await dynamodb.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: str(ttl['AttributeName']), Enabled: true } }));
    } catch (e) {
      // Re-enabling TTL on an existing table is an error in DynamoDB too; anything else is worth a warning.
      if (!(status === 'reused' && /already enabled/i.test(errorText(e)))) a.warn(`table ${name}: TTL on ${String(ttl['AttributeName'])} not enabled (${errorText(e)}); expired items are kept`);
    }
  }
  const streamSpec = p['StreamSpecification'];
  if (streamSpec !== undefined) a.warn(`table ${name}: DynamoDB Streams are not emulated (StreamSpecification ignored)`);
  if (p['KinesisStreamSpecification'] !== undefined) a.warn(`table ${name}: KinesisStreamSpecification is not emulated`);
  if (global && Array.isArray(p['Replicas']) && p['Replicas'].length > 1) a.warn(`global table ${name}: only the local region's replica exists`);
  const hashKey = Array.isArray(p['KeySchema']) ? p['KeySchema'].filter(isRecord).find((k) => k['KeyType'] === 'HASH')?.['AttributeName'] : undefined;
  if (typeof hashKey === 'string') a.opts.iam?.defineTable(name, hashKey);
  return {
    logicalId: a.logicalId,
    type: a.resource.Type,
    physicalId: name,
    status,
    attributes: {
      Arn: arn,
      TableId: name,
      ...(streamSpec !== undefined ? { StreamArn: `${arn}/stream/1970-01-01T00:00:00.000` } : {}),
    },
  };
}
