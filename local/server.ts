// The embedded local cloud's single endpoint (like LocalStack's :4566): one HTTP port serving
// Kinesis, DynamoDB, Firehose, S3, STS and CloudWatch, plus whatever plug-in services are
// registered (the Lambda runtime's APIs, CloudFormation, …). This file assembles it; the pieces
// live in local/endpoint/: routing by protocol (router.ts), the Host/Origin guard against web
// pages and DNS rebinding (guard.ts), request bodies with per-service limits and a global
// in-flight byte budget (bodies.ts), the HTTP/1.1 + cleartext HTTP/2 listener with its timeouts
// and connection limit (listener.ts).
//
// Both HTTP/1.1 and cleartext HTTP/2 are spoken on the port (the first bytes of a connection
// decide), so the SDK's default Kinesis client — which uses HTTP/2 — works without a custom
// request handler, as does NodeHttpHandler. `endpoint` is http://127.0.0.1:<port>: with an IP
// endpoint the S3 SDK addresses buckets path-style by itself, so no forcePathStyle (a
// local-only code path) is needed in the functions; any credentials are accepted everywhere —
// which is why only requests addressed to a loopback host name, and from no foreign web origin,
// are served (see local/endpoint/guard.ts; RIFFLE_LOCAL_ALLOWED_ORIGINS adds origins).
//
// State: with `dataDir`, everything persists under it — `kinesis/` and `dynamodb/` (LevelDB),
// `s3/` (objects by key hash, see local/services/s3/store.ts), `firehose/delivery-streams.json`,
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
//     maxBodyBytes?: number;                                   // optional, default 8 MiB
//   }
//   server.use(service) registers it; it is consulted after the three X-Amz-Target services
//   (so a plug-in can never steal Kinesis/DynamoDB/Firehose traffic) and before STS and S3,
//   which is the catch-all. `body` is the complete request body (already read; do not read
//   `req` again); the service must end `res`. A thrown error becomes a 500. Plug-ins see
//   HTTP/1.1 requests only: an HTTP/2 request that no built-in service takes gets a 505 telling
//   the client to use HTTP/1.1 (only the SDK's Kinesis client defaults to HTTP/2).
//   stop() order: stop accepting connections → each plug-in's stop(), last registered first
//   (stop pollers, let in-flight invocations finish; existing connections stay open so they
//   can still write to Kinesis/DynamoDB/Firehose) → Firehose flushes every buffer to S3 → TTL
//   sweeper stops → connections closed → kinesalite/dynalite stores closed.
//
// Fault hooks: `server.faults` (ServiceFaults): throttleDynamo, throttleKinesis,
// failFirehoseRecords. Counters: `server.stats()`, also served as JSON at GET /_riffle/stats
// (GET /_riffle/health answers {"status":"running",…}).
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';
import { BodyBudget } from './endpoint/bodies';
import { EndpointGuard, originsFromEnv } from './endpoint/guard';
import { createDualListener, type DualListener } from './endpoint/listener';
import { Router, type LocalService } from './endpoint/router';
import { IamGate } from './iam/gate';
import { LocalCloudWatch } from './services/cloudwatch';
import { cloudWatchService } from './services/cloudwatch/service';
import { DynamoService } from './services/dynamodb';
import { EmbeddedBackend, withAccountEnv } from './services/embedded';
import { FirehoseEmulator } from './services/firehose';
import { KinesisService } from './services/kinesis';
import { LocalS3 } from './services/s3';
import { ServiceFaults } from './services/service-faults';
import { StatsRecorder } from './services/stats';
import type { LocalStats } from './services/stats';
import { StsService } from './services/sts';

export type { LocalStats } from './services/stats';
export type { FirehoseEmulator, FirehoseStats } from './services/firehose';
export type { LocalS3 } from './services/s3';
export type { LocalService } from './endpoint/router';
export type {
  ArmedServiceFault,
  FailFirehoseOptions,
  ServiceFaults,
  ThrottleDynamoOptions,
  ThrottleKinesisOptions,
} from './services/service-faults';
export { signingService } from './services/http';

export interface LocalServerLogger {
  warn(message: string): void;
}

export interface LocalServerTimeouts {
  /** Time allowed to send a request's headers. Default 30 s. */
  readonly headersMs?: number;
  /** Time allowed to send a whole request, body included. Default 15 min (a 5 GB PUT at ~6 MB/s). */
  readonly requestMs?: number;
  /** A request body that stops arriving for this long fails with RequestTimeout. Default 60 s. */
  readonly bodyIdleMs?: number;
  /** Idle keep-alive HTTP/1.1 connections are closed after this. Default 5 min. */
  readonly keepAliveMs?: number;
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
  /**
   * Request-body bytes the server may hold at once across all requests (buffered bodies count
   * whole, streamed S3 uploads 1 MiB each); past it requests get 503 SlowDown. Default 256 MiB.
   */
  readonly maxInFlightBodyBytes?: number;
  /** Simultaneous connections; more are dropped. Default 1024. */
  readonly maxConnections?: number;
  readonly timeouts?: LocalServerTimeouts;
  /**
   * Browser origins allowed besides the endpoint's own (e.g. `http://localhost:5173` for a console
   * page that calls the endpoint from the browser). Default: RIFFLE_LOCAL_ALLOWED_ORIGINS
   * (comma-separated), else none.
   */
  readonly allowedOrigins?: readonly string[];
  /** Host names accepted besides loopback ones (for a server bound to another interface). */
  readonly allowedHosts?: readonly string[];
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
  /** Directory holding the S3 store (`<dataDir>/s3` or a temp dir). */
  readonly s3Dir: string;
  readonly firehose: FirehoseEmulator;
  readonly s3: LocalS3;
  /** Kinesis stream consumers and their push subscriptions (enhanced fan-out). */
  readonly kinesisConsumers: KinesisService['consumers'];
  readonly faults: ServiceFaults;
  /** CloudWatch metrics and alarms (a built-in plug-in: local/services/cloudwatch/). */
  readonly cloudwatch: LocalCloudWatch;
  /** Region scoping and IAM enforcement for function callers (local/iam/): the deployer fills `iam.registry`. */
  readonly iam: IamGate;
  /** Environment for SDK clients and function workers: endpoint, region, dummy credentials. */
  readonly clientEnv: Readonly<Record<string, string>>;
  use(service: LocalService): void;
  stats(): LocalStats;
  resetStats(): void;
  /** Request-body bytes held right now, the most held at once, and the budget. */
  bodyBytes(): { inFlight: number; peak: number; limit: number };
  /** Runs the DynamoDB TTL sweeper now; resolves to the number of items deleted. */
  sweepExpiredItems(): Promise<number>;
  /** The DynamoDB TTL attribute recorded per table by UpdateTimeToLive. */
  ttlAttributes(): Record<string, string>;
  /** Flushes Firehose buffers, stops plug-ins and closes everything. Idempotent. */
  stop(): Promise<void>;
}

const MiB = 1024 * 1024;

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

/** Steps that undo a half-done start, run in reverse if a later step fails. */
class StartupUndo {
  private readonly steps: (() => Promise<void>)[] = [];

  push(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  async fail(err: unknown, port: number, host: string): Promise<never> {
    for (const step of this.steps.reverse()) await step().catch(() => undefined);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`port ${port} on ${host} is already in use (another Riffle local cloud or LocalStack?)`);
    }
    throw err;
  }
}

/** Where state lives: the locked data directory (or nothing) and the S3 directory. */
async function openState(dataDir: string | undefined, undo: StartupUndo): Promise<{ s3Dir: string; unlock: () => Promise<void> }> {
  if (dataDir) await mkdir(dataDir, { recursive: true });
  const unlock = dataDir ? await lockDataDir(dataDir) : async (): Promise<void> => undefined;
  undo.push(unlock);
  const s3Dir = dataDir ? path.join(dataDir, 's3') : await mkdtemp(path.join(os.tmpdir(), 'riffle-s3-'));
  undo.push(async () => (dataDir ? undefined : rm(s3Dir, { recursive: true, force: true })));
  return { s3Dir, unlock };
}

interface Services {
  readonly kinesisBackend: EmbeddedBackend;
  readonly dynamoBackend: EmbeddedBackend;
  readonly kinesis: KinesisService;
  readonly dynamo: DynamoService;
  readonly firehose: FirehoseEmulator;
  readonly s3: LocalS3;
  readonly sts: StsService;
  readonly cloudwatch: LocalCloudWatch;
  readonly faults: ServiceFaults;
  readonly stats: StatsRecorder;
}

/** Starts the embedded emulators (kinesalite, dynalite, S3, Firehose, CloudWatch). */
async function startServices(
  o: { region: string; accountId: string; dataDir: string | undefined; s3Dir: string; logger: LocalServerLogger; options: LocalServerOptions },
  undo: StartupUndo,
): Promise<Services> {
  const { region, accountId, dataDir, logger, options } = o;
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
  const s3 = new LocalS3({
    rootDir: o.s3Dir,
    region,
    accountId,
    logger,
    onObjectWritten: (bytes) => {
      stats.live.s3.objectsPut++;
      stats.live.s3.bytesPut += bytes;
    },
  });
  await kinesisBackend.listen();
  undo.push(() => kinesisBackend.close());
  await dynamoBackend.listen();
  undo.push(() => dynamoBackend.close());
  await s3.init();
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
  const cloudwatch = new LocalCloudWatch({ region, accountId, warn: (m) => logger.warn(m) });
  return { kinesisBackend, dynamoBackend, kinesis, dynamo, firehose, s3, sts: new StsService(accountId), cloudwatch, faults, stats };
}

export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '000000000000';
  const host = options.host ?? '127.0.0.1';
  const requestedPort = options.port ?? 4566;
  const logger: LocalServerLogger = options.logger ?? { warn: (m) => console.warn(`[riffle local] ${m}`) };
  const dataDir = options.dataDir ? path.resolve(options.dataDir) : undefined;
  const timeouts = { headersMs: 30_000, requestMs: 15 * 60_000, bodyIdleMs: 60_000, keepAliveMs: 300_000, ...options.timeouts };

  const undo = new StartupUndo();
  let state: Awaited<ReturnType<typeof openState>>;
  let services: Services;
  try {
    state = await openState(dataDir, undo);
    services = await startServices({ region, accountId, dataDir, s3Dir: state.s3Dir, logger, options }, undo);
  } catch (err) {
    return undo.fail(err, requestedPort, host);
  }
  const { s3Dir, unlock } = state;
  const { kinesisBackend, dynamoBackend, kinesis, dynamo, firehose, s3, cloudwatch, faults, stats } = services;
  const plugins: LocalService[] = [cloudWatchService(cloudwatch)];
  cloudwatch.start();
  const budget = new BodyBudget(options.maxInFlightBodyBytes ?? 256 * MiB);

  const snapshot = (): LocalStats => stats.snapshot(firehose.stats());
  const iam = new IamGate({ region, accountId, log: (m) => logger.warn(m) });
  // The guard needs the bound port (port 0 picks one), so the router is made once it is known.
  const routing: { router?: Router } = {};
  const listener: DualListener = createDualListener(
    (req, res) => void routing.router?.onRequest(req, res),
    { headersMs: timeouts.headersMs, requestMs: timeouts.requestMs, keepAliveMs: timeouts.keepAliveMs, http2IdleMs: timeouts.keepAliveMs },
    options.maxConnections ?? 1024,
  );
  let port: number;
  try {
    port = await listener.listen(requestedPort, host);
  } catch (err) {
    cloudwatch.stop();
    return undo.fail(err, requestedPort, host);
  }
  routing.router = new Router({
    guard: new EndpointGuard({ port, bindHost: host, allowedOrigins: options.allowedOrigins ?? originsFromEnv(process.env.RIFFLE_LOCAL_ALLOWED_ORIGINS), ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}) }),
    budget,
    bodyIdleMs: timeouts.bodyIdleMs,
    ...services,
    plugins,
    stats,
    internal: (name) => {
      if (name === 'health') return { status: 'running', services: ['kinesis', 'dynamodb', 'firehose', 's3', 'sts', ...plugins.map((p) => p.name)], region, dataDir: dataDir ?? null };
      if (name === 'stats') return snapshot();
      return undefined;
    },
    warn: (m) => logger.warn(m),
    gate: iam,
  });
  dynamo.start();

  const endpointHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const endpoint = `http://${endpointHost}:${port}`;

  let stopping: Promise<void> | undefined;
  async function stop(): Promise<void> {
    listener.stopAccepting();
    for (const plugin of [...plugins].reverse()) {
      try {
        await plugin.stop?.();
      } catch (err) {
        logger.warn(`plug-in ${plugin.name} failed to stop: ${(err as Error).message}`);
      }
    }
    await firehose.stop();
    await dynamo.stop();
    await listener.closeAll();
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
    kinesisConsumers: kinesis.consumers,
    faults,
    cloudwatch,
    iam,
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
    bodyBytes: () => ({ inFlight: budget.inFlight, peak: budget.peakInFlight, limit: budget.limit }),
    sweepExpiredItems: () => dynamo.sweepExpired(),
    ttlAttributes: () => dynamo.ttlAttributes(),
    stop(): Promise<void> {
      stopping ??= stop();
      return stopping;
    },
  };
}
