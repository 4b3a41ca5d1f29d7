// The state table on DynamoDB — the protocol's StatePort (core/protocol/ports.ts), laid out as
// functions/contract/table.ts says: consistent batched reads, single-item conditional writes (no
// transactions: they cost 2× and the local emulator has none), and the open-windows index. Counts
// its requests for metrics and tests.
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PROGRESS_SK, progressPk, STATE_TABLE } from '../contract/table';
import { parseProgressItems, storedMapperProgress, type BucketProgress, type MapperProgress } from '../core/progress';
import { itemId, type ItemKey, type StatePort } from '../core/protocol/ports';
import type { StoredItem } from '../core/window-item';
import { backoffDelay, RetriesExhaustedError, sleep } from './retry';

export { itemId, type ItemKey } from '../core/protocol/ports';

const BATCH_GET_MAX = 100;

export class StateStore implements StatePort {
  readonly requests = { get: 0, batchGet: 0, put: 0, query: 0, conflicts: 0 };

  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  private async queryAll(input: QueryCommandInput): Promise<StoredItem[]> {
    const items: StoredItem[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      this.requests.query++;
      const page = await this.dynamo.send(new QueryCommand({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) }));
      items.push(...((page.Items ?? []) as StoredItem[]));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /** The job's progress partition: mapper items (per input shard) and bucket items (per shuffle bucket). */
  readProgress(job: string): Promise<StoredItem[]> {
    return this.queryAll({
      TableName: this.table,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': STATE_TABLE.partitionKey },
      ExpressionAttributeValues: { ':pk': progressPk(job) },
      ConsistentRead: true,
    });
  }

  async writeMapperProgress(job: string, progress: MapperProgress): Promise<void> {
    this.requests.put++;
    await this.dynamo.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          pk: progressPk(job),
          sk: PROGRESS_SK.mapper(progress.shardId),
          ...(Number.isFinite(progress.maxEventTime) ? { maxEventTime: progress.maxEventTime } : {}),
          ...(progress.checkpointMaxEventTime !== undefined && Number.isFinite(progress.checkpointMaxEventTime) ? { checkpointMaxEventTime: progress.checkpointMaxEventTime } : {}),
          updatedAt: progress.updatedAt,
          pendingEnds: progress.pendingEnds,
        },
      }),
    );
  }

  async updateMapperProgress(job: string, shardId: string, update: (current: MapperProgress | undefined) => MapperProgress | undefined): Promise<MapperProgress | undefined> {
    const key = { pk: progressPk(job), sk: PROGRESS_SK.mapper(shardId) };
    for (let attempt = 1; ; attempt++) {
      const stored = await this.get(key);
      const next = update(stored ? parseProgressItems([stored]).mappers[0] : undefined);
      if (next === undefined) return undefined;
      const rev = typeof stored?.rev === 'number' ? stored.rev : undefined;
      this.requests.put++;
      try {
        await this.dynamo.send(
          new PutCommand({
            TableName: this.table,
            Item: storedMapperProgress(key.pk, key.sk, next, (rev ?? 0) + 1),
            ...(rev === undefined
              ? { ConditionExpression: 'attribute_not_exists(#rev)', ExpressionAttributeNames: { '#rev': 'rev' } }
              : { ConditionExpression: '#rev = :rev', ExpressionAttributeNames: { '#rev': 'rev' }, ExpressionAttributeValues: { ':rev': rev } }),
          }),
        );
        return next;
      } catch (error) {
        if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
        this.requests.conflicts++;
        if (attempt >= 8) throw new RetriesExhaustedError('mapper progress write', attempt, 'lost every race to another writer of the shard');
        await sleep(backoffDelay(attempt));
      }
    }
  }

  async writeBucketProgress(job: string, buckets: readonly BucketProgress[]): Promise<void> {
    for (const bucket of buckets) {
      this.requests.put++;
      await this.dynamo.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: progressPk(job), sk: PROGRESS_SK.bucket(bucket.bucket), applied: bucket.applied, updatedAt: bucket.updatedAt, ...(bucket.replayed ? { replayed: bucket.replayed } : {}) },
        }),
      );
    }
  }

  /** Raise the recorded watermark floor (never lowers it: the condition keeps the larger one). */
  async raiseWatermark(job: string, watermark: number): Promise<void> {
    this.requests.put++;
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: progressPk(job), sk: PROGRESS_SK.watermark, watermark, updatedAt: Date.now() },
          ConditionExpression: 'attribute_not_exists(watermark) OR watermark < :w',
          ExpressionAttributeValues: { ':w': watermark },
        }),
      );
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
    }
  }

  /** Strongly consistent reads of many items (100 per request; unprocessed keys retried). */
  async getMany(keys: readonly ItemKey[]): Promise<Map<string, StoredItem>> {
    const found = new Map<string, StoredItem>();
    for (let i = 0; i < keys.length; i += BATCH_GET_MAX) {
      let pending: ItemKey[] = keys.slice(i, i + BATCH_GET_MAX).map((k) => ({ pk: k.pk, sk: k.sk }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= 10) throw new RetriesExhaustedError('DynamoDB BatchGetItem', attempt, `${pending.length} keys unprocessed`);
        if (attempt > 0) await sleep(backoffDelay(attempt));
        this.requests.batchGet++;
        const response = await this.dynamo.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }),
        );
        for (const item of (response.Responses?.[this.table] ?? []) as StoredItem[]) found.set(itemId(String(item.pk), String(item.sk)), item);
        pending = (response.UnprocessedKeys?.[this.table]?.Keys ?? []) as ItemKey[];
      }
    }
    return found;
  }

  async get(key: ItemKey): Promise<StoredItem | undefined> {
    this.requests.get++;
    const response = await this.dynamo.send(new GetCommand({ TableName: this.table, Key: { pk: key.pk, sk: key.sk }, ConsistentRead: true }));
    return response.Item as StoredItem | undefined;
  }

  /**
   * Write an item if nobody else wrote it since we read `expectedVersion` (undefined: it must not
   * exist). Returns false on a lost race (the caller re-reads and folds again).
   */
  async putIfVersion(item: StoredItem, expectedVersion: number | undefined): Promise<boolean> {
    this.requests.put++;
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.table,
          Item: item,
          ...(expectedVersion === undefined
            ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': STATE_TABLE.partitionKey } }
            : {
                ConditionExpression: '#version = :version AND #status = :open',
                ExpressionAttributeNames: { '#version': 'version', '#status': 'status' },
                ExpressionAttributeValues: { ':version': expectedVersion, ':open': 'OPEN' },
              }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException') {
        this.requests.conflicts++;
        return false;
      }
      throw error;
    }
  }

  /** Keys of items in one open-index partition whose close time has come. */
  async dueItems(partition: string, watermark: number): Promise<ItemKey[]> {
    const bound = Number.isFinite(watermark) ? watermark : watermark > 0 ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
    const items = await this.queryAll({
      TableName: this.table,
      IndexName: STATE_TABLE.openWindowsIndex,
      KeyConditionExpression: '#p = :p AND #closeAt <= :wm',
      ExpressionAttributeNames: { '#p': STATE_TABLE.openPartitionKey, '#closeAt': STATE_TABLE.openSortKey },
      ExpressionAttributeValues: { ':p': partition, ':wm': bound },
    });
    return items.map((item) => ({ pk: String(item.pk), sk: String(item.sk) }));
  }
}
