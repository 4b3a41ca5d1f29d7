// One execution environment: a worker thread running local/lambda/worker.cjs with the function's
// own process.env, memory limit and code. It runs one invocation at a time, enforces the timeout
// by terminating the thread (a timed-out Lambda sandbox is torn down too), and applies the
// runtime-side part of injected faults. Its credentials identify the function (local/iam/).
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import type { FunctionErrorPayload, InvokeMessage, WorkerFault, WorkerInit, WorkerMessage } from './types';
import type { FunctionFault } from '../faults';
import { functionCredentials } from '../iam/credentials';

export type RawOutcome =
  | { readonly kind: 'ok'; readonly payload: string }
  | { readonly kind: 'error'; readonly error: FunctionErrorPayload }
  | { readonly kind: 'timeout' }
  /** The worker died under the invocation (crash, injected crash, out of memory). */
  | { readonly kind: 'exit'; readonly errorType: string; readonly reason: string };

export type LogSink = (line: string, stream: 'stdout' | 'stderr') => void;

const WORKER_SCRIPT = path.join(__dirname, 'worker.cjs');

export interface EnvironmentOptions {
  readonly init: WorkerInit;
  readonly env: Record<string, string>;
  /** V8 old-generation cap in MB (the function's MemorySize), or undefined for no cap. */
  readonly heapLimitMb?: number;
  readonly onLog: LogSink;
}

interface Inflight {
  readonly id: number;
  readonly resolve: (o: RawOutcome) => void;
  readonly timers: NodeJS.Timeout[];
  crashReason?: string;
}

let nextMessageId = 1;

export class ExecutionEnvironment {
  readonly worker: Worker;
  /** Set once the worker has exited or must not be reused. */
  dead = false;
  lastUsed = Date.now();
  /** Code generation this environment was started with (a redeploy bumps the function's). */
  readonly generation: number;
  private inflight: Inflight | undefined;
  private exited: Promise<void>;

  constructor(opts: EnvironmentOptions, generation: number) {
    this.generation = generation;
    this.worker = new Worker(WORKER_SCRIPT, {
      workerData: opts.init,
      // A copy: worker_threads otherwise share the parent's process.env. Credentials are the
      // function's own (as its execution role's are on AWS), so the endpoint's IAM gate knows
      // which function — and so which role's policies — each SDK call comes from.
      env: { ...opts.env, ...functionCredentials(opts.init.functionArn) },
      // No TypeScript loader or test-runner flags in the sandbox: it runs bundled JavaScript.
      execArgv: [],
      stdout: true,
      stderr: true,
      ...(opts.heapLimitMb ? { resourceLimits: { maxOldGenerationSizeMb: opts.heapLimitMb } } : {}),
    });
    pipeLines(this.worker.stdout, (l) => opts.onLog(l, 'stdout'));
    pipeLines(this.worker.stderr, (l) => opts.onLog(l, 'stderr'));
    this.worker.on('message', (m: WorkerMessage) => this.onMessage(m));
    this.worker.on('error', (err: Error & { code?: string }) => {
      this.dead = true;
      const oom = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.settle({
        kind: 'exit',
        errorType: oom ? 'Runtime.OutOfMemory' : errorTypeOf(err, 'Runtime.UnhandledError'),
        reason: oom ? 'signal: killed (out of memory)' : `${err.name}: ${err.message}`,
      });
    });
    this.exited = new Promise((resolve) => {
      this.worker.on('exit', (code) => {
        this.dead = true;
        const reason = this.inflight?.crashReason;
        this.settle({ kind: 'exit', errorType: 'Runtime.ExitError', reason: `exit status ${code}${reason ? ` (${reason})` : ''}` });
        resolve();
      });
    });
  }

  get busy(): boolean {
    return this.inflight !== undefined;
  }

  /** Runs one invocation; never rejects. */
  run(
    msg: Omit<InvokeMessage, 'type' | 'id' | 'fault'>,
    timeoutMs: number,
    fault: FunctionFault | undefined,
  ): Promise<RawOutcome> {
    if (this.inflight) throw new Error('execution environment is busy');
    if (this.dead) return Promise.resolve({ kind: 'exit', errorType: 'Runtime.ExitError', reason: 'environment is gone' });
    const id = nextMessageId++;
    return new Promise<RawOutcome>((resolve) => {
      const inflight: Inflight = { id, resolve, timers: [] };
      this.inflight = inflight;
      let timeoutAfter = timeoutMs;
      let workerFault: WorkerFault | undefined;
      if (fault?.kind === 'crashAfterHandler') workerFault = { kind: 'crashAfterHandler' };
      else if (fault?.kind === 'crashAfterCalls') workerFault = { kind: 'crashAfterCalls', calls: fault.calls };
      else if (fault?.kind === 'timeout') {
        workerFault = { kind: 'hangAfterHandler' };
        if (fault.afterMs !== undefined) timeoutAfter = Math.min(timeoutMs, fault.afterMs);
      } else if (fault?.kind === 'crashAfterMs') {
        inflight.timers.push(
          setTimeout(() => {
            inflight.crashReason = `injected crash ${fault.afterMs} ms into the invocation`;
            void this.kill();
          }, fault.afterMs),
        );
      }
      inflight.timers.push(
        setTimeout(() => {
          this.settle({ kind: 'timeout' });
          void this.kill();
        }, timeoutAfter),
      );
      const message: InvokeMessage = { type: 'invoke', id, ...msg, ...(workerFault ? { fault: workerFault } : {}) };
      this.worker.postMessage(message);
    });
  }

  /** Terminates the worker (idempotent); resolves when it has exited. */
  async kill(): Promise<void> {
    this.dead = true;
    await this.worker.terminate().catch(() => undefined);
    await this.exited;
  }

  private onMessage(m: WorkerMessage): void {
    const inflight = this.inflight;
    if (!inflight || m.id !== inflight.id) return;
    if (m.type === 'crash') {
      inflight.crashReason = m.reason;
      return; // the worker exits right after; 'exit' settles the invocation
    }
    if (m.ok) this.settle({ kind: 'ok', payload: m.payload });
    else {
      if (m.fatal) {
        this.dead = true;
        void this.kill();
      }
      this.settle({ kind: 'error', error: m.error });
    }
  }

  private settle(outcome: RawOutcome): void {
    const inflight = this.inflight;
    if (!inflight) return;
    this.inflight = undefined;
    for (const t of inflight.timers) clearTimeout(t);
    this.lastUsed = Date.now();
    inflight.resolve(outcome);
  }
}

function errorTypeOf(err: Error, fallback: string): string {
  return err.name && err.name !== 'Error' ? err.name : fallback;
}

function pipeLines(stream: NodeJS.ReadableStream, sink: (line: string) => void): void {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    let nl = buffered.indexOf('\n');
    while (nl >= 0) {
      sink(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf('\n');
    }
  });
  stream.on('end', () => {
    if (buffered) sink(buffered);
    buffered = '';
  });
}
