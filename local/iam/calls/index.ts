// Which service a request to the single local endpoint is for, routed the way local/server.ts
// routes it (X-Amz-Target prefix, Lambda REST paths, the SigV4 signing service, S3 as the
// catch-all), and the IAM checks it needs.
import type { CallScope, GateRequest, ServiceCall } from './call';
import { cloudWatchCall } from './cloudwatch';
import { dynamoCall } from './dynamodb';
import { firehoseCall } from './firehose';
import { kinesisCall } from './kinesis';
import { lambdaCall } from './lambda';
import { s3Call } from './s3';

export type { Authorization, CallScope, GateRequest, Protocol, Reach, ServiceCall, ServiceName } from './call';

const LAMBDA_PATH = /^\/20\d\d-\d\d-\d\d\/(functions|event-source-mappings|tags|layers)(\/|$)/;

/** The service call a request is; undefined for requests the local cloud does not route to a service. */
export function classifyCall(req: GateRequest, signingService: string | undefined, scope: CallScope): ServiceCall | undefined {
  const rawTarget = req.headers['x-amz-target'];
  const target = Array.isArray(rawTarget) ? rawTarget[0] : rawTarget;
  if (target) {
    const dot = target.indexOf('.');
    const prefix = dot < 0 ? target : target.slice(0, dot);
    const operation = dot < 0 ? '' : target.slice(dot + 1);
    if (prefix === 'Kinesis_20131202') return kinesisCall(req, operation, scope);
    if (prefix === 'DynamoDB_20120810') return dynamoCall(req, operation, scope);
    if (prefix === 'Firehose_20150804') return firehoseCall(req, operation, scope);
    if (prefix === 'GraniteServiceVersion20100801') return cloudWatchCall(req);
    return undefined;
  }
  if (LAMBDA_PATH.test(req.path)) return lambdaCall(req, scope);
  if (signingService === 'monitoring') return cloudWatchCall(req);
  if (signingService !== undefined && signingService !== 's3') return undefined;
  return s3Call(req);
}
