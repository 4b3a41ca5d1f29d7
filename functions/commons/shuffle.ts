// Putting bundles on the shuffle stream: ≤ 500 records and ≤ 5 MiB per PutRecords, only the
// failed entries retried (jittered backoff). Order matters per bucket (the fence relies on a
// bucket's bundles arriving in emission order), and a partly failed PutRecords would reorder a
// retried entry after a later one — so each call carries at most one bundle per bucket, and the
// next call starts only once every entry of the previous one is in.
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { failedEntries, sendWithRetry } from './retry';

export interface ShuffleRecord {
  partitionKey: string;
  data: Buffer;
}

const MAX_RECORDS = 500;
const MAX_REQUEST_BYTES = 5 * 1024 * 1024;

/** Group records into PutRecords calls of distinct partition keys, preserving per-key order. */
export function planPutCalls(records: readonly ShuffleRecord[]): ShuffleRecord[][] {
  const calls: ShuffleRecord[][] = [];
  const sizes: number[] = [];
  const keysPerCall: Set<string>[] = [];
  const lastCallOfKey = new Map<string, number>();
  for (const record of records) {
    const size = record.data.length + Buffer.byteLength(record.partitionKey);
    // The earliest call after this key's previous record that still has room.
    let index = (lastCallOfKey.get(record.partitionKey) ?? -1) + 1;
    while (index < calls.length && ((calls[index] as ShuffleRecord[]).length >= MAX_RECORDS || (sizes[index] as number) + size > MAX_REQUEST_BYTES || (keysPerCall[index] as Set<string>).has(record.partitionKey))) index++;
    if (index === calls.length) {
      calls.push([]);
      sizes.push(0);
      keysPerCall.push(new Set());
    }
    (calls[index] as ShuffleRecord[]).push(record);
    sizes[index] = (sizes[index] as number) + size;
    (keysPerCall[index] as Set<string>).add(record.partitionKey);
    lastCallOfKey.set(record.partitionKey, index);
  }
  return calls;
}

export async function putShuffle(kinesis: KinesisClient, streamName: string, records: readonly ShuffleRecord[]): Promise<{ calls: number; retried: number }> {
  let retried = 0;
  const calls = planPutCalls(records);
  for (const call of calls) {
    const outcome = await sendWithRetry(`Kinesis PutRecords to ${streamName}`, call, async (batch) => {
      const response = await kinesis.send(
        new PutRecordsCommand({ StreamName: streamName, Records: batch.map((r) => ({ PartitionKey: r.partitionKey, Data: r.data })) }),
      );
      return failedEntries(response.Records);
    });
    retried += outcome.retried;
  }
  return { calls: calls.length, retried };
}
