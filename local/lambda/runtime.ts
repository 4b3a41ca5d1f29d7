// The local Lambda runtime: registered functions, a pool of warm execution environments (child
// processes on the Node binary of each function's runtime, node-runtimes.ts) per function (capped by reserved concurrency), synchronous and asynchronous
// invocation with Lambda's semantics (timeouts, crashes, 6 MB / 1 MB payload limits, async
// retries), fault injection and per-function statistics. With `asyncJournal`, accepted
// asynchronous events are on disk before invokeAsync's `durable` resolves (what the 202 waits
// for) and a later runtime on the same file runs again those not settled (async-journal.ts).
import { randomBytes, randomUUID } from 'node:crypto';
import type { FsyncPolicy } from '../durable/journal';
import { AsyncEventJournal, type PendingAsyncEvent } from './async-journal';
import { ExecutionEnvironment, type RawOutcome, type RunOutcome } from './environment';
import { resolveNodeRuntime } from './node-runtimes';
import type { Faults } from '../faults';
import type {
  FunctionDefinition,
  FunctionErrorPayload,
  FunctionStats,
  InvokeOptions,
  InvokeResult,
  Invoker,
} from './types';

/** Lambda's synchronous request and response payload limit. */
export const SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024;
/** Lambda's asynchronous (InvocationType Event) payload limit. */
export const ASYNC_PAYLOAD_LIMIT = 1024 * 1024;

export interface RuntimeOptions {
  readonly region?: string;
  readonly accountId?: string;
  /**
   * Environment every function gets on top of its own variables: the endpoint
   * (AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_<SERVICE>) and anything else the cloud provides.
   * Credentials default to test/test.
   */
  readonly baseEnv?: Readonly<Record<string, string>>;
  /** Pool cap for functions without reserved concurrency (default 10). */
  readonly defaultConcurrency?: number;
  /** Idle environments are reaped after this long (default 5 min, like a cold Lambda). */
  readonly idleTimeoutMs?: number;
  /** Cap each environment's V8 heap at the function's MemorySize (default true). */
  readonly enforceMemoryLimit?: boolean;
  readonly faults?: Faults;
  /** Where function output goes; default: stdout/stderr prefixed with the function name. */
  readonly log?: ((functionName: string, line: string, stream: 'stdout' | 'stderr') => void) | 'silent';
  /** Also sees every line a function prints, whatever `log` does (the local CloudWatch reads EMF from it). */
  readonly onOutput?: (functionName: string, line: string, stream: 'stdout' | 'stderr') => void;
  /** Sees every finished invocation with the lines it printed (the one-line summaries, function-logs.ts). */
  readonly onInvocation?: (report: InvocationReport) => void;
  /** Where the runtime's own warnings go (e.g. a runtime's Node binary is missing). Default: stderr. */
  readonly warn?: (line: string) => void;
  /** Delays before the two asynchronous retries (Lambda: about 1 and 2 minutes). Default 1 s, 2 s. */
  readonly asyncRetryDelaysMs?: readonly number[];
  /** Divides asynchronous retry delays (the local cloud's speed-up for tests). Default 1. */
  readonly timeScale?: number;
  /**
   * Journal file of accepted asynchronous events: they survive a crash and run again after
   * resumeAsync(). Without it, queued events and pending retries live in memory only.
   */
  readonly asyncJournal?: string;
  /** When an accepted event is durable (local/durable/journal.ts). Default 'commit'. */
  readonly fsync?: FsyncPolicy;
}

/** An error of the Lambda API itself (not a function error), with its HTTP status and type. */
export class LambdaServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
    this.name = code;
  }
}

type AsyncEvent = PendingAsyncEvent;

/** One finished invocation: Lambda's REPORT line, plus what the function printed while it ran. */
export interface InvocationReport {
  readonly functionName: string;
  readonly requestId: string;
  readonly result: InvokeResult;
  /** The environment was started for this invocation. */
  readonly coldStart: boolean;
  readonly memoryMb: number;
  /** The lines the function printed during the invocation (at most the first 200). */
  readonly lines: readonly string[];
}

interface FunctionState {
  def: FunctionDefinition;
  readonly arn: string;
  generation: number;
  readonly environments: Set<ExecutionEnvironment>;
  readonly idle: ExecutionEnvironment[];
  readonly waiters: Array<(env: ExecutionEnvironment) => void>;
  readonly stats: FunctionStats;
  readonly logs: string[];
  asyncInFlight: number;
}

const LOG_RING = 500;
const DEFAULT_TIMEOUT_S = 3;
const DEFAULT_MEMORY_MB = 128;

export class LambdaRuntime implements Invoker {
  readonly region: string;
  readonly accountId: string;
  private readonly functions = new Map<string, FunctionState>();
  private readonly opts: RuntimeOptions;
  private readonly reaper: NodeJS.Timeout;
  private readonly asyncTimers = new Set<NodeJS.Timeout>();
  private readonly idleWaiters: Array<() => void> = [];
  private readonly running = new Set<Promise<unknown>>();
  private readonly journal: AsyncEventJournal | undefined;
  /** Recovered events not yet run (their function is not registered yet). */
  private parked: PendingAsyncEvent[] = [];
  private stopped = false;
  /** Runtime names whose missing Node binary was already warned about. */
  private readonly warnedRuntimes = new Set<string>();

  constructor(opts: RuntimeOptions = {}) {
    this.opts = opts;
    this.region = opts.region ?? 'us-east-1';
    this.accountId = opts.accountId ?? '000000000000';
    if (opts.asyncJournal) {
      this.journal = new AsyncEventJournal(opts.asyncJournal, opts.fsync ?? 'commit');
      this.parked = [...this.journal.recovered];
    }
    this.reaper = setInterval(() => this.reapIdle(), 15_000);
    this.reaper.unref();
  }

  get faults(): Faults | undefined {
    return this.opts.faults;
  }

  functionArn(name: string): string {
    return `arn:aws:lambda:${this.region}:${this.accountId}:function:${name}`;
  }

  /**
   * Registers (or replaces) a function. Replacing bumps its code generation: idle environments
   * are discarded and busy ones are retired when their invocation ends, so the next invocation
   * loads the new code, as after an UpdateFunctionCode.
   */
  register(def: FunctionDefinition): void {
    if (this.stopped) throw new Error('runtime is stopped');
    const existing = this.functions.get(def.name);
    if (existing) {
      existing.def = def;
      existing.generation += 1;
      for (const env of existing.idle.splice(0)) void this.retire(existing, env);
      return;
    }
    this.functions.set(def.name, {
      def,
      arn: this.functionArn(def.name),
      generation: 1,
      environments: new Set(),
      idle: [],
      waiters: [],
      logs: [],
      asyncInFlight: 0,
      stats: {
        invocations: 0,
        errors: 0,
        timeouts: 0,
        coldStarts: 0,
        concurrent: 0,
        maxConcurrent: 0,
        queued: 0,
        totalDurationMs: 0,
        maxDurationMs: 0,
        asyncQueued: 0,
        asyncRetries: 0,
        asyncDropped: 0,
        workers: 0,
      },
    });
  }

  /** Applies an EventInvokeConfig (asynchronous retries / maximum event age) without reloading code. */
  configureAsync(functionName: string, cfg: { maxRetries?: number; maxEventAgeSeconds?: number }): void {
    const st = this.lookup(functionName);
    st.def = {
      ...st.def,
      ...(cfg.maxRetries !== undefined ? { asyncMaxRetries: cfg.maxRetries } : {}),
      ...(cfg.maxEventAgeSeconds !== undefined ? { asyncMaxEventAgeSeconds: cfg.maxEventAgeSeconds } : {}),
    };
  }

  /** Resolves a function name, full ARN, partial ARN (`account:function:name`) or `name:qualifier`. */
  resolve(nameOrArn: string): string | undefined {
    let name = nameOrArn;
    const m = /^(?:arn:[^:]+:lambda:[^:]*:)?(?:\d{12}:)?function:([^:]+)(?::.*)?$/.exec(nameOrArn);
    if (m?.[1]) name = m[1];
    else if (nameOrArn.includes(':')) name = nameOrArn.slice(0, nameOrArn.indexOf(':'));
    return this.functions.has(name) ? name : undefined;
  }

  get(name: string): FunctionDefinition | undefined {
    const n = this.resolve(name);
    return n === undefined ? undefined : this.functions.get(n)?.def;
  }

  list(): FunctionDefinition[] {
    return [...this.functions.values()].map((f) => f.def);
  }

  /** Synchronous invocation (RequestResponse). Rejects only with LambdaServiceError. */
  async invoke(functionName: string, payload: unknown, options: InvokeOptions = {}): Promise<InvokeResult> {
    const st = this.lookup(functionName);
    const body = typeof payload === 'string' ? payload : (JSON.stringify(payload ?? null) ?? 'null');
    if (Buffer.byteLength(body) > SYNC_PAYLOAD_LIMIT) {
      throw new LambdaServiceError(
        'RequestTooLargeException',
        `Request must be smaller than ${SYNC_PAYLOAD_LIMIT} bytes for the InvokeFunction operation`,
        413,
      );
    }
    const p = this.execute(st, body, options);
    this.running.add(p);
    try {
      return await p;
    } finally {
      this.running.delete(p);
    }
  }

  /**
   * Asynchronous invocation (InvocationType Event): queued, retried twice on error with delays
   * (or per EventInvokeConfig), dropped after that. Returns the request id at once, and `durable`,
   * which resolves when the event is journaled (answer 202 only then). Validation errors throw.
   */
  invokeAsync(functionName: string, payload: unknown): { requestId: string; durable: Promise<void> } {
    const st = this.lookup(functionName);
    const body = typeof payload === 'string' ? payload : (JSON.stringify(payload ?? null) ?? 'null');
    if (Buffer.byteLength(body) > ASYNC_PAYLOAD_LIMIT) {
      throw new LambdaServiceError(
        'RequestTooLargeException',
        `Request must be smaller than ${ASYNC_PAYLOAD_LIMIT} bytes for the InvokeFunction operation`,
        413,
      );
    }
    const event: AsyncEvent = { requestId: randomUUID(), functionName: st.def.name, payload: body, enqueuedAt: Date.now(), attempts: 0 };
    // Journaled (written) before the event can run, so its settlement always follows it in the file.
    const durable = this.journal ? this.journal.accept(event) : Promise.resolve();
    durable.catch(() => undefined); // callers that do not wait must not see an unhandled rejection
    st.stats.asyncQueued += 1;
    st.asyncInFlight += 1;
    this.runAsync(st, event);
    return { requestId: event.requestId, durable };
  }

  /**
   * Runs again the asynchronous events a previous runtime accepted and did not settle (from
   * `asyncJournal`), once their functions are registered: call after deploying. Events for
   * functions not registered stay in the journal for a later call; events past their maximum
   * age are dropped, as Lambda drops them. Returns the number started.
   */
  resumeAsync(): number {
    if (this.stopped) return 0;
    const waiting: PendingAsyncEvent[] = [];
    let started = 0;
    for (const event of this.parked) {
      const name = this.resolve(event.functionName);
      const st = name === undefined ? undefined : this.functions.get(name);
      if (!st) {
        waiting.push(event);
        continue;
      }
      const maxAgeMs = (st.def.asyncMaxEventAgeSeconds ?? 6 * 3600) * 1000;
      if (Date.now() - event.enqueuedAt > maxAgeMs) {
        st.stats.asyncDropped += 1;
        this.onLog(st, `[local-lambda] async event ${event.requestId} dropped: older than its maximum age (${maxAgeMs / 1000} s) when the runtime restarted`, 'stderr');
        this.journal?.settle(event.requestId);
        continue;
      }
      st.stats.asyncQueued += 1;
      st.asyncInFlight += 1;
      started++;
      this.runAsync(st, event);
    }
    this.parked = waiting;
    return started;
  }

  /** Accepted asynchronous events that no registered function could run yet (see resumeAsync). */
  parkedAsync(): number {
    return this.parked.length;
  }

  /** Invocations running or waiting for an environment, plus asynchronous events not yet settled. */
  pendingWork(): number {
    let n = this.running.size;
    for (const st of this.functions.values()) n += st.asyncInFlight;
    return n;
  }

  /** Resolves when no asynchronous event is queued, running or waiting for a retry. */
  drainAsync(): Promise<void> {
    if (this.asyncPending() === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stats(): Record<string, FunctionStats> {
    const out: Record<string, FunctionStats> = {};
    for (const [name, st] of this.functions) out[name] = { ...st.stats, workers: st.environments.size };
    return out;
  }

  /** Process ids of every live execution environment (e.g. to add their memory to the cloud's). */
  processIds(): number[] {
    const pids: number[] = [];
    for (const st of this.functions.values()) for (const env of st.environments) if (!env.dead && env.process.pid !== undefined) pids.push(env.process.pid);
    return pids;
  }

  /** The last lines the function printed (newest last). */
  logs(functionName: string): readonly string[] {
    const n = this.resolve(functionName);
    return n === undefined ? [] : [...(this.functions.get(n)?.logs ?? [])];
  }

  /**
   * Stops the runtime: pending async retries are cancelled (with a journal they stay in it and run
   * at the next start; without one they are dropped), running invocations finish (each is bounded
   * by its timeout), then every environment is killed.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.reaper);
    for (const t of this.asyncTimers) clearTimeout(t);
    this.asyncTimers.clear();
    await Promise.allSettled([...this.running]);
    await this.journal?.close();
    const kills: Promise<void>[] = [];
    for (const st of this.functions.values()) {
      for (const env of st.environments) kills.push(env.kill());
      st.environments.clear();
      st.idle.length = 0;
    }
    await Promise.all(kills);
    for (const w of this.idleWaiters.splice(0)) w();
  }

  // ---- internals ----

  private lookup(functionName: string): FunctionState {
    if (this.stopped) throw new LambdaServiceError('ServiceException', 'The local Lambda runtime is stopped', 500);
    const name = this.resolve(functionName);
    const st = name === undefined ? undefined : this.functions.get(name);
    if (!st) {
      const arn = functionName.startsWith('arn:') ? functionName : this.functionArn(functionName);
      throw new LambdaServiceError('ResourceNotFoundException', `Function not found: ${arn}`, 404);
    }
    return st;
  }

  private async execute(st: FunctionState, payload: string, options: InvokeOptions): Promise<InvokeResult> {
    const def = st.def;
    const stats = st.stats;
    stats.invocations += 1;
    const invocation = stats.invocations;
    const requestId = options.requestId ?? randomUUID();
    const fault = this.opts.faults?.takeFunctionFault(def.name, st.arn);
    const timeoutS = def.timeoutSeconds ?? DEFAULT_TIMEOUT_S;
    const start = Date.now();

    if (fault?.kind === 'throw') {
      return this.finish(st, start, invocation, requestId, {
        outcome: { kind: 'error', error: { errorType: 'InjectedFault', errorMessage: fault.message, trace: [] } },
        lines: [],
      }, false);
    }

    const env = await this.acquire(st);
    const coldStart = env.invocations === 0;
    env.invocations += 1;
    stats.concurrent += 1;
    stats.maxConcurrent = Math.max(stats.maxConcurrent, stats.concurrent);
    const runStart = Date.now();
    let outcome: RunOutcome;
    try {
      outcome = await env.run(
        {
          requestId,
          payload,
          ...(options.clientContext ? { clientContext: options.clientContext } : {}),
        },
        timeoutS * 1000,
        fault,
      );
    } finally {
      stats.concurrent -= 1;
      this.release(st, env);
    }
    return this.finish(st, runStart, invocation, requestId, outcome, coldStart);
  }

  private finish(st: FunctionState, start: number, invocation: number, requestId: string, run: RunOutcome, coldStart: boolean): InvokeResult {
    const result = this.resultOf(st, start, invocation, requestId, run.outcome);
    this.opts.onInvocation?.({ functionName: st.def.name, requestId, result, coldStart, memoryMb: st.def.memoryMb ?? DEFAULT_MEMORY_MB, lines: run.lines });
    return result;
  }

  private resultOf(st: FunctionState, start: number, invocation: number, requestId: string, outcome: RawOutcome): InvokeResult {
    const durationMs = Date.now() - start;
    const stats = st.stats;
    stats.totalDurationMs += durationMs;
    stats.maxDurationMs = Math.max(stats.maxDurationMs, durationMs);
    const timeoutS = st.def.timeoutSeconds ?? DEFAULT_TIMEOUT_S;
    let error: FunctionErrorPayload | undefined;
    let payload = '';
    switch (outcome.kind) {
      case 'ok':
        if (Buffer.byteLength(outcome.payload) > SYNC_PAYLOAD_LIMIT) {
          error = {
            errorType: 'Function.ResponseSizeTooLarge',
            errorMessage: `Response payload size exceeded maximum allowed payload size (${SYNC_PAYLOAD_LIMIT} bytes).`,
          };
        } else payload = outcome.payload;
        break;
      case 'error':
        error = outcome.error;
        break;
      case 'timeout':
        stats.timeouts += 1;
        error = {
          errorType: 'Sandbox.Timedout',
          errorMessage: `RequestId: ${requestId} Error: Task timed out after ${timeoutS.toFixed(2)} seconds`,
        };
        break;
      case 'exit':
        error = {
          errorType: outcome.errorType,
          errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: ${outcome.reason}`,
        };
        break;
    }
    if (error) {
      stats.errors += 1;
      return {
        requestId,
        ok: false,
        payload: JSON.stringify(error),
        functionError: 'Unhandled',
        error,
        timedOut: outcome.kind === 'timeout',
        durationMs,
        invocation,
      };
    }
    return { requestId, ok: true, payload, timedOut: false, durationMs, invocation };
  }

  private maxConcurrency(st: FunctionState): number {
    const reserved = st.def.reservedConcurrency;
    if (reserved !== undefined && reserved > 0) return reserved;
    return Math.max(1, this.opts.defaultConcurrency ?? 10);
  }

  private acquire(st: FunctionState): Promise<ExecutionEnvironment> {
    while (st.idle.length > 0) {
      const env = st.idle.pop();
      if (env && !env.dead && env.generation === st.generation) return Promise.resolve(env);
      if (env) void this.retire(st, env);
    }
    if (st.environments.size < this.maxConcurrency(st)) return Promise.resolve(this.spawn(st));
    st.stats.queued += 1;
    return new Promise((resolve) =>
      st.waiters.push((env) => {
        st.stats.queued -= 1;
        resolve(env);
      }),
    );
  }

  private release(st: FunctionState, env: ExecutionEnvironment): void {
    const reusable = !env.dead && env.generation === st.generation;
    const waiter = st.waiters.shift();
    if (reusable) {
      if (waiter) waiter(env);
      else if (this.stopped) void this.retire(st, env);
      else st.idle.push(env);
      return;
    }
    void this.retire(st, env);
    // A dead (or outdated) environment frees a slot: start a fresh one for the next waiter.
    if (waiter) waiter(this.spawn(st));
  }

  private spawn(st: FunctionState): ExecutionEnvironment {
    const def = st.def;
    const memoryMb = def.memoryMb ?? DEFAULT_MEMORY_MB;
    const logStreamName = `${new Date().toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${randomBytes(16).toString('hex')}`;
    const logGroupName = `/aws/lambda/${def.name}`;
    st.stats.coldStarts += 1;
    const node = resolveNodeRuntime(def.runtime);
    if (node.warning && !this.warnedRuntimes.has(node.runtime ?? '')) {
      this.warnedRuntimes.add(node.runtime ?? '');
      (this.opts.warn ?? ((l: string) => process.stderr.write(`[local-lambda] ${l}\n`)))(node.warning);
    }
    const env = new ExecutionEnvironment(
      {
        init: {
          assetDir: def.assetDir,
          handler: def.handler,
          functionName: def.name,
          functionArn: st.arn,
          memoryMb,
          logGroupName,
          logStreamName,
        },
        env: this.environmentFor(def, memoryMb, logGroupName, logStreamName),
        execPath: node.execPath,
        ...(this.opts.enforceMemoryLimit === false ? {} : { heapLimitMb: Math.max(memoryMb, 128) }),
        onLog: (line, stream) => this.onLog(st, line, stream),
      },
      st.generation,
    );
    st.environments.add(env);
    return env;
  }

  private async retire(st: FunctionState, env: ExecutionEnvironment): Promise<void> {
    st.environments.delete(env);
    const i = st.idle.indexOf(env);
    if (i >= 0) st.idle.splice(i, 1);
    await env.kill();
  }

  private environmentFor(def: FunctionDefinition, memoryMb: number, logGroupName: string, logStreamName: string): Record<string, string> {
    const base = this.opts.baseEnv ?? {};
    return {
      ...def.environment,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      ...base,
      // Reserved variables: Lambda sets these itself and does not let the function override them.
      AWS_REGION: this.region,
      AWS_DEFAULT_REGION: this.region,
      AWS_LAMBDA_FUNCTION_NAME: def.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_TIMEOUT: String(def.timeoutSeconds ?? DEFAULT_TIMEOUT_S),
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_LOG_GROUP_NAME: logGroupName,
      AWS_LAMBDA_LOG_STREAM_NAME: logStreamName,
      AWS_EXECUTION_ENV: `AWS_Lambda_${def.runtime ?? 'nodejs22.x'}`,
      AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
      LAMBDA_TASK_ROOT: def.assetDir,
      LAMBDA_RUNTIME_DIR: __dirname,
      _HANDLER: def.handler,
      LANG: 'en_US.UTF-8',
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    };
  }

  private onLog(st: FunctionState, line: string, stream: 'stdout' | 'stderr'): void {
    st.logs.push(line);
    if (st.logs.length > LOG_RING) st.logs.splice(0, st.logs.length - LOG_RING);
    this.opts.onOutput?.(st.def.name, line, stream);
    const sink = this.opts.log;
    if (sink === 'silent') return;
    if (sink) sink(st.def.name, line, stream);
    else (stream === 'stderr' ? process.stderr : process.stdout).write(`[${st.def.name}] ${line}\n`);
  }

  private reapIdle(): void {
    const cutoff = Date.now() - (this.opts.idleTimeoutMs ?? 300_000);
    for (const st of this.functions.values()) {
      for (const env of [...st.idle]) if (env.lastUsed < cutoff) void this.retire(st, env);
    }
  }

  private runAsync(st: FunctionState, event: AsyncEvent): void {
    const p = (async () => {
      event.attempts += 1;
      let result: InvokeResult | undefined;
      try {
        result = await this.execute(st, event.payload, { requestId: event.requestId });
      } catch {
        result = undefined;
      }
      if (result?.ok) return this.asyncDone(st, event, true);
      const maxRetries = st.def.asyncMaxRetries ?? 2;
      const maxAgeMs = (st.def.asyncMaxEventAgeSeconds ?? 6 * 3600) * 1000;
      const delays = this.opts.asyncRetryDelaysMs ?? [1000, 2000];
      const delay = (delays[Math.min(event.attempts - 1, delays.length - 1)] ?? 1000) / (this.opts.timeScale ?? 1);
      const exhausted = event.attempts > maxRetries || Date.now() + delay - event.enqueuedAt > maxAgeMs;
      if (exhausted || (this.stopped && !this.journal)) {
        st.stats.asyncDropped += 1;
        const why = result?.error ? `${result.error.errorType}: ${result.error.errorMessage}` : 'not invoked';
        this.onLog(st, `[local-lambda] async event ${event.requestId} dropped after ${event.attempts} attempt(s): ${why}`, 'stderr');
        return this.asyncDone(st, event, true);
      }
      this.journal?.attempted(event);
      if (this.stopped) return this.asyncDone(st, event, false); // journaled: retried after the next start
      st.stats.asyncRetries += 1;
      const t = setTimeout(() => {
        this.asyncTimers.delete(t);
        this.runAsync(st, event);
      }, delay);
      this.asyncTimers.add(t);
    })();
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  /** The event leaves this runtime: `settled` (succeeded or dropped), or left in the journal for the next one. */
  private asyncDone(st: FunctionState, event: AsyncEvent, settled: boolean): void {
    if (settled) this.journal?.settle(event.requestId);
    st.asyncInFlight -= 1;
    if (this.asyncPending() === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private asyncPending(): number {
    let n = 0;
    for (const st of this.functions.values()) n += st.asyncInFlight;
    return n;
  }
}
