// Crash verifier, the cloud as a child process: starts crash-child.ts with `node --import tsx`
// (one process, so a SIGKILL — from a crash point or from here — kills the whole cloud, worker
// threads included), on a fixed data directory and port so every restart finds the same state at
// the same endpoint, waits for `ready`, forwards requests over IPC and tells how the process
// ended: a clean exit, a crash point's SIGKILL (its stderr marker line), a kill from here, or
// anything else (with the last lines of its stderr, to say why).
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { CRASH_MARKER } from '../../../local/crash-points';
import type { ChildCall, ChildConfig, ChildMessage, ChildRequest } from './crash-child';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CHILD_SCRIPT = path.join(__dirname, 'crash-child.ts');
const STDERR_TAIL = 40;

/** The cloud process is gone: a request or start could not complete. */
export class CloudDied extends Error {
  constructor(readonly exit: ChildExit) {
    // Not a kill: its own last words say why.
    const why = exit.signal === 'SIGKILL' ? '' : exit.stderr.filter((l) => !/^\s*$/.test(l)).slice(-12).join('\n  ');
    super(`the local cloud process ended (${describeExit(exit)})${why ? `; its last stderr lines:\n  ${why}` : ''}`);
  }
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The crash point's own line ("[riffle crash point] <point> (<target>), hit N: SIGKILL"). */
  marker?: string;
  /** Killed by kill() from here. */
  killedHere: boolean;
  /** The last lines it wrote to stderr. */
  stderr: string[];
}

export function describeExit(exit: ChildExit): string {
  const how = exit.signal ? `signal ${exit.signal}` : `exit code ${String(exit.code)}`;
  return exit.marker ? `${how}: ${exit.marker}` : exit.killedHere ? `${how}, sent by the harness` : how;
}

/** A free loopback port (the child binds it; a clash in between is reported by the child). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface StartOptions {
  fresh: boolean;
  /** RIFFLE_CRASH_AT for this process (local/crash-points.ts). */
  crashAt?: string;
  /** SIGKILL it from here this long after it is ready. */
  killAfterMs?: number;
}

export class CloudProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<ChildExit> | undefined;
  private running = false;
  private killTimer: NodeJS.Timeout | undefined;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  endpoint = '';
  outputs: Record<string, Record<string, string>> = {};
  /** Processes started so far. */
  starts = 0;

  constructor(private readonly config: Omit<ChildConfig, 'fresh'>) {}

  get dataDir(): string {
    return this.config.dataDir;
  }

  get alive(): boolean {
    return this.running;
  }

  /** Starts the cloud and waits until it is ready; rejects with CloudDied if it ends first. */
  async start(options: StartOptions): Promise<void> {
    if (this.running) throw new Error('the local cloud process is already running');
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.RIFFLE_CRASH_AT;
    if (options.crashAt) env.RIFFLE_CRASH_AT = options.crashAt;
    const config: ChildConfig = { ...this.config, fresh: options.fresh };
    const child = fork(CHILD_SCRIPT, [JSON.stringify(config)], {
      cwd: ROOT,
      env,
      // The same flags as `npm run local`, the TypeScript loader in-process (no tsx wrapper
      // process between the kill and the cloud).
      execArgv: ['--import', 'tsx', '--disable-warning=NodeVersionSupportWarning', '--max-old-space-size=1024'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.child = child;
    this.running = true;
    this.starts++;
    const stderr: string[] = [];
    let marker: string | undefined;
    let killedHere = false;
    const lines = createInterface({ input: child.stderr as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      if (line.startsWith(CRASH_MARKER)) marker = line;
      stderr.push(line);
      if (stderr.length > STDERR_TAIL) stderr.shift();
    });
    const stderrClosed = new Promise<void>((resolve) => lines.once('close', resolve));
    this.exited = new Promise<ChildExit>((resolve) => {
      child.once('exit', (code, signal) => {
        // The marker line may still be in the pipe when 'exit' fires.
        void Promise.race([stderrClosed, new Promise((r) => setTimeout(r, 1_000))]).then(() => {
          this.running = false;
          if (this.killTimer) clearTimeout(this.killTimer);
          this.killTimer = undefined;
          const exit: ChildExit = { code, signal, ...(marker ? { marker } : {}), killedHere, stderr: [...stderr] };
          for (const [, p] of this.pending) p.reject(new CloudDied(exit));
          this.pending.clear();
          resolve(exit);
        });
      });
    });
    const exited = this.exited;
    child.on('message', (message: ChildMessage) => {
      if (message.type !== 'reply') return;
      const p = this.pending.get(message.id);
      if (!p) return;
      this.pending.delete(message.id);
      if (message.ok) p.resolve(message.value);
      else p.reject(new Error(message.error));
    });
    const ready = await Promise.race([
      new Promise<Extract<ChildMessage, { type: 'ready' }>>((resolve) =>
        child.on('message', (m: ChildMessage) => {
          if (m.type === 'ready') resolve(m);
        }),
      ),
      exited,
    ]);
    if (!('type' in ready)) throw new CloudDied(ready);
    this.endpoint = ready.endpoint;
    this.outputs = ready.outputs;
    if (options.killAfterMs !== undefined) {
      this.killTimer = setTimeout(() => {
        if (!this.running) return;
        killedHere = true;
        child.kill('SIGKILL');
      }, options.killAfterMs);
    }
  }

  /** Cancels a pending kill from here (the run is over). */
  disarm(): void {
    if (this.killTimer) clearTimeout(this.killTimer);
    this.killTimer = undefined;
  }

  /** How the current (or last) process ended; waits for it. */
  exit(): Promise<ChildExit> {
    if (!this.exited) throw new Error('the local cloud process was never started');
    return this.exited;
  }

  /** True when the process ends within `ms` (a failed call may be noticed before its exit is). */
  async endsWithin(ms: number): Promise<boolean> {
    if (!this.running) return true;
    const exited = this.exited;
    if (!exited) return true;
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
    clearTimeout(timer);
    return ended;
  }

  /** One request over IPC; rejects with CloudDied if the process ends first. */
  request<T>(request: ChildCall): Promise<T> {
    const child = this.child;
    if (!child || !this.running) return this.exit().then((exit) => Promise.reject(new CloudDied(exit)));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ ...request, id } as ChildRequest, (error) => {
        // A send that fails because the process just died is answered by its exit.
        if (error && this.running) {
          this.pending.delete(id);
          reject(error);
        }
      });
    });
  }

  /** Graceful stop (pollers drain, Firehose flushes); SIGKILL if it takes over a minute. */
  async stop(): Promise<ChildExit | undefined> {
    if (!this.running) return this.exited;
    this.disarm();
    await this.request({ op: 'stop' }).catch(() => undefined);
    if (!(await this.endsWithin(60_000))) this.child?.kill('SIGKILL');
    return this.exit();
  }

  /** SIGKILL now, and wait for the exit (cleanup after an error). */
  async kill(): Promise<void> {
    this.disarm();
    if (!this.running) return;
    this.child?.kill('SIGKILL');
    await this.exit();
  }
}
