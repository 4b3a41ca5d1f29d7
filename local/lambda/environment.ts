// One execution environment: a child process running local/lambda/bootstrap.cjs on the Node binary
// of the function's runtime (node-runtimes.ts), with the function's own environment, memory limit
// (--max-old-space-size) and code. A process, not a worker thread, because Lambda runs the Node
// major the template names, which need not be the one running the local cloud. It runs one
// invocation at a time, enforces the timeout by killing the process (a timed-out Lambda sandbox is
// torn down too), and applies the runtime-side part of injected faults. Messages are frames on a
// dedicated pipe (frames.cjs); stdout/stderr are the function's log lines, each attributed to the
// invocation that printed it. Its credentials identify the function (local/iam/).
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { FunctionErrorPayload, InvokeMessage, WorkerFault, WorkerInit, WorkerMessage } from './types';
import type { FunctionFault } from '../faults';
import { functionCredentials } from '../iam/credentials';

export type RawOutcome =
  | { readonly kind: 'ok'; readonly payload: string }
  | { readonly kind: 'error'; readonly error: FunctionErrorPayload }
  | { readonly kind: 'timeout' }
  /** The process died under the invocation (crash, injected crash, out of memory). */
  | { readonly kind: 'exit'; readonly errorType: string; readonly reason: string };

/** An invocation's outcome and the lines the function printed while it ran (the first MAX_LINES). */
export interface RunOutcome {
  readonly outcome: RawOutcome;
  readonly lines: readonly string[];
}

export type LogSink = (line: string, stream: 'stdout' | 'stderr') => void;

const BOOTSTRAP = path.join(__dirname, 'bootstrap.cjs');
const frames = createRequire(__filename)('./frames.cjs') as {
  encodeFrame(message: object): Buffer;
  frameDecoder(onMessage: (message: WorkerMessage) => void): (chunk: Buffer) => void;
};
/** Lines kept per invocation for its summary (the full output goes to the log sink regardless). */
const MAX_LINES = 200;
/** Lambda's limit on a function's init (its module's top-level code) before it counts against the invocation. */
const INIT_LIMIT_MS = 10_000;
/** What V8 prints when the heap limit (the function's MemorySize) is hit. */
const OUT_OF_MEMORY = /JavaScript heap out of memory|Reached heap limit/;

export interface EnvironmentOptions {
  readonly init: WorkerInit;
  readonly env: Record<string, string>;
  /** The node executable of the function's runtime. */
  readonly execPath: string;
  /** V8 old-generation cap in MB (the function's MemorySize), or undefined for no cap. */
  readonly heapLimitMb?: number;
  readonly onLog: LogSink;
}

interface Inflight {
  readonly id: number;
  readonly resolve: (o: RunOutcome) => void;
  readonly timers: NodeJS.Timeout[];
  readonly lines: string[];
  crashReason?: string;
  crashType?: string;
  /** A result that waits for the function's output it reports to arrive. */
  pending?: { outcome: RawOutcome; out: readonly [number, number] };
}

let nextMessageId = 1;

export class ExecutionEnvironment {
  readonly process: ChildProcess;
  /** Set once the process has exited or must not be reused. */
  dead = false;
  lastUsed = Date.now();
  /** Invocations started here (0: the next one is a cold start). */
  invocations = 0;
  /** Code generation this environment was started with (a redeploy bumps the function's). */
  readonly generation: number;
  private inflight: Inflight | undefined;
  private readonly channel: Writable;
  private readonly exited: Promise<void>;
  /** Bytes of stdout / stderr received so far. */
  private readonly received: [number, number] = [0, 0];
  private outOfMemory = false;
  /** Init is over (bootstrap.cjs sent 'ready'); until then an invocation waits in onReady. */
  private ready = false;
  private onReady: (() => void) | undefined;

  constructor(opts: EnvironmentOptions, generation: number) {
    this.generation = generation;
    this.process = spawn(opts.execPath, [...(opts.heapLimitMb ? [`--max-old-space-size=${opts.heapLimitMb}`] : []), BOOTSTRAP], {
      // Only the function's environment (never the cloud's own). Credentials are the function's
      // own (as its execution role's are on AWS), so the endpoint's IAM gate knows which function
      // — and so which role's policies — each SDK call comes from.
      env: { ...opts.env, ...functionCredentials(opts.init.functionArn), RIFFLE_LAMBDA_INIT: JSON.stringify(opts.init) },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    const [, stdout, stderr, channel] = this.process.stdio as unknown as [unknown, Readable, Readable, Readable & Writable];
    this.channel = channel;
    this.pipeLines(stdout, 0, (l) => opts.onLog(l, 'stdout'));
    this.pipeLines(stderr, 1, (l) => {
      if (OUT_OF_MEMORY.test(l)) this.outOfMemory = true;
      opts.onLog(l, 'stderr');
    });
    channel.on('data', frames.frameDecoder((m) => this.onMessage(m)));
    channel.on('error', () => undefined); // the process died; 'close' settles the invocation
    this.process.on('error', (err: Error) => {
      // Could not start (e.g. the runtime's binary is missing): no 'close' follows a failed spawn.
      this.dead = true;
      this.settle({ kind: 'exit', errorType: 'Runtime.InvalidRuntime', reason: `${err.name}: ${err.message}` });
    });
    // 'close', not 'exit': by then stdout/stderr are drained, so every line is attributed.
    this.exited = new Promise((resolve) => {
      this.process.on('close', (code, signal) => {
        this.dead = true;
        const inflight = this.inflight;
        if (inflight?.pending) this.settle(inflight.pending.outcome);
        else if (this.outOfMemory) this.settle({ kind: 'exit', errorType: 'Runtime.OutOfMemory', reason: 'signal: killed (out of memory)' });
        else {
          const status = code === null ? `signal: ${signal ?? 'killed'}` : `exit status ${code}`;
          const reason = inflight?.crashReason;
          this.settle({ kind: 'exit', errorType: inflight?.crashType ?? 'Runtime.ExitError', reason: `${status}${reason ? ` (${reason})` : ''}` });
        }
        resolve();
      });
    });
  }

  get busy(): boolean {
    return this.inflight !== undefined;
  }

  /**
   * Runs one invocation; never rejects. Its timeout (and `context.getRemainingTimeInMillis`)
   * starts when the environment has finished init, as on Lambda, where a cold start's init does
   * not count against the function's timeout; init itself may take up to INIT_LIMIT_MS more.
   */
  run(msg: Omit<InvokeMessage, 'type' | 'id' | 'fault' | 'deadlineMs'>, timeoutMs: number, fault: FunctionFault | undefined): Promise<RunOutcome> {
    if (this.inflight) throw new Error('execution environment is busy');
    if (this.dead) return Promise.resolve({ outcome: { kind: 'exit', errorType: 'Runtime.ExitError', reason: 'environment is gone' }, lines: [] });
    const id = nextMessageId++;
    return new Promise<RunOutcome>((resolve) => {
      const inflight: Inflight = { id, resolve, timers: [], lines: [] };
      this.inflight = inflight;
      const start = () => {
        if (this.inflight !== inflight) return;
        for (const t of inflight.timers.splice(0)) clearTimeout(t);
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
        inflight.timers.push(setTimeout(() => this.timeOut(), timeoutAfter));
        const message: InvokeMessage = { type: 'invoke', id, ...msg, deadlineMs: Date.now() + timeoutMs, ...(workerFault ? { fault: workerFault } : {}) };
        this.channel.write(frames.encodeFrame(message));
      };
      if (this.ready) start();
      else {
        this.onReady = start;
        inflight.timers.push(setTimeout(() => this.timeOut(), INIT_LIMIT_MS + timeoutMs));
      }
    });
  }

  private timeOut(): void {
    this.settle({ kind: 'timeout' });
    void this.kill();
  }

  /** Kills the process (idempotent); resolves when it has exited. */
  async kill(): Promise<void> {
    this.dead = true;
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL');
    await this.exited;
  }

  private onMessage(m: WorkerMessage): void {
    if (m.type === 'ready') {
      this.ready = true;
      const start = this.onReady;
      this.onReady = undefined;
      start?.();
      return;
    }
    const inflight = this.inflight;
    if (!inflight || m.id !== inflight.id) return;
    if (m.type === 'crash') {
      inflight.crashReason = m.reason;
      if (m.errorType) inflight.crashType = m.errorType;
      return; // the process exits right after; 'close' settles the invocation
    }
    let outcome: RawOutcome;
    if (m.ok) outcome = { kind: 'ok', payload: m.payload };
    else {
      if (m.fatal) {
        this.dead = true;
        void this.kill();
      }
      outcome = { kind: 'error', error: m.error };
    }
    inflight.pending = { outcome, out: m.out };
    this.settleWhenOutputArrived();
  }

  /** Settles the pending result once the output it reports has been read (it travels on other pipes). */
  private settleWhenOutputArrived(): void {
    const pending = this.inflight?.pending;
    if (pending && this.received[0] >= pending.out[0] && this.received[1] >= pending.out[1]) this.settle(pending.outcome);
  }

  private settle(outcome: RawOutcome): void {
    const inflight = this.inflight;
    if (!inflight) return;
    this.inflight = undefined;
    for (const t of inflight.timers) clearTimeout(t);
    this.lastUsed = Date.now();
    inflight.resolve({ outcome, lines: inflight.lines });
  }

  private pipeLines(stream: Readable, index: 0 | 1, sink: (line: string) => void): void {
    const decoder = new StringDecoder('utf8');
    let buffered = '';
    const emit = (line: string) => {
      const lines = this.inflight?.lines;
      if (lines && lines.length < MAX_LINES) lines.push(line);
      sink(line);
    };
    stream.on('data', (chunk: Buffer) => {
      this.received[index] += chunk.length;
      buffered += decoder.write(chunk);
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        emit(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf('\n');
      }
      this.settleWhenOutputArrived();
    });
    stream.on('end', () => {
      buffered += decoder.end();
      if (buffered) emit(buffered);
      buffered = '';
    });
  }
}
