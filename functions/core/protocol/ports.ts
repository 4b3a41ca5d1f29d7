// What the protocol needs from the outside world, as interfaces: the state table, the shuffle
// stream and the Firehose outputs. The handlers pass AWS implementations (functions/commons/);
// the property tests pass in-memory ones that crash between any two calls. The protocol code
// itself (map-attempt.ts, reduce-batch.ts, close-run.ts) is the same in both.
import type { LateRecord, RejectedRecord, ResultRecord } from '../output-records';
import type { BucketProgress, MapperProgress } from '../progress';
import type { StoredItem } from '../window-item';
import type { ShuffleRecord } from './packing';

export interface ItemKey {
  pk: string;
  sk: string;
}

/** A map key for an item (pk and sk cannot contain NUL). */
export function itemId(pk: string, sk: string): string {
  return `${pk}\u0000${sk}`;
}

/** The state table, as docs/CONTRACTS.md lays it out. Every read is strongly consistent. */
export interface StatePort {
  /** Every item of the job's progress partition. */
  readProgress(job: string): Promise<StoredItem[]>;
  writeMapperProgress(job: string, progress: MapperProgress): Promise<void>;
  /**
   * Read one shard's mapper item, and write `update(current)` on the condition that nobody wrote it
   * since (a replay and the live mapper share it); a lost race reads and updates again. Returns what
   * was written (undefined: `update` returned undefined and nothing was written).
   */
  updateMapperProgress(job: string, shardId: string, update: (current: MapperProgress | undefined) => MapperProgress | undefined): Promise<MapperProgress | undefined>;
  writeBucketProgress(job: string, buckets: readonly BucketProgress[]): Promise<void>;
  /** Raise the recorded watermark floor; a lower value leaves it as it is. */
  raiseWatermark(job: string, watermark: number): Promise<void>;
  /** The items that exist among `keys`, by itemId. */
  getMany(keys: readonly ItemKey[]): Promise<Map<string, StoredItem>>;
  get(key: ItemKey): Promise<StoredItem | undefined>;
  /**
   * Write `item` if it is still at `expectedVersion` and OPEN (undefined: if it does not exist).
   * False on a lost race: the caller reads again.
   */
  putIfVersion(item: StoredItem, expectedVersion: number | undefined): Promise<boolean>;
  /** Keys of items in one open-windows partition whose closeAt ≤ watermark. */
  dueItems(partition: string, watermark: number): Promise<ItemKey[]>;
}

/** The shuffle stream: `put` returns once every record is in, and keeps each partition key's records in order. */
export interface ShufflePort {
  put(records: readonly ShuffleRecord[]): Promise<void>;
}

export interface OutputRecords {
  results: ResultRecord;
  late: LateRecord;
  rejected: RejectedRecord;
}

/** The three Firehose deliveries; `deliver` returns once every record is accepted. */
export interface OutputPort {
  deliver<K extends keyof OutputRecords>(kind: K, records: readonly OutputRecords[K][]): Promise<void>;
}
