// S3's XML wire format: response builders (XML documents, empty responses, error documents), the
// escaping S3 applies to keys (including the control characters XML 1.0 cannot carry as text), and
// the few request documents S3 accepts (DeleteObjects, CompleteMultipartUpload) read by element
// name. Hand-written rather than a general XML library: the request documents are flat lists of
// well-known elements and the responses are templates.
import { requestId, xmlEscape } from '../http';
import type { HeaderValue, ServiceResponse } from '../http';
import type { S3Error } from './errors';

export const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

export function xml(body: string, status = 200, headers: Record<string, HeaderValue> = {}): ServiceResponse {
  return {
    status,
    headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId(), ...headers },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}`,
  };
}

export function empty(status: number, headers: Record<string, HeaderValue> = {}): ServiceResponse {
  return { status, headers: { 'x-amz-request-id': requestId(), 'content-length': 0, ...headers } };
}

/**
 * Escapes text for an S3 XML element. Control characters are legal in S3 keys but not as XML 1.0
 * text, so S3 writes them as character references (clients that cannot read those ask for
 * `encoding-type=url`).
 */
export function s3XmlText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return xmlEscape(text).replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, (c) => `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`);
}

export function s3ErrorResponse(err: S3Error, method: string, resource: string): ServiceResponse {
  // HEAD responses carry no body; the SDK maps the bare status (404 → NotFound).
  if (method === 'HEAD') return empty(err.status, { 'x-amz-error-code': err.code });
  const extra = Object.entries(err.extra)
    .map(([k, v]) => `<${k}>${s3XmlText(v)}</${k}>`)
    .join('');
  return xml(
    `<Error><Code>${err.code}</Code><Message>${s3XmlText(err.message)}</Message>${extra}<Resource>${s3XmlText(resource)}</Resource><RequestId>${requestId()}</RequestId></Error>`,
    err.status,
    err.status === 503 ? { 'retry-after': '1' } : {},
  );
}

/** The text of every `<tag>…</tag>` element in a document, unescaped. */
export function xmlValues(text: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g');
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(xmlUnescape(m[1] ?? ''));
  return out;
}

/** The bodies of every `<tag>…</tag>` element (for documents of repeated records such as `<Part>`). */
export function xmlElements(text: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g');
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1] ?? '');
  return out;
}

export function xmlUnescape(text: string): string {
  return text.replace(/&(lt|gt|amp|apos|quot|#x[0-9a-fA-F]+|#\d+);/g, (_, e: string) => {
    switch (e) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'apos':
        return "'";
      case 'quot':
        return '"';
      default:
        return String.fromCodePoint(e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    }
  });
}

export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

export function isoDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString();
}
