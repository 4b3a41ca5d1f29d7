// The HTTP edge of the local cloud's services: turns an HTTP/1.1 or HTTP/2 request into the
// protocol-neutral ServiceRequest the services take, writes a ServiceResponse back (buffered or
// streamed), and names the AWS wire protocol a request speaks so that errors raised before a
// service answers (refused host, body budget, timeouts) come back in a form its SDK can parse.
import http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { Http2ServerRequest } from 'node:http2';
import { Readable } from 'node:stream';
import { header, jsonError, requestId, signingService } from '../services/http';
import { queryErrorResponse } from '../services/query';
import type { HeaderValue, ServiceRequest, ServiceResponse } from '../services/http';
import { S3Error, s3ErrorResponse } from '../services/s3';

export type AnyRequest = IncomingMessage | Http2ServerRequest;
export type AnyResponse = ServerResponse | http2.Http2ServerResponse;

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);
export const LAMBDA_PATH = /^\/20\d\d-\d\d-\d\d\/(functions|event-source-mappings|tags|layers)(\/|$)/;
/** Services whose SDKs speak awsQuery (form-encoded requests, XML answers). */
export const QUERY_SERVICES = new Set(['sts', 'iam', 'cloudformation', 'sns', 'ses', 'elasticloadbalancing', 'autoscaling', 'rds', 'ec2', 'cloudsearch', 'elasticache', 'redshift']);

export type WireProtocol = 'json' | 'query' | 'rest-json' | 's3';

export function wireProtocol(req: { readonly headers: IncomingHttpHeaders; readonly url?: string }): WireProtocol {
  if (header(req, 'x-amz-target')) return 'json';
  const scope = signingService(req);
  const contentType = header(req, 'content-type') ?? '';
  const path = (req.url ?? '/').split('?')[0];
  // An unsigned form POST to / is awsQuery too; S3 has no operation there (a form-encoded S3 PUT stays S3).
  if ((scope && QUERY_SERVICES.has(scope)) || (scope === undefined && path === '/' && contentType.startsWith('application/x-www-form-urlencoded'))) return 'query';
  if (LAMBDA_PATH.test(path ?? '') || (scope !== undefined && scope !== 's3')) return 'rest-json';
  return 's3';
}

/** An error answered before (or instead of) a service, in the request's own protocol. */
export function protocolError(protocol: WireProtocol, status: number, code: string, message: string, path: string, method: string): ServiceResponse {
  if (protocol === 's3') return s3ErrorResponse(new S3Error(code, message, status), method, path);
  if (protocol === 'query') return queryErrorResponse(code, message, status);
  if (protocol === 'rest-json') {
    return {
      status,
      headers: { 'content-type': 'application/json', 'x-amzn-requestid': requestId(), 'x-amzn-errortype': code },
      body: JSON.stringify({ Type: status >= 500 ? 'Service' : 'User', message }),
    };
  }
  return jsonError(code, message, undefined, status);
}

export function requestHead(req: AnyRequest): Omit<ServiceRequest, 'body'> {
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) if (!name.startsWith(':')) headers[name] = value;
  const rawUrl = req.url || '/';
  const q = rawUrl.indexOf('?');
  const authority = (req.headers[':authority'] as string | undefined) ?? header(req, 'host') ?? '';
  // Strip the port (IPv6 literals keep their brackets).
  const hostname = authority.startsWith('[') ? authority.slice(0, authority.indexOf(']') + 1) : authority.replace(/:\d+$/, '');
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    path: q < 0 ? rawUrl : rawUrl.slice(0, q),
    query: new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1)),
    headers,
    hostname,
  };
}

function outgoingHeaders(headers: Readonly<Record<string, HeaderValue>> | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    // Bodies are always sent whole (or streamed with a known length): hop-by-hop headers from an
    // emulator (kinesalite's 413 sets Transfer-Encoding) would contradict Content-Length, and
    // HTTP/2 forbids them outright.
    if (HOP_BY_HOP.has(lower)) continue;
    out[lower] = Array.isArray(value) ? [...(value as readonly string[])] : (value as string | number);
  }
  return out;
}

/**
 * Writes a service response. `close` ends an HTTP/1.1 connection after it (a request body that
 * was refused or not read to its end cannot be followed by another request on the same socket).
 */
export function send(res: AnyResponse, response: ServiceResponse, method: string, extraHeaders: Record<string, string> = {}, close = false): void {
  const headers = { ...outgoingHeaders(response.headers), ...extraHeaders };
  const body = response.body;
  let payload: Buffer | Readable | undefined;
  if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
    const buffer = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    if (headers['content-length'] === undefined) headers['content-length'] = buffer?.length ?? 0;
    payload = method === 'HEAD' ? undefined : buffer;
  } else {
    payload = body;
  }
  if (res.headersSent) {
    if (payload instanceof Readable) payload.destroy();
    res.destroy();
    return;
  }
  // Two branches only so TypeScript resolves each response type's writeHead/end overloads.
  if (res instanceof http2.Http2ServerResponse) res.writeHead(response.status, headers);
  else {
    if (close) headers.connection = 'close';
    res.writeHead(response.status, headers);
  }
  if (payload instanceof Readable) {
    payload.on('error', () => res.destroy());
    res.on('close', () => payload.destroy());
    payload.pipe(res);
  } else if (payload === undefined) {
    res.end();
  } else if (res instanceof http2.Http2ServerResponse) {
    res.end(payload);
  } else {
    res.end(payload);
  }
}

export function isHttp1(req: AnyRequest, res: AnyResponse): req is IncomingMessage {
  return req instanceof http.IncomingMessage && res instanceof http.ServerResponse;
}

export function errorCodeOf(response: ServiceResponse): string {
  const body = response.body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    const m = /<Code>([^<]+)<\/Code>/.exec(body.toString());
    if (m?.[1]) return m[1];
  }
  return `HTTP${response.status}`;
}
