// The protocol-neutral request/response shapes the built-in services of the local cloud speak,
// plus the AWS JSON error helpers they share. The server (local/server.ts) turns HTTP/1.1 and
// HTTP/2 requests alike into a ServiceRequest (body read whole, within the service's size limit)
// or, for S3, a StreamingServiceRequest (body streamed to disk, never held in memory), and writes
// the ServiceResponse back; services never touch sockets, which keeps them unit-testable.
import type { IncomingHttpHeaders } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';

export interface ServiceRequest {
  readonly method: string;
  /** Raw (still percent-encoded) path, without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-case header names; HTTP/2 pseudo-headers removed. */
  readonly headers: IncomingHttpHeaders;
  /** Host header (or HTTP/2 :authority), without the port. */
  readonly hostname: string;
  readonly body: Buffer;
}

/** A request whose body is still on the wire (S3 uploads of up to 5 GB): read it once, as a stream. */
export interface StreamingServiceRequest extends Omit<ServiceRequest, 'body'> {
  readonly body: Readable;
}

export type HeaderValue = string | number | readonly string[];

export interface ServiceResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, HeaderValue>>;
  /** A Readable is streamed (large S3 objects); its length must be in Content-Length. */
  readonly body?: Buffer | string | Readable;
}

export const AMZ_JSON_1_0 = 'application/x-amz-json-1.0';
export const AMZ_JSON_1_1 = 'application/x-amz-json-1.1';

export function requestId(): string {
  return randomBytes(16).toString('hex');
}

export function header(req: { readonly headers: IncomingHttpHeaders }, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** An AWS JSON-protocol response (Kinesis, DynamoDB, Firehose). */
export function jsonResponse(body: unknown, contentType: string = AMZ_JSON_1_1, status = 200): ServiceResponse {
  return {
    status,
    headers: { 'content-type': contentType, 'x-amzn-requestid': requestId() },
    body: JSON.stringify(body),
  };
}

/** AWS JSON-protocol error: `{ "__type": ..., "message": ... }`, HTTP 400 unless told otherwise. */
export function jsonError(type: string, message: string, contentType: string = AMZ_JSON_1_1, status = 400): ServiceResponse {
  return {
    status,
    headers: { 'content-type': contentType, 'x-amzn-requestid': requestId(), 'x-amzn-errortype': type },
    body: JSON.stringify({ __type: type, message }),
  };
}

/** Parses a JSON-protocol body; undefined when it is not a JSON object (the caller answers SerializationException). */
export function parseJsonObject(body: Buffer): Record<string, unknown> | undefined {
  if (body.length === 0) return {};
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => {
    switch (c) {
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '&':
        return '&amp;';
      case "'":
        return '&apos;';
      default:
        return '&quot;';
    }
  });
}

/**
 * The service a SigV4-signed request is scoped to (`Credential=AKID/date/region/<service>/aws4_request`),
 * from the Authorization header or a presigned URL. Undefined for unsigned requests.
 */
export function signingService(req: { readonly headers: IncomingHttpHeaders; readonly url?: string }): string | undefined {
  const auth = header(req, 'authorization');
  let credential: string | undefined;
  if (auth) {
    credential = /Credential=([^,\s]+)/.exec(auth)?.[1];
  } else if (req.url && req.url.includes('X-Amz-Credential=')) {
    const query = new URLSearchParams(req.url.slice(req.url.indexOf('?') + 1));
    credential = query.get('X-Amz-Credential') ?? undefined;
  }
  return credential?.split('/')[3];
}

/** The short error type of an AWS JSON error body (`com.amazonaws…#Type` → `Type`). */
export function errorType(body: Buffer): string {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (isRecord(parsed) && typeof parsed.__type === 'string') return parsed.__type.split('#').pop() ?? parsed.__type;
  } catch {
    // not JSON (CBOR, 413 without body)
  }
  return 'UnknownError';
}
