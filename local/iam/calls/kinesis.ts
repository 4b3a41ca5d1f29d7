// Kinesis Data Streams requests → IAM checks. Every stream operation is authorized on the stream
// ARN (named by StreamName or StreamARN; GetRecords by the stream its shard iterator points
// into); consumer operations on the consumer ARN; ListStreams and the account-level operations
// on "*", as the Service Authorization Reference lists them.
import { streamOfShardIterator } from '../../services/kinesis';
import { cborTextField } from '../cbor';
import { bodyBuffer, PARSE_WHOLE_BYTES, topLevelString, type CallScope, type GateRequest, type ServiceCall } from './call';

const ACCOUNT_LEVEL = new Set(['DescribeLimits', 'DescribeAccountSettings', 'UpdateAccountSettings', 'ListStreams']);
const CONSUMER_OPS = new Set(['DescribeStreamConsumer', 'DeregisterStreamConsumer', 'SubscribeToShard']);
const FIELDS = ['StreamName', 'StreamARN', 'ShardIterator', 'ConsumerARN', 'ConsumerName', 'ResourceARN'] as const;

type Fields = Partial<Record<(typeof FIELDS)[number], string>>;

function fieldsOf(req: GateRequest, cbor: boolean): Fields {
  const body = bodyBuffer(req);
  if (!body || body.length === 0) return {};
  if (cbor) {
    const out: Fields = {};
    for (const f of FIELDS) {
      const v = cborTextField(body, f);
      if (v !== undefined) out[f] = v;
    }
    return out;
  }
  if (body.length > PARSE_WHOLE_BYTES) {
    // Only record batches are this large; they name their stream by StreamName or StreamARN.
    const found = topLevelString(body, ['StreamName', 'StreamARN']);
    return found ? { [found.key]: found.value } : {};
  }
  try {
    const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    const out: Fields = {};
    for (const f of FIELDS) if (typeof parsed[f] === 'string') out[f] = parsed[f] as string;
    return out;
  } catch {
    return {};
  }
}

export function streamArn(scope: CallScope, nameOrArn: string): string {
  return nameOrArn.startsWith('arn:') ? nameOrArn : `arn:aws:kinesis:${scope.region}:${scope.accountId}:stream/${nameOrArn}`;
}

export function kinesisCall(req: GateRequest, operation: string, scope: CallScope): ServiceCall {
  const cbor = (String(req.headers['content-type'] ?? '').split(';')[0] ?? '').trim() === 'application/x-amz-cbor-1.1';
  const protocol = cbor ? 'cbor' : 'json-1.1';
  const action = `kinesis:${operation}`;
  if (ACCOUNT_LEVEL.has(operation)) {
    return { service: 'kinesis', operation, protocol, reach: operation === 'ListStreams' ? 'list' : 'account', authorizations: [{ action, resource: '*' }] };
  }
  const f = fieldsOf(req, cbor);
  if (CONSUMER_OPS.has(operation)) {
    const consumer = f.ConsumerARN ?? (f.StreamARN && f.ConsumerName ? `${f.StreamARN}/consumer/${f.ConsumerName}` : undefined);
    if (consumer) {
      const stream = consumer.slice(0, consumer.indexOf('/consumer/'));
      return { service: 'kinesis', operation, protocol, reach: 'resource', target: stream.slice(stream.indexOf(':stream/') + 8), authorizations: [{ action, resource: consumer }] };
    }
  }
  const stream = f.StreamName ?? f.StreamARN ?? f.ResourceARN ?? (operation === 'GetRecords' && f.ShardIterator ? streamOfShardIterator(f.ShardIterator) : undefined);
  if (stream === undefined) return { service: 'kinesis', operation, protocol, reach: 'account', authorizations: [{ action, resource: '*' }] };
  const arn = streamArn(scope, stream);
  const name = arn.slice(arn.indexOf(':stream/') + ':stream/'.length);
  return { service: 'kinesis', operation, protocol, reach: operation === 'CreateStream' ? 'create' : 'resource', target: name, authorizations: [{ action, resource: arn }] };
}
