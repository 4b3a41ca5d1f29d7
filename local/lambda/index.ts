// The local Lambda runtime (worker-thread execution environments) and its invoke REST API.
export { LambdaRuntime, LambdaServiceError, SYNC_PAYLOAD_LIMIT, ASYNC_PAYLOAD_LIMIT } from './runtime';
export type { RuntimeOptions } from './runtime';
export { lambdaService } from './service';
export type { LocalService } from './service';
export type { FunctionDefinition, FunctionErrorPayload, FunctionStats, InvokeOptions, InvokeResult, Invoker } from './types';
