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

  const handle = async (event: KinesisStreamEvent, context: Context): Promise<KinesisStreamBatchResponse> => {
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
    logger.debug('mapper batch', { ...report.stats, segments: report.segments, watermark: report.watermark });
    return response;
  };

  return middy<KinesisStreamEvent, KinesisStreamBatchResponse>().use(injectLambdaContext(logger)).use(logMetrics(metrics)).handler(handle);
}

/** The Lambda handler of `job`: configured from the environment on the first invocation. */
export function mapperLambda(job: Job): (event: KinesisStreamEvent, context: Context) => Promise<KinesisStreamBatchResponse> {
  return configuredOnFirstCall(() => createMapperHandler(job, readRoleSettings('mapper')));
}
