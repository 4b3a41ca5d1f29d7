// Types shared by the local Lambda runtime, its process bootstrap (bootstrap.cjs) and its callers
// (event source mappings, the invoke REST service, the deployer).

/** A function as the deployer registers it: what CloudFormation's AWS::Lambda::Function says. */
export interface FunctionDefinition {
  /** Physical function name (what `Ref` returns). */
  readonly name: string;
  /** Directory holding the bundled code (the CDK asset directory). */
  readonly assetDir: string;
  /** `file.export`, e.g. `index.handler` (a path prefix such as `dist/index.handler` is allowed). */
  readonly handler: string;
  /** e.g. `nodejs22.x`: the Node major the function runs on (node-runtimes.ts) and AWS_EXECUTION_ENV. */
  readonly runtime?: string;
  /** Environment.Variables, already resolved to strings. */
  readonly environment?: Readonly<Record<string, string>>;
  /** Timeout in seconds (Lambda's default is 3). */
  readonly timeoutSeconds?: number;
  /** MemorySize in MB (Lambda's default is 128). */
  readonly memoryMb?: number;
  /** ReservedConcurrentExecutions: caps the function's worker pool. */
  readonly reservedConcurrency?: number;
  /** Execution role ARN (the Kinesis event's invokeIdentityArn; the IAM gate checks calls against its policies). */
  readonly roleArn?: string;
  /** Architectures as configured (reported by GetFunction; the code runs on the host's). Default x86_64. */
  readonly architectures?: readonly string[];
  /** The function's tags (GetFunction, ListTags). */
  readonly tags?: Readonly<Record<string, string>>;
  /** Asynchronous invocation retries (EventInvokeConfig.MaximumRetryAttempts, default 2). */
  readonly asyncMaxRetries?: number;
  /** Asynchronous event maximum age (EventInvokeConfig.MaximumEventAgeInSeconds, default 6 h). */
  readonly asyncMaxEventAgeSeconds?: number;
}

/** The error object Lambda returns as the payload of a failed invocation. */
export interface FunctionErrorPayload {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace?: readonly string[];
}

export interface InvokeResult {
  readonly requestId: string;
  /** True when the function returned normally (no `X-Amz-Function-Error`). */
  readonly ok: boolean;
  /** The response payload as Lambda would send it: the JSON result, or the error object. */
  readonly payload: string;
  /** Set when `ok` is false: what Lambda puts in `X-Amz-Function-Error`. */
  readonly functionError?: 'Unhandled';
  readonly error?: FunctionErrorPayload;
  /** The invocation hit the function's timeout (the worker was terminated). */
  readonly timedOut: boolean;
  readonly durationMs: number;
  /** 1-based number of this invocation of the function (what fault injection counts). */
  readonly invocation: number;
}

export interface InvokeOptions {
  readonly requestId?: string;
  /** Base64 client context (sync invocations only, like Lambda). */
  readonly clientContext?: string;
}

/** What an event source mapping needs from the runtime. */
export interface Invoker {
  invoke(functionName: string, payload: string, options?: InvokeOptions): Promise<InvokeResult>;
}

export interface FunctionStats {
  invocations: number;
  errors: number;
  timeouts: number;
  coldStarts: number;
  /** Invocations currently running. */
  concurrent: number;
  maxConcurrent: number;
  /** Invocations waiting for a free worker (the pool is at its cap). */
  queued: number;
  totalDurationMs: number;
  maxDurationMs: number;
  asyncQueued: number;
  asyncRetries: number;
  /** Asynchronous events dropped after their retries (or max age) ran out. */
  asyncDropped: number;
  workers: number;
}

// ---- runtime <-> function process messages (frames on fd 3, see frames.cjs) ----

/** Fault the worker applies to one invocation (see local/faults.ts). */
export type WorkerFault =
  | { readonly kind: 'crashAfterHandler' }
  | { readonly kind: 'hangAfterHandler' }
  | { readonly kind: 'crashAfterCalls'; readonly calls: number };

export interface WorkerInit {
  readonly assetDir: string;
  readonly handler: string;
  readonly functionName: string;
  readonly functionArn: string;
  readonly memoryMb: number;
  readonly logGroupName: string;
  readonly logStreamName: string;
}

export interface InvokeMessage {
  readonly type: 'invoke';
  readonly id: number;
  readonly requestId: string;
  readonly payload: string;
  /** Epoch ms at which the invocation times out (for context.getRemainingTimeInMillis). */
  readonly deadlineMs: number;
  readonly clientContext?: string;
  readonly fault?: WorkerFault;
}

/** Bytes the function had written to [stdout, stderr] when the message was sent. */
type Written = { readonly out: readonly [number, number] };

export type WorkerMessage = Written &
  (
  | { readonly type: 'result'; readonly id: number; readonly ok: true; readonly payload: string }
  | {
      readonly type: 'result';
      readonly id: number;
      readonly ok: false;
      readonly error: FunctionErrorPayload;
      /** The worker cannot be reused (e.g. its module failed to load). */
      readonly fatal?: boolean;
    }
  /** Init (loading the handler's module) is over: the first invocation's timeout starts now. */
  | { readonly type: 'ready' }
  /** An injected crash or an uncaught error: the process is about to exit. */
  | { readonly type: 'crash'; readonly id: number; readonly reason: string; readonly errorType?: string }
  );
