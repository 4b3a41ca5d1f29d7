// Which IAM action and resource ARN each request is checked for, per the Service Authorization
// Reference — for the request shapes the SDKs send: Kinesis (JSON and CBOR, GetRecords by its
// shard iterator's stream, large batches named without a full parse), DynamoDB (index ARNs,
// batches per table, transactions per item, dynamodb:LeadingKeys), Firehose, S3 (objects,
// copies, multipart, DeleteObjects, listing condition keys), Lambda (qualifiers, ARNs) and
// CloudWatch (cloudwatch:namespace).
import type { IncomingHttpHeaders } from 'node:http';
import { classifyCall, type GateRequest, type ServiceCall } from '../../local/iam/calls';
import { PARSE_WHOLE_BYTES } from '../../local/iam/calls/call';
import { cborEncode } from '../../local/iam/cbor';
import { signatureScope } from '../../local/iam/credentials';

const SCOPE = { region: 'eu-west-1', accountId: '123456789012', hashKeyOf: (t: string) => (t === 'state' ? 'pk' : undefined) };

function request(over: Partial<GateRequest> & { target?: string; json?: unknown; service?: string }): { req: GateRequest; service: string | undefined } {
  const headers: IncomingHttpHeaders = { ...over.headers };
  if (over.target) headers['x-amz-target'] = over.target;
  const body = over.json !== undefined ? Buffer.from(JSON.stringify(over.json)) : over.body;
  return {
    req: { method: over.method ?? 'POST', path: over.path ?? '/', query: over.query ?? new URLSearchParams(), headers, hostname: over.hostname ?? '127.0.0.1', ...(body !== undefined ? { body } : {}) },
    service: over.service,
  };
}

function call(over: Parameters<typeof request>[0]): ServiceCall {
  const { req, service } = request(over);
  const result = classifyCall(req, service, SCOPE);
  if (!result) throw new Error('not classified');
  return result;
}

function checks(c: ServiceCall): [string, string][] {
  return c.authorizations.map((a) => [a.action, a.resource]);
}

const stream = (name: string) => `arn:aws:kinesis:eu-west-1:123456789012:stream/${name}`;
const table = (name: string) => `arn:aws:dynamodb:eu-west-1:123456789012:table/${name}`;

test('the signature names the key, region and service', () => {
  const auth = 'AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261206/eu-west-1/kinesis/aws4_request, SignedHeaders=host, Signature=abc';
  expect(signatureScope({ authorization: auth })).toEqual({ accessKeyId: 'ASIAEXAMPLE', region: 'eu-west-1', service: 'kinesis' });
  const presigned = new URLSearchParams({ 'X-Amz-Credential': 'AKID/20261206/us-east-1/s3/aws4_request' });
  expect(signatureScope({}, presigned)).toEqual({ accessKeyId: 'AKID', region: 'us-east-1', service: 's3' });
  expect(signatureScope({})).toBeUndefined();
});

describe('Kinesis', () => {
  test('stream operations on the stream ARN, ListStreams on "*"', () => {
    expect(checks(call({ target: 'Kinesis_20131202.PutRecords', json: { StreamName: 'shuffle', Records: [] } }))).toEqual([['kinesis:PutRecords', stream('shuffle')]]);
    expect(checks(call({ target: 'Kinesis_20131202.ListShards', json: { StreamARN: stream('in') } }))).toEqual([['kinesis:ListShards', stream('in')]]);
    expect(call({ target: 'Kinesis_20131202.ListStreams', json: {} })).toMatchObject({ reach: 'list', authorizations: [{ action: 'kinesis:ListStreams', resource: '*' }] });
    expect(call({ target: 'Kinesis_20131202.CreateStream', json: { StreamName: 'x', ShardCount: 1 } }).reach).toBe('create');
  });

  test('a large batch is named by its top-level StreamName, not by a key inside the records', () => {
    const records = Array.from({ length: 300 }, (_, i) => ({ PartitionKey: 'StreamName', Data: Buffer.alloc(300, i).toString('base64') }));
    const body = Buffer.from(`{"Records":${JSON.stringify(records)},"StreamName" : "shuffle"}`);
    expect(body.length).toBeGreaterThan(PARSE_WHOLE_BYTES);
    expect(checks(call({ target: 'Kinesis_20131202.PutRecords', body }))).toEqual([['kinesis:PutRecords', stream('shuffle')]]);
    // Away from both edges it is still found; StreamARN names it when StreamName is absent.
    const middle = Buffer.from(`{"Records":${JSON.stringify(records)},"StreamARN":"${stream('mid')}","ExplicitHashKeys":${JSON.stringify(records)}}`);
    expect(checks(call({ target: 'Kinesis_20131202.PutRecords', body: middle }))).toEqual([['kinesis:PutRecords', stream('mid')]]);
  });

  test('CBOR requests (the Java SDK) are named too', () => {
    const body = cborEncode({ StreamName: 'input', Limit: 10 });
    const c = call({ target: 'Kinesis_20131202.DescribeStream', body, headers: { 'content-type': 'application/x-amz-cbor-1.1' } });
    expect(c.protocol).toBe('cbor');
    expect(checks(c)).toEqual([['kinesis:DescribeStream', stream('input')]]);
  });

  test('consumer operations on the consumer ARN', () => {
    const consumer = `${stream('in')}/consumer/app:1700000000`;
    expect(checks(call({ target: 'Kinesis_20131202.SubscribeToShard', json: { ConsumerARN: consumer, ShardId: 's' } }))).toEqual([['kinesis:SubscribeToShard', consumer]]);
  });
});

describe('DynamoDB', () => {
  test('Query on an index is checked on the index ARN, with the table partition key as dynamodb:LeadingKeys', () => {
    const onIndex = call({ target: 'DynamoDB_20120810.Query', json: { TableName: 'state', IndexName: 'open-windows', KeyConditionExpression: 'openPk = :o', ExpressionAttributeValues: { ':o': { S: 'open' } } } });
    expect(checks(onIndex)).toEqual([['dynamodb:Query', `${table('state')}/index/open-windows`]]);
    const onTable = call({
      target: 'DynamoDB_20120810.Query',
      json: { TableName: 'state', KeyConditionExpression: '#p = :p AND sk > :s', ExpressionAttributeNames: { '#p': 'pk' }, ExpressionAttributeValues: { ':p': { S: 'W#1' }, ':s': { S: 'a' } }, Select: 'COUNT' },
    });
    expect(onTable.authorizations[0]?.context).toMatchObject({ 'dynamodb:LeadingKeys': ['W#1'], 'dynamodb:Select': 'COUNT' });
    const item = call({ target: 'DynamoDB_20120810.PutItem', json: { TableName: 'state', Item: { pk: { S: 'S#2' }, sk: { S: 'x' } }, ReturnValues: 'ALL_OLD' } });
    expect(item.authorizations[0]?.context).toMatchObject({ 'dynamodb:LeadingKeys': ['S#2'], 'dynamodb:ReturnValues': 'ALL_OLD' });
  });

  test('batches once per table, transactions once per item under its own action', () => {
    const batch = call({ target: 'DynamoDB_20120810.BatchWriteItem', json: { RequestItems: { state: [{ PutRequest: { Item: { pk: { S: 'a' } } } }, { DeleteRequest: { Key: { pk: { S: 'b' } } } }], other: [] } } });
    expect(checks(batch)).toEqual([
      ['dynamodb:BatchWriteItem', table('state')],
      ['dynamodb:BatchWriteItem', table('other')],
    ]);
    expect(batch.authorizations[0]?.context?.['dynamodb:LeadingKeys']).toEqual(['a', 'b']);
    const tx = call({
      target: 'DynamoDB_20120810.TransactWriteItems',
      json: { TransactItems: [{ Put: { TableName: 'state', Item: { pk: { S: 'a' } } } }, { ConditionCheck: { TableName: 'locks', Key: { id: { S: 'l' } }, ConditionExpression: 'x' } }, { Delete: { TableName: 'state', Key: { pk: { S: 'c' } } } }] },
    });
    expect(checks(tx)).toEqual([
      ['dynamodb:PutItem', table('state')],
      ['dynamodb:ConditionCheckItem', table('locks')],
      ['dynamodb:DeleteItem', table('state')],
    ]);
  });

  test('PartiQL by verb; account-level operations on "*"', () => {
    expect(checks(call({ target: 'DynamoDB_20120810.ExecuteStatement', json: { Statement: 'UPDATE "state" SET a = 1 WHERE pk = \'x\'' } }))).toEqual([['dynamodb:PartiQLUpdate', table('state')]]);
    expect(call({ target: 'DynamoDB_20120810.ListTables', json: {} })).toMatchObject({ reach: 'list', authorizations: [{ action: 'dynamodb:ListTables', resource: '*' }] });
  });
});

test('Firehose: the delivery stream ARN', () => {
  expect(checks(call({ target: 'Firehose_20150804.PutRecordBatch', json: { DeliveryStreamName: 'late', Records: [] } }))).toEqual([
    ['firehose:PutRecordBatch', 'arn:aws:firehose:eu-west-1:123456789012:deliverystream/late'],
  ]);
});

describe('S3', () => {
  const s3 = (over: Parameters<typeof request>[0]) => call({ service: 's3', ...over });

  test('objects, copies and multipart uploads', () => {
    expect(checks(s3({ method: 'PUT', path: '/out/results/a%20b.json' }))).toEqual([['s3:PutObject', 'arn:aws:s3:::out/results/a b.json']]);
    expect(checks(s3({ method: 'PUT', path: '/dst/k', headers: { 'x-amz-copy-source': '/src/a/b.json' } }))).toEqual([
      ['s3:PutObject', 'arn:aws:s3:::dst/k'],
      ['s3:GetObject', 'arn:aws:s3:::src/a/b.json'],
    ]);
    expect(checks(s3({ method: 'POST', path: '/out/big', query: new URLSearchParams('uploads=') }))).toEqual([['s3:PutObject', 'arn:aws:s3:::out/big']]);
    expect(checks(s3({ method: 'DELETE', path: '/out/big', query: new URLSearchParams('uploadId=1') }))).toEqual([['s3:AbortMultipartUpload', 'arn:aws:s3:::out/big']]);
    expect(checks(s3({ method: 'HEAD', path: '/', hostname: 'out.localhost' }))).toEqual([['s3:ListBucket', 'arn:aws:s3:::out']]);
    expect(checks(s3({ method: 'GET', path: '/k/x', hostname: 'out.s3.eu-west-1.amazonaws.com' }))).toEqual([['s3:GetObject', 'arn:aws:s3:::out/k/x']]);
  });

  test('listing carries s3:prefix; DeleteObjects checks each key; ListBuckets is on "*"', () => {
    const list = s3({ method: 'GET', path: '/out', query: new URLSearchParams('list-type=2&prefix=results/&delimiter=/') });
    expect(list.authorizations).toEqual([{ action: 's3:ListBucket', resource: 'arn:aws:s3:::out', context: { 's3:prefix': 'results/', 's3:delimiter': '/', 's3:max-keys': undefined } }]);
    const body = Buffer.from('<Delete><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key></Object></Delete>');
    expect(checks(s3({ method: 'POST', path: '/out', query: new URLSearchParams('delete='), body }))).toEqual([
      ['s3:DeleteObject', 'arn:aws:s3:::out/a&b'],
      ['s3:DeleteObject', 'arn:aws:s3:::out/c'],
    ]);
    expect(checks(s3({ method: 'GET', path: '/' }))).toEqual([['s3:ListAllMyBuckets', '*']]);
    expect(checks(s3({ method: 'PUT', path: '/out', query: new URLSearchParams('lifecycle=') }))).toEqual([['s3:PutLifecycleConfiguration', 'arn:aws:s3:::out']]);
  });
});

test('Lambda: function ARNs with qualifiers, from names or ARNs', () => {
  const fn = 'arn:aws:lambda:eu-west-1:123456789012:function:closer';
  expect(checks(call({ method: 'POST', path: '/2015-03-31/functions/closer/invocations' }))).toEqual([['lambda:InvokeFunction', fn]]);
  expect(checks(call({ method: 'POST', path: `/2015-03-31/functions/${encodeURIComponent(`${fn}:live`)}/invocations` }))).toEqual([['lambda:InvokeFunction', `${fn}:live`]]);
  expect(checks(call({ method: 'GET', path: '/2015-03-31/functions/closer/configuration', query: new URLSearchParams('Qualifier=3') }))).toEqual([['lambda:GetFunctionConfiguration', `${fn}:3`]]);
  expect(checks(call({ method: 'GET', path: '/2015-03-31/functions/' }))).toEqual([['lambda:ListFunctions', '*']]);
  expect(checks(call({ method: 'GET', path: `/2017-03-31/tags/${encodeURIComponent(fn)}` }))).toEqual([['lambda:ListTags', fn]]);
});

test('CloudWatch: PutMetricData with its namespace, in JSON and query protocols', () => {
  const json = call({ target: 'GraniteServiceVersion20100801.PutMetricData', json: { Namespace: 'Riffle', MetricData: [] } });
  expect(json.authorizations).toEqual([{ action: 'cloudwatch:PutMetricData', resource: '*', context: { 'cloudwatch:namespace': 'Riffle' } }]);
  const query = call({ service: 'monitoring', body: Buffer.from('Action=PutMetricData&Version=2010-08-01&Namespace=Riffle') });
  expect(query).toMatchObject({ protocol: 'query-xml', authorizations: [{ action: 'cloudwatch:PutMetricData', context: { 'cloudwatch:namespace': 'Riffle' } }] });
});
