// Who is calling: on AWS a function's SDK signs with its execution role's temporary credentials;
// locally each function gets an access key id of its own (derived from its ARN, so the Lambda
// runtime and the deployer compute the same one without talking to each other), and the IAM
// gate reads the key id — and the region — back from the SigV4 signature of each request.
// Signatures are not verified: the key id only says which principal's policies apply.
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** `ASIA…` (AWS's prefix for temporary keys) + 16 characters derived from the function ARN. */
export function functionAccessKeyId(functionArn: string): string {
  const digest = createHash('sha256').update(`riffle-function-key/${functionArn}`).digest();
  let out = 'ASIA';
  for (let i = 0; i < 16; i++) out += BASE32[(digest[i] ?? 0) % 32];
  return out;
}

/** The credential variables Lambda puts in a function's environment. */
export function functionCredentials(functionArn: string): Record<'AWS_ACCESS_KEY_ID' | 'AWS_SECRET_ACCESS_KEY' | 'AWS_SESSION_TOKEN', string> {
  const secret = createHash('sha256').update(`riffle-function-secret/${functionArn}`).digest('base64').slice(0, 40);
  return {
    AWS_ACCESS_KEY_ID: functionAccessKeyId(functionArn),
    AWS_SECRET_ACCESS_KEY: secret,
    AWS_SESSION_TOKEN: `riffle-local-session/${Buffer.from(functionArn).toString('base64')}`,
  };
}

export interface SignatureScope {
  readonly accessKeyId: string;
  readonly region: string;
  readonly service: string;
}

const CREDENTIAL = /Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request/;

/**
 * The key id, region and service of a SigV4-signed request (Authorization header or presigned
 * URL query); undefined for unsigned requests.
 */
export function signatureScope(headers: IncomingHttpHeaders, query?: URLSearchParams): SignatureScope | undefined {
  const auth = headers['authorization'];
  const text = Array.isArray(auth) ? auth[0] : auth;
  let m = text ? CREDENTIAL.exec(text) : null;
  if (!m) {
    const credential = query?.get('X-Amz-Credential');
    if (credential) m = CREDENTIAL.exec(`Credential=${credential}`);
  }
  if (!m) return undefined;
  return { accessKeyId: m[1] as string, region: m[3] as string, service: m[4] as string };
}
