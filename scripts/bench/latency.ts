// Bench: event → result latency in `update` mode, on a live stream. The real mapper and reducer
// handlers run behind the embedded cloud's own Kinesis event source mapping pollers (the ones the
// local cloud wires from the template), configured like the deployed stack: batch sizes, batching
// windows, bisect, partial batch responses. A producer sends events at a steady rate with event
// time = send time; every event's send time is logged.
//
// Latency of an event = emittedAt of the first result version that includes it − its send time.
// Events of a key share one partition key, so they reach the reducer in send order: the k-th
// event of (key, window) is included in the first update result whose eventCount ≥ k. emittedAt is
// the reducer's clock when its batch started; "delivered" uses the end of the reducer invocation
// that emitted it instead (the result has then been handed to Firehose). S3 visibility adds
// Firehose's buffer interval (60 s minimum with dynamic partitioning) on top of both.
//
// The same run doubles as a live-rate sample for the cost model: the DynamoDB writes and
// invocations a real-time stream causes with the deployed batching windows (not full batches).
import type { KinesisStreamEvent } from 'aws-lambda';
import { PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import type { Job } from '../../functions/core/job';
import { SETTINGS } from '../../infra/config';
import sensorAverages from '../../jobs/sensor-averages';
import { KinesisEventSourceMapping, newMappingUuid } from '../../local/esm/kinesis-esm';
import type { InvokeResult, Invoker } from '../../local/lambda/types';
import { fakeContext } from '../../test/support/factories';
import { PipelineHarness } from '../../test/support/pipeline-harness';
import { LOG_BYTES_PER_INVOCATION, scaleSizes, type CostInputs, type RecordSizes } from './cost';
import { InvocationTimer, percentile, PutRecorder, tableUnits, unitsBetween } from './recorder';
import { DEFAULT_SHUFFLE_BUCKETS } from './workload-w';

export interface LatencyStats {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface LatencyResult {
  ratePerSec: number;
  seconds: number;
  sensors: number;
  events: number;
  mapperBatchingWindowSec: number;
  reducerBatchingWindowSec: number;
  pollIntervalMs: number;
  enhancedFanOut: boolean;
  /** Events whose first covering update result was found (must equal `events`). */
  eventsMatched: number;
  /** ms from send to the emittedAt of the first result version including the event. */
  emittedAtMs: LatencyStats;
  /** ms from send to the end of the reducer invocation that emitted that result. */
  deliveredMs: LatencyStats;
  mapperInvocations: number;
  reducerInvocations: number;
  updateResults: number;
  stateWrites: number;
  stateWritesPerEvent: number;
  /** The run as the cost model reads it — in `final` mode terms (update emissions kept apart). */
  costInputs: CostInputs;
  /** Records the update emissions added to the results delivery stream. */
  updateEmissions: RecordSizes;
}

const MAPPER = 'mapper';
const REDUCER = 'reducer';
const ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/';
const CLOSER_RUNS_PER_HOUR = 60;

function stats(values: readonly number[]): LatencyStats {
  return { p50: percentile(values, 0.5), p95: percentile(values, 0.95), p99: percentile(values, 0.99), max: values.length ? Math.max(...values) : Number.NaN };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function benchLatency(
  options: {
    ratePerSec?: number;
    seconds?: number;
    sensors?: number;
    mapperBatchingWindowSec?: number;
    reducerBatchingWindowSec?: number;
    mapperBatchSize?: number;
    reducerBatchSize?: number;
    /** Both mappings on enhanced fan-out consumers: records pushed by the local Kinesis (~70 ms), not polled. */
    enhancedFanOut?: boolean;
    pollIntervalMs?: number;
    log?: (line: string) => void;
  } = {},
): Promise<LatencyResult> {
  const rate = options.ratePerSec ?? 278;
  const seconds = options.seconds ?? 60;
  const sensors = options.sensors ?? 1_000;
  const mapperWindow = options.mapperBatchingWindowSec ?? SETTINGS.mapperBatchingWindow.defaultValue;
  const reducerWindow = options.reducerBatchingWindowSec ?? SETTINGS.reducerBatchingWindow.defaultValue;
  // Lambda polls a caught-up shard about once a second.
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  const log = options.log ?? (() => undefined);

  const job: Job = { ...sensorAverages, name: 'sensor-updates', emit: 'update' };
  const h = await new PipelineHarness({ job, inputShards: SETTINGS.inputShards.defaultValue, shuffleBuckets: DEFAULT_SHUFFLE_BUCKETS }).start();
  const recorder = new PutRecorder().watch(h.clients);
  const timer = new InvocationTimer();
  const reducerSpans: { start: number; end: number }[] = [];
  let invocationNo = 0;

  // The ESM pollers call Lambda through this: the handlers run in this process.
  const invoker: Invoker = {
    async invoke(functionName: string, payload: string): Promise<InvokeResult> {
      const handler = functionName === MAPPER ? h.mapper : h.reducer;
      const start = Date.now();
      const t0 = performance.now();
      const base = { requestId: `bench-${++invocationNo}`, timedOut: false, invocation: invocationNo };
      try {
        const response = await handler(JSON.parse(payload) as KinesisStreamEvent, fakeContext());
        return { ...base, ok: true, payload: JSON.stringify(response), durationMs: performance.now() - t0 };
      } catch (error) {
        const e = { errorType: (error as Error)?.name ?? 'Error', errorMessage: String((error as Error)?.message ?? error) };
        log(`  ${functionName} failed: ${e.errorMessage}`);
        return { ...base, ok: false, payload: JSON.stringify(e), functionError: 'Unhandled', error: e, durationMs: performance.now() - t0 };
      } finally {
        timer.add(functionName, performance.now() - t0);
        if (functionName === REDUCER) reducerSpans.push({ start, end: Date.now() });
      }
    },
  };
  // Enhanced fan-out: the local Kinesis's push subscriptions, when this build of the local cloud has them.
  const subscriptions = options.enhancedFanOut ? (h.server as { kinesisConsumers?: { subscribe(stream: string, listener: () => void): () => void } }).kinesisConsumers : undefined;
  if (options.enhancedFanOut && !subscriptions) throw new Error('this local Kinesis has no enhanced fan-out push subscriptions');
  const mapping = (functionName: string, stream: string, batchSize: number, windowSec: number) =>
    new KinesisEventSourceMapping(
      {
        uuid: newMappingUuid(),
        functionName,
        functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
        streamName: stream,
        streamArn: `${ARN}${stream}`,
        ...(subscriptions ? { consumerArn: `${ARN}${stream}/consumer/bench:1` } : {}),
        batchSize,
        maxBatchingWindowSeconds: windowSec,
        startingPosition: 'TRIM_HORIZON',
        parallelizationFactor: 1,
        bisectBatchOnFunctionError: true,
        maximumRetryAttempts: SETTINGS.retryAttempts.defaultValue ?? -1,
        maximumRecordAgeSeconds: -1,
        reportBatchItemFailures: true,
      },
      { kinesis: h.clients.kinesis, invoker, region: 'us-east-1', idlePollMs: pollIntervalMs, log: () => undefined, ...(subscriptions ? { subscriptions } : {}) },
    );
  const mapperEsm = mapping(MAPPER, h.names.input, options.mapperBatchSize ?? SETTINGS.mapperBatchSize.defaultValue, mapperWindow);
  const reducerEsm = mapping(REDUCER, h.names.shuffle, options.reducerBatchSize ?? SETTINGS.reducerBatchSize.defaultValue, reducerWindow);
  let polling = true;
  const stopPolling = async () => {
    if (!polling) return;
    polling = false;
    await mapperEsm.stop();
    await reducerEsm.stop();
  };

  try {
    const table = h.names.table;
    h.server.resetStats();
    const u0 = tableUnits(h.server.stats(), table);
    await mapperEsm.start();
    await reducerEsm.start();

    // Produce: a PutRecords every 100 ms, event time = send time, partition key = sensor.
    const sent: { id: string; ordinal: number; sentMs: number }[] = [];
    const ordinals = new Map<string, number>();
    const tickMs = 100;
    const t0 = Date.now();
    let cursor = 0;
    for (let tick = 0; tick * tickMs < seconds * 1000; tick++) {
      await sleep(Math.max(0, t0 + tick * tickMs - Date.now()));
      const n = Math.floor((rate * (tick + 1) * tickMs) / 1000) - Math.floor((rate * tick * tickMs) / 1000);
      const now = Date.now();
      const windowStart = now - (now % 300_000);
      const entries: PutRecordsRequestEntry[] = [];
      for (let j = 0; j < n; j++) {
        const sensorId = `sensor-${String(cursor++ % sensors).padStart(4, '0')}`;
        const id = `${sensorId}|${windowStart}`;
        const ordinal = (ordinals.get(id) ?? 0) + 1;
        ordinals.set(id, ordinal);
        sent.push({ id, ordinal, sentMs: now });
        entries.push({ PartitionKey: sensorId, Data: Buffer.from(JSON.stringify({ sensorId, ts: now, temperature: 20 + (cursor % 70) / 10, humidity: 40 + (cursor % 20) })) });
      }
      for (let i = 0; i < entries.length; i += 500) {
        const response = await h.clients.kinesis.send(new PutRecordsCommand({ StreamName: h.names.input, Records: entries.slice(i, i + 500) }));
        if (response.FailedRecordCount) throw new Error(`producer: ${response.FailedRecordCount} records failed`);
      }
      if (tick % 100 === 99) log(`  ${Math.round((tick + 1) / 10)} s: ${sent.length.toLocaleString('en-US')} events sent`);
    }
    const produceSeconds = (Date.now() - t0) / 1000;

    // Wait until both mappings have been idle (caught up, nothing buffered or in flight) for long
    // enough that a poll would have seen any record still in a stream.
    let idleChecks = 0;
    for (const deadline = Date.now() + 180_000; idleChecks < 3; ) {
      if (Date.now() > deadline) throw new Error('the pipeline did not drain within 180 s');
      await sleep(Math.max(500, pollIntervalMs));
      idleChecks = mapperEsm.isIdle() && reducerEsm.isIdle() ? idleChecks + 1 : 0;
    }
    await stopPolling();
    const u1 = tableUnits(h.server.stats(), table);
    const updateEmissions = { ...recorder.firehoseOf(h.names.results) };
    const stateWritesLive = recorder.stateWrites;

    // Latency: the first update result version that covers each event.
    const versions = new Map<string, { count: number; version: number; emittedMs: number }[]>();
    const rows = (await h.output('results')).filter((r) => r.final === false);
    for (const r of rows) {
      const id = `${String(r.key)}|${Date.parse(String(r.windowStart))}`;
      let list = versions.get(id);
      if (!list) versions.set(id, (list = []));
      list.push({ count: Number(r.eventCount), version: Number(r.version), emittedMs: Date.parse(String(r.emittedAt)) });
    }
    for (const list of versions.values()) list.sort((a, b) => a.version - b.version || a.emittedMs - b.emittedMs);
    const spanEnd = (emittedMs: number) => reducerSpans.find((s) => s.start <= emittedMs && emittedMs <= s.end)?.end ?? emittedMs;
    const emitted: number[] = [];
    const delivered: number[] = [];
    for (const e of sent) {
      const first = versions.get(e.id)?.find((v) => v.count >= e.ordinal);
      if (!first) continue;
      emitted.push(first.emittedMs - e.sentMs);
      delivered.push(spanEnd(first.emittedMs) - e.sentMs);
    }

    // The closer, for the cost sample: the final emission of every window, then one idle run.
    await timer.time('closer-drain', () => h.closer({ drain: true }));
    const u2 = tableUnits(h.server.stats(), table);
    await timer.time('closer-idle', () => h.closer());
    const u3 = tableUnits(h.server.stats(), table);

    const hours = produceSeconds / 3600;
    const mapper = timer.usage(MAPPER, SETTINGS.mapperMemoryMb.defaultValue);
    const reducer = timer.usage(REDUCER, SETTINGS.reducerMemoryMb.defaultValue);
    const drain = timer.usage('closer-drain', SETTINGS.closerMemoryMb.defaultValue);
    const idle = timer.usage('closer-idle', SETTINGS.closerMemoryMb.defaultValue);
    const idleUnits = unitsBetween(u2, u3);
    const scheduled = Math.ceil(CLOSER_RUNS_PER_HOUR * hours) + Math.min(reducer.invocations, Math.ceil(720 * hours));
    // Per-window costs (closing, the index, the final result) need scaling: a run shorter than a
    // window sees every key's window with only a fraction of the events a steady stream puts in it.
    // A steady stream closes rate × window size / keys events' worth per window.
    const windowSec = job.window.type === 'session' ? job.window.gapMs / 1000 : job.window.sizeMs / 1000;
    const perWindow = Math.min(1, (sent.length * sensors) / (rate * windowSec) / Math.max(1, versions.size));
    const closerUnits = unitsBetween(u1, u2);
    const closer = { invocations: drain.invocations + scheduled, durationMs: drain.durationMs * perWindow + scheduled * idle.durationMs, memoryMb: drain.memoryMb };
    // Final mode emits each window once, from the closer: the update emissions are left out here.
    const finalRecords = { ...recorder.firehoseOf(h.names.results) };
    for (const k of Object.keys(finalRecords) as (keyof RecordSizes)[]) finalRecords[k] -= updateEmissions[k];
    const objects = Math.max(1, Math.ceil(hours * 60));
    const costInputs: CostInputs = {
      label: `live stream, ${rate} events/s for ${Math.round(produceSeconds)} s, batching windows ${mapperWindow} s / ${reducerWindow} s; per-window costs × ${perWindow.toFixed(2)} to a steady state`,
      events: sent.length,
      hours,
      kinesisMode: 'provisioned',
      streams: [
        { name: 'input stream', shards: SETTINGS.inputShards.defaultValue, puts: recorder.kinesisOf(h.names.input), consumers: 1 },
        { name: 'shuffle stream', shards: SETTINGS.shuffleShards.defaultValue, puts: recorder.kinesisOf(h.names.shuffle), consumers: 1 },
      ],
      lambda: { mapper, reducer, closer },
      dynamodb: {
        'mapper + reducer': unitsBetween(u0, u1),
        closer: { writeUnits: closerUnits.writeUnits * perWindow, readUnits: closerUnits.readUnits * perWindow },
        'closer schedule': { writeUnits: idleUnits.writeUnits * scheduled, readUnits: idleUnits.readUnits * scheduled },
        'open-windows index': { writeUnits: 2 * versions.size * perWindow, readUnits: 0 },
      },
      firehose: { records: scaleSizes(finalRecords, perWindow), dynamicPartitioning: true, objects },
      s3: { puts: objects },
      logs: { bytes: (mapper.invocations + reducer.invocations + closer.invocations) * LOG_BYTES_PER_INVOCATION },
    };
    return {
      ratePerSec: rate,
      seconds,
      sensors,
      events: sent.length,
      mapperBatchingWindowSec: mapperWindow,
      reducerBatchingWindowSec: reducerWindow,
      pollIntervalMs,
      enhancedFanOut: subscriptions !== undefined,
      eventsMatched: emitted.length,
      emittedAtMs: stats(emitted),
      deliveredMs: stats(delivered),
      mapperInvocations: mapper.invocations,
      reducerInvocations: reducer.invocations,
      updateResults: rows.length,
      stateWrites: stateWritesLive,
      stateWritesPerEvent: stateWritesLive / Math.max(1, sent.length),
      costInputs,
      updateEmissions,
    };
  } finally {
    await stopPolling();
    recorder.restore();
    await h.stop();
  }
}
