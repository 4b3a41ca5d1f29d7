// Writing records to Firehose (results/, late/, rejected/): newline-delimited JSON, ≤ 500 records
// and ≤ 4 MiB per PutRecordBatch, failed entries retried with backoff.
import { FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import type { OutputPort, OutputRecords } from '../core/protocol/ports';
import { chunkBy, failedEntries, sendWithRetry } from './retry';

const MAX_RECORDS = 500;
const MAX_BATCH_BYTES = 4 * 1024 * 1024 - 64 * 1024;
const MAX_RECORD_BYTES = 1000 * 1024;

export async function deliver(firehose: FirehoseClient, deliveryStream: string, records: readonly object[]): Promise<{ retried: number }> {
  if (records.length === 0) return { retried: 0 };
  const encoded = records.map((record) => {
    const data = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
    if (data.length > MAX_RECORD_BYTES) {
      throw new Error(`a record for ${deliveryStream} is ${data.length} bytes, over Firehose's ${MAX_RECORD_BYTES}-byte limit`);
    }
    return data;
  });
  let retried = 0;
  for (const chunk of chunkBy(encoded, MAX_RECORDS, MAX_BATCH_BYTES, (d) => d.length)) {
    const outcome = await sendWithRetry(`Firehose PutRecordBatch to ${deliveryStream}`, chunk, async (batch) => {
      const response = await firehose.send(new PutRecordBatchCommand({ DeliveryStreamName: deliveryStream, Records: batch.map((Data) => ({ Data })) }));
      return failedEntries(response.RequestResponses);
    });
    retried += outcome.retried;
  }
  return { retried };
}

/** The deliveries a handler may write to, by kind (a kind without a stream is a bug: it throws). */
export function outputPort(firehose: FirehoseClient, streams: Partial<Record<keyof OutputRecords, string>>): OutputPort {
  return {
    deliver: async (kind, records) => {
      if (records.length === 0) return;
      const stream = streams[kind];
      if (stream === undefined) throw new Error(`this function has no ${kind} delivery stream`);
      await deliver(firehose, stream, records);
    },
  };
}
