// The embedded local cloud's single endpoint (like LocalStack's :4566): one HTTP port serving
// Kinesis, DynamoDB, Firehose and S3, plus whatever plug-in services are registered (the Lambda
// runtime's invoke API, …). Requests are routed by protocol:
//
//   X-Amz-Target: Kinesis_20131202.*   → kinesalite, in-process           (local/services/kinesis.ts)
//   X-Amz-Target: DynamoDB_20120810.*  → dynalite, in-process, + TTL      (local/services/dynamodb.ts)
//   X-Amz-Target: Firehose_20150804.*  → the Firehose emulator            (local/services/firehose.ts)
//   plug-in services, in registration order (first whose matches() is true)
//   /2015-03-31/functions/… with no plug-in → Lambda-style 404 (no runtime plugged in)
//   any other X-Amz-Target / non-S3 SigV4 scope → 400 "not emulated"
//   everything else → S3 (path-style and <bucket>.localhost virtual hosts)  (local/services/s3.ts)
//
// Both HTTP/1.1 and cleartext HTTP/2 are spoken on the port (the first bytes of a connection
// decide), so the SDK's default Kinesis client — which uses HTTP/2 — works without a custom
// request handler, as does NodeHttpHandler. `endpoint` is http://127.0.0.1:<port>: with an IP
// endpoint the S3 SDK addresses buckets path-style by itself, so no forcePathStyle (a
// local-only code path) is needed in the functions; any credentials are accepted everywhere.
//
// State: with `dataDir`, everything persists under it — `kinesis/` and `dynamodb/` (LevelDB),
// `s3/<bucket>/<key>` (plain files, browsable), `firehose/delivery-streams.json`,
// `dynamodb-ttl.json`. Without it, Kinesis/DynamoDB are in memory and S3 lives in a temp
// directory removed by stop().
//
// ── Plug-in seam ──────────────────────────────────────────────────────────────────────────────
//   interface LocalService {
//     readonly name: string;                                   // stats key, logs
//     matches(req: IncomingMessage): boolean;                  // cheap, synchronous, headers/URL only
//     handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void>;
//     stop?(): Promise<void>;                                  // optional, see stop() order below
//     operation?(req: IncomingMessage): string;                // optional stats label (default 'request')
//   }
//   server.use(service) registers it; it is consulted after the three X-Amz-Target services
//   (so a plug-in can never steal Kinesis/DynamoDB/Firehose traffic) and before S3, which is the
//   catch-all. `body` is the complete request body (already read; do not read `req` again);
//   the service must end `res`. A thrown error becomes a 500 JSON error. Plug-ins see HTTP/1.1
//   requests only: an HTTP/2 request that no built-in service takes gets a 505 telling the
//   client to use HTTP/1.1 (only the SDK's Kinesis client defaults to HTTP/2).
//   stop() order: stop accepting connections → each plug-in's stop(), last registered first
//   (stop pollers, let in-flight invocations finish; existing connections stay open so they
//   can still write to Kinesis/DynamoDB/Firehose) → Firehose flushes every buffer to S3 → TTL
//   sweeper stops → connections closed → kinesalite/dynalite stores closed.
//
// Fault hooks: `server.faults` (ServiceFaults): throttleDynamo, throttleKinesis,
// failFirehoseRecords. Counters: `server.stats()`, also served as JSON at GET /_riffle/stats
// (GET /_riffle/health answers {"status":"running",…}).
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { Http2ServerRequest } from 'node:http2';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';
import { crashPointAfterResponse } from './crash-points';
import { LocalCloudWatch } from './services/cloudwatch';
import { cloudWatchService } from './services/cloudwatch/service';
import { DynamoService } from './services/dynamodb';
import { EmbeddedBackend, withAccountEnv } from './services/embedded';
import { FirehoseEmulator } from './services/firehose';
import { header, jsonError, parseJsonObject, signingService } from './services/http';
import type { HeaderValue, ServiceRequest, ServiceResponse } from './services/http';
import { KinesisService } from './services/kinesis';
import { LocalS3 } from './services/s3';
import { ServiceFaults } from './services/service-faults';
import { StatsRecorder } from './services/stats';
import type { LocalStats } from './services/stats';

export type { LocalStats } from './services/stats';
export type { FirehoseEmulator, FirehoseStats } from './services/firehose';
export type { LocalS3 } from './services/s3';
export type {
  ArmedServiceFault,
  FailFirehoseOptions,
  ServiceFaults,
  ThrottleDynamoOptions,
  ThrottleKinesisOptions,
} from './services/service-faults';
export { signingService } from './services/http';

/** A service plugged into the local endpoint (see the header of this file). */
export interface LocalService {
  readonly name: string;
  matches(req: IncomingMessage): boolean;
  handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void>;
  stop?(): Promise<void>;
  operation?(req: IncomingMessage): string;
}

export interface LocalServerLogger {
  warn(message: string): void;
}

export interface LocalServerOptions {
  /** Default 4566; 0 picks a free port (tests). */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Persist all state under this directory (e.g. `.riffle/`); in memory / temp dir when omitted. */
  readonly dataDir?: string;
  readonly region?: string;
  readonly accountId?: string;
  /** Multiplies Firehose buffering intervals (e.g. 0.01: 60 s → 0.6 s). Default 1. */
  readonly firehoseTimeScale?: number;
  /**
   * TTL sweeper period; default 60 s (each sweep scans the tables that have TTL enabled, so it is
   * kept infrequent; AWS itself deletes within days). 0 disables the timer (sweepExpiredItems() still works).
   */
  readonly ttlSweepIntervalMs?: number;
  /** Largest request body accepted (S3 uploads are buffered); default 512 MiB. */
  readonly maxBodyBytes?: number;
  readonly logger?: LocalServerLogger;
}

export interface LocalServer {
  /** http://127.0.0.1:<port> — what AWS_ENDPOINT_URL should be. */
  readonly endpoint: string;
  readonly port: number;
  readonly host: string;
  readonly region: string;
  readonly accountId: string;
  readonly dataDir: string | undefined;
  /** Directory holding the S3 buckets (`<dataDir>/s3` or a temp dir). */
  readonly s3Dir: string;
  readonly firehose: FirehoseEmulator;
  readonly s3: LocalS3;
  readonly faults: ServiceFaults;
  /** CloudWatch metrics and alarms (a built-in plug-in: local/services/cloudwatch/). */
  readonly cloudwatch: LocalCloudWatch;
  /** Environment for SDK clients and function workers: endpoint, region, dummy credentials. */
  readonly clientEnv: Readonly<Record<string, string>>;
  use(service: LocalService): void;
  stats(): LocalStats;
  resetStats(): void;
  /** Runs the DynamoDB TTL sweeper now; resolves to the number of items deleted. */
  sweepExpiredItems(): Promise<number>;
  /** The DynamoDB TTL attribute recorded per table by UpdateTimeToLive. */
  ttlAttributes(): Record<string, string>;
  /** Flushes Firehose buffers, stops plug-ins and closes everything. Idempotent. */
  stop(): Promise<void>;
}

const HTTP2_PREFACE = Buffer.from('PRI ');
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);
const LAMBDA_PATH = /^\/20\d\d-\d\d-\d\d\/(functions|event-source-mappings|tags|layers)(\/|$)/;

type AnyRequest = IncomingMessage | Http2ServerRequest;
type AnyResponse = ServerResponse | http2.Http2ServerResponse;

class BodyTooLarge extends Error {}

async function readBody(req: AnyRequest, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer | string>) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > limit) throw new BodyTooLarge(`request body over ${limit} bytes`);
    chunks.push(buffer);
  }
  return chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks, size);
}

function toServiceRequest(req: AnyRequest, body: Buffer): ServiceRequest {
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
    body,
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

function send(res: AnyResponse, response: ServiceResponse, method: string): void {
  const headers = outgoingHeaders(response.headers);
  const body = response.body;
  let payload: Buffer | Readable | undefined;
  if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
    const buffer = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    if (headers['content-length'] === undefined) headers['content-length'] = buffer?.length ?? 0;
    payload = method === 'HEAD' ? undefined : buffer;
  } else {
    payload = body;
  }
  // Two branches only so TypeScript resolves each response type's writeHead/end overloads.
  if (res instanceof http2.Http2ServerResponse) res.writeHead(response.status, headers);
  else res.writeHead(response.status, headers);
  if (payload instanceof Readable) {
    payload.on('error', () => res.destroy());
    payload.pipe(res);
  } else if (payload === undefined) {
    res.end();
  } else if (res instanceof http2.Http2ServerResponse) {
    res.end(payload);
  } else {
    res.end(payload);
  }
}

/** Data directories held by servers of this process (the lock file alone cannot tell them apart). */
const heldDataDirs = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * LevelDB allows one process per store, and a second opener only fails later with an uncaught
 * "lock … already held" error; claim the directory up front and say who holds it.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const file = path.join(dataDir, '.riffle.lock');
  const inUse = (pid: number): Error =>
    new Error(`the local cloud data directory ${dataDir} is in use by ${pid === process.pid ? 'another server in this process' : `process ${pid}`}; stop it first`);
  if (heldDataDirs.has(dataDir)) throw inUse(process.pid);
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (pid && pid !== process.pid && processAlive(pid)) throw inUse(pid);
      await rm(file, { force: true }); // stale: its process is gone
    }
  }
  heldDataDirs.add(dataDir);
  return async () => {
    heldDataDirs.delete(dataDir);
    await rm(file, { force: true });
  };
}

export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '000000000000';
  const host = options.host ?? '127.0.0.1';
  const logger: LocalServerLogger = options.logger ?? { warn: (m) => console.warn(`[riffle local] ${m}`) };
  const maxBody = options.maxBodyBytes ?? 512 * 1024 * 1024;
  const dataDir = options.dataDir ? path.resolve(options.dataDir) : undefined;

  if (dataDir) await mkdir(dataDir, { recursive: true });
  const unlock = dataDir ? await lockDataDir(dataDir) : async (): Promise<void> => undefined;
  const s3Dir = dataDir ? path.join(dataDir, 's3') : await mkdtemp(path.join(os.tmpdir(), 'riffle-s3-'));
  // Undone in reverse if startup fails half-way, so a failed start leaves no lock, port or temp dir.
  const undo: (() => Promise<void>)[] = [unlock, async () => (dataDir ? undefined : rm(s3Dir, { recursive: true, force: true }))];
  const failStart = async (err: unknown): Promise<never> => {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`port ${options.port ?? 4566} on ${host} is already in use (another Riffle local cloud or LocalStack?)`);
    }
    throw err;
  };

  const kinesisBackend = new EmbeddedBackend(
    'kinesis',
    withAccountEnv(accountId, region, () =>
      kinesalite({ ...(dataDir ? { path: path.join(dataDir, 'kinesis') } : {}), createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 1000 }),
    ),
  );
  const dynamoBackend = new EmbeddedBackend(
    'dynamodb',
    withAccountEnv(accountId, region, () => dynalite({ ...(dataDir ? { path: path.join(dataDir, 'dynamodb') } : {}), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })),
  );
  const faults = new ServiceFaults();
  const stats = new StatsRecorder();
  const s3 = new LocalS3({ rootDir: s3Dir, region, accountId });
  try {
    await kinesisBackend.listen();
    undo.push(() => kinesisBackend.close());
    await dynamoBackend.listen();
    undo.push(() => dynamoBackend.close());
    await s3.init();
  } catch (err) {
    await failStart(err);
  }
  const firehose = new FirehoseEmulator({
    region,
    accountId,
    sink: s3,
    ...(options.firehoseTimeScale !== undefined ? { timeScale: options.firehoseTimeScale } : {}),
    ...(dataDir ? { stateFile: path.join(dataDir, 'firehose', 'delivery-streams.json') } : {}),
    faults,
    logger: { warn: (m) => logger.warn(`firehose: ${m}`) },
  });
  const dynamo = new DynamoService(dynamoBackend, faults, stats, {
    ...(dataDir ? { ttlFile: path.join(dataDir, 'dynamodb-ttl.json') } : {}),
    sweepIntervalMs: options.ttlSweepIntervalMs ?? 60_000,
    region,
    accountId,
    logger,
  });
  const kinesis = new KinesisService(kinesisBackend, faults, stats, accountId);
  const plugins: LocalService[] = [];
  const cloudwatch = new LocalCloudWatch({ region, accountId, warn: (m) => logger.warn(m) });
  plugins.push(cloudWatchService(cloudwatch));
  cloudwatch.start();

  async function route(req: AnyRequest, res: AnyResponse, body: Buffer): Promise<void> {
    const request = toServiceRequest(req, body);
    const target = header(request, 'x-amz-target');
    if (target) {
      const dot = target.indexOf('.');
      const prefix = dot < 0 ? target : target.slice(0, dot);
      const operation = dot < 0 ? '' : target.slice(dot + 1);
      if (prefix === 'Kinesis_20131202') return send(res, await kinesis.handle(request, operation), request.method);
      if (prefix === 'DynamoDB_20120810') return send(res, await dynamo.handle(request, operation), request.method);
      if (prefix === 'Firehose_20150804') {
        stats.request('firehose', operation);
        const response = await firehose.handle(operation, body);
        if (response.status >= 400) stats.error('firehose', String(response.headers?.['x-amzn-errortype'] ?? 'UnknownError'));
        if (operation === 'PutRecordBatch' && response.status === 200) crashPointAfterResponse(res, 'firehose.put-record-batch.acked', () => parseJsonObject(body)?.DeliveryStreamName as string | undefined);
        return send(res, response, request.method);
      }
    }
    const scope = signingService({ headers: request.headers, url: req.url ?? '' });
    if (req instanceof http.IncomingMessage && res instanceof http.ServerResponse) {
      for (const plugin of plugins) {
        if (!plugin.matches(req)) continue;
        stats.request(plugin.name, plugin.operation?.(req) ?? 'request');
        await plugin.handle(req, res, body);
        return;
      }
    } else if (plugins.length > 0 && (target !== undefined || (scope !== undefined && scope !== 's3') || LAMBDA_PATH.test(request.path))) {
      // An HTTP/2 request for something other than the built-in services: plug-ins speak HTTP/1.1.
      return send(res, jsonError('HttpVersionNotSupported', 'plug-in services of the Riffle local cloud speak HTTP/1.1 only; use NodeHttpHandler', undefined, 505), request.method);
    }
    if (LAMBDA_PATH.test(request.path)) {
      stats.error('lambda', 'ResourceNotFoundException');
      return send(
        res,
        {
          status: 404,
          headers: { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' },
          body: JSON.stringify({ Type: 'User', message: `no Lambda runtime is plugged into this local server (${request.method} ${request.path})` }),
        },
        request.method,
      );
    }
    if (target || (scope !== undefined && scope !== 's3')) {
      const what = target ? `X-Amz-Target ${target}` : `service "${scope}"`;
      stats.error('unknown', 'UnknownOperationException');
      return send(res, jsonError('UnknownOperationException', `the Riffle local cloud does not emulate ${what} (Kinesis, DynamoDB, Firehose, S3${plugins.length ? `, ${plugins.map((p) => p.name).join(', ')}` : ''})`), request.method);
    }
    const classified = s3.classify(request);
    stats.request('s3', classified.operation);
    const response = await s3.handle(request, classified);
    if (response.status >= 400) stats.error('s3', String(response.headers?.['x-amz-error-code'] ?? errorCodeOf(response)));
    else if (classified.operation === 'PutObject' || classified.operation === 'CompleteMultipartUpload') {
      stats.live.s3.objectsPut++;
      stats.live.s3.bytesPut += body.length;
    }
    send(res, response, request.method);
  }

  async function internal(req: AnyRequest, res: AnyResponse): Promise<boolean> {
    const url = req.url ?? '';
    if (!url.startsWith('/_riffle/')) return false;
    const pathname = url.split('?')[0];
    if (pathname === '/_riffle/health') {
      send(
        res,
        { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'running', services: ['kinesis', 'dynamodb', 'firehose', 's3', ...plugins.map((p) => p.name)], region, dataDir: dataDir ?? null }) },
        'GET',
      );
      return true;
    }
    if (pathname === '/_riffle/stats') {
      send(res, { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(snapshot()) }, 'GET');
      return true;
    }
    return false;
  }

  async function onRequest(req: AnyRequest, res: AnyResponse): Promise<void> {
    try {
      const body = await readBody(req, maxBody);
      if (await internal(req, res)) return;
      await route(req, res, body);
    } catch (err) {
      if (!(err instanceof BodyTooLarge)) logger.warn(`error handling ${req.method ?? ''} ${req.url ?? ''}: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) {
        const status = err instanceof BodyTooLarge ? 413 : 500;
        send(res, jsonError(status === 413 ? 'RequestEntityTooLarge' : 'InternalFailure', (err as Error).message, undefined, status), 'POST');
      } else {
        res.destroy();
      }
    }
  }

  // One port, two protocols: the first bytes of a connection tell HTTP/2 (prior knowledge, "PRI *
  // HTTP/2.0") from HTTP/1.x; the bytes are pushed back and the socket handed to that server.
  const h1 = http.createServer({ keepAliveTimeout: 300_000 }, (req, res) => void onRequest(req, res));
  const h2 = http2.createServer({ maxSessionMemory: 64 }, (req, res) => void onRequest(req, res));
  const sockets = new Set<Socket>();
  const front = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const sniff = (): void => {
      const chunk = socket.read() as Buffer | null;
      if (chunk === null) {
        socket.once('readable', sniff);
        return;
      }
      socket.unshift(chunk);
      if (chunk.length < HTTP2_PREFACE.length && HTTP2_PREFACE.subarray(0, chunk.length).equals(chunk) && !socket.readableEnded) {
        socket.once('readable', sniff); // "P" alone could still be "PRI " or "PUT"
        return;
      }
      (chunk.subarray(0, HTTP2_PREFACE.length).equals(HTTP2_PREFACE) ? h2 : h1).emit('connection', socket);
    };
    socket.once('readable', sniff);
  });

  try {
    await new Promise<void>((resolve, reject) => {
      front.once('error', reject);
      front.listen(options.port ?? 4566, host, () => {
        front.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await failStart(err);
  }
  front.on('error', (err) => logger.warn(`server error: ${err.message}`));
  dynamo.start();

  const port = (front.address() as AddressInfo).port;
  const endpointHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const endpoint = `http://${endpointHost}:${port}`;

  function snapshot(): LocalStats {
    return stats.snapshot(firehose.stats());
  }

  let stopping: Promise<void> | undefined;
  async function stop(): Promise<void> {
    front.close();
    for (const plugin of [...plugins].reverse()) {
      try {
        await plugin.stop?.();
      } catch (err) {
        logger.warn(`plug-in ${plugin.name} failed to stop: ${(err as Error).message}`);
      }
    }
    await firehose.stop();
    await dynamo.stop();
    h1.closeAllConnections();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => h2.close(() => resolve()));
    await kinesisBackend.close();
    await dynamoBackend.close();
    if (!dataDir) await rm(s3Dir, { recursive: true, force: true });
    await unlock();
  }

  return {
    endpoint,
    port,
    host,
    region,
    accountId,
    dataDir,
    s3Dir,
    firehose,
    s3,
    faults,
    cloudwatch,
    clientEnv: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ACCESS_KEY_ID: 'riffle',
      AWS_SECRET_ACCESS_KEY: 'riffle',
    },
    use(service: LocalService): void {
      if (stopping) throw new Error('the local server is stopping');
      plugins.push(service);
    },
    stats: snapshot,
    resetStats(): void {
      stats.reset();
      firehose.resetStats();
    },
    sweepExpiredItems: () => dynamo.sweepExpired(),
    ttlAttributes: () => dynamo.ttlAttributes(),
    stop(): Promise<void> {
      stopping ??= stop();
      return stopping;
    },
  };
}

function errorCodeOf(response: ServiceResponse): string {
  const body = response.body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    const m = /<Code>([^<]+)<\/Code>/.exec(body.toString());
    if (m?.[1]) return m[1];
  }
  return `HTTP${response.status}`;
}
