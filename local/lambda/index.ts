// The local Lambda runtime (execution environments: processes on the runtime's Node) and its invoke REST API.
export { LambdaRuntime, LambdaServiceError, SYNC_PAYLOAD_LIMIT, ASYNC_PAYLOAD_LIMIT } from './runtime';
export type { InvocationReport, RuntimeOptions } from './runtime';
export { lambdaService } from './service';
export type { LocalService } from './service';
export type { FunctionDefinition, FunctionErrorPayload, FunctionStats, InvokeOptions, InvokeResult, Invoker } from './types';
