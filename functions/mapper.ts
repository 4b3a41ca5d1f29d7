// Mapper Lambda (input stream → shuffle stream). What happens to a record, in order:
//   1. read the job's progress partition: the watermark, and this shard's write-ahead range ends
//   2. decode → validate → event time → map → window → combine   (core/combiner.ts)
//   3. write-ahead: this batch's range end and max event time   (before anything is emitted)
//   4. pack partials per shuffle bucket into bundles (every bucket gets one: in-band watermark)
//      and PutRecords them, retrying failed entries
//   5. rejected and late events to Firehose
// Any failure after retries throws: Lambda retries the batch, and the reducer's fence drops the
// partials it already applied. Records are processed through Powertools' BatchProcessor; an
// unexpected error on a record stops the batch there (nothing past it is emitted) and reports it
// and the rest as failures, so Lambda resumes from it.
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { compareSequenceNumbers, type InputRecord } from './core/input-decoding';
import { MapperBatch, type MapperOutput } from './core/mapper-batch';
import type { Job } from './core/job';
import { bucketOf, bucketPartitionKey, encodeBundleFromJson, partialJson } from './core/shuffle-format';
import { jobWatermark, parseProgressItems } from './core/progress';
import { createClients, type Clients } from './commons/clients';
import { deliver } from './commons/delivery';
import { ENV, requireEnv } from './commons/env';
import { METRIC, powertools } from './commons/powertools';
import { putShuffle, type ShuffleRecord } from './commons/shuffle';
import { StateStore } from './commons/state-store';
import { getJob } from '../jobs';

export interface MapperConfig {
  job: Job;
  stateTable: string;
  shuffleStream: string;
  shuffleBuckets: number;
  lateDelivery: string;
  rejectedDelivery: string;
}

export function mapperConfigFromEnv(env: NodeJS.ProcessEnv = process.env): MapperConfig {
  const buckets = Number(requireEnv(ENV.shuffleBuckets, env));
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > 1024) throw new Error(`${ENV.shuffleBuckets} must be an integer 1–1024, got '${env[ENV.shuffleBuckets]}'`);
  return {
    job: getJob(requireEnv(ENV.job, env)),
    stateTable: requireEnv(ENV.stateTable, env),
    shuffleStream: requireEnv(ENV.shuffleStream, env),
    shuffleBuckets: buckets,
    lateDelivery: requireEnv(ENV.lateDelivery, env),
    rejectedDelivery: requireEnv(ENV.rejectedDelivery, env),
  };
}

/** Checkpointed range ends kept after the checkpoint passed them (for redeliveries). */
const KEEP_OLD_ENDS = 8;

function finiteOrNull(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

/** Uncompressed JSON per bundle; compressed it is far below Kinesis' 1 MiB record limit. */
const BUNDLE_JSON_BYTES = 900 * 1024;

export function toInputRecord(record: KinesisStreamRecord): InputRecord {
  return {
    shardId: shardOf(record),
    sequenceNumber: record.kinesis.sequenceNumber,
    partitionKey: record.kinesis.partitionKey,
    data: Buffer.from(record.kinesis.data, 'base64'),
    arrivalTime: Math.round(record.kinesis.approximateArrivalTimestamp * 1000),
  };
}

/** eventID is '<shardId>:<sequenceNumber>'. */
export function shardOf(record: KinesisStreamRecord): string {
  const id = record.eventID;
  const colon = id.lastIndexOf(':');
  return colon > 0 ? id.slice(0, colon) : id;
}

/** Pack a batch's partials into shuffle records: per segment, one or more bundles per bucket. */
export function packBundles(config: MapperConfig, output: MapperOutput, previousMax: number): ShuffleRecord[] {
  const records: ShuffleRecord[] = [];
  for (const segment of output.segments) {
    const byBucket: string[][] = Array.from({ length: config.shuffleBuckets }, () => []);
    for (const partial of segment.partials) (byBucket[bucketOf(partial.key, config.shuffleBuckets)] as string[]).push(partialJson(partial));
    const max = Math.max(previousMax, segment.maxEventTime ?? Number.NEGATIVE_INFINITY);
    const header = { job: config.job.name, origin: segment.origin, progress: Number.isFinite(max) ? max : null };
    byBucket.forEach((texts, bucket) => {
      // Every bucket gets a bundle, even an empty one: it carries the shard's progress, without
      // which that bucket's watermark would stall.
      let chunk: string[] = [];
      let bytes = 0;
      const flush = () => {
        records.push({ partitionKey: bucketPartitionKey(bucket), data: encodeBundleFromJson({ ...header, bucket }, chunk) });
        chunk = [];
        bytes = 0;
      };
      for (const text of texts) {
        if (chunk.length > 0 && bytes + text.length > BUNDLE_JSON_BYTES) flush();
        chunk.push(text);
        bytes += text.length + 1;
      }
      flush();
    });
  }
  return records;
}

export function createMapperHandler(config: MapperConfig, clients: Clients = createClients()) {
  const { logger, metrics } = powertools('mapper', config.job.name);
  const store = new StateStore(clients.dynamo, config.stateTable);
  const processor = new BatchProcessor(EventType.KinesisDataStreams);

  const handle = async (event: KinesisStreamEvent, context: Context): Promise<KinesisStreamBatchResponse> => {
    const first = event.Records[0];
    if (!first) return { batchItemFailures: [] };
    const shardId = shardOf(first);
    const nowMs = Date.now();

    const { mappers, buckets, floor } = parseProgressItems(await store.readProgress(config.job.name));
    const watermark = jobWatermark(mappers, buckets, config.shuffleBuckets, nowMs, config.job, floor);
    const mine = mappers.find((m) => m.shardId === shardId);
    const firstSeq = first.kinesis.sequenceNumber;
    // Ends before this batch were passed by Lambda's checkpoint: those attempts completed.
    // Ends at or after this batch's start still matter for cutting; a few older ones are kept so
    // that a redelivery of an already checkpointed batch still finds its watermark.
    const recorded = mine?.pendingEnds ?? [];
    const pendingEnds = recorded.filter((p) => compareSequenceNumbers(p.end, firstSeq) >= 0);
    const olderEnds = recorded.filter((p) => compareSequenceNumbers(p.end, firstSeq) < 0).slice(-KEEP_OLD_ENDS);

    const options = { watermark, nowMs, cutAfter: pendingEnds };
    let batch = new MapperBatch(config.job, shardId, options);
    const added: InputRecord[] = [];
    let stoppedAt: string | undefined;
    const response = await processPartialResponse(
      event,
      async (record: KinesisStreamRecord) => {
        if (stoppedAt !== undefined) throw new Error(`not processed: record ${stoppedAt} before it failed`);
        const input = toInputRecord(record);
        try {
          batch.add(input);
          added.push(input);
        } catch (error) {
          stoppedAt = input.sequenceNumber;
          logger.error('unexpected error on a record; stopping the batch here', { sequenceNumber: input.sequenceNumber, error: error as Error });
          // The failed record may have been half-folded: rebuild from the records before it.
          batch = new MapperBatch(config.job, shardId, options);
          for (const ok of added) batch.add(ok);
          throw error;
        }
      },
      processor,
      { context, processInParallel: false, throwOnFullBatchFailure: true },
    );

    const output = batch.finish();
    const lastSeq = added[added.length - 1]?.sequenceNumber;
    if (lastSeq !== undefined) {
      const previousMax = mine?.maxEventTime ?? Number.NEGATIVE_INFINITY;
      // Write-ahead, before emitting: a retry will cut its segments at this end.
      await store.writeMapperProgress(config.job.name, {
        shardId,
        maxEventTime: Math.max(previousMax, output.maxEventTime ?? Number.NEGATIVE_INFINITY),
        updatedAt: Math.max(nowMs, mine?.updatedAt ?? 0),
        pendingEnds: pendingEnds.some((p) => p.end === lastSeq)
          ? [...olderEnds, ...pendingEnds]
          : [...olderEnds, ...pendingEnds, { end: lastSeq, watermark: finiteOrNull(batch.lastSegmentWatermark()) }],
      });
      const records = packBundles(config, output, previousMax);
      await putShuffle(clients.kinesis, config.shuffleStream, records);
      metrics.addMetric(METRIC.shuffleRecords, MetricUnit.Count, records.length);
    }
    await deliver(clients.firehose, config.rejectedDelivery, output.rejected);
    await deliver(clients.firehose, config.lateDelivery, output.late);

    metrics.addMetric(METRIC.events, MetricUnit.Count, output.stats.events);
    metrics.addMetric(METRIC.rejected, MetricUnit.Count, output.stats.rejected);
    metrics.addMetric(METRIC.late, MetricUnit.Count, output.stats.late);
    metrics.addMetric(METRIC.partials, MetricUnit.Count, output.stats.partials);
    logger.debug('mapper batch', { shardId, ...output.stats, segments: output.segments.length, watermark });
    return response;
  };

  return middy<KinesisStreamEvent, KinesisStreamBatchResponse>()
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics))
    .handler(handle);
}

let configured: ReturnType<typeof createMapperHandler> | undefined;

export const handler = (event: KinesisStreamEvent, context: Context): Promise<KinesisStreamBatchResponse> => {
  configured ??= createMapperHandler(mapperConfigFromEnv());
  return configured(event, context);
};
