// In-memory stand-ins for the protocol's ports (functions/core/protocol/ports.ts) with the
// semantics of the AWS services behind them — a DynamoDB table with conditional puts and the
// sparse open-windows index, an ordered shuffle log, Firehose deliveries — and a fuse that crashes
// the invocation before any single effect. The protocol code under test is the production code;
// only the services are simulated.
import { STATE_TABLE } from '../../functions/contract';
import type { OutputPort, OutputRecords, ShufflePort, StatePort, ItemKey } from '../../functions/core/protocol/ports';
import { itemId } from '../../functions/core/protocol/ports';
import { planPutCalls, type ShuffleRecord } from '../../functions/core/protocol/packing';
import { PROGRESS_SK, progressPk } from '../../functions/contract';
import { parseProgressItems, storedMapperProgress, type BucketProgress, type MapperProgress } from '../../functions/core/progress';
import type { StoredItem } from '../../functions/core/window-item';

/** The injected crash: the invocation dies here; what it did before stays done. */
export class Crash extends Error {
  constructor() {
    super('injected crash');
    this.name = 'Crash';
  }
}

/** Allows `budget` effects (one item write, one shuffle record, one delivered record), then crashes. */
export class Fuse {
  effects = 0;
  constructor(private budget = Number.POSITIVE_INFINITY) {}

  spend(): void {
    if (this.budget <= 0) throw new Crash();
    this.budget--;
    this.effects++;
  }

  /** Whether one more effect may happen (without crashing yet). */
  allows(): boolean {
    return this.budget > 0;
  }
}

const copy = <T>(value: T): T => structuredClone(value);

export class MemoryTable implements StatePort {
  readonly items = new Map<string, StoredItem>();
  fuse = new Fuse();

  private write(item: StoredItem): void {
    this.fuse.spend();
    this.items.set(itemId(String(item.pk), String(item.sk)), copy(item));
  }

  async readProgress(job: string): Promise<StoredItem[]> {
    const pk = progressPk(job);
    return [...this.items.values()].filter((i) => i.pk === pk).map(copy);
  }

  async writeMapperProgress(job: string, p: MapperProgress): Promise<void> {
    this.write({
      pk: progressPk(job),
      sk: PROGRESS_SK.mapper(p.shardId),
      ...(Number.isFinite(p.maxEventTime) ? { maxEventTime: p.maxEventTime } : {}),
      updatedAt: p.updatedAt,
      pendingEnds: p.pendingEnds,
      ...(p.checkpointMaxEventTime !== undefined && Number.isFinite(p.checkpointMaxEventTime) ? { checkpointMaxEventTime: p.checkpointMaxEventTime } : {}),
    });
  }

  /** DynamoDB's condition on `rev` (read, update, put if unchanged). */
  async updateMapperProgress(job: string, shardId: string, update: (current: MapperProgress | undefined) => MapperProgress | undefined): Promise<MapperProgress | undefined> {
    const [pk, sk] = [progressPk(job), PROGRESS_SK.mapper(shardId)];
    const stored = this.items.get(itemId(pk, sk));
    const next = update(stored ? parseProgressItems([copy(stored)]).mappers[0] : undefined);
    if (next === undefined) return undefined;
    const rev = typeof stored?.rev === 'number' ? stored.rev : 0;
    this.write(storedMapperProgress(pk, sk, next, rev + 1));
    return next;
  }

  async writeBucketProgress(job: string, buckets: readonly BucketProgress[]): Promise<void> {
    for (const b of buckets) this.write({ pk: progressPk(job), sk: PROGRESS_SK.bucket(b.bucket), applied: b.applied, updatedAt: b.updatedAt, ...(b.replayed ? { replayed: b.replayed } : {}) });
  }

  async raiseWatermark(job: string, watermark: number): Promise<void> {
    const current = this.items.get(itemId(progressPk(job), PROGRESS_SK.watermark));
    if (current && typeof current.watermark === 'number' && current.watermark >= watermark) return;
    this.write({ pk: progressPk(job), sk: PROGRESS_SK.watermark, watermark });
  }

  async getMany(keys: readonly ItemKey[]): Promise<Map<string, StoredItem>> {
    const found = new Map<string, StoredItem>();
    for (const k of keys) {
      const item = this.items.get(itemId(k.pk, k.sk));
      if (item) found.set(itemId(k.pk, k.sk), copy(item));
    }
    return found;
  }

  async get(key: ItemKey): Promise<StoredItem | undefined> {
    const item = this.items.get(itemId(key.pk, key.sk));
    return item && copy(item);
  }

  /** DynamoDB's condition: attribute_not_exists(pk), or version = expected AND status = OPEN. */
  async putIfVersion(item: StoredItem, expectedVersion: number | undefined): Promise<boolean> {
    const current = this.items.get(itemId(String(item.pk), String(item.sk)));
    const ok = expectedVersion === undefined ? current === undefined : current !== undefined && current.version === expectedVersion && current.status === 'OPEN';
    if (!ok) return false;
    this.write(item);
    return true;
  }

  async dueItems(partition: string, watermark: number): Promise<ItemKey[]> {
    return [...this.items.values()]
      .filter((i) => i[STATE_TABLE.openPartitionKey] === partition && (i[STATE_TABLE.openSortKey] as number) <= watermark)
      .map((i) => ({ pk: String(i.pk), sk: String(i.sk) }));
  }
}

/** A shuffle stream of `shards` shards; bucket b's partition key goes to shard b mod shards (in order). */
export class MemoryShuffle implements ShufflePort {
  readonly logs: Buffer[][];
  fuse = new Fuse();
  /** Per call, which entries fail besides those after the fuse blows (a partly failed PutRecords). */
  dropMask = 0;

  constructor(readonly shards: number) {
    this.logs = Array.from({ length: shards }, () => []);
  }

  private shardOf(partitionKey: string): number {
    return Number(partitionKey.slice('bucket-'.length)) % this.shards;
  }

  async put(records: readonly ShuffleRecord[]): Promise<void> {
    // The production sender's plan: at most one record per bucket per call, a call only after the previous is in.
    for (const call of planPutCalls(records)) {
      let failed = false;
      call.forEach((record, i) => {
        if (!this.fuse.allows() || (this.dropMask >> i % 16) & 1) {
          failed = true;
          return;
        }
        this.fuse.spend();
        (this.logs[this.shardOf(record.partitionKey)] as Buffer[]).push(record.data);
      });
      if (failed) throw new Crash();
    }
  }
}

export class MemoryOutput implements OutputPort {
  readonly records: { [K in keyof OutputRecords]: OutputRecords[K][] } = { results: [], late: [], rejected: [] };
  fuse = new Fuse();
  /** Runs after each delivery: a test interleaves another invocation here. */
  afterDeliver?: (kind: keyof OutputRecords) => Promise<void>;

  async deliver<K extends keyof OutputRecords>(kind: K, records: readonly OutputRecords[K][]): Promise<void> {
    for (const record of records) {
      this.fuse.spend();
      (this.records[kind] as OutputRecords[K][]).push(copy(record));
    }
    if (records.length > 0) await this.afterDeliver?.(kind);
  }
}

/** One fuse for every port of an invocation: it crashes before its `budget`+1-th effect, wherever that is. */
export function arm(budget: number | undefined, ...ports: { fuse: Fuse }[]): Fuse {
  const fuse = new Fuse(budget ?? Number.POSITIVE_INFINITY);
  for (const port of ports) port.fuse = fuse;
  return fuse;
}
