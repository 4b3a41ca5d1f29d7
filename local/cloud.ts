// The embedded local cloud in one call: start the single endpoint (local/server.ts), plug the
// Lambda runtime's invoke API into it, deploy a cdk.out assembly (streams, tables, buckets,
// delivery streams, functions, event source mappings, schedules), start the pollers and
// schedules, and hand back what scripts and tests need: the endpoint and client environment,
// stack outputs, the runtime, the pollers, one fault-injection facade, stats, and stop() —
// which drains the pollers, stops the functions, flushes Firehose and closes the server.
//
// Crash recovery: everything acknowledged is on disk under dataDir before the answer (Firehose
// journal, asynchronous Lambda events, Kinesis/DynamoDB in LevelDB, S3 files), so starting again
// on the same dataDir after a kill resumes: Firehose delivers its journal as it starts, accepted
// asynchronous invocations run again once their functions are deployed, pollers resume from their
// checkpoints (re-delivering the last batches: at least once), and a schedule that should have
// fired while the cloud was down fires once.
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { readAssembly } from './deploy/assembly';
import { deployAssembly, type DeployResult } from './deploy/deployer';
import { localClients, type LocalClients } from './deploy/clients';
import { Scheduler } from './deploy/schedule';
import { EventSourceMappings, type EsmDeps, type EsmStats } from './esm';
import { Faults, type FiredFault } from './faults';
import { LambdaRuntime, type RuntimeOptions } from './lambda/runtime';
import { FunctionLogs, type FunctionLogMode } from './lambda/function-logs';
import { lambdaService } from './lambda/service';
import { lambdaReadApiService } from './lambda/mappings-api';
import { cloudFormationService, StackRegistry } from './services/cloudformation';
import { monitoringOf } from './services/cloudwatch/deployment';
import { ServiceMetricsPublisher } from './services/cloudwatch/service-metrics';
import type { FunctionStats } from './lambda/types';
import {
  startLocalServer,
  type ArmedServiceFault,
  type FailFirehoseOptions,
  type LocalServer,
  type LocalStats,
  type ServiceFaults,
  type ThrottleDynamoOptions,
  type ThrottleKinesisOptions,
} from './server';

export interface LocalCloudOptions {
  /** Default 4566; 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** State directory (streams, tables, S3 files, checkpoints, outputs.json). Default `.riffle`. */
  readonly dataDir?: string;
  /** Wipe dataDir first. */
  readonly fresh?: boolean;
  /** The cdk.out directory to deploy (default `cdk.out`); false deploys nothing. */
  readonly assembly?: string | false;
  /** Stack names or artifact IDs to deploy (`*` wildcards); default all. */
  readonly stacks?: readonly string[];
  /**
   * Speeds up the cloud's wall-clock waits: schedules (rate(1 minute) fires every 60/timeScale s),
   * asynchronous invoke retries and, unless firehoseTimeScale is given, Firehose buffering
   * intervals. Event source mapping batching windows are not scaled. Default 1.
   */
  readonly timeScale?: number;
  /** Multiplier for Firehose buffering intervals (default 1/timeScale). */
  readonly firehoseTimeScale?: number;
  readonly region?: string;
  readonly accountId?: string;
  /** Shards for ON_DEMAND streams. Default 2. */
  readonly onDemandShards?: number;
  /** Pool cap for functions without reserved concurrency. Default 10. */
  readonly functionConcurrency?: number;
  /**
   * What the terminal gets of the functions' output: 'summary' (default: one line per invocation,
   * errors in full), 'verbose' (every line), 'silent', or a sink of your own. Whatever this says,
   * the full logs go to <dataDir>/logs/<function>.log (LocalCloud.functionLogs).
   */
  readonly functionLogs?: RuntimeOptions['log'] | FunctionLogMode;
  /** Event source mapping polling knobs (tests). */
  readonly esm?: Pick<EsmDeps, 'idlePollMs' | 'retryDelayMs' | 'shardRefreshMs' | 'readAheadRecords'>;
  readonly log?: (line: string) => void;
  readonly warn?: (line: string) => void;
  /** Check each function's AWS calls against its role's IAM policies, as AWS does (default true; `--no-iam` passes false). */
  readonly iam?: boolean;
}

export interface CloudStats {
  readonly server: LocalStats;
  readonly functions: Record<string, FunctionStats>;
  readonly mappings: EsmStats[];
  readonly schedules: ReturnType<Scheduler['list']>;
}

/** Function/mapping faults (local/faults.ts) and service faults (local/server.ts) in one place. */
export class CloudFaults {
  constructor(
    readonly functions: Faults,
    readonly services: ServiceFaults,
  ) {}

  throwOn(...args: Parameters<Faults['throwOn']>): this {
    this.functions.throwOn(...args);
    return this;
  }

  crashAfter(...args: Parameters<Faults['crashAfter']>): this {
    this.functions.crashAfter(...args);
    return this;
  }

  timeout(...args: Parameters<Faults['timeout']>): this {
    this.functions.timeout(...args);
    return this;
  }

  duplicateBatch(...args: Parameters<Faults['duplicateBatch']>): this {
    this.functions.duplicateBatch(...args);
    return this;
  }

  throttleDynamo(options: ThrottleDynamoOptions): ArmedServiceFault {
    return this.services.throttleDynamo(options);
  }

  throttleKinesis(options: ThrottleKinesisOptions): ArmedServiceFault {
    return this.services.throttleKinesis(options);
  }

  failFirehoseRecords(options: FailFirehoseOptions): ArmedServiceFault {
    return this.services.failFirehoseRecords(options);
  }

  clear(): void {
    this.functions.clear();
    this.services.clear();
  }

  fired(): { functions: readonly FiredFault[]; services: ReturnType<ServiceFaults['log']> } {
    return { functions: this.functions.fired(), services: this.services.log() };
  }
}

export interface LocalCloud {
  /** http://127.0.0.1:<port>: every service, like LocalStack's edge port. */
  readonly endpoint: string;
  /** What to export for SDK clients / CLIs: AWS_ENDPOINT_URL, region, credentials. */
  readonly env: Readonly<Record<string, string>>;
  readonly region: string;
  readonly accountId: string;
  readonly dataDir: string;
  /** Stack outputs of everything deployed so far: { "<StackName>": { "<OutputKey>": "value" } }. */
  readonly outputs: Record<string, Record<string, string>>;
  readonly deployment: DeployResult | undefined;
  readonly server: LocalServer;
  readonly runtime: LambdaRuntime;
  /** The functions' log files (dir, fileOf) and terminal summaries. */
  readonly functionLogs: FunctionLogs;
  readonly pollers: EventSourceMappings;
  readonly scheduler: Scheduler;
  readonly faults: CloudFaults;
  /** SDK clients bound to the endpoint (HTTP/1.1 handler). */
  readonly clients: LocalClients;
  /** Deploys (more) stacks; pollers and schedules of new resources start at once. */
  deploy(opts?: { assembly?: string; stacks?: readonly string[] }): Promise<DeployResult>;
  /** Every poller is at the tip of its shards and no invocation is running or queued. */
  isIdle(): boolean;
  /** Polls isIdle() until it holds `settleMs` in a row, or throws after `timeoutMs`. */
  waitForIdle(opts?: { timeoutMs?: number; settleMs?: number }): Promise<void>;
  stats(): CloudStats;
  /** Drains pollers (in-flight invocations finish), stops functions and schedules, flushes Firehose, stops the server. */
  stop(): Promise<void>;
}

export async function startLocalCloud(opts: LocalCloudOptions = {}): Promise<LocalCloud> {
  const region = opts.region ?? 'us-east-1';
  const accountId = opts.accountId ?? '000000000000';
  const dataDir = path.resolve(opts.dataDir ?? '.riffle');
  const timeScale = opts.timeScale && opts.timeScale > 0 ? opts.timeScale : 1;
  const log = opts.log ?? ((l: string) => console.log(`[riffle local] ${l}`));
  const warn = opts.warn ?? ((l: string) => console.warn(`[riffle local] ${l}`));
  if (opts.fresh) rmSync(dataDir, { recursive: true, force: true });

  const server = await startLocalServer({
    port: opts.port ?? 4566,
    ...(opts.host ? { host: opts.host } : {}),
    dataDir,
    region,
    accountId,
    firehoseTimeScale: opts.firehoseTimeScale ?? 1 / timeScale,
    logger: { warn },
  });
  server.iam.registry.enforcing = opts.iam !== false;
  const faults = new Faults();
  const clients = localClients(server.endpoint, region);
  const logChoice = opts.functionLogs ?? 'summary';
  const functionLogs = new FunctionLogs({
    dir: path.join(dataDir, 'logs'),
    mode: typeof logChoice === 'string' ? logChoice : 'silent',
    describe: (fn) => runtime.get(fn),
  });
  const runtime: LambdaRuntime = new LambdaRuntime({
    region,
    accountId,
    baseEnv: server.clientEnv,
    faults,
    timeScale,
    asyncJournal: path.join(dataDir, 'lambda', 'async-events.journal'),
    ...(opts.functionConcurrency ? { defaultConcurrency: opts.functionConcurrency } : {}),
    log: (fn, line, stream) => {
      functionLogs.line(fn, line, stream);
      if (typeof logChoice === 'function') logChoice(fn, line, stream);
    },
    onInvocation: (report) => functionLogs.invocation(report),
    warn,
    onOutput: (fn, line) => server.cloudwatch.ingestLog(`/aws/lambda/${fn}`, line), // EMF → CloudWatch metrics, as on AWS
  });
  const pollers = new EventSourceMappings({
    kinesis: clients.kinesis,
    s3: clients.s3,
    invoker: runtime,
    region,
    dataDir,
    faults,
    log,
    subscriptions: server.kinesisConsumers,
    ...opts.esm,
  });
  const scheduler = new Scheduler({
    region,
    accountId,
    timeScale,
    invokeAsync: (fn, payload) => void runtime.invokeAsync(fn, payload),
    log: warn,
    stateFile: path.join(dataDir, 'schedules.json'),
  });
  // Asynchronous invocations accepted before a crash run again once their functions exist.
  const resumeAsync = (): void => {
    const resumed = runtime.resumeAsync();
    if (resumed > 0) log(`re-running ${resumed} asynchronous invocation(s) accepted before the last stop`);
  };

  // AWS/Lambda, AWS/Kinesis, AWS/Firehose, AWS/S3 metrics from the cloud's counters.
  const serviceMetrics = new ServiceMetricsPublisher(server.cloudwatch, { functions: () => runtime.stats(), mappings: () => pollers.stats(), services: () => server.stats(), s3: clients.s3 });
  let engineStopped: Promise<void> | undefined;
  const stopEngine = (): Promise<void> =>
    (engineStopped ??= (async () => {
      scheduler.stop();
      await serviceMetrics.stop();
      await pollers.stop();
      await runtime.stop();
      await functionLogs.close();
    })());
  // Also stopped by server.stop() (plug-ins stop before Firehose flushes), whoever calls it first.
  server.use({ ...lambdaService(runtime), stop: stopEngine });
  // Read APIs over what the deployer set up: CloudFormation stacks, event source mappings, function settings.
  const stacks = new StackRegistry(region, accountId);
  server.use(cloudFormationService(stacks));
  server.use(lambdaReadApiService({ runtime, mappings: pollers, enabledOf: (uuid) => stacks.eventSourceMappingEnabled(uuid), region, accountId }));

  const outputs: Record<string, Record<string, string>> = {};
  let deployment: DeployResult | undefined;
  const deploy = async (d: { assembly?: string; stacks?: readonly string[] } = {}): Promise<DeployResult> => {
    const assembly = path.resolve(d.assembly ?? (typeof opts.assembly === 'string' ? opts.assembly : 'cdk.out'));
    const result = await deployAssembly({
      assembly,
      ...((d.stacks ?? opts.stacks) ? { stacks: d.stacks ?? opts.stacks } : {}),
      region,
      accountId,
      clients,
      firehose: server.firehose,
      runtime,
      mappings: pollers,
      scheduler,
      faults,
      iam: server.iam.registry,
      dataDir,
      ...(opts.onDemandShards ? { onDemandShards: opts.onDemandShards } : {}),
      log,
      warn,
    });
    Object.assign(outputs, result.outputs);
    deployment = result;
    stacks.record(result, assembly);
    const monitoring = monitoringOf(readAssembly(assembly), result, region, accountId); // alarms and S3 metric filters
    server.cloudwatch.putAlarms(monitoring.alarms);
    serviceMetrics.watch(monitoring.filters);
    resumeAsync();
    return result;
  };

  try {
    if (opts.assembly !== false) await deploy();
    else resumeAsync();
    await pollers.start();
    scheduler.start();
    serviceMetrics.start();
  } catch (e) {
    await stopEngine().catch(() => undefined);
    await server.stop().catch(() => undefined);
    clients.destroy();
    throw e;
  }

  const isIdle = () => pollers.isIdle() && runtime.pendingWork() === 0;
  let stopped: Promise<void> | undefined;
  return {
    endpoint: server.endpoint,
    env: { ...server.clientEnv },
    region,
    accountId,
    dataDir,
    outputs,
    get deployment() {
      return deployment;
    },
    server,
    runtime,
    functionLogs,
    pollers,
    scheduler,
    faults: new CloudFaults(faults, server.faults),
    clients,
    deploy,
    isIdle,
    async waitForIdle(w = {}) {
      const deadline = Date.now() + (w.timeoutMs ?? 60_000);
      const settle = w.settleMs ?? 300;
      let since: number | undefined;
      // The input is bounded: batches waiting out a batching window (up to 5 minutes with the
      // economy profile) are invoked now; the windows apply again afterwards.
      pollers.cutBatchingWindows(true);
      try {
        for (;;) {
          if (isIdle()) {
            since ??= Date.now();
            if (Date.now() - since >= settle) return;
          } else since = undefined;
          if (Date.now() > deadline) throw new Error('the local cloud did not become idle in time');
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        pollers.cutBatchingWindows(false);
      }
    },
    stats() {
      return { server: server.stats(), functions: runtime.stats(), mappings: pollers.stats(), schedules: scheduler.list() };
    },
    stop() {
      return (stopped ??= (async () => {
        await stopEngine();
        await server.stop();
        clients.destroy();
      })());
    },
  };
}
export type { ArmedServiceFault } from './server';
