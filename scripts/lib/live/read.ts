// The live view's reads from a job's state table (layout: functions/contract/table.ts), through the
// plain DynamoDB API, so they work the same on the embedded cloud, LocalStack and AWS:
//
//   1. the progress partition (one Query, strongly consistent): the recorded watermark floor
//   2. the sparse open-windows index (KEYS_ONLY; one Query per partition, paged, newest close times
//      first, at most `limit` entries each) — or, for one --key, only the partition that key's items
//      are listed in (1/8 of the job's open windows), paged through and kept to that key's entries. A global index is eventually consistent (usually well
//      under a second behind): a window opened a moment ago can be missing from one read.
//   3. the items themselves, by key, with the state store the functions use (BatchGetItem, 100 per
//      request, strongly consistent: each row is the item's latest committed version, never older
//      than a result already emitted; it costs one read unit per 4 KB instead of half of one).
//
// Cost: ⌈entries/page⌉ index Queries per partition (8 per job) + ⌈items/100⌉ BatchGetItem, with
// entries and items bounded by `limit` — independent of how many windows are closed or how much
// input there is.
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { itemPk, openPartitions, openPk, STATE_TABLE } from '../../../functions/contract/table';
import { StateStore } from '../../../functions/commons/state-store';
import type { Job } from '../../../functions/core/job';
import { parseProgressItems } from '../../../functions/core/progress';
import { compareLiveRows, liveRows, newestEntries, type LiveRow, type OpenEntry } from './rows';

export interface LiveReadOptions {
  job: Job;
  table: string;
  /** Only this result key's windows. */
  key?: string;
  /** At most this many windows (rows). */
  limit: number;
  /** Wall clock for the rows' emittedAt. */
  nowMs?: number;
}

export interface LiveReadStats {
  indexQueries: number;
  /** Index entries read (with --key, other keys' entries in its partition too). */
  indexEntries: number;
  batchGets: number;
  items: number;
  /** More windows are open than `limit` allowed to read. */
  truncated: boolean;
}

export interface LiveRead {
  job: string;
  /** The recorded watermark floor (−∞: none yet). */
  watermark: number;
  rows: LiveRow[];
  stats: LiveReadStats;
}

/** Entries of one open-windows partition, latest close time first, at most `limit` (`more`: others remain). */
async function openEntries(dynamo: DynamoDBDocumentClient, table: string, partition: string, limit: number, onlyPk: string | undefined, stats: LiveReadStats): Promise<{ entries: OpenEntry[]; more: boolean }> {
  const entries: OpenEntry[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    stats.indexQueries++;
    const page = await dynamo.send(
      new QueryCommand({
        TableName: table,
        IndexName: STATE_TABLE.openWindowsIndex,
        KeyConditionExpression: '#p = :p',
        ExpressionAttributeNames: { '#p': STATE_TABLE.openPartitionKey },
        ExpressionAttributeValues: { ':p': partition },
        ScanIndexForward: false,
        // Without --key one page holds what is wanted. With it, the partition's entries of other
        // keys are skipped here, not by a FilterExpression (which may not name the table's key
        // attributes, and would read the same entries anyway).
        Limit: onlyPk === undefined ? limit + 1 : 1000,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    stats.indexEntries += page.Items?.length ?? 0;
    for (const item of (page.Items ?? []) as Record<string, unknown>[]) {
      if (onlyPk !== undefined && item[STATE_TABLE.partitionKey] !== onlyPk) continue;
      entries.push({ pk: String(item[STATE_TABLE.partitionKey]), sk: String(item[STATE_TABLE.sortKey]), closeAt: Number(item[STATE_TABLE.openSortKey]) });
    }
    start = page.LastEvaluatedKey as Record<string, unknown> | undefined;
  } while (start && entries.length <= limit);
  return { entries: entries.slice(0, limit), more: entries.length > limit || start !== undefined };
}

/** The job's open windows (or one key's) with their current values, newest first. */
export async function readLive(dynamo: DynamoDBDocumentClient, options: LiveReadOptions): Promise<LiveRead> {
  const { job, table, limit } = options;
  const stats: LiveReadStats = { indexQueries: 0, indexEntries: 0, batchGets: 0, items: 0, truncated: false };
  const store = new StateStore(dynamo, table);
  const { floor: watermark } = parseProgressItems(await store.readProgress(job.name));

  const partitions = options.key !== undefined ? [openPk(job.name, options.key)] : openPartitions(job.name);
  const onlyPk = options.key !== undefined ? itemPk(job.name, options.key) : undefined;
  const perPartition = await Promise.all(partitions.map((p) => openEntries(dynamo, table, p, limit, onlyPk, stats)));
  const all = perPartition.flatMap((p) => p.entries);
  const wanted = newestEntries(all, limit);
  stats.truncated = perPartition.some((p) => p.more) || all.length > wanted.length;

  const items = await store.getMany(wanted);
  stats.batchGets = store.requests.batchGet;
  stats.items = items.size;
  const nowMs = options.nowMs ?? Date.now();
  // An item closed (or expired) between the index read and the item read gives no row: the closer
  // has emitted it, and the S3 views have it once Firehose delivers.
  const rows = [...items.values()].flatMap((stored) => liveRows(job, stored, { watermark, nowMs }));
  rows.sort(compareLiveRows);
  if (rows.length > limit) stats.truncated = true;
  return { job: job.name, watermark, rows: rows.slice(0, limit), stats };
}
