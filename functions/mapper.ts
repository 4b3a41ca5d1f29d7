// Mapper Lambda (input stream → shuffle stream): an adapter from the Kinesis event to the
// protocol's mapper attempt (core/protocol/map-attempt.ts), with AWS clients behind its ports.
// Records go through Powertools' BatchProcessor, so an unexpected error on a record reports it and
// every later record as failed (nothing past it is emitted) and Lambda resumes from it.
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { METRIC, readRoleSettings, type MapperSettings } from './contract';
import type { InputRecord } from './core/input-decoding';
import type { Job } from './core/job';
import { MapperAttempt, RecordAfterFailure, type MapperPorts } from './core/protocol/map-attempt';
import { REPLAY_EVENT_FIELD, type ReplayRequest, type ReplayResponse } from './core/protocol/replay';
import { compareSequenceNumbers } from './core/positions';
import { createClients, type Clients } from './commons/clients';
import { configuredOnFirstCall } from './commons/lambda-entry';
import { outputPort } from './commons/delivery';
import { checkJobSetting } from './commons/job-setting';
import { powertools } from './commons/powertools';
import { shufflePort } from './commons/shuffle';
import { StateStore } from './commons/state-store';

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

export function createMapperHandler(job: Job, settings: MapperSettings, clients: Clients = createClients()) {
  checkJobSetting(job, settings.job);
  const { logger, metrics } = powertools('mapper', job.name);
  const ports: MapperPorts = {
    state: new StateStore(clients.dynamo, settings.stateTable),
    shuffle: shufflePort(clients.kinesis, settings.shuffleStream),
    output: outputPort(clients.firehose, { late: settings.lateDelivery, rejected: settings.rejectedDelivery }),
  };
  const setup = { job, shuffleBuckets: settings.shuffleBuckets };
  const processor = new BatchProcessor(EventType.KinesisDataStreams);

  /** `npm run replay`: records of a skipped run, through the same protocol (core/protocol/replay.ts). Any failure throws. */
  const replay = async (event: KinesisStreamEvent, request: ReplayRequest): Promise<ReplayResponse> => {
    const none = { records: 0, partials: 0, shuffleRecords: 0, gapClosed: false };
    const begun = await MapperAttempt.beginReplay(ports.state, setup, request.shardId, request, Date.now());
    if (!begun.attempt) return { outcome: begun.plan.kind === 'refused' ? 'refused' : 'nothing', reason: 'reason' in begun.plan ? begun.plan.reason : undefined, ...none };
    for (const record of event.Records) {
      if (shardOf(record) !== request.shardId) throw new Error(`replay: record ${record.eventID} is not of shard ${request.shardId}`);
      begun.attempt.add(toInputRecord(record));
    }
    const report = await begun.attempt.finish(ports);
    const last = event.Records[event.Records.length - 1]?.kinesis.sequenceNumber;
    const gapClosed = begun.plan.kind === 'replay' && last !== undefined && compareSequenceNumbers(last, begun.plan.gap.to) >= 0;
    metrics.addMetric(METRIC.shuffleRecords, MetricUnit.Count, report.shuffleRecords);
    metrics.addMetric(METRIC.partials, MetricUnit.Count, report.stats.partials);
    logger.info('replayed', { shardId: request.shardId, first: event.Records[0]?.kinesis.sequenceNumber, last, ...report.stats, gapClosed });
    return { outcome: 'replayed', records: report.stats.records, partials: report.stats.partials, shuffleRecords: report.shuffleRecords, gapClosed };
  };

  const handle = async (event: KinesisStreamEvent, context: Context): Promise<KinesisStreamBatchResponse> => {
    const request = (event as unknown as Record<string, unknown>)[REPLAY_EVENT_FIELD] as ReplayRequest | undefined;
    if (request) return (await replay(event, request)) as unknown as KinesisStreamBatchResponse;
    const first = event.Records[0];
    if (!first) return { batchItemFailures: [] };
    const attempt = await MapperAttempt.begin(ports.state, setup, shardOf(first), first.kinesis.sequenceNumber, Date.now());
    const response = await processPartialResponse(
      event,
      async (record: KinesisStreamRecord) => {
        try {
          attempt.add(toInputRecord(record));
        } catch (error) {
          if (!(error instanceof RecordAfterFailure)) logger.error('unexpected error on a record; the batch stops here', { sequenceNumber: record.kinesis.sequenceNumber, error: error as Error });
          throw error;
        }
      },
      processor,
      { context, processInParallel: false, throwOnFullBatchFailure: true },
    );
    const report = await attempt.finish(ports);
    metrics.addMetric(METRIC.shuffleRecords, MetricUnit.Count, report.shuffleRecords);
    metrics.addMetric(METRIC.events, MetricUnit.Count, report.stats.events);
    metrics.addMetric(METRIC.rejected, MetricUnit.Count, report.stats.rejected);
    metrics.addMetric(METRIC.late, MetricUnit.Count, report.stats.late);
    metrics.addMetric(METRIC.partials, MetricUnit.Count, report.stats.partials);
    if (report.gapsRecorded > 0) {
      metrics.addMetric(METRIC.gapsRecorded, MetricUnit.Count, report.gapsRecorded);
      logger.warn('a batch of this shard was skipped after its retries ran out: gap recorded, the watermark is held until `npm run replay`', { shardId: shardOf(first), gaps: report.gapsRecorded });
    }
    logger.debug('mapper batch', { ...report.stats, segments: report.segments, watermark: report.watermark });
    return response;
  };

  return middy<KinesisStreamEvent, KinesisStreamBatchResponse>().use(injectLambdaContext(logger)).use(logMetrics(metrics)).handler(handle);
}

/** The Lambda handler of `job`: configured from the environment on the first invocation. */
export function mapperLambda(job: Job): (event: KinesisStreamEvent, context: Context) => Promise<KinesisStreamBatchResponse> {
  return configuredOnFirstCall(() => createMapperHandler(job, readRoleSettings('mapper')));
}
