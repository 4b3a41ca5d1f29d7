// Runs kinesalite and dynalite inside the server process and calls their request handlers
// directly: each is a plain Node HTTP server whose 'request' listener only uses the
// EventEmitter side of the request and setHeader/end on the response, so the router hands it
// an in-memory request and captures the response. That saves a loopback HTTP hop per call on
// the hottest path (Kinesis PutRecords/GetRecords) and lets the router inspect and rewrite
// responses (DynamoDB consumed capacity). Each still listens on an ephemeral 127.0.0.1 port:
// their close() only releases the LevelDB store of a listening server, and the port is a handy
// escape hatch for debugging (`internalEndpoint`).
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CapturedResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** The slice of IncomingMessage kinesalite's and dynalite's handlers read. */
class InMemoryRequest extends EventEmitter {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly headers: IncomingHttpHeaders,
  ) {
    super();
  }
}

/** The slice of ServerResponse they write; `contentType` is a field both set on the response. */
class CapturingResponse {
  statusCode = 200;
  contentType: string | undefined;
  private readonly headerMap = new Map<string, string>();

  constructor(private readonly done: (response: CapturedResponse) => void) {}

  setHeader(name: string, value: string | number | readonly string[]): this {
    this.headerMap.set(name.toLowerCase(), Array.isArray(value) ? value.join(', ') : String(value));
    return this;
  }

  getHeader(name: string): string | undefined {
    return this.headerMap.get(name.toLowerCase());
  }

  removeHeader(name: string): void {
    this.headerMap.delete(name.toLowerCase());
  }

  end(body?: string | Buffer | null): void {
    const buffer = body === undefined || body === null ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
    this.done({ status: this.statusCode, headers: Object.fromEntries(this.headerMap), body: buffer });
  }
}

export class EmbeddedBackend {
  private port = 0;
  /** Requests inside the emulator: close() waits for them, since a callback running after its store closed throws. */
  private readonly inflight = new Set<Promise<CapturedResponse>>();

  constructor(
    readonly name: string,
    private readonly server: Server,
  ) {}

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  get internalEndpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Runs one request through the emulator's handler in-process. */
  dispatch(method: string, url: string, headers: IncomingHttpHeaders, body: Buffer): Promise<CapturedResponse> {
    const pending = new Promise<CapturedResponse>((resolve) => {
      const req = new InMemoryRequest(method, url, { ...headers, 'content-length': String(body.length) });
      const res = new CapturingResponse(resolve);
      this.server.emit('request', req, res);
      if (body.length > 0) req.emit('data', body);
      req.emit('end');
    });
    this.inflight.add(pending);
    void pending.finally(() => this.inflight.delete(pending));
    return pending;
  }

  async close(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (this.inflight.size > 0 && Date.now() < deadline) {
      await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => setTimeout(r, 100))]);
    }
    return new Promise((resolve, reject) => {
      this.server.close((err?: Error) => (err && (err as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING' ? reject(err) : resolve()));
    });
  }
}

/**
 * Both emulators read the account and region for their ARNs from the environment when the store
 * is created; set them for that synchronous call only.
 */
export function withAccountEnv<T>(accountId: string, region: string, create: () => T): T {
  const saved = { account: process.env.AWS_ACCOUNT_ID, region: process.env.AWS_REGION };
  process.env.AWS_ACCOUNT_ID = accountId;
  process.env.AWS_REGION = region;
  try {
    return create();
  } finally {
    if (saved.account === undefined) delete process.env.AWS_ACCOUNT_ID;
    else process.env.AWS_ACCOUNT_ID = saved.account;
    if (saved.region === undefined) delete process.env.AWS_REGION;
    else process.env.AWS_REGION = saved.region;
  }
}
