// Lambda's read APIs for what the local deployer configured besides the functions themselves:
// ListEventSourceMappings / GetEventSourceMapping (the Kinesis pollers of local/esm/),
// GetFunctionConcurrency (ReservedConcurrentExecutions) and GetFunctionEventInvokeConfig /
// ListFunctionEventInvokeConfigs (asynchronous retries and event age). A LocalService plugged into
// local/server.ts next to the invoke API (service.ts), in Lambda's REST-JSON protocol so that
// `aws lambda list-event-source-mappings` and the SDK parse the answers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventSourceMappings, KinesisEventSourceMapping } from '../esm';
import type { LambdaRuntime } from './runtime';

const LIST_MAPPINGS = /^\/2015-03-31\/event-source-mappings\/?$/;
const GET_MAPPING = /^\/2015-03-31\/event-source-mappings\/([^/]+)\/?$/;
const CONCURRENCY = /^\/2019-09-30\/functions\/([^/]+)\/concurrency\/?$/;
const INVOKE_CONFIG = /^\/2019-09-25\/functions\/([^/]+)\/event-invoke-config\/?$/;
const LIST_INVOKE_CONFIGS = /^\/2019-09-25\/functions\/([^/]+)\/event-invoke-config\/list\/?$/;

export interface MappingsApiDeps {
  readonly runtime: Pick<LambdaRuntime, 'get' | 'resolve' | 'functionArn'>;
  readonly mappings: Pick<EventSourceMappings, 'list'>;
  /** Whether a mapping is enabled (from its template); default: enabled. */
  readonly enabledOf?: (uuid: string) => boolean | undefined;
  readonly region: string;
  readonly accountId: string;
}

class NotFound extends Error {}

function pathOf(req: IncomingMessage): { path: string; query: URLSearchParams } {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return { path: q < 0 ? url : url.slice(0, q), query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)) };
}

function operationOf(path: string): string | undefined {
  if (LIST_MAPPINGS.test(path)) return 'ListEventSourceMappings';
  if (GET_MAPPING.test(path)) return 'GetEventSourceMapping';
  if (CONCURRENCY.test(path)) return 'GetFunctionConcurrency';
  if (LIST_INVOKE_CONFIGS.test(path)) return 'ListFunctionEventInvokeConfigs';
  if (INVOKE_CONFIG.test(path)) return 'GetFunctionEventInvokeConfig';
  return undefined;
}

export function lambdaReadApiService(deps: MappingsApiDeps): {
  readonly name: string;
  matches(req: IncomingMessage): boolean;
  operation(req: IncomingMessage): string;
  handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void>;
} {
  const registeredAt = Math.floor(Date.now() / 1000);

  const mappingJson = (m: KinesisEventSourceMapping): Record<string, unknown> => {
    const c = m.config;
    const responseTypes = c.reportBatchItemFailures ? ['ReportBatchItemFailures'] : [];
    const enabled = deps.enabledOf?.(c.uuid) ?? true;
    return {
      UUID: c.uuid,
      EventSourceMappingArn: `arn:aws:lambda:${deps.region}:${deps.accountId}:event-source-mapping:${c.uuid}`,
      StartingPosition: c.startingPosition,
      ...(c.startingPositionTimestamp !== undefined ? { StartingPositionTimestamp: c.startingPositionTimestamp } : {}),
      BatchSize: c.batchSize,
      MaximumBatchingWindowInSeconds: c.maxBatchingWindowSeconds,
      ParallelizationFactor: c.parallelizationFactor,
      EventSourceArn: c.consumerArn ?? c.streamArn,
      FunctionArn: c.functionArn,
      LastModified: registeredAt,
      LastProcessingResult: m.stats().lastProcessingResult,
      State: enabled ? 'Enabled' : 'Disabled',
      StateTransitionReason: 'USER_INITIATED',
      DestinationConfig: { OnFailure: c.onFailureDestination ? { Destination: c.onFailureDestination } : {} },
      MaximumRecordAgeInSeconds: c.maximumRecordAgeSeconds,
      BisectBatchOnFunctionError: c.bisectBatchOnFunctionError,
      MaximumRetryAttempts: c.maximumRetryAttempts,
      TumblingWindowInSeconds: 0,
      FunctionResponseTypes: responseTypes,
    };
  };

  const functionName = (raw: string): string => {
    const name = deps.runtime.resolve(decodeURIComponent(raw));
    if (!name) throw new NotFound(`Function not found: ${decodeURIComponent(raw)}`);
    return name;
  };

  const invokeConfig = (name: string): Record<string, unknown> | undefined => {
    const def = deps.runtime.get(name);
    if (!def || (def.asyncMaxRetries === undefined && def.asyncMaxEventAgeSeconds === undefined)) return undefined;
    return {
      FunctionArn: `${deps.runtime.functionArn(name)}:$LATEST`,
      ...(def.asyncMaxRetries !== undefined ? { MaximumRetryAttempts: def.asyncMaxRetries } : {}),
      ...(def.asyncMaxEventAgeSeconds !== undefined ? { MaximumEventAgeInSeconds: def.asyncMaxEventAgeSeconds } : {}),
      LastModified: registeredAt,
      DestinationConfig: { OnSuccess: {}, OnFailure: {} },
    };
  };

  const answer = (path: string, query: URLSearchParams): unknown => {
    let m: RegExpExecArray | null;
    if (LIST_MAPPINGS.test(path)) {
      const fn = query.get('FunctionName');
      const source = query.get('EventSourceArn');
      const fnName = fn ? deps.runtime.resolve(fn) : undefined;
      const all = deps.mappings
        .list()
        .filter((x) => !fn || x.config.functionName === fnName || x.config.functionArn === fn)
        .filter((x) => !source || x.config.streamArn === source)
        .sort((a, b) => (a.config.uuid < b.config.uuid ? -1 : 1));
      const start = Number(query.get('Marker') ?? 0) || 0;
      const max = Math.min(10_000, Math.max(1, Number(query.get('MaxItems') ?? 100) || 100));
      const page = all.slice(start, start + max);
      return { EventSourceMappings: page.map(mappingJson), ...(start + max < all.length ? { NextMarker: String(start + max) } : {}) };
    }
    if ((m = GET_MAPPING.exec(path))) {
      const uuid = decodeURIComponent(m[1] ?? '');
      const mapping = deps.mappings.list().find((x) => x.config.uuid === uuid);
      if (!mapping) throw new NotFound(`The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: local) event source mapping ${uuid}`);
      return mappingJson(mapping);
    }
    if ((m = CONCURRENCY.exec(path))) {
      const reserved = deps.runtime.get(functionName(m[1] ?? ''))?.reservedConcurrency;
      return reserved === undefined ? {} : { ReservedConcurrentExecutions: reserved };
    }
    if ((m = LIST_INVOKE_CONFIGS.exec(path))) {
      const config = invokeConfig(functionName(m[1] ?? ''));
      return { FunctionEventInvokeConfigs: config ? [config] : [] };
    }
    if ((m = INVOKE_CONFIG.exec(path))) {
      const name = functionName(m[1] ?? '');
      const config = invokeConfig(name);
      if (!config) throw new NotFound(`The function ${deps.runtime.functionArn(name)} doesn't have an EventInvokeConfig`);
      return config;
    }
    return undefined;
  };

  return {
    name: 'lambda-config',
    matches: (req) => (req.method ?? 'GET') === 'GET' && operationOf(pathOf(req).path) !== undefined,
    operation: (req) => operationOf(pathOf(req).path) ?? 'request',
    async handle(req, res) {
      const { path, query } = pathOf(req);
      let status = 200;
      let body: unknown;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      try {
        body = answer(path, query);
      } catch (err) {
        if (!(err instanceof NotFound)) throw err;
        status = 404;
        headers['x-amzn-errortype'] = 'ResourceNotFoundException';
        body = { Type: 'User', Message: err.message, message: err.message };
      }
      const payload = Buffer.from(JSON.stringify(body ?? {}));
      res.writeHead(status, { ...headers, 'content-length': payload.length });
      res.end(payload);
    },
  };
}
