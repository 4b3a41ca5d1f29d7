// The shuffle stream's AWS side: each planned PutRecords call (≤ 500 records, ≤ 5 MiB, at most
// one bundle per bucket: core/protocol/packing.ts) sent with only its failed entries retried, and
// the next call started only once every entry of the previous one is in — so a bucket's bundles
// arrive in emission order, which the fence relies on.
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { planPutCalls, type ShuffleRecord } from '../core/protocol/packing';
import type { ShufflePort } from '../core/protocol/ports';
import { failedEntries, sendWithRetry } from './retry';

export async function putShuffle(kinesis: KinesisClient, streamName: string, records: readonly ShuffleRecord[]): Promise<{ calls: number; retried: number }> {
  let retried = 0;
  const calls = planPutCalls(records);
  for (const call of calls) {
    const outcome = await sendWithRetry(`Kinesis PutRecords to ${streamName}`, call, async (batch) => {
      const response = await kinesis.send(new PutRecordsCommand({ StreamName: streamName, Records: batch.map((r) => ({ PartitionKey: r.partitionKey, Data: r.data })) }));
      return failedEntries(response.Records);
    });
    retried += outcome.retried;
  }
  return { calls: calls.length, retried };
}

export function shufflePort(kinesis: KinesisClient, streamName: string): ShufflePort {
  return {
    put: async (records) => {
      await putShuffle(kinesis, streamName, records);
    },
  };
}
