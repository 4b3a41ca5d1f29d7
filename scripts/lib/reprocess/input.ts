// Reading a job's retained input for `npm run reprocess`: every shard of the input stream (closed
// parents of a reshard too), from a starting position to an end fixed when the run began, page by
// page. The end is what makes a resumed run read the same records as the run it resumes: records
// that arrived after the run started are not part of it.
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient, type ShardIteratorType } from '@aws-sdk/client-kinesis';
import type { InputRecord } from '../../../functions/core/input-decoding';
import { compareSequenceNumbers } from '../../../functions/core/positions';

export interface ShardSpan {
  readonly shardId: string;
  /** Read up to and including this sequence number; undefined: the shard held nothing to read. */
  readonly endSequence: string | undefined;
}

export { listShards } from '../kinesis-shards';

/** Where a shard's read starts: AT_TIMESTAMP of the earliest arrival that can matter, or its oldest record. */
export interface StartPosition {
  /** Epoch ms; undefined: TRIM_HORIZON (everything retained). */
  readonly atMs: number | undefined;
}

async function iteratorFor(kinesis: KinesisClient, stream: string, shardId: string, start: StartPosition, after?: string): Promise<string | undefined> {
  const type: ShardIteratorType = after !== undefined ? 'AFTER_SEQUENCE_NUMBER' : start.atMs !== undefined ? 'AT_TIMESTAMP' : 'TRIM_HORIZON';
  const response = await kinesis.send(
    new GetShardIteratorCommand({
      StreamName: stream,
      ShardId: shardId,
      ShardIteratorType: type,
      ...(after !== undefined ? { StartingSequenceNumber: after } : {}),
      ...(after === undefined && start.atMs !== undefined ? { Timestamp: new Date(start.atMs) } : {}),
    }),
  );
  return response.ShardIterator;
}

const toInput = (shardId: string, r: { SequenceNumber?: string; PartitionKey?: string; Data?: Uint8Array; ApproximateArrivalTimestamp?: Date }): InputRecord => ({
  shardId,
  sequenceNumber: r.SequenceNumber as string,
  partitionKey: r.PartitionKey ?? '',
  data: Buffer.from(r.Data ?? new Uint8Array()),
  arrivalTime: r.ApproximateArrivalTimestamp?.getTime() ?? 0,
});

/**
 * Reads one shard from `start` (or after `resumeAfter`) while records are ≤ `end` (undefined: to the
 * shard's tip as it is now), handing each page to `onPage`. Returns the last sequence number read.
 */
export async function readShard(
  kinesis: KinesisClient,
  stream: string,
  shardId: string,
  options: {
    start: StartPosition;
    end?: string;
    resumeAfter?: string;
    onPage: (records: InputRecord[]) => void | Promise<void>;
    /**
     * Least time between two GetRecords calls: a shard serves 5 per second to all its consumers
     * together, and the live mapper is one of them.
     */
    minIntervalMs?: number;
  },
): Promise<string | undefined> {
  let last = options.resumeAfter;
  let iterator = await iteratorFor(kinesis, stream, shardId, options.start, options.resumeAfter);
  let previous = 0;
  while (iterator) {
    const wait = previous + (options.minIntervalMs ?? 0) - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    previous = Date.now();
    const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
    const records = (page.Records ?? []).map((r) => toInput(shardId, r));
    const kept = options.end === undefined ? records : records.filter((r) => compareSequenceNumbers(r.sequenceNumber, options.end as string) <= 0);
    if (kept.length > 0) {
      await options.onPage(kept);
      last = (kept[kept.length - 1] as InputRecord).sequenceNumber;
    }
    if (kept.length < records.length) break; // past the run's end
    if (options.end !== undefined && last !== undefined && compareSequenceNumbers(last, options.end) >= 0) break;
    // At the tip of an open shard (nothing behind, nothing returned); a closed shard ends without an iterator.
    if (records.length === 0 && (page.MillisBehindLatest ?? 0) === 0) break;
    iterator = page.NextShardIterator;
  }
  return last;
}
