// Reading a skipped run back from the input stream (within its retention) and re-driving it through
// the deployed mapper: records from a sequence number (AT_ or AFTER_SEQUENCE_NUMBER) up to the
// run's last, in chunks that fit a synchronous Lambda payload, each sent as a Kinesis-shaped event
// with the original shard id and sequence numbers plus the replay request (core/protocol/replay.ts).
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient, type _Record } from '@aws-sdk/client-kinesis';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { chunkBy } from '../../../functions/commons/retry';
import { compareSequenceNumbers } from '../../../functions/core/positions';
import { REPLAY_EVENT_FIELD, type ReplayRequest, type ReplayResponse } from '../../../functions/core/protocol/replay';

/** Records per replay invocation, and their base64 payload bytes (a synchronous invoke takes 6 MB). */
export const CHUNK_RECORDS = 500;
export const CHUNK_PAYLOAD_BYTES = 4 * 1024 * 1024;

/** A problem the operator must act on (printed without a stack trace). */
export class ReplayError extends Error {}

export interface StreamRecord {
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Uint8Array;
  readonly arrivalMs: number;
}

/** The records of `shardId` from `first` (inclusive) or after `after`, through `last`, in order. */
export async function readRange(kinesis: KinesisClient, stream: string, shardId: string, range: { first?: string; after?: string; last: string }): Promise<StreamRecord[]> {
  const iterator = await kinesis.send(
    new GetShardIteratorCommand({
      StreamName: stream,
      ShardId: shardId,
      ...(range.first !== undefined ? { ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: range.first } : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: range.after }),
    }),
  );
  let next = iterator.ShardIterator;
  const out: StreamRecord[] = [];
  for (let empty = 0; next && empty < 5; ) {
    const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: next, Limit: 1000 }));
    const records: _Record[] = page.Records ?? [];
    for (const r of records) {
      const seq = r.SequenceNumber as string;
      if (compareSequenceNumbers(seq, range.last) > 0) return out;
      out.push({ sequenceNumber: seq, partitionKey: r.PartitionKey ?? '', data: r.Data ?? new Uint8Array(), arrivalMs: r.ApproximateArrivalTimestamp?.getTime() ?? Date.now() });
      if (seq === range.last) return out;
    }
    empty = records.length === 0 ? empty + 1 : 0;
    if (records.length === 0 && page.MillisBehindLatest === 0) break;
    next = page.NextShardIterator;
  }
  return out;
}

/** Split records into invocations that fit the payload limit. */
export function chunks(records: readonly StreamRecord[]): StreamRecord[][] {
  // Base64 in the event grows data by 4/3; ~400 bytes of record envelope each.
  return chunkBy(records, CHUNK_RECORDS, CHUNK_PAYLOAD_BYTES, (r) => Math.ceil(r.data.length / 3) * 4 + 400);
}

/** The Kinesis event Lambda would deliver for these records, plus the replay request. */
export function replayEvent(records: readonly StreamRecord[], request: ReplayRequest, streamArn: string, region: string): Record<string, unknown> {
  return {
    Records: records.map((r) => ({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: r.partitionKey,
        sequenceNumber: r.sequenceNumber,
        data: Buffer.from(r.data).toString('base64'),
        approximateArrivalTimestamp: r.arrivalMs / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${request.shardId}:${r.sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: '',
      awsRegion: region,
      eventSourceARN: streamArn,
    })),
    [REPLAY_EVENT_FIELD]: request,
  };
}

/** Invoke the mapper synchronously with a replay event; its error (if any) becomes a ReplayError. */
export async function invokeReplay(lambda: LambdaClient, functionName: string, event: Record<string, unknown>): Promise<ReplayResponse> {
  const response = await lambda.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: Buffer.from(JSON.stringify(event)) }));
  const text = response.Payload ? Buffer.from(response.Payload).toString('utf8') : '';
  if (response.FunctionError) {
    let message = text;
    try {
      const parsed = JSON.parse(text) as { errorMessage?: string; errorType?: string };
      message = `${parsed.errorType ?? 'Error'}: ${parsed.errorMessage ?? text}`;
    } catch {
      // keep the raw text
    }
    throw new ReplayError(`the mapper ${functionName} failed the replay (${message}); fix the cause and run replay again (what was applied stays applied once)`);
  }
  const parsed = JSON.parse(text || '{}') as Partial<ReplayResponse>;
  if (parsed.outcome === undefined) throw new ReplayError(`the mapper ${functionName} does not know replay requests (answered ${text.slice(0, 200)}); deploy the current version first`);
  return parsed as ReplayResponse;
}
