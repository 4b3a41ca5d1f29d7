// What the IAM gate needs to know about one request: which service and operation it is, how that
// service speaks errors, and what has to be authorized — one (action, resource ARN, extra
// condition keys) per permission AWS checks (a BatchWriteItem over two tables is two checks, an
// S3 copy reads one object and writes another). Built by one mapper per service in this folder.
import type { IncomingHttpHeaders } from 'node:http';

export type ServiceName = 'kinesis' | 'dynamodb' | 'firehose' | 's3' | 'lambda' | 'cloudwatch';

/** How a service encodes an error: JSON (1.0 / 1.1), CBOR, REST-JSON (Lambda), S3 XML, query XML. */
export type Protocol = 'json-1.0' | 'json-1.1' | 'cbor' | 'rest-json' | 's3-xml' | 'query-xml';

/** The request as the gate sees it (the server's ServiceRequest; the body may not be read yet). */
export interface GateRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly hostname: string;
  readonly body?: unknown;
}

export interface Authorization {
  readonly action: string;
  readonly resource: string;
  /** Service-specific condition keys (dynamodb:LeadingKeys, s3:prefix…). */
  readonly context?: Readonly<Record<string, string | readonly string[] | undefined>>;
}

/**
 * Regional reach of an operation: `resource` addresses named resources, `list` enumerates them,
 * `create` makes one, `account` needs none (DescribeLimits…).
 */
export type Reach = 'resource' | 'list' | 'create' | 'account';

export interface ServiceCall {
  readonly service: ServiceName;
  readonly operation: string;
  readonly protocol: Protocol;
  readonly reach: Reach;
  /** The resource's name as the service's not-found messages say it (stream, table, function…). */
  readonly target?: string;
  readonly authorizations: readonly Authorization[];
}

export interface CallScope {
  /** The region the request is signed for (the resource ARNs' region). */
  readonly region: string;
  readonly accountId: string;
  /** A table's partition key attribute, when known (dynamodb:LeadingKeys). */
  readonly hashKeyOf?: (table: string) => string | undefined;
}

export function bodyBuffer(req: GateRequest): Buffer | undefined {
  return Buffer.isBuffer(req.body) ? req.body : undefined;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses a JSON body into an object; undefined when it is not one (the service answers that). */
export function jsonBody(req: GateRequest): Record<string, unknown> | undefined {
  const body = bodyBuffer(req);
  if (!body || body.length === 0) return {};
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The first of `keys` (in priority order) present as a top-level string field of a large JSON
 * body, found without parsing it whole: inside JSON strings every `"` is escaped, so an unescaped
 * `"Name"` followed by `:` is a key. Only valid for bodies whose nested objects never reuse these
 * key names (Kinesis and Firehose record batches, whose records hold only Data / PartitionKey /
 * ExplicitHashKey). The SDKs write the stream's name before or after the records, so the first
 * and last kilobytes are searched before the whole body.
 */
export function topLevelString(body: Buffer, keys: readonly string[]): { key: string; value: string } | undefined {
  const EDGE = 1024;
  for (const key of keys) {
    const needle = Buffer.from(`"${key}"`);
    const head = body.subarray(0, EDGE).indexOf(needle);
    const tail = body.length > EDGE ? body.subarray(body.length - EDGE).lastIndexOf(needle) : -1;
    for (const at of [head, tail < 0 ? -1 : body.length - EDGE + tail]) {
      const value = at < 0 ? undefined : stringValueAt(body, at + needle.length);
      if (value !== undefined) return { key, value };
    }
    // Not at either edge (or only as a value there): every occurrence, in order.
    for (let at = body.indexOf(needle); at >= 0; at = body.indexOf(needle, at + needle.length)) {
      const value = stringValueAt(body, at + needle.length);
      if (value !== undefined) return { key, value };
    }
  }
  return undefined;
}

const WHITESPACE = new Set([0x20, 0x0a, 0x0d, 0x09]);

/** The JSON string after `: ` at position `i`, or undefined when what follows is not `: "…"`. */
function stringValueAt(body: Buffer, from: number): string | undefined {
  let i = from;
  while (WHITESPACE.has(body[i] ?? -1)) i++;
  if (body[i] !== 0x3a /* : */) return undefined;
  i++;
  while (WHITESPACE.has(body[i] ?? -1)) i++;
  if (body[i] !== 0x22 /* " */) return undefined;
  const start = i;
  i++;
  while (i < body.length && body[i] !== 0x22) i += body[i] === 0x5c /* \ */ ? 2 : 1;
  try {
    const value: unknown = JSON.parse(body.subarray(start, i + 1).toString('utf8'));
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined; // malformed: the service answers SerializationException
  }
}

/** Bodies up to this size are parsed whole; larger record batches are scanned for their names. */
export const PARSE_WHOLE_BYTES = 4 * 1024;
