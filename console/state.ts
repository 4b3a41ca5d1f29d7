// What the console reads from a job's DynamoDB state table (layout: README "State table"): the
// progress partition `J#<job>#PROGRESS` — the watermark the closer acted on (`WM`) and each input
// shard's mapper progress (`M#<shard>`) — and the sparse `open-windows` index, whose partitions
// `J#<job>#O#0` … `#7` hold one entry per open window with the time it is due to close (`closeAt`).
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { OpenWindow } from './api';
import type { Deployment, JobResources } from './deployment';

const OPEN_INDEX = 'open-windows';
const OPEN_PARTITIONS = 8;

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
        ExpressionAttributeValues: { ':pk': `J#${r.job.name}#PROGRESS` },
        ConsistentRead: true,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    items.push(...((page.Items ?? []) as Record<string, unknown>[]));
    start = page.LastEvaluatedKey as Record<string, unknown> | undefined;
  } while (start);
  const wm = items.find((i) => i.sk === 'WM');
  return {
    watermark: num(wm?.watermark),
    shards: items
      .filter((i) => typeof i.sk === 'string' && i.sk.startsWith('M#'))
      .map((i) => ({ shardId: (i.sk as string).slice(2), maxEventTime: num(i.maxEventTime), updatedAt: num(i.updatedAt) }))
      .sort((a, b) => a.shardId.localeCompare(b.shardId)),
  };
}

/** `J#<job>#K#<key>` / `W#<start>#<end>` (or `S` for a key's sessions) → key and window. */
export function parseWindowKeys(job: string, pk: string, sk: string): { key: string; windowStart: number | null; windowEnd: number | null } {
  const prefix = `J#${job}#K#`;
  const key = pk.startsWith(prefix) ? pk.slice(prefix.length) : pk;
  const m = /^W#(\d+)#(\d+)$/.exec(sk);
  return { key, windowStart: m ? Number(m[1]) : null, windowEnd: m ? Number(m[2]) : null };
}

/** How many windows are open, and the next `limit` due to close (earliest closeAt first). */
export async function openWindows(d: Deployment, r: JobResources, limit = 20): Promise<{ count: number; next: OpenWindow[] }> {
  let count = 0;
  const next: OpenWindow[] = [];
  await Promise.all(
    Array.from({ length: OPEN_PARTITIONS }, async (_, i) => {
      const key = { ':p': `J#${r.job.name}#O#${i}` };
      let start: Record<string, unknown> | undefined;
      let first = true;
      do {
        const page = await d.dynamo.send(
          new QueryCommand({
            TableName: r.stateTable,
            IndexName: OPEN_INDEX,
            KeyConditionExpression: 'openPk = :p',
            ExpressionAttributeValues: key,
            ScanIndexForward: true,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        const items = (page.Items ?? []) as Record<string, unknown>[];
        count += items.length;
        if (first) {
          for (const item of items.slice(0, limit)) {
            next.push({ ...parseWindowKeys(r.job.name, String(item.pk), String(item.sk)), closeAt: num(item.closeAt) ?? 0 });
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
