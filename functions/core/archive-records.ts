// The raw input archive's record format (docs/CONTRACTS.md "Input archive"): one JSON line per
// input record, written by the archiver and read back by `npm run reprocess` beyond the stream's
// retention. The data stays exactly as the producer put it (base64; a KPL aggregate is kept whole),
// so a reader decodes it with the mapper's own input decoding. Retries of the archiver may write a
// record twice: readers dedupe by (shardId, sequenceNumber). Pure: no AWS imports.
import type { InputRecord } from './input-decoding';
import { compareSequenceNumbers } from './positions';

/** Top-level prefix of the archive in the source's bucket; objects sit under archive/dt=YYYY-MM-DD/hour=HH/. */
export const ARCHIVE_PREFIX = 'archive/';

export interface ArchiveRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  /** ISO-8601 UTC with milliseconds: the partition keys (dt, hour) are cut from it. */
  readonly approximateArrivalTimestamp: string;
  readonly partitionKey: string;
  /** The record's bytes, base64, as Kinesis delivered them. */
  readonly data: string;
}

/** JQ 1.6 query of the archive delivery stream's dynamic partitioning: the arrival hour. */
export const ARCHIVE_PARTITION_QUERY = '{dt: .approximateArrivalTimestamp[0:10], hour: .approximateArrivalTimestamp[11:13]}';

/** The archive line of an input record (the Lambda event's fields, as the mapper reads them). */
export function archiveRecord(record: InputRecord): ArchiveRecord {
  return {
    shardId: record.shardId,
    sequenceNumber: record.sequenceNumber,
    approximateArrivalTimestamp: new Date(record.arrivalTime).toISOString(),
    partitionKey: record.partitionKey,
    data: record.data.toString('base64'),
  };
}

/** The folder of one arrival hour, e.g. archive/dt=2026-01-01/hour=10/. */
export function archiveHourPrefix(hourMs: number): string {
  const text = new Date(hourMs).toISOString();
  return `${ARCHIVE_PREFIX}dt=${text.slice(0, 10)}/hour=${text.slice(11, 13)}/`;
}

/** The hour folders holding arrivals in [fromMs, toMs] (from rounded down to its hour). */
export function archiveHourPrefixes(fromMs: number, toMs: number): string[] {
  const out: string[] = [];
  for (let h = Math.floor(fromMs / 3_600_000) * 3_600_000; h <= toMs; h += 3_600_000) out.push(archiveHourPrefix(h));
  return out;
}

export class ArchiveFormatError extends Error {}

/** Parses an archive object's text (JSON lines); a malformed line is an error naming it, never skipped. */
export function parseArchiveLines(text: string, where = 'archive object'): ArchiveRecord[] {
  const out: ArchiveRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new ArchiveFormatError(`${where} line ${i + 1} is not JSON`);
    }
    const r = value as Record<string, unknown>;
    for (const field of ['shardId', 'sequenceNumber', 'approximateArrivalTimestamp', 'partitionKey', 'data'] as const) {
      if (typeof r?.[field] !== 'string') throw new ArchiveFormatError(`${where} line ${i + 1} has no string ${field}`);
    }
    out.push(r as unknown as ArchiveRecord);
  }
  return out;
}

/**
 * Archive records → input records per shard, each shard in sequence order with repeats (a retried
 * archiver batch) removed by (shardId, sequenceNumber). A KPL aggregate is one record with one
 * sequence number, so its user records (sub-sequence numbers) are deduplicated with it.
 */
export function archivedInput(records: Iterable<ArchiveRecord>): { shards: Map<string, InputRecord[]>; duplicates: number } {
  const byShard = new Map<string, Map<string, ArchiveRecord>>();
  let duplicates = 0;
  for (const r of records) {
    let shard = byShard.get(r.shardId);
    if (!shard) byShard.set(r.shardId, (shard = new Map()));
    if (shard.has(r.sequenceNumber)) duplicates++;
    else shard.set(r.sequenceNumber, r);
  }
  const shards = new Map<string, InputRecord[]>();
  for (const [shardId, records] of byShard) {
    const sorted = [...records.values()].sort((a, b) => compareSequenceNumbers(a.sequenceNumber, b.sequenceNumber));
    shards.set(
      shardId,
      sorted.map((r) => ({ shardId, sequenceNumber: r.sequenceNumber, partitionKey: r.partitionKey, data: Buffer.from(r.data, 'base64'), arrivalTime: Date.parse(r.approximateArrivalTimestamp) })),
    );
  }
  return { shards, duplicates };
}
