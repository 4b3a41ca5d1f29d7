// The awsQuery protocol (STS, CloudFormation, IAM, SNS…): form-encoded `Action=…&Version=…`
// requests, XML answers wrapped in `<ActionResponse><ActionResult>…</ActionResult>
// <ResponseMetadata>` and `<ErrorResponse>` errors. The AWS CLI and the SDKs fail with "invalid
// XML" on anything else, so every query-protocol request the local cloud cannot serve still gets
// an answer in this form.
import { requestId, xmlEscape } from './http';
import type { ServiceResponse } from './http';

export interface QueryRequest {
  readonly action: string;
  readonly version: string;
  readonly params: URLSearchParams;
}

/** Parses a form-encoded body (and the URL query, which awsQuery also allows). */
export function parseQueryRequest(body: Buffer, urlQuery: URLSearchParams = new URLSearchParams()): QueryRequest {
  const params = new URLSearchParams(urlQuery);
  for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params.set(k, v);
  return { action: params.get('Action') ?? '', version: params.get('Version') ?? '', params };
}

export class QueryError extends Error {
  override readonly name = 'QueryError';
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export function queryErrorResponse(code: string, message: string, status = 400): ServiceResponse {
  const type = status >= 500 ? 'Receiver' : 'Sender';
  const id = requestId();
  return {
    status,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': id },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>${type}</Type><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${id}</RequestId></ErrorResponse>`,
  };
}

/** `<{action}Response xmlns=…><{action}Result>{result}</…Result><ResponseMetadata>…` */
export function queryResponse(action: string, namespace: string, result: string): ServiceResponse {
  const id = requestId();
  return {
    status: 200,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': id },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${namespace}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${id}</RequestId></ResponseMetadata></${action}Response>`,
  };
}

/** `<name>value</name>` with the value escaped; empty when the value is undefined. */
export function el(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? '' : `<${name}>${xmlEscape(String(value))}</${name}>`;
}

/** A list in awsQuery form: `<name><member>…</member>…</name>`. */
export function members(name: string, items: readonly string[]): string {
  return `<${name}>${items.map((i) => `<member>${i}</member>`).join('')}</${name}>`;
}
