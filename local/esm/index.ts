// Event source mappings of the embedded cloud: the collection the deployer fills and the cloud
// starts and stops. Only Kinesis sources are polled (see kinesis-esm.ts).
import { KinesisEventSourceMapping, type EsmDeps, type EsmStats, type KinesisEsmConfig } from './kinesis-esm';

export { KinesisEventSourceMapping } from './kinesis-esm';
export type { EsmDeps, EsmStats, KinesisEsmConfig, ShardStats, StartingPosition } from './kinesis-esm';
export * from './records';

export class EventSourceMappings {
  private readonly mappings = new Map<string, { esm: KinesisEventSourceMapping; enabled: boolean }>();
  private running = false;

  constructor(private readonly deps: EsmDeps) {}

  /** Adds (or replaces, on redeploy) a mapping; it starts polling if the set is running. */
  async add(config: KinesisEsmConfig, opts: { enabled?: boolean } = {}): Promise<KinesisEventSourceMapping> {
    const previous = this.mappings.get(config.uuid);
    if (previous) await previous.esm.stop();
    const esm = new KinesisEventSourceMapping(config, this.deps);
    const enabled = opts.enabled ?? true;
    this.mappings.set(config.uuid, { esm, enabled });
    if (this.running && enabled) await esm.start();
    return esm;
  }

  /** By UUID, logical ID or function name. */
  get(id: string): KinesisEventSourceMapping | undefined {
    const direct = this.mappings.get(id)?.esm;
    if (direct) return direct;
    for (const { esm } of this.mappings.values()) {
      if (esm.config.logicalId === id || esm.config.functionName === id) return esm;
    }
    return undefined;
  }

  list(): KinesisEventSourceMapping[] {
    return [...this.mappings.values()].map((m) => m.esm);
  }

  async start(): Promise<void> {
    this.running = true;
    await Promise.all([...this.mappings.values()].filter((m) => m.enabled).map((m) => m.esm.start()));
  }

  /** Stops every poller, letting each shard's in-flight invocation finish. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all([...this.mappings.values()].map((m) => m.esm.stop()));
  }

  /** See KinesisEventSourceMapping.cutBatchingWindows (waiting for a bounded input to be processed). */
  cutBatchingWindows(on: boolean): void {
    for (const m of this.list()) m.cutBatchingWindows(on);
  }

  stats(): EsmStats[] {
    return this.list().map((m) => m.stats());
  }

  /** Every mapping is at the tip of its shards with nothing buffered or in flight. */
  isIdle(): boolean {
    return this.list().every((m) => m.isIdle());
  }
}
