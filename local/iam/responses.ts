// Answers the gate gives instead of the service, in the service's own protocol, so that SDKs
// raise the same error types they raise against AWS:
//   JSON (Kinesis, Firehose: AccessDeniedException; DynamoDB: com.amazon.coral.service#
//   AccessDeniedException with "Message"), CBOR (Kinesis for the Java SDK), REST-JSON (Lambda:
//   403), S3 XML (403 AccessDenied), query XML (CloudWatch: 403 AccessDenied);
// and the answers of a region where nothing was deployed (empty lists, ResourceNotFoundException).
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { ServiceResponse } from '../services/http';
import { cborEncode, type CborValue } from './cbor';
import type { Protocol, ServiceCall } from './calls';

function requestId(): string {
  return randomBytes(16).toString('hex');
}

function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c);
}

function json(protocol: Protocol, status: number, body: Record<string, CborValue>, errorType?: string): ServiceResponse {
  const id = requestId();
  if (protocol === 'cbor') {
    return {
      status,
      headers: { 'content-type': 'application/x-amz-cbor-1.1', 'x-amzn-requestid': id, ...(errorType ? { 'x-amzn-errortype': errorType } : {}) },
      body: cborEncode(body),
    };
  }
  const text = JSON.stringify(body);
  const contentType = protocol === 'json-1.0' ? 'application/x-amz-json-1.0' : protocol === 'rest-json' ? 'application/json' : 'application/x-amz-json-1.1';
  return {
    status,
    headers: {
      'content-type': contentType,
      'x-amzn-requestid': id,
      ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
      // DynamoDB's SDK checks the body against this header when present.
      ...(protocol === 'json-1.0' ? { 'x-amz-crc32': String(crc32(text) >>> 0) } : {}),
    },
    body: text,
  };
}

/** An error in the call's protocol. `code` is the short error code (AccessDeniedException, ResourceNotFoundException…). */
export function serviceError(call: ServiceCall, code: string, message: string, status = 400): ServiceResponse {
  switch (call.protocol) {
    case 's3-xml':
    case 'query-xml': {
      const s3Code = code === 'AccessDeniedException' ? 'AccessDenied' : code;
      const id = requestId();
      const body =
        call.protocol === 's3-xml'
          ? `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${s3Code}</Code><Message>${xmlEscape(message)}</Message><RequestId>${id}</RequestId><HostId>${id}</HostId></Error>`
          : `<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><Error><Type>Sender</Type><Code>${s3Code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${id}</RequestId></ErrorResponse>`;
      return { status: status === 400 && code === 'AccessDeniedException' ? 403 : status, headers: { 'content-type': 'application/xml', 'x-amz-request-id': id }, body };
    }
    case 'rest-json':
      return json(call.protocol, status, { Type: 'User', Message: message, message }, code);
    case 'json-1.0':
      if (call.service !== 'dynamodb') return json(call.protocol, status, { __type: code, message }, code);
      // DynamoDB names the type fully: authorization errors come from the common front end.
      return code === 'AccessDeniedException'
        ? json(call.protocol, status, { __type: `com.amazon.coral.service#${code}`, Message: message })
        : json(call.protocol, status, { __type: `com.amazonaws.dynamodb.v20120810#${code}`, message });
    default:
      return json(call.protocol, status, { __type: code, message }, code);
  }
}

/** AWS's AccessDenied for an identity-based denial. */
export function accessDenied(call: ServiceCall, sessionArn: string, action: string, resource: string, explicit: boolean): ServiceResponse {
  // S3 quotes the resource in its messages; the JSON services do not.
  const shown = call.service === 's3' ? `"${resource}"` : resource;
  const why = explicit ? 'with an explicit deny in an identity-based policy' : `because no identity-based policy allows the ${action} action`;
  const message = `User: ${sessionArn} is not authorized to perform: ${action} on resource: ${shown} ${why}`;
  return serviceError(call, 'AccessDeniedException', message, call.protocol === 'rest-json' ? 403 : 400);
}

/** What a region in which nothing was deployed answers. */
export function emptyRegion(call: ServiceCall, accountId: string, region: string, homeRegion: string): ServiceResponse | undefined {
  const hint = ` (the Riffle local cloud's resources are in ${homeRegion}; this request is signed for ${region})`;
  if (call.reach === 'list') {
    const empty: Record<string, Record<string, CborValue>> = {
      kinesis: { StreamNames: [], HasMoreStreams: false, StreamSummaries: [] },
      dynamodb: { TableNames: [] },
      firehose: { DeliveryStreamNames: [], HasMoreDeliveryStreams: false },
      lambda: { Functions: [] },
    };
    const body = empty[call.service];
    return body ? json(call.protocol, 200, body) : undefined;
  }
  if (call.reach === 'create') {
    const code = call.service === 'dynamodb' ? 'ValidationException' : 'InvalidArgumentException';
    return serviceError(call, code, `the Riffle local cloud runs one region, ${homeRegion}; start it with that region to create resources in ${region}`);
  }
  if (call.reach !== 'resource') return undefined;
  const name = call.target ?? '';
  switch (call.service) {
    case 'kinesis':
      return serviceError(call, 'ResourceNotFoundException', `Stream ${name} under account ${accountId} not found.${hint}`);
    case 'dynamodb':
      return serviceError(call, 'ResourceNotFoundException', `Requested resource not found: Table: ${name} not found${hint}`);
    case 'firehose':
      return serviceError(call, 'ResourceNotFoundException', `Firehose ${name} under account ${accountId} not found.${hint}`);
    case 'lambda':
      return serviceError(call, 'ResourceNotFoundException', `Function not found: arn:aws:lambda:${region}:${accountId}:function:${name}${hint}`, 404);
    default:
      return undefined;
  }
}
