// Window closer Lambda (schedule + nudges from the reducer). What happens on each run:
//   1. the job watermark from the progress partition (or +∞ when invoked with { drain: true },
//      which closes everything: end of a bounded input)
//   2. the open-windows index → the items whose close time (end + allowed lateness) has come
//   3. tumbling/hopping: emit the final result, then flip OPEN → CLOSED with one conditional
//      write on the version emitted. A reducer write in between makes the flip fail: the closer
//      re-reads and emits again with the higher version (downstream keeps the highest per
//      resultId). One write per window instead of two (OPEN → CLOSING → CLOSED).
//   4. sessions: freeze due sessions (conditional write), emit them, forget them (second write);
//      a crash in between leaves them in `closing`, and the next run emits them again.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Job } from './core/job';
import { jobWatermark, parseProgressItems } from './core/progress';
import { iso, type ResultRecord } from './core/output-records';
import {
  beginSessionClose,
  finishSessionClose,
  fromStoredItem,
  itemCloseAt,
  openPartitions,
  SESSION_SK,
  toStoredItem,
  windowResult,
  type WindowAccumulation,
  type WindowItem,
} from './core/state';
import { createClients, type Clients } from './commons/clients';
import { forEachLimit } from './commons/concurrency';
import { deliver } from './commons/delivery';
import { ENV, requireEnv } from './commons/env';
import { METRIC, powertools } from './commons/powertools';
import { type ItemKey, StateStore } from './commons/state-store';
import { getJob } from '../jobs';

export interface CloserConfig {
  job: Job;
  stateTable: string;
  shuffleBuckets: number;
  resultsDelivery: string;
  closedRetentionDays: number;
}

export function closerConfigFromEnv(env: NodeJS.ProcessEnv = process.env): CloserConfig {
  return {
    job: getJob(requireEnv(ENV.job, env)),
    stateTable: requireEnv(ENV.stateTable, env),
    shuffleBuckets: Number(requireEnv(ENV.shuffleBuckets, env)),
    resultsDelivery: requireEnv(ENV.resultsDelivery, env),
    closedRetentionDays: Number(env[ENV.closedRetentionDays] ?? 7),
  };
}

export interface CloserEvent {
  /** Close every open window regardless of the watermark (end of a bounded input). */
  drain?: boolean;
}

export interface CloserSummary {
  watermark: string | null;
  due: number;
  closed: number;
  emitted: number;
  races: number;
}

const MAX_ATTEMPTS = 8;
const WRITE_CONCURRENCY = 16;


export function createCloser(config: CloserConfig, clients: Clients = createClients()) {
  const { job } = config;
  const store = new StateStore(clients.dynamo, config.stateTable);

  /** Close one item; returns the number of results emitted. */
  async function closeItem(key: ItemKey, watermark: number, summary: CloserSummary): Promise<void> {
    let stored = await store.get(key);
    for (let attempt = 1; stored; attempt++) {
      if (attempt > MAX_ATTEMPTS) throw new Error(`closing ${key.pk} ${key.sk}: lost ${MAX_ATTEMPTS} races in a row; the next run retries`);
      const nowMs = Date.now();
      const item = fromStoredItem(job, stored);
      const closeAt = itemCloseAt(job, item);
      if (closeAt === undefined || closeAt > watermark) return;
      if (key.sk === SESSION_SK) {
        if (await closeSessions(item, watermark, nowMs, summary)) return;
      } else {
        const window = item.window;
        if (!window) return;
        const result = windowResult(job, item, window, true, nowMs);
        await deliver(clients.firehose, config.resultsDelivery, [result]);
        summary.emitted++;
        const closed: WindowItem = { ...item, status: 'CLOSED' };
        if (await store.putIfVersion(toStoredItem(job, closed, nowMs, config.closedRetentionDays), item.version)) {
          summary.closed++;
          return;
        }
      }
      summary.races++;
      stored = await store.get(key);
    }
  }

  async function closeSessions(item: WindowItem, watermark: number, nowMs: number, summary: CloserSummary): Promise<boolean> {
    let frozen = item;
    if ((item.closing ?? []).length === 0) {
      const next = beginSessionClose(job, item, watermark);
      if (!next) return true;
      if (!(await store.putIfVersion(toStoredItem(job, next, nowMs, config.closedRetentionDays), item.version))) return false;
      frozen = next;
    }
    const results: ResultRecord[] = (frozen.closing ?? []).map((s) => windowResult(job, frozen, s, true, nowMs));
    await deliver(clients.firehose, config.resultsDelivery, results);
    summary.emitted += results.length;
    const done = finishSessionClose(frozen);
    if (!(await store.putIfVersion(toStoredItem(job, done, nowMs, config.closedRetentionDays), frozen.version))) return false;
    summary.closed += results.length;
    return (done.sessions ?? []).every((s) => s.end + job.allowedLatenessMs > watermark);
  }

  return async function close(event: CloserEvent = {}): Promise<CloserSummary> {
    const nowMs = Date.now();
    const { mappers, buckets, floor } = parseProgressItems(await store.readProgress(job.name));
    const watermark = event.drain ? Number.POSITIVE_INFINITY : jobWatermark(mappers, buckets, config.shuffleBuckets, nowMs, job, floor);
    // Record it before acting on it: mappers and reducers then never decide with less.
    if (Number.isFinite(watermark) && watermark > floor) await store.raiseWatermark(job.name, watermark);
    const summary: CloserSummary = { watermark: Number.isFinite(watermark) ? iso(watermark) : event.drain ? 'drain' : null, due: 0, closed: 0, emitted: 0, races: 0 };
    if (watermark === Number.NEGATIVE_INFINITY) return summary;
    const due: ItemKey[] = [];
    for (const partition of openPartitions(job.name)) due.push(...(await store.dueItems(partition, watermark)));
    summary.due = due.length;
    const sessions = due.filter((key) => key.sk === SESSION_SK);
    const windows = due.filter((key) => key.sk !== SESSION_SK);

    // Fast path for tumbling/hopping: one batched read, one bulk emission, one write per window.
    const read = await store.getMany(windows);
    const closable = [...read.values()]
      .map((stored) => fromStoredItem(job, stored))
      .filter((item) => {
        const closeAt = itemCloseAt(job, item);
        return item.window !== undefined && closeAt !== undefined && closeAt <= watermark;
      });
    const emittedAt = Date.now();
    await deliver(clients.firehose, config.resultsDelivery, closable.map((item) => windowResult(job, item, item.window as WindowAccumulation, true, emittedAt)));
    summary.emitted += closable.length;
    await forEachLimit(closable, WRITE_CONCURRENCY, async (item) => {
      const closed: WindowItem = { ...item, status: 'CLOSED' };
      if (await store.putIfVersion(toStoredItem(job, closed, Date.now(), config.closedRetentionDays), item.version)) {
        summary.closed++;
      } else {
        summary.races++;
        await closeItem(item, watermark, summary);
      }
    });
    for (const key of sessions) await closeItem(key, watermark, summary);
    return summary;
  };
}

export function createCloserHandler(config: CloserConfig, clients: Clients = createClients()) {
  const { logger, metrics } = powertools('closer', config.job.name);
  const close = createCloser(config, clients);
  return middy<CloserEvent, CloserSummary>()
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics))
    .handler(async (event: CloserEvent) => {
      const summary = await close(event && typeof event === 'object' && 'drain' in event ? { drain: event.drain === true } : {});
      metrics.addMetric(METRIC.windowsClosed, MetricUnit.Count, summary.closed);
      logger.info('closer run', { ...summary });
      return summary;
    });
}

let configured: ReturnType<typeof createCloserHandler> | undefined;

export const handler = (event: CloserEvent, context: Context): Promise<CloserSummary> => {
  configured ??= createCloserHandler(closerConfigFromEnv());
  return configured(event, context);
};
