// The Lambda REST API on the local endpoint (a LocalService plugged into local/server.ts), enough
// for @aws-sdk/client-lambda and the AWS CLI: Invoke (RequestResponse, Event, DryRun, LogType
// Tail), the deprecated InvokeAsync, GetFunction, GetFunctionConfiguration, ListFunctions and
// ListTags (architectures and tags as the template configured them).
// An asynchronous invocation is answered 202 only once the runtime has journaled the event
// (LambdaRuntime.invokeAsync's `durable`): what the API accepted survives a crash.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { LambdaServiceError, type LambdaRuntime } from './runtime';
import type { FunctionDefinition } from './types';
import type { LocalService } from '../endpoint/router';

export type { LocalService };

const INVOKE = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/;
const INVOKE_ASYNC = /^\/2014-11-13\/functions\/([^/]+)\/invoke-async\/?$/;
const GET_FUNCTION = /^\/2015-03-31\/functions\/([^/]+)(\/configuration)?\/?$/;
const LIST_FUNCTIONS = /^\/2015-03-31\/functions\/?$/;
const LIST_TAGS = /^\/2017-03-31\/tags\/([^/]+)\/?$/;
const LOG_TAIL_BYTES = 4096;

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0] ?? '/';
}

export function lambdaService(runtime: LambdaRuntime): LocalService {
  return {
    name: 'lambda',
    matches(req) {
      const p = pathOf(req);
      return p.startsWith('/2015-03-31/functions') || p.startsWith('/2014-11-13/functions/') || (req.method === 'GET' && LIST_TAGS.test(p));
    },
    operation(req) {
      const p = pathOf(req);
      if (INVOKE.test(p)) return 'Invoke';
      if (INVOKE_ASYNC.test(p)) return 'InvokeAsync';
      if (LIST_FUNCTIONS.test(p)) return 'ListFunctions';
      if (LIST_TAGS.test(p)) return 'ListTags';
      return GET_FUNCTION.exec(p)?.[2] ? 'GetFunctionConfiguration' : 'GetFunction';
    },
    async handle(req, res, body) {
      const requestId = randomUUID();
      res.setHeader('x-amzn-RequestId', requestId);
      try {
        await route(runtime, req, res, body, requestId);
      } catch (e) {
        if (e instanceof LambdaServiceError) sendError(res, e.statusCode, e.code, e.message);
        else sendError(res, 500, 'ServiceException', e instanceof Error ? e.message : String(e));
      }
    },
  };
}

async function route(runtime: LambdaRuntime, req: IncomingMessage, res: ServerResponse, body: Buffer, requestId: string): Promise<void> {
  const p = pathOf(req);
  const method = req.method ?? 'GET';
  let m: RegExpExecArray | null;
  if (method === 'POST' && (m = INVOKE.exec(p))) return invoke(runtime, decodeURIComponent(m[1] ?? ''), req, res, body, requestId);
  if (method === 'POST' && (m = INVOKE_ASYNC.exec(p))) {
    const payload = parsePayload(body);
    await runtime.invokeAsync(decodeURIComponent(m[1] ?? ''), payload).durable;
    return sendJson(res, 202, { Status: 202 });
  }
  if (method === 'GET' && LIST_FUNCTIONS.test(p)) {
    return sendJson(res, 200, { Functions: runtime.list().map((f) => configuration(runtime, f)), NextMarker: null });
  }
  if (method === 'GET' && (m = GET_FUNCTION.exec(p))) {
    const name = decodeURIComponent(m[1] ?? '');
    const def = runtime.get(name);
    if (!def) throw notFound(runtime, name);
    const config = configuration(runtime, def);
    if (m[2]) return sendJson(res, 200, config);
    const tags = def.tags && Object.keys(def.tags).length ? { Tags: { ...def.tags } } : {};
    return sendJson(res, 200, { Configuration: config, Code: { RepositoryType: 'S3', Location: `file://${def.assetDir}` }, ...tags });
  }
  if (method === 'GET' && (m = LIST_TAGS.exec(p))) {
    const arn = decodeURIComponent(m[1] ?? '');
    const def = runtime.get(arn);
    if (!def) throw notFound(runtime, arn);
    return sendJson(res, 200, { Tags: { ...def.tags } });
  }
  sendError(res, 404, 'UnknownOperationException', `The local Lambda service does not implement ${method} ${p}`);
}

async function invoke(
  runtime: LambdaRuntime,
  name: string,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  requestId: string,
): Promise<void> {
  const type = header(req, 'x-amz-invocation-type') ?? 'RequestResponse';
  const payload = parsePayload(body);
  if (type === 'DryRun') {
    if (!runtime.get(name)) throw notFound(runtime, name);
    res.statusCode = 204;
    res.end();
    return;
  }
  if (type === 'Event') {
    const { requestId: asyncId, durable } = runtime.invokeAsync(name, payload);
    await durable;
    res.setHeader('x-amzn-RequestId', asyncId);
    res.statusCode = 202;
    res.end();
    return;
  }
  if (type !== 'RequestResponse') {
    throw new LambdaServiceError('InvalidParameterValueException', `Unsupported invocation type: ${type}`, 400);
  }
  const def = runtime.get(name);
  if (!def) throw notFound(runtime, name);
  const logsBefore = runtime.logs(def.name).length;
  const clientContext = header(req, 'x-amz-client-context');
  const result = await runtime.invoke(name, payload, { requestId, ...(clientContext ? { clientContext } : {}) });
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('X-Amz-Executed-Version', '$LATEST');
  if (!result.ok) res.setHeader('X-Amz-Function-Error', result.functionError ?? 'Unhandled');
  if ((header(req, 'x-amz-log-type') ?? 'None') === 'Tail') {
    const lines = runtime.logs(def.name).slice(logsBefore);
    const tail = Buffer.from(
      [`START RequestId: ${result.requestId} Version: $LATEST`, ...lines, `END RequestId: ${result.requestId}`,
        `REPORT RequestId: ${result.requestId}\tDuration: ${result.durationMs.toFixed(2)} ms`, ''].join('\n'),
    );
    res.setHeader('X-Amz-Log-Result', tail.subarray(Math.max(0, tail.length - LOG_TAIL_BYTES)).toString('base64'));
  }
  res.statusCode = 200;
  res.end(result.payload);
}

function parsePayload(body: Buffer): string {
  if (body.length === 0) return '{}';
  const text = body.toString('utf8');
  try {
    JSON.parse(text);
  } catch (e) {
    throw new LambdaServiceError(
      'InvalidRequestContentException',
      `Could not parse request body into json: ${e instanceof Error ? e.message : String(e)}`,
      400,
    );
  }
  return text;
}

function configuration(runtime: LambdaRuntime, def: FunctionDefinition): Record<string, unknown> {
  return {
    FunctionName: def.name,
    FunctionArn: runtime.functionArn(def.name),
    Runtime: def.runtime ?? 'nodejs20.x',
    Role: def.roleArn ?? `arn:aws:iam::${runtime.accountId}:role/${def.name}-role`,
    Handler: def.handler,
    Timeout: def.timeoutSeconds ?? 3,
    MemorySize: def.memoryMb ?? 128,
    Environment: { Variables: { ...def.environment } },
    Version: '$LATEST',
    State: 'Active',
    LastUpdateStatus: 'Successful',
    PackageType: 'Zip',
    Architectures: [...(def.architectures ?? ['x86_64'])],
  };
}

function notFound(runtime: LambdaRuntime, name: string): LambdaServiceError {
  const arn = name.startsWith('arn:') ? name : runtime.functionArn(name);
  return new LambdaServiceError('ResourceNotFoundException', `Function not found: ${arn}`, 404);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('x-amzn-ErrorType', code);
  res.end(JSON.stringify({ Type: status >= 500 ? 'Service' : 'User', message }));
}
