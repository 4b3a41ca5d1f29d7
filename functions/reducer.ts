// Reducer Lambda (shuffle stream → window state). What happens to a batch, in order:
//   1. decode bundles (through Powertools' BatchProcessor; a bad record stops the batch there)
//   2. read the job's progress partition: the watermark for late checks
//   3. group partials by state item, in arrival order; read every item once (BatchGetItem)
//   4. per item: fold through the high-water-mark fence (core/state.ts) and write once, on the
//      condition that the version is still the one read; a lost race re-reads and folds again
//   5. late partials → late/; in 'update' mode the new results → results/
//   6. record the applied progress per bucket (only now: progress must never run ahead of state)
//   7. nudge the closer (async invoke), at most every few seconds per container
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import middy from '@middy/core';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import type { Job } from './core/job';
import { type Bundle, decodeBundle } from './core/shuffle-format';
import { advanceBuckets, jobWatermark, parseProgressItems } from './core/progress';
import type { LatePartialRecord, ResultRecord } from './core/output-records';
import { foldPartials, fromStoredItem, type IncomingPartial, itemKeyFor, toStoredItem, windowResult, type WindowItem } from './core/state';
import { createClients, type Clients } from './commons/clients';
import { forEachLimit } from './commons/concurrency';
import { deliver } from './commons/delivery';
import { ENV, requireEnv } from './commons/env';
import { METRIC, powertools } from './commons/powertools';
import { itemId, StateStore } from './commons/state-store';
import { getJob } from '../jobs';

export interface ReducerConfig {
  job: Job;
  stateTable: string;
  shuffleBuckets: number;
  resultsDelivery: string;
  lateDelivery: string;
  closerFunction?: string;
  closedRetentionDays: number;
}

export function reducerConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ReducerConfig {
  return {
    job: getJob(requireEnv(ENV.job, env)),
    stateTable: requireEnv(ENV.stateTable, env),
    shuffleBuckets: Number(requireEnv(ENV.shuffleBuckets, env)),
    resultsDelivery: requireEnv(ENV.resultsDelivery, env),
    lateDelivery: requireEnv(ENV.lateDelivery, env),
    ...(env[ENV.closerFunction] ? { closerFunction: env[ENV.closerFunction] as string } : {}),
    closedRetentionDays: Number(env[ENV.closedRetentionDays] ?? 7),
  };
}

/** Attempts at one item's conditional write before the batch fails (and Lambda retries it). */
const MAX_WRITE_ATTEMPTS = 8;
/** Items folded and written concurrently. */
const WRITE_CONCURRENCY = 16;
const CLOSER_NUDGE_INTERVAL_MS = 5_000;

interface Group {
  pk: string;
  sk: string;
  partials: IncomingPartial[];
}

/** Group partials by state item, keeping arrival order within each group. */
export function groupPartials(job: Job, bundles: readonly Bundle[]): Group[] {
  const groups = new Map<string, Group>();
  for (const bundle of bundles) {
    for (const partial of bundle.partials) {
      if (job.window.type === 'session') {
        add(partial.key, { origin: bundle.origin, key: partial.key, windows: partial.windows }, partial.windows[0]);
      } else {
        // Tumbling/hopping partials carry one window each; split defensively all the same.
        for (const w of partial.windows) add(partial.key, { origin: bundle.origin, key: partial.key, windows: [w] }, w);
      }
    }
  }
  function add(key: string, incoming: IncomingPartial, window: { start: number; end: number } | undefined): void {
    if (!window) return;
    const { pk, sk } = itemKeyFor(job, key, window);
    const id = itemId(pk, sk);
    let group = groups.get(id);
    if (!group) {
      group = { pk, sk, partials: [] };
      groups.set(id, group);
    }
    group.partials.push(incoming);
  }
  return [...groups.values()];
}


function currentResults(job: Job, item: WindowItem, nowMs: number): ResultRecord[] {
  if (item.status !== 'OPEN') return [];
  return (item.window ? [item.window] : (item.sessions ?? [])).map((acc) => windowResult(job, item, acc, false, nowMs));
}

export function createReducerHandler(config: ReducerConfig, clients: Clients = createClients()) {
  const { logger, metrics } = powertools('reducer', config.job.name);
  const store = new StateStore(clients.dynamo, config.stateTable);
  const processor = new BatchProcessor(EventType.KinesisDataStreams);
  let lastNudge = 0;

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
    const job = config.job;
    const nowMs = Date.now();
    const { mappers, buckets, floor } = parseProgressItems(await store.readProgress(job.name));
    const watermark = jobWatermark(mappers, buckets, config.shuffleBuckets, nowMs, job, floor);

    const groups = groupPartials(job, bundles.filter((b) => b.job === job.name));
    const current = await store.getMany(groups);
    const late: LatePartialRecord[] = [];
    const updates: ResultRecord[] = [];
    let writes = 0;
    let duplicates = 0;

    // Fold everything first and send the late partials *before* any state write: once a write
    // lands, the fence skips that partial on a retry, and its late windows could not be rebuilt.
    const folded = groups.map((group) => {
      const stored = current.get(itemId(group.pk, group.sk));
      const item = stored ? fromStoredItem(job, stored) : undefined;
      return { group, item, outcome: foldPartials(job, item, group.pk, group.sk, group.partials, watermark, nowMs) };
    });
    for (const { item, outcome } of folded) {
      late.push(...outcome.late);
      duplicates += outcome.duplicates;
      // A redelivered batch changes nothing, but its first delivery may have died between the
      // write and the emission: emit the current result again (same version, deduplicated).
      if (job.emit === 'update' && item && !outcome.changed && outcome.duplicates > 0) updates.push(...currentResults(job, item, nowMs));
    }
    await deliver(clients.firehose, config.lateDelivery, late);
    const lateAfterRaces: LatePartialRecord[] = [];

    await forEachLimit(folded, WRITE_CONCURRENCY, async ({ group, item: firstRead, outcome: firstOutcome }) => {
      let item = firstRead;
      let outcome = firstOutcome;
      for (let attempt = 1; outcome.changed; attempt++) {
        writes++;
        if (await store.putIfVersion(toStoredItem(job, outcome.item, nowMs, config.closedRetentionDays), item?.version)) {
          if (job.emit === 'update') updates.push(...currentResults(job, outcome.item, nowMs));
          return;
        }
        if (attempt >= MAX_WRITE_ATTEMPTS) throw new Error(`state item ${group.pk} ${group.sk}: lost ${attempt} write races in a row; failing the batch so Lambda retries it`);
        const stored = await store.get(group);
        item = stored ? fromStoredItem(job, stored) : undefined;
        outcome = foldPartials(job, item, group.pk, group.sk, group.partials, watermark, nowMs);
        // A race lost to the closer turns the rest into late partials; send only the new ones.
        const known = new Set(firstOutcome.late.map((l) => `${l.windowStart}|${l.firstSequenceNumber}`));
        lateAfterRaces.push(...outcome.late.filter((l) => !known.has(`${l.windowStart}|${l.firstSequenceNumber}`)));
      }
    });

    await deliver(clients.firehose, config.lateDelivery, lateAfterRaces);
    late.push(...lateAfterRaces);
    await deliver(clients.firehose, config.resultsDelivery, updates);
    await store.writeBucketProgress(
      job.name,
      advanceBuckets(buckets, bundles.map((b) => ({ bucket: b.bucket, shardId: b.origin.shardId, progress: b.progress })), nowMs),
    );

    metrics.addMetric(METRIC.stateWrites, MetricUnit.Count, writes);
    metrics.addMetric(METRIC.stateConflicts, MetricUnit.Count, store.requests.conflicts);
    metrics.addMetric(METRIC.duplicatePartials, MetricUnit.Count, duplicates);
    metrics.addMetric(METRIC.latePartials, MetricUnit.Count, late.length);
    logger.debug('reducer batch', { bundles: bundles.length, groups: groups.length, writes, duplicates, late: late.length, watermark });

    if (config.closerFunction && nowMs - lastNudge >= CLOSER_NUDGE_INTERVAL_MS) {
      lastNudge = nowMs;
      try {
        await clients.lambda.send(new InvokeCommand({ FunctionName: config.closerFunction, InvocationType: 'Event', Payload: Buffer.from('{"source":"reducer"}') }));
      } catch (error) {
        // The schedule closes windows anyway; a failed nudge only delays them.
        logger.warn('could not nudge the closer', { error: error as Error });
      }
    }
    return response;
  };

  return middy<KinesisStreamEvent, KinesisStreamBatchResponse>()
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics))
    .handler(handle);
}

let configured: ReturnType<typeof createReducerHandler> | undefined;

export const handler = (event: KinesisStreamEvent, context: Context): Promise<KinesisStreamBatchResponse> => {
  configured ??= createReducerHandler(reducerConfigFromEnv());
  return configured(event, context);
};
