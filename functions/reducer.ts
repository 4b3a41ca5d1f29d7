// Reducer Lambda (shuffle stream → window state): an adapter from the Kinesis event to the
// protocol's reducer batch (core/protocol/reduce-batch.ts), with AWS clients behind its ports, and
// a nudge to the closer (async invoke, at most every few seconds per container) so windows close
// soon after their data is in. Bundles are decoded through Powertools' BatchProcessor: an
// undecodable record stops the batch there.
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import middy from '@middy/core';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { METRIC, readRoleSettings, type ReducerSettings } from './contract';
import type { Job } from './core/job';
import { reduceBatch, type ReducerPorts } from './core/protocol/reduce-batch';
import { type Bundle, decodeBundle } from './core/shuffle-format';
import { createClients, type Clients } from './commons/clients';
import { configuredOnFirstCall } from './commons/lambda-entry';
import { outputPort } from './commons/delivery';
import { checkJobSetting } from './commons/job-setting';
import { powertools } from './commons/powertools';
import { StateStore } from './commons/state-store';

const CLOSER_NUDGE_INTERVAL_MS = 5_000;

export function createReducerHandler(job: Job, settings: ReducerSettings, clients: Clients = createClients()) {
  checkJobSetting(job, settings.job);
  const { logger, metrics } = powertools('reducer', job.name);
  const store = new StateStore(clients.dynamo, settings.stateTable);
  const ports: ReducerPorts = { state: store, output: outputPort(clients.firehose, { results: settings.resultsDelivery, late: settings.lateDelivery }) };
  const setup = { job, shuffleBuckets: settings.shuffleBuckets };
  const processor = new BatchProcessor(EventType.KinesisDataStreams);
  let lastNudge = 0;

  const nudgeCloser = async (nowMs: number): Promise<void> => {
    if (!settings.closerFunction || nowMs - lastNudge < CLOSER_NUDGE_INTERVAL_MS) return;
    lastNudge = nowMs;
    try {
      await clients.lambda.send(new InvokeCommand({ FunctionName: settings.closerFunction, InvocationType: 'Event', Payload: Buffer.from('{"source":"reducer"}') }));
    } catch (error) {
      // The schedule closes windows anyway; a failed nudge only delays them.
      logger.warn('could not nudge the closer', { error: error as Error });
    }
  };

  const handle = async (event: KinesisStreamEvent, context: Context): Promise<KinesisStreamBatchResponse> => {
    const bundles: Bundle[] = [];
    let stopped = false;
    const response = await processPartialResponse(
      event,
      async (record: KinesisStreamRecord) => {
        if (stopped) throw new Error('not processed: an earlier record in the batch failed');
        try {
          bundles.push(decodeBundle(Buffer.from(record.kinesis.data, 'base64')));
        } catch (error) {
          stopped = true;
          logger.error('undecodable shuffle record', { sequenceNumber: record.kinesis.sequenceNumber, error: error as Error });
          throw error;
        }
      },
      processor,
      { context, processInParallel: false, throwOnFullBatchFailure: true },
    );
    const nowMs = Date.now();
    const report = await reduceBatch(ports, setup, bundles, nowMs);
    metrics.addMetric(METRIC.stateWrites, MetricUnit.Count, report.writes);
    metrics.addMetric(METRIC.stateConflicts, MetricUnit.Count, store.requests.conflicts);
    metrics.addMetric(METRIC.duplicatePartials, MetricUnit.Count, report.duplicates);
    metrics.addMetric(METRIC.latePartials, MetricUnit.Count, report.late);
    logger.debug('reducer batch', { bundles: bundles.length, ...report });
    await nudgeCloser(nowMs);
    return response;
  };

  return middy<KinesisStreamEvent, KinesisStreamBatchResponse>().use(injectLambdaContext(logger)).use(logMetrics(metrics)).handler(handle);
}

/** The Lambda handler of `job`: configured from the environment on the first invocation. */
export function reducerLambda(job: Job): (event: KinesisStreamEvent, context: Context) => Promise<KinesisStreamBatchResponse> {
  return configuredOnFirstCall(() => createReducerHandler(job, readRoleSettings('reducer')));
}
