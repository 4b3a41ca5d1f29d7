// Amazon CloudWatch requests → IAM checks. Metric operations take no resource ("*");
// PutMetricData carries the cloudwatch:namespace condition key. The operation is read from
// whichever protocol the client speaks: JSON (X-Amz-Target GraniteServiceVersion20100801.*),
// Smithy RPC v2 CBOR (/service/GraniteServiceVersion20100801/operation/<Op>) or the query protocol
// (Action=<Op> in a form body).
import { cborTextField } from '../cbor';
import { bodyBuffer, isRecord, type GateRequest, type Protocol, type ServiceCall } from './call';

const TARGET_PREFIX = 'GraniteServiceVersion20100801.';
const CBOR_PATH = /^\/service\/GraniteServiceVersion20100801\/operation\/([A-Za-z]+)$/;

export function cloudWatchCall(req: GateRequest): ServiceCall | undefined {
  const target = req.headers['x-amz-target'];
  const body = bodyBuffer(req);
  let operation: string | undefined;
  let namespace: string | undefined;
  let protocol: Protocol;
  const cborPath = CBOR_PATH.exec(req.path);
  if (typeof target === 'string' && target.startsWith(TARGET_PREFIX)) {
    operation = target.slice(TARGET_PREFIX.length);
    protocol = 'json-1.0';
    try {
      const parsed: unknown = body && body.length ? JSON.parse(body.toString('utf8')) : {};
      if (isRecord(parsed) && typeof parsed['Namespace'] === 'string') namespace = parsed['Namespace'];
    } catch {
      // the service answers
    }
  } else if (cborPath) {
    operation = cborPath[1];
    protocol = 'cbor';
    namespace = body ? cborTextField(body, 'Namespace') : undefined;
  } else {
    const form = new URLSearchParams(body ? body.toString('utf8') : '');
    operation = form.get('Action') ?? req.query.get('Action') ?? undefined;
    namespace = form.get('Namespace') ?? undefined;
    protocol = 'query-xml';
  }
  if (!operation) return undefined;
  return {
    service: 'cloudwatch',
    operation,
    protocol,
    reach: 'account',
    authorizations: [{ action: `cloudwatch:${operation}`, resource: '*', ...(operation === 'PutMetricData' ? { context: { 'cloudwatch:namespace': namespace } } : {}) }],
  };
}
