// Window closer Lambda (a one-minute schedule, and nudges from the reducer): an adapter from the
// invocation to the protocol's closer run (core/protocol/close-run.ts), with AWS clients behind its
// ports. `{ "drain": true }` closes every open window: the end of a bounded input.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { METRIC, readRoleSettings, type CloserSettings } from './contract';
import type { Job } from './core/job';
import { closeRun, type CloserPorts, type CloserSummary } from './core/protocol/close-run';
import { createClients, type Clients } from './commons/clients';
import { configuredOnFirstCall } from './commons/lambda-entry';
import { outputPort } from './commons/delivery';
import { checkJobSetting } from './commons/job-setting';
import { powertools } from './commons/powertools';
import { StateStore } from './commons/state-store';

export type { CloserSummary } from './core/protocol/close-run';

export interface CloserEvent {
  /** Close every open window regardless of the watermark (end of a bounded input). */
  drain?: boolean;
}

/** One closer run against AWS (the harnesses call this directly). */
export function createCloser(job: Job, settings: CloserSettings, clients: Clients = createClients()): (event?: CloserEvent) => Promise<CloserSummary> {
  checkJobSetting(job, settings.job);
  const ports: CloserPorts = {
    state: new StateStore(clients.dynamo, settings.stateTable),
    output: outputPort(clients.firehose, { results: settings.resultsDelivery }),
    now: Date.now,
  };
  const setup = { job, shuffleBuckets: settings.shuffleBuckets, closedRetentionDays: settings.closedRetentionDays };
  return (event = {}) => closeRun(ports, setup, { drain: event.drain === true });
}

export function createCloserHandler(job: Job, settings: CloserSettings, clients: Clients = createClients()) {
  const { logger, metrics } = powertools('closer', job.name);
  const close = createCloser(job, settings, clients);
  return middy<CloserEvent, CloserSummary>()
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics))
    .handler(async (event: CloserEvent) => {
      const summary = await close(event && typeof event === 'object' && 'drain' in event ? { drain: event.drain === true } : {});
      metrics.addMetric(METRIC.windowsClosed, MetricUnit.Count, summary.closed);
      metrics.addMetric(METRIC.openGaps, MetricUnit.Count, summary.openGaps);
      logger.info('closer run', { ...summary });
      return summary;
    });
}

/** The Lambda handler of `job`: configured from the environment on the first invocation. */
export function closerLambda(job: Job): (event: CloserEvent, context: Context) => Promise<CloserSummary> {
  return configuredOnFirstCall(() => createCloserHandler(job, readRoleSettings('closer')));
}
