// Routes each request of the single endpoint to the service that speaks its protocol, after the
// endpoint's own checks (Host/Origin guard, CORS preflight) and with its body read within that
// service's limit and the global budget (bodies.ts):
//
//   X-Amz-Target: Kinesis_20131202.*   → kinesalite, in-process           (local/services/kinesis.ts)
//   X-Amz-Target: DynamoDB_20120810.*  → dynalite, in-process, + TTL      (local/services/dynamodb.ts)
//   X-Amz-Target: Firehose_20150804.*  → the Firehose emulator            (local/services/firehose.ts)
//   plug-in services, in registration order (first whose matches() is true; CloudWatch, Lambda, …)
//   SigV4 scope sts                    → STS GetCallerIdentity            (local/services/sts.ts)
//   /20xx-xx-xx/functions|event-source-mappings/… with no plug-in → Lambda-style 404
//   any other X-Amz-Target / non-S3 scope → "not emulated", in that protocol (JSON or awsQuery XML)
//   everything else → S3, body streamed to disk (path and <bucket>.localhost virtual hosts)
import type { IncomingMessage, ServerResponse } from 'node:http';
import { crashPointAfterResponse } from '../crash-points';
import type { DynamoService } from '../services/dynamodb';
import type { FirehoseEmulator } from '../services/firehose';
import { header, jsonError, parseJsonObject, signingService } from '../services/http';
import type { ServiceRequest, ServiceResponse } from '../services/http';
import type { KinesisService } from '../services/kinesis';
import { queryErrorResponse } from '../services/query';
import type { LocalS3 } from '../services/s3';
import type { StatsRecorder } from '../services/stats';
import type { StsService } from '../services/sts';
import { BodyRejected, readBody, SERVICE_BODY_LIMITS, STREAM_WINDOW_BYTES, watchedStream, type BodyBudget, type Reservation } from './bodies';
import type { EndpointGuard } from './guard';
import type { IamGate } from '../iam/gate';
import { errorCodeOf, isHttp1, LAMBDA_PATH, protocolError, requestHead, send, wireProtocol, type AnyRequest, type AnyResponse } from './respond';

/** A service plugged into the local endpoint (see local/server.ts). */
export interface LocalService {
  readonly name: string;
  matches(req: IncomingMessage): boolean;
  handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void>;
  stop?(): Promise<void>;
  operation?(req: IncomingMessage): string;
  /** Largest request body this service accepts (default SERVICE_BODY_LIMITS.plugin). */
  readonly maxBodyBytes?: number;
}

export interface RouterDeps {
  readonly guard: EndpointGuard;
  readonly budget: BodyBudget;
  /** A request body that stops arriving for this long fails with RequestTimeout. */
  readonly bodyIdleMs: number;
  readonly kinesis: KinesisService;
  readonly dynamo: DynamoService;
  readonly firehose: FirehoseEmulator;
  readonly s3: LocalS3;
  readonly sts: StsService;
  readonly plugins: readonly LocalService[];
  readonly stats: StatsRecorder;
  /** GET /_riffle/<name> answers (health, stats). */
  readonly internal: (name: string) => unknown;
  readonly warn: (message: string) => void;
  /** Region scoping and IAM for calls from functions (local/iam/gate.ts): its answer replaces the service's. */
  readonly gate?: Pick<IamGate, 'check'>;
}

/** The gate refused a request; `response` is its answer in the service's protocol. */
class GateRefusal extends Error {
  constructor(readonly response: ServiceResponse) {
    super('refused by the IAM gate');
  }
}

export class Router {
  constructor(private readonly deps: RouterDeps) {}

  /** Entry point for both HTTP/1.1 and HTTP/2 requests; never throws. */
  async onRequest(req: AnyRequest, res: AnyResponse): Promise<void> {
    const protocol = wireProtocol(req);
    let reservation: Reservation | undefined;
    const method = (req.method ?? 'GET').toUpperCase();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    try {
      const refusal = this.deps.guard.check(req.headers);
      if (refusal) {
        this.deps.stats.error('endpoint', refusal.code);
        return send(res, protocolError(protocol, refusal.status, refusal.code, refusal.message, path, method), method, {}, !isComplete(req));
      }
      const cors = this.deps.guard.corsHeaders(req.headers);
      if (method === 'OPTIONS') {
        const preflight = this.deps.guard.preflight(req.headers);
        if (preflight) return send(res, { status: 204, headers: preflight }, method);
      }
      if (isHttp1(req, res)) for (const [k, v] of Object.entries(cors)) res.setHeader(k, v);
      if (path.startsWith('/_riffle/') && method === 'GET') {
        const answer = this.deps.internal(path.slice('/_riffle/'.length));
        if (answer !== undefined) return send(res, { status: 200, headers: { 'content-type': 'application/json', ...cors }, body: JSON.stringify(answer) }, method);
      }
      reservation = await this.route(req, res, protocol, cors);
    } catch (err) {
      if (err instanceof GateRefusal) return send(res, err.response, method, {}, !isComplete(req));
      if (err instanceof BodyRejected) {
        this.deps.stats.error('endpoint', err.code);
        if (!res.headersSent && !res.writableEnded) {
          send(res, protocolError(protocol, err.status, err.code, err.message, path, method), method, {}, true);
        }
        return;
      }
      this.deps.warn(`error handling ${method} ${req.url ?? ''}: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) send(res, protocolError(protocol, 500, 'InternalError', 'internal error in the Riffle local cloud (see its log)', path, method), method, {}, !isComplete(req));
      else res.destroy();
    } finally {
      reservation?.release();
    }
  }

  private async buffered(req: AnyRequest, limit: number): Promise<{ request: ServiceRequest; reservation: Reservation }> {
    const { body, reservation } = await readBody(req, limit, this.deps.budget, this.deps.bodyIdleMs);
    const request = { ...requestHead(req), body };
    this.screen(request, reservation);
    return { request, reservation };
  }

  /** Throws GateRefusal when the IAM gate answers instead of the service. */
  private screen(request: Omit<ServiceRequest, 'body'> & { readonly body: unknown }, reservation: Reservation): void {
    const refusal = this.deps.gate?.check(request);
    if (!refusal) return;
    reservation.release();
    throw new GateRefusal(refusal);
  }

  private async route(req: AnyRequest, res: AnyResponse, protocol: string, cors: Record<string, string>): Promise<Reservation | undefined> {
    const { stats, plugins } = this.deps;
    const target = header(req, 'x-amz-target');
    if (target) {
      const dot = target.indexOf('.');
      const prefix = dot < 0 ? target : target.slice(0, dot);
      const operation = dot < 0 ? '' : target.slice(dot + 1);
      if (prefix === 'Kinesis_20131202') {
        const { request, reservation } = await this.buffered(req, SERVICE_BODY_LIMITS.kinesis);
        send(res, await this.deps.kinesis.handle(request, operation), request.method, cors);
        return reservation;
      }
      if (prefix === 'DynamoDB_20120810') {
        const { request, reservation } = await this.buffered(req, SERVICE_BODY_LIMITS.dynamodb);
        send(res, await this.deps.dynamo.handle(request, operation), request.method, cors);
        return reservation;
      }
      if (prefix === 'Firehose_20150804') {
        const { request, reservation } = await this.buffered(req, SERVICE_BODY_LIMITS.firehose);
        stats.request('firehose', operation);
        const response = await this.deps.firehose.handle(operation, request.body);
        if (response.status >= 400) stats.error('firehose', String(response.headers?.['x-amzn-errortype'] ?? 'UnknownError'));
        if (operation === 'PutRecordBatch' && response.status === 200) {
          crashPointAfterResponse(res, 'firehose.put-record-batch.acked', () => parseJsonObject(request.body)?.DeliveryStreamName as string | undefined);
        }
        send(res, response, request.method, cors);
        return reservation;
      }
    }
    const scope = signingService({ headers: req.headers, url: req.url ?? '' });
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (isHttp1(req, res)) {
      for (const plugin of plugins) {
        if (!plugin.matches(req)) continue;
        const { body, reservation } = await readBody(req, plugin.maxBodyBytes ?? SERVICE_BODY_LIMITS.plugin, this.deps.budget, this.deps.bodyIdleMs);
        this.screen({ ...requestHead(req), body }, reservation);
        stats.request(plugin.name, plugin.operation?.(req) ?? 'request');
        await plugin.handle(req, res as ServerResponse, body);
        return reservation;
      }
    } else if (plugins.length > 0 && (target !== undefined || (scope !== undefined && scope !== 's3' && scope !== 'sts') || LAMBDA_PATH.test(path))) {
      // An HTTP/2 request for something other than the built-in services: plug-ins speak HTTP/1.1.
      send(res, jsonError('HttpVersionNotSupported', 'plug-in services of the Riffle local cloud speak HTTP/1.1 only; use NodeHttpHandler', undefined, 505), req.method ?? 'POST', cors);
      return undefined;
    }
    if (scope === 'sts') {
      const { request, reservation } = await this.buffered(req, SERVICE_BODY_LIMITS.query);
      stats.request('sts', this.deps.sts.operation(request));
      send(res, this.deps.sts.handle(request), request.method, cors);
      return reservation;
    }
    if (LAMBDA_PATH.test(path)) {
      stats.error('lambda', 'ResourceNotFoundException');
      const lambda = plugins.some((p) => p.name === 'lambda');
      const message = lambda
        ? `the local Lambda service does not implement ${req.method ?? ''} ${path}`
        : `no Lambda runtime is plugged into this local server (${req.method ?? ''} ${path})`;
      send(res, protocolError('rest-json', 404, lambda ? 'UnknownOperationException' : 'ResourceNotFoundException', message, path, req.method ?? 'GET'), req.method ?? 'GET', cors, !isComplete(req));
      return undefined;
    }
    if (target || (scope !== undefined && scope !== 's3') || protocol === 'query') {
      const what = target ? `X-Amz-Target ${target}` : `service "${scope ?? 'unknown'}"`;
      stats.error('unknown', 'UnknownOperationException');
      const names = ['Kinesis', 'DynamoDB', 'Firehose', 'S3', 'STS', ...plugins.map((p) => p.name)].join(', ');
      const message = `the Riffle local cloud does not emulate ${what} (it serves ${names})`;
      const response: ServiceResponse = protocol === 'query' ? queryErrorResponse('InvalidAction', message) : jsonError('UnknownOperationException', message);
      send(res, response, req.method ?? 'POST', cors, !isComplete(req));
      return undefined;
    }
    return this.s3(req, res, cors);
  }

  private async s3(req: AnyRequest, res: AnyResponse, cors: Record<string, string>): Promise<Reservation> {
    const reservation = this.deps.budget.reserve(STREAM_WINDOW_BYTES);
    const request = { ...requestHead(req), body: watchedStream(req, this.deps.bodyIdleMs) };
    const { s3, stats } = this.deps;
    const classified = s3.classify(request);
    stats.request('s3', classified.operation);
    try {
      this.screen(request, reservation);
      const response = await s3.handle(request, classified);
      if (response.status >= 400) stats.error('s3', String(response.headers?.['x-amz-error-code'] ?? errorCodeOf(response)));
      send(res, response, request.method, cors, !isComplete(req));
      return reservation;
    } catch (err) {
      reservation.release();
      throw err;
    } finally {
      if (!request.body.readableEnded) request.body.destroy(); // a body S3 did not read: stop watching it
    }
  }
}

function isComplete(req: AnyRequest): boolean {
  return req.complete || req.readableEnded;
}
