// Reading the raw input archive (source setting inputArchive) for `npm run reprocess`: the objects
// under archive/dt=…/hour=…/ for the arrival hours a range needs (ListObjectsV2 + GetObject,
// gunzipped as Firehose writes them), parsed and deduplicated by (shardId, sequenceNumber) into
// per-shard input records in sequence order (functions/core/archive-records.ts). The records are
// decoded later by the mapper's own input decoding (KPL aggregates included), in Recompute.
import type { S3Client } from '@aws-sdk/client-s3';
import { ARCHIVE_PREFIX, archivedInput, archiveHourPrefixes, parseArchiveLines, type ArchiveRecord } from '../../../functions/core/archive-records';
import type { InputRecord } from '../../../functions/core/input-decoding';
import { getObjectBytes, listObjects, objectText } from '../output-reader';

export interface ArchiveRead {
  /** Per shard, records in sequence order, repeats removed. */
  readonly shards: Map<string, InputRecord[]>;
  readonly objects: number;
  /** Lines that repeated a (shard, sequence) already read (archiver retries). */
  readonly duplicates: number;
}

/**
 * The archived records that arrived at or after `fromMs` (undefined: everything archived) and up to
 * `toMs`, read hour folder by hour folder.
 */
export async function readArchive(s3: S3Client, bucket: string, fromMs: number | undefined, toMs: number, onObject?: (key: string) => void): Promise<ArchiveRead> {
  const prefixes = fromMs === undefined ? [ARCHIVE_PREFIX] : archiveHourPrefixes(fromMs, toMs);
  const records: ArchiveRecord[] = [];
  let objects = 0;
  for (const prefix of prefixes) {
    for (const object of await listObjects(s3, bucket, prefix)) {
      const text = objectText(await getObjectBytes(s3, bucket, object.key));
      for (const r of parseArchiveLines(text, `s3://${bucket}/${object.key}`)) {
        const arrived = Date.parse(r.approximateArrivalTimestamp);
        if ((fromMs === undefined || arrived >= fromMs) && arrived <= toMs) records.push(r);
      }
      objects++;
      onObject?.(object.key);
    }
  }
  const { shards, duplicates } = archivedInput(records);
  return { shards, objects, duplicates };
}
