// Amazon Data Firehose requests → IAM checks: every operation on the delivery stream ARN
// (`arn:aws:firehose:<region>:<account>:deliverystream/<name>`), ListDeliveryStreams on "*".
import { bodyBuffer, PARSE_WHOLE_BYTES, topLevelString, type CallScope, type GateRequest, type ServiceCall } from './call';

export function firehoseCall(req: GateRequest, operation: string, scope: CallScope): ServiceCall {
  const base = { service: 'firehose', operation, protocol: 'json-1.1' } as const;
  const action = `firehose:${operation}`;
  if (operation === 'ListDeliveryStreams') return { ...base, reach: 'list', authorizations: [{ action, resource: '*' }] };
  const body = bodyBuffer(req);
  let name: string | undefined;
  if (body && body.length > PARSE_WHOLE_BYTES) name = topLevelString(body, ['DeliveryStreamName'])?.value;
  else if (body && body.length > 0) {
    try {
      const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      if (typeof parsed['DeliveryStreamName'] === 'string') name = parsed['DeliveryStreamName'];
    } catch {
      // the emulator answers SerializationException
    }
  }
  if (name === undefined) return { ...base, reach: 'account', authorizations: [{ action, resource: '*' }] };
  return {
    ...base,
    reach: operation === 'CreateDeliveryStream' ? 'create' : 'resource',
    target: name,
    authorizations: [{ action, resource: `arn:aws:firehose:${scope.region}:${scope.accountId}:deliverystream/${name}` }],
  };
}
