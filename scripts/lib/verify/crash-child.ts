// Crash verifier, the child process: the embedded local cloud exactly as `npm run local` starts it
// (startLocalCloud on a data directory and a port it is given, the synthesized assembly deployed),
// run in a process of its own so that the crash harness (crash.ts) can SIGKILL it — through
// RIFFLE_CRASH_AT (local/crash-points.ts) or from outside — and start it again on the same data.
//
// It answers the harness over the IPC channel of child_process.fork, because what the harness
// needs is not on the cloud's HTTP API: `idle` (every poller at the tip, nothing running),
// `drain` (the closer's end-of-input drain and a Firehose flush: verify's own drain()), `stop`
// (graceful: pollers drain, Firehose flushes). It announces itself with `ready` and the stack
// outputs. A lost parent (disconnect) stops it gracefully.
import { startLocalCloud, type LocalCloud } from '../../../local/cloud';
import { drain, type FaultTargets } from './faults';

export interface ChildConfig {
  assembly: string;
  dataDir: string;
  port: number;
  fresh: boolean;
  timeScale: number;
  firehoseTimeScale: number;
}

/** What the harness asks for; sent with a request id. */
export type ChildCall = { op: 'idle'; timeoutMs: number; settleMs: number } | { op: 'drain'; targets: FaultTargets } | { op: 'stop' };
export type ChildRequest = ChildCall & { id: number };

export type ChildMessage =
  | { type: 'ready'; endpoint: string; outputs: Record<string, Record<string, string>> }
  | { type: 'reply'; id: number; ok: true; value?: unknown }
  | { type: 'reply'; id: number; ok: false; error: string };

function send(message: ChildMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
  const cloud: LocalCloud = await startLocalCloud({
    port: config.port,
    dataDir: config.dataDir,
    fresh: config.fresh,
    assembly: config.assembly,
    timeScale: config.timeScale,
    firehoseTimeScale: config.firehoseTimeScale,
    log: () => undefined,
    warn: (line) => process.stderr.write(`${line}\n`),
    functionLogs: () => undefined,
  });
  let stopping: Promise<void> | undefined;
  const stop = (code: number) =>
    (stopping ??= cloud.stop().then(
      () => process.exit(code),
      (error: unknown) => {
        process.stderr.write(`stop failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    ));
  process.on('disconnect', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  process.on('message', (request: ChildRequest) => {
    const reply = (work: Promise<unknown>) =>
      work.then(
        (value) => send({ type: 'reply', id: request.id, ok: true, value }),
        (error: unknown) => send({ type: 'reply', id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
      );
    switch (request.op) {
      case 'idle':
        void reply(cloud.waitForIdle({ timeoutMs: request.timeoutMs, settleMs: request.settleMs }));
        break;
      case 'drain':
        void reply(drain(cloud, request.targets, false, []));
        break;
      case 'stop':
        send({ type: 'reply', id: request.id, ok: true });
        void stop(0);
        break;
    }
  });
  send({ type: 'ready', endpoint: cloud.endpoint, outputs: cloud.outputs });
}

main().catch((error: unknown) => {
  process.stderr.write(`the local cloud did not start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
