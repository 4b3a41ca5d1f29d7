// The console's web server: the page (console/page/, bundled by console/bundle.ts) and a small
// read-only JSON API over one deployment (console/api.ts), plus a server-sent event stream that
// pushes the pipeline every few seconds and says when new output landed in S3. It binds 127.0.0.1
// and answers only requests whose Host (and Origin, when sent) name this server, so a web page on
// another origin cannot read it through DNS rebinding or cross-site requests.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import type { ConsoleInfo, RecordRef, WindowsSnapshot } from './api';
import { bundlePage, type PageBundle } from './bundle';
import { openDeployment, type Deployment, type JobResources } from './deployment';
import { OutputStore } from './outputs';
import { pipelineSnapshot, type RateSettings } from './pipeline';
import { liveWindows, openWindows, readProgress } from './state';
import type { Target } from '../scripts/lib/targets';

export interface ConsoleOptions {
  readonly target: Target;
  /** Default 0 (a free port). */
  readonly port?: number;
  /** Where S3 objects are cached for DuckDB (default .riffle/query-cache, shared with npm run query). */
  readonly cacheDir?: string;
  /** Overrides the refresh and rate settings (tests). */
  readonly refreshMs?: number;
  readonly rates?: RateSettings;
  readonly log?: (line: string) => void;
}

export interface ConsoleServer {
  readonly url: string;
  readonly port: number;
  readonly deployment: Deployment;
  close(): Promise<void>;
}

const HOST = '127.0.0.1';
const LOCAL_RATES: RateSettings = { periodS: 10, rateWindowS: 30, historyS: 600 };
// CloudWatch's standard resolution is one minute, and AWS publishes with a delay of about that.
const AWS_RATES: RateSettings = { periodS: 60, rateWindowS: 300, historyS: 3600 };

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

export async function startConsole(options: ConsoleOptions): Promise<ConsoleServer> {
  const deployment = openDeployment(options.target);
  const rates = options.rates ?? (options.target.name === 'aws' ? AWS_RATES : LOCAL_RATES);
  const refreshMs = options.refreshMs ?? (options.target.name === 'aws' ? 15_000 : 2_000);
  // How often the event stream lists the bucket for new output (list requests cost money on AWS).
  const outputsEveryMs = options.target.name === 'aws' ? 60_000 : Math.max(refreshMs, 3_000);
  const outputs = new OutputStore(deployment, path.resolve(options.cacheDir ?? path.join('.riffle', 'query-cache')));
  let bundle: PageBundle;
  try {
    bundle = await bundlePage();
  } catch (error) {
    deployment.destroy();
    throw error;
  }
  const html = readFileSync(path.join(__dirname, 'page', 'index.html'), 'utf8');
  const info: ConsoleInfo = {
    target: options.target.name,
    ...(options.target.endpoint ? { endpoint: options.target.endpoint } : {}),
    ...(options.target.region ? { region: options.target.region } : {}),
    jobs: [...deployment.jobs.values()].map((j) => j.info),
    refreshMs,
    rateWindowS: rates.rateWindowS,
  };
  const streams = new Set<http.ServerResponse>();
  let port = 0;

  const job = (url: URL): JobResources => {
    const name = url.searchParams.get('job') ?? [...deployment.jobs.keys()][0];
    const r = name === undefined ? undefined : deployment.jobs.get(name);
    if (!r) throw new HttpError(404, `no deployed job '${name ?? ''}' (deployed: ${[...deployment.jobs.keys()].join(', ') || 'none'})`);
    return r;
  };
  const int = (url: URL, name: string, fallback: number, max: number): number => {
    const raw = url.searchParams.get(name);
    if (raw === null || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > max) throw new HttpError(400, `${name} must be a whole number from 0 to ${max}`);
    return n;
  };

  async function windows(r: JobResources): Promise<WindowsSnapshot> {
    const now = Date.now();
    const [open, progress, late, rejected, live] = await Promise.all([openWindows(deployment, r), readProgress(deployment, r), outputs.reasons(r, 'late'), outputs.reasons(r, 'rejected'), liveWindows(deployment, r)]);
    return { job: r.job.name, now, openWindows: open.count, nextDue: open.next, live: live.windows, liveTruncated: live.truncated, watermark: progress.watermark, late, rejected };
  }

  async function api(url: URL): Promise<unknown> {
    switch (url.pathname) {
      case '/api/info':
        return info;
      case '/api/pipeline':
        return pipelineSnapshot(deployment, job(url), rates);
      case '/api/windows':
        return windows(job(url));
      case '/api/results': {
        const keys = url.searchParams.get('keys');
        const window = url.searchParams.get('window');
        return outputs.results(job(url), {
          aggregate: url.searchParams.get('aggregate') ?? '',
          ...(keys ? { keys: keys.split(',').filter(Boolean).slice(0, 50) } : {}),
          top: int(url, 'top', 10, 50),
          page: int(url, 'page', 0, 1_000_000),
          pageSize: int(url, 'pageSize', 25, 500),
          ...(window ? { window: Number(window) } : {}),
        });
      }
      case '/api/record': {
        const kind = url.searchParams.get('kind');
        if (kind !== 'late' && kind !== 'rejected') throw new HttpError(400, 'kind must be late or rejected');
        const ref: Pick<RecordRef, 'kind' | 'shardId' | 'sequenceNumber' | 'subSequenceNumber'> = {
          kind,
          shardId: url.searchParams.get('shard') ?? '',
          sequenceNumber: url.searchParams.get('seq') ?? '',
          subSequenceNumber: int(url, 'sub', 0, Number.MAX_SAFE_INTEGER),
        };
        const record = await outputs.record(job(url), ref);
        if (!record) throw new HttpError(404, `no ${kind} record from ${ref.shardId} ${ref.sequenceNumber}/${ref.subSequenceNumber}`);
        return record;
      }
      default:
        throw new HttpError(404, `no such API: ${url.pathname}`);
    }
  }

  function events(url: URL, res: http.ServerResponse): void {
    const r = job(url);
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`retry: ${refreshMs}\n\n`);
    streams.add(res);
    let signature: string | undefined;
    let listedAt = 0;
    let busy = false;
    let closed = false;
    const send = (event: string, data: unknown) => {
      if (!closed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const tick = async () => {
      if (busy || closed) return;
      busy = true;
      try {
        send('pipeline', await pipelineSnapshot(deployment, r, rates));
        if (Date.now() - listedAt >= outputsEveryMs) {
          listedAt = Date.now();
          const listing = await outputs.listing(r);
          if (listing.signature !== signature) {
            signature = listing.signature;
            send('outputs', { objects: Object.values(listing.objects).reduce((n, list) => n + list.length, 0) });
          }
        }
      } catch (error) {
        send('problem', { message: (error as Error).message });
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(() => void tick(), refreshMs);
    void tick();
    res.on('close', () => {
      closed = true;
      clearInterval(timer);
      streams.delete(res);
    });
  }

  function allowed(req: http.IncomingMessage): string | undefined {
    const hosts = [`${HOST}:${port}`, `localhost:${port}`];
    if (!hosts.includes(req.headers.host ?? '')) return `Host ${req.headers.host ?? '(none)'} is not this console (${hosts.join(' or ')})`;
    const origin = req.headers.origin;
    if (origin !== undefined && !hosts.map((h) => `http://${h}`).includes(origin)) return `Origin ${origin} may not use this console`;
    if (req.headers['sec-fetch-site'] === 'cross-site') return 'cross-site requests are refused';
    return undefined;
  }

  const server = http.createServer((req, res) => {
    const refused = allowed(req);
    const send = (status: number, type: string, body: string, extra: Record<string, string> = {}) => {
      res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (refused) return send(403, 'text/plain; charset=utf-8', `${refused}\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain; charset=utf-8', 'the console is read-only: GET only\n', { allow: 'GET, HEAD' });
    const url = new URL(req.url ?? '/', `http://${HOST}:${port}`);
    if (url.pathname === '/' || url.pathname === '/index.html') return send(200, 'text/html; charset=utf-8', html, { 'cache-control': 'no-store' });
    if (url.pathname === '/app.js') return send(200, 'text/javascript; charset=utf-8', bundle.js);
    if (url.pathname === '/app.css') return send(200, 'text/css; charset=utf-8', bundle.css);
    if (url.pathname === '/favicon.ico') return send(204, 'image/x-icon', '');
    if (url.pathname === '/api/events') {
      try {
        return events(url, res);
      } catch (error) {
        return send(error instanceof HttpError ? error.status : 500, 'application/json', JSON.stringify({ message: (error as Error).message }));
      }
    }
    api(url).then(
      (body) => send(200, 'application/json; charset=utf-8', JSON.stringify(body), { 'cache-control': 'no-store' }),
      (error: unknown) => {
        const status = error instanceof HttpError ? error.status : 502;
        if (status >= 500) options.log?.(`console: ${url.pathname}: ${(error as Error).message}`);
        send(status, 'application/json; charset=utf-8', JSON.stringify({ message: (error as Error).message }));
      },
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      deployment.destroy();
      reject(error.code === 'EADDRINUSE' ? new Error(`port ${options.port ?? 0} on ${HOST} is already in use; pass --port`) : error);
    });
    server.listen(options.port ?? 0, HOST, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const url = `http://${HOST}:${port}/`;
  return {
    url,
    port,
    deployment,
    async close() {
      for (const res of streams) res.end();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      outputs.close();
      deployment.destroy();
    },
  };
}
