// The state table's layout (DynamoDB), shared by the functions that read and write it
// (functions/commons/state-store.ts, functions/core), the CDK construct that creates it
// (infra/constructs/state.ts) and the tools that inspect it (scripts/lib/verify). docs/CONTRACTS.md
// describes the same layout in prose.
import { fnv1a } from '../core/hash';
import { OPEN_INDEX_PARTITIONS } from './limits';

/** Key schema, TTL attribute and the sparse open-windows index. */
export const STATE_TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'expiresAt',
  openWindowsIndex: 'open-windows',
  openPartitionKey: 'openPk',
  openSortKey: 'closeAt',
} as const;

/** Partition of a result key's state items: one per window (tumbling/hopping) or one for its sessions. */
export function itemPk(job: string, key: string): string {
  return `J#${job}#K#${key}`;
}

/** Sort key of a window item; the zero-padded start keeps a key's windows in time order. */
export function windowSk(start: number, end: number): string {
  return `W#${String(start).padStart(15, '0')}#${end}`;
}

/** Sort key of a key's session item (session jobs keep all of a key's sessions in one item). */
export const SESSION_SK = 'S';

/** Partition of the open-windows index an item of `key` is listed in while something is open. */
export function openPk(job: string, key: string): string {
  return openPartition(job, fnv1a(key) % OPEN_INDEX_PARTITIONS);
}

export function openPartition(job: string, index: number): string {
  return `J#${job}#O#${index}`;
}

/** Every open-windows partition of a job (the closer queries each). */
export function openPartitions(job: string): string[] {
  return Array.from({ length: OPEN_INDEX_PARTITIONS }, (_, i) => openPartition(job, i));
}

/** The job's progress partition: mapper items, bucket items and the watermark floor, read with one Query. */
export function progressPk(job: string): string {
  return `J#${job}#PROGRESS`;
}

/** Progress item sort keys: per input shard (mapper), per shuffle bucket (reducer), and the watermark floor (closer). */
export const PROGRESS_SK = {
  mapper: (shardId: string): string => `M#${shardId}`,
  bucket: (bucket: number): string => `R#${bucket}`,
  watermark: 'WM',
} as const;

export type ProgressSk = { kind: 'mapper'; shardId: string } | { kind: 'bucket'; bucket: number } | { kind: 'watermark' } | { kind: 'unknown' };

/** Which progress item a sort key names (the inverse of PROGRESS_SK). */
export function parseProgressSk(sk: string): ProgressSk {
  if (sk === PROGRESS_SK.watermark) return { kind: 'watermark' };
  if (sk.startsWith('M#')) return { kind: 'mapper', shardId: sk.slice(2) };
  if (sk.startsWith('R#') && /^\d+$/.test(sk.slice(2))) return { kind: 'bucket', bucket: Number(sk.slice(2)) };
  return { kind: 'unknown' };
}
