// Archiver Lambda (input stream → archive delivery stream, only with `inputArchive` on): writes
// each input record, raw, as one JSON line (core/archive-records.ts) to Firehose, which puts it
// under archive/dt=…/hour=…/ of the bucket by arrival hour. Thin on purpose: a failed delivery
// throws and the event source mapping retries the batch (unlimited, bisecting); a retry may write
// records twice, which readers dedupe by (shardId, sequenceNumber).
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { readArchiverSettings } from './contract/env';
import { archiveRecord } from './core/archive-records';
import { createClients, type Clients } from './commons/clients';
import { deliver } from './commons/delivery';
import { configuredOnFirstCall } from './commons/lambda-entry';
import { toInputRecord } from './mapper';

export function createArchiverHandler(settings: { archiveDelivery: string }, clients: Clients = createClients()) {
  return async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
    await deliver(clients.firehose, settings.archiveDelivery, event.Records.map((r) => archiveRecord(toInputRecord(r))));
    return { batchItemFailures: [] };
  };
}

/** The Lambda handler: configured from the environment on the first invocation. */
export function archiverLambda(): (event: KinesisStreamEvent, context: Context) => Promise<KinesisStreamBatchResponse> {
  return configuredOnFirstCall(() => {
    const handler = createArchiverHandler(readArchiverSettings());
    return (event: KinesisStreamEvent) => handler(event);
  });
}
