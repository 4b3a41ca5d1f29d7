// Who may talk to the local cloud. It accepts any credentials (like every local AWS emulator), so
// the browser is the threat: any web page can send requests to 127.0.0.1:4566. Two checks close
// that door before a request reaches a service:
//
//   Host   must name this machine's loopback (localhost, *.localhost, 127.x.x.x, [::1]) with this
//          server's port. A DNS-rebinding page reaches us under its own host name
//          (`attacker.example` re-pointed at 127.0.0.1), so its requests carry that name: 403.
//   Origin a browser sends it on every cross-origin fetch and every POST/PUT/DELETE (a "simple"
//          text/plain POST included, which no CORS preflight guards). Only this endpoint's own
//          origin and the configured extra origins pass (e.g. a console page served on another
//          local port that calls this endpoint from the browser); `Origin: null` never does.
//          Without Origin, `Sec-Fetch-Site: cross-site|same-site` (an <img>/<form> navigation
//          from another page) is refused too. Non-browser clients (SDKs, CLIs) send neither.
//
// Allowed extra origins also get CORS answers (preflight and exposed headers) so the AWS SDK can
// run in that page. Extra origins: the `allowedOrigins` option or RIFFLE_LOCAL_ALLOWED_ORIGINS
// (comma-separated); extra host names: `allowedHosts` (for a non-loopback bind). Default: none.
import type { IncomingHttpHeaders } from 'node:http';

export interface GuardOptions {
  readonly port: number;
  /** The address the server is bound to (a non-loopback literal is allowed as a Host too). */
  readonly bindHost: string;
  readonly allowedOrigins?: readonly string[];
  readonly allowedHosts?: readonly string[];
}

export interface Refusal {
  readonly status: 403;
  readonly code: 'ForbiddenHost' | 'ForbiddenOrigin';
  readonly message: string;
}

const EXPOSED_HEADERS = [
  'etag',
  'content-range',
  'content-length',
  'last-modified',
  'date',
  'x-amz-request-id',
  'x-amz-id-2',
  'x-amz-version-id',
  'x-amz-delete-marker',
  'x-amz-bucket-region',
  'x-amz-checksum-crc32',
  'x-amz-checksum-crc32c',
  'x-amz-checksum-sha1',
  'x-amz-checksum-sha256',
  'x-amzn-requestid',
  'x-amzn-errortype',
  'x-amz-function-error',
  'x-amz-log-result',
  'x-amz-executed-version',
].join(', ');

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `host[:port]` → lower-case host (IPv6 in brackets) and port. */
export function splitAuthority(authority: string): { host: string; port: string | undefined } {
  const a = authority.trim().toLowerCase();
  if (a.startsWith('[')) {
    const close = a.indexOf(']');
    if (close < 0) return { host: a, port: undefined };
    const rest = a.slice(close + 1);
    return { host: a.slice(0, close + 1), port: rest.startsWith(':') ? rest.slice(1) : undefined };
  }
  const colon = a.lastIndexOf(':');
  return colon < 0 ? { host: a, port: undefined } : { host: a.slice(0, colon), port: a.slice(colon + 1) };
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export function originsFromEnv(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function normalizeOrigin(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

export class EndpointGuard {
  private readonly extraOrigins: Set<string>;
  private readonly extraHosts: Set<string>;

  constructor(private readonly options: GuardOptions) {
    this.extraOrigins = new Set((options.allowedOrigins ?? []).map((o) => normalizeOrigin(o) ?? o));
    const bind = options.bindHost.toLowerCase();
    const bindLiteral = bind.includes(':') ? `[${bind}]` : bind;
    this.extraHosts = new Set([...(options.allowedHosts ?? []).map((h) => h.toLowerCase()), ...(bind === '0.0.0.0' || bind === '::' ? [] : [bindLiteral])]);
  }

  /** Undefined when the request may proceed; otherwise why not. */
  check(headers: IncomingHttpHeaders): Refusal | undefined {
    const authority = headerValue(headers, ':authority') ?? headerValue(headers, 'host');
    if (!authority || !this.hostAllowed(authority)) {
      return {
        status: 403,
        code: 'ForbiddenHost',
        message: `the Riffle local cloud answers only requests addressed to localhost/127.0.0.1/[::1]:${this.options.port} (got Host ${JSON.stringify(authority ?? '')}); a foreign host name is how DNS-rebinding web pages reach local servers`,
      };
    }
    const origin = headerValue(headers, 'origin');
    if (origin !== undefined) {
      if (!this.originAllowed(origin)) {
        return {
          status: 403,
          code: 'ForbiddenOrigin',
          message: `requests from the web origin ${JSON.stringify(origin)} are refused; allow a local console page with RIFFLE_LOCAL_ALLOWED_ORIGINS=${origin === 'null' ? 'http://localhost:<port>' : origin}`,
        };
      }
      return undefined;
    }
    const site = headerValue(headers, 'sec-fetch-site');
    if (site === 'cross-site' || site === 'same-site') {
      return { status: 403, code: 'ForbiddenOrigin', message: `a browser request from another site (Sec-Fetch-Site: ${site}) is refused` };
    }
    return undefined;
  }

  private hostAllowed(authority: string): boolean {
    const { host, port } = splitAuthority(authority);
    if (port !== undefined ? port !== String(this.options.port) : this.options.port !== 80) return false;
    return isLoopbackHost(host) || this.extraHosts.has(host);
  }

  private isOwnOrigin(origin: string): boolean {
    try {
      const url = new URL(origin);
      const port = url.port || (url.protocol === 'http:' ? '80' : '443');
      return url.protocol === 'http:' && port === String(this.options.port) && isLoopbackHost(url.hostname); // hostname keeps IPv6 brackets
    } catch {
      return false;
    }
  }

  private originAllowed(origin: string): boolean {
    if (origin === 'null') return false;
    const normalized = normalizeOrigin(origin);
    if (!normalized) return false;
    return this.isOwnOrigin(normalized) || this.extraOrigins.has(normalized);
  }

  /** CORS headers for a response to an allowed cross-origin caller (none for same-origin or non-browser callers). */
  corsHeaders(headers: IncomingHttpHeaders): Record<string, string> {
    const origin = headerValue(headers, 'origin');
    if (!origin) return {};
    const normalized = normalizeOrigin(origin);
    if (!normalized || !this.extraOrigins.has(normalized)) return {};
    return { 'access-control-allow-origin': origin, 'access-control-expose-headers': EXPOSED_HEADERS, vary: 'Origin' };
  }

  /** The answer to a CORS preflight (OPTIONS with Access-Control-Request-Method), after check() passed. */
  preflight(headers: IncomingHttpHeaders): Record<string, string> | undefined {
    if (headerValue(headers, 'access-control-request-method') === undefined) return undefined;
    const cors = this.corsHeaders(headers);
    if (!cors['access-control-allow-origin']) return {};
    return {
      ...cors,
      'access-control-allow-methods': 'GET, PUT, POST, DELETE, HEAD',
      'access-control-allow-headers': headerValue(headers, 'access-control-request-headers') ?? '*',
      'access-control-max-age': '600',
    };
  }
}
