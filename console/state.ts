// What the console reads from a job's DynamoDB state table (layout: functions/contract/table.ts):
// the progress partition — the watermark the closer acted on and each input shard's mapper
// progress — the sparse open-windows index, whose partitions hold one entry per open window
// with the time it is due to close (`closeAt`), and the newest open windows' values so far.
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { itemPk, openPartitions, parseProgressSk, progressPk, STATE_TABLE } from '../functions/contract/table';
import { readLive } from '../scripts/lib/live/read';
import type { LiveWindow, OpenWindow } from './api';
import type { Deployment, JobResources } from './deployment';

export interface Progress {
  watermark: number | null;
  shards: { shardId: string; maxEventTime: number | null; updatedAt: number | null }[];
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v !== '' && Number.isFinite(Number(v)) ? Number(v) : null);

export async function readProgress(d: Deployment, r: JobResources): Promise<Progress> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await d.dynamo.send(
      new QueryCommand({
        TableName: r.stateTable,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': progressPk(r.job.name) },
        ConsistentRead: true,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    items.push(...((page.Items ?? []) as Record<string, unknown>[]));
    start = page.LastEvaluatedKey as Record<string, unknown> | undefined;
  } while (start);
  let watermark: number | null = null;
  const shards: Progress['shards'] = [];
  for (const item of items) {
    const sk = parseProgressSk(String(item.sk));
    if (sk.kind === 'watermark') watermark = num(item.watermark);
    else if (sk.kind === 'mapper') shards.push({ shardId: sk.shardId, maxEventTime: num(item.maxEventTime), updatedAt: num(item.updatedAt) });
  }
  return { watermark, shards: shards.sort((a, b) => a.shardId.localeCompare(b.shardId)) };
}

/** The newest `limit` open windows with their values so far (the reads and rows of `npm run query -- --live`). */
export async function liveWindows(d: Deployment, r: JobResources, limit = 20): Promise<{ windows: LiveWindow[]; truncated: boolean }> {
  const read = await readLive(d.dynamo, { job: r.job, table: r.stateTable, limit });
  const names = Object.keys(r.job.aggregates);
  const windows = read.rows.map((row) => ({
    key: row.key,
    windowStart: Date.parse(row.windowStart),
    windowEnd: Date.parse(row.windowEnd),
    eventCount: row.eventCount,
    version: row.version,
    state: row.state,
    values: Object.fromEntries(names.map((name) => [name, row[name]])),
  }));
  return { windows, truncated: read.stats.truncated };
}

/** A window item's keys (itemPk, windowSk; a session item's sort key has no window) → key and window. */
export function parseWindowKeys(job: string, pk: string, sk: string): { key: string; windowStart: number | null; windowEnd: number | null } {
  const prefix = itemPk(job, '');
  const key = pk.startsWith(prefix) ? pk.slice(prefix.length) : pk;
  const m = /^W#(\d+)#(\d+)$/.exec(sk);
  return { key, windowStart: m ? Number(m[1]) : null, windowEnd: m ? Number(m[2]) : null };
}

/** How many windows are open, and the next `limit` due to close (earliest closeAt first). */
export async function openWindows(d: Deployment, r: JobResources, limit = 20): Promise<{ count: number; next: OpenWindow[] }> {
  let count = 0;
  const next: OpenWindow[] = [];
  await Promise.all(
    openPartitions(r.job.name).map(async (partition) => {
      const key = { ':p': partition };
      let start: Record<string, unknown> | undefined;
      let first = true;
      do {
        const page = await d.dynamo.send(
          new QueryCommand({
            TableName: r.stateTable,
            IndexName: STATE_TABLE.openWindowsIndex,
            KeyConditionExpression: `${STATE_TABLE.openPartitionKey} = :p`,
            ExpressionAttributeValues: key,
            ScanIndexForward: true,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        const items = (page.Items ?? []) as Record<string, unknown>[];
        count += items.length;
        if (first) {
          for (const item of items.slice(0, limit)) {
            next.push({ ...parseWindowKeys(r.job.name, String(item[STATE_TABLE.partitionKey]), String(item[STATE_TABLE.sortKey])), closeAt: num(item[STATE_TABLE.openSortKey]) ?? 0 });
          }
          first = false;
        }
        start = page.LastEvaluatedKey as Record<string, unknown> | undefined;
      } while (start);
    }),
  );
  next.sort((a, b) => a.closeAt - b.closeAt || a.key.localeCompare(b.key));
  return { count, next: next.slice(0, limit) };
}
