// Bench: workload W — 1,000,000 sensor events, 1,000 sensors, 60 minutes of event
// time, 5-minute tumbling windows, mapper and reducer batches of 1,000 — run through the real
// handlers on the embedded services, counting DynamoDB requests and request units (per phase:
// mapper, reducer, closer), Lambda invocations and their durations, and every record put to
// Kinesis and Firehose with its size. These counts are the cost model's inputs (cost.ts).
import { SETTINGS } from '../../infra/config';
import type { Job } from '../../functions/core/job';
import sensorAverages from '../../jobs/sensor-averages';
import { PipelineHarness } from '../../test/support/pipeline-harness';
import { LOG_BYTES_PER_INVOCATION, mergeSizes, type CostInputs } from './cost';
import { InvocationTimer, PutRecorder, tableUnits, unitsBetween } from './recorder';

export interface WorkloadWResult {
  events: number;
  sensors: number;
  shuffleBuckets: number;
  results: number;
  mapperInvocations: number;
  reducerInvocations: number;
  closerInvocations: number;
  dynamoWriteRequests: number;
  dynamoReadRequests: number;
  dynamoWriteUnits: number;
  dynamoReadUnits: number;
  dynamoOperations: Record<string, number>;
  writesPerResult: number;
  shuffleRecords: number;
  shuffleBytes: number;
  inputBytes: number;
  firehoseRecords: number;
  firehoseBytes: number;
  s3Puts: number;
  /** Mean wall time of one handler invocation on the emulators (same process, same 2 cores). */
  meanDurationMs: { mapper: number; reducer: number; closerDrain: number; closerIdle: number };
  seconds: number;
  exact: boolean;
  /** The counts above, as the cost model reads them, for W arriving in real time at `ratePerHour`. */
  costInputs: CostInputs;
}

const WRITE_OPS = ['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems'];
const READ_OPS = ['GetItem', 'BatchGetItem', 'Query', 'Scan'];

/** The deployed default: max(8, 4 × shuffle shards × reducer parallelization) with one shard, factor 1. */
export const DEFAULT_SHUFFLE_BUCKETS = Math.max(8, 4 * SETTINGS.shuffleShards.defaultValue * SETTINGS.reducerParallelization.defaultValue);
/** W's own rate when it arrives in real time: 1,000,000 events over its 60 minutes. */
export const W_EVENTS_PER_HOUR = 1_000_000;
/** The closer's EventBridge schedule. */
const CLOSER_RUNS_PER_HOUR = 60;
/** A reducer container nudges the closer at most every 5 s (reducer.ts). */
const MAX_NUDGES_PER_HOUR = 720;
const FIREHOSE_FLUSHES_PER_HOUR = 3600 / SETTINGS.firehoseBufferInterval.defaultValue;

/** W's i-th event of `events` over 60 minutes from `start` (also the results-format section's input). */
export function workloadWEvent(i: number, events: number, sensors: number, start: number): { sensorId: string; ts: number; temperature: number; humidity: number } {
  const sensor = i % sensors;
  const ts = start + Math.floor((i / events) * 3_600_000);
  const temperature = Math.round((18 + 6 * Math.sin((ts - start) / 600_000 + sensor) + (i % 11) * 0.05) * 100) / 100;
  return { sensorId: `sensor-${String(sensor).padStart(4, '0')}`, ts, temperature, humidity: 30 + (i % 50) };
}

export async function benchWorkloadW(options: { events?: number; sensors?: number; shuffleBuckets?: number; ratePerHour?: number; log?: (line: string) => void } = {}): Promise<WorkloadWResult> {
  const events = options.events ?? 1_000_000;
  const sensors = options.sensors ?? 1_000;
  const shuffleBuckets = options.shuffleBuckets ?? DEFAULT_SHUFFLE_BUCKETS;
  const log = options.log ?? (() => undefined);
  const job: Job = sensorAverages;
  const harness = await new PipelineHarness({ job, inputShards: 2, shuffleBuckets }).start();
  const recorder = new PutRecorder().watch(harness.clients);
  const timer = new InvocationTimer();
  const table = harness.names.table;
  const started = Date.now();
  try {
    const start = Math.floor((Date.now() - 2 * 3_600_000) / 300_000) * 300_000;
    const sums = new Map<string, { n: number; sum: number }>();
    let inputBytes = 0;
    const chunk = 50_000;
    for (let offset = 0; offset < events; offset += chunk) {
      const batch = [];
      for (let i = offset; i < Math.min(events, offset + chunk); i++) {
        const event = workloadWEvent(i, events, sensors, start);
        const ts = event.ts;
        inputBytes += JSON.stringify(event).length;
        batch.push(event);
        const id = `${event.sensorId}|${Math.floor(ts / 300_000)}`;
        const s = sums.get(id) ?? { n: 0, sum: 0 };
        s.n++;
        sums.set(id, s);
      }
      await harness.produce(batch, (e) => (e as { sensorId: string }).sensorId);
      log(`  produced ${Math.min(events, offset + chunk).toLocaleString()} events`);
    }
    harness.server.resetStats();
    const s0 = tableUnits(harness.server.stats(), table);
    const mapperInvocations = await harness.pump('mapper', { batchSize: SETTINGS.mapperBatchSize.defaultValue, intercept: (_e, invoke) => timer.time('mapper', invoke) });
    log(`  mapper: ${mapperInvocations} invocations`);
    const afterMapper = harness.server.stats();
    const shuffle = afterMapper.kinesis;
    const s1 = tableUnits(afterMapper, table);
    const reducerInvocations = await harness.pump('reducer', { batchSize: SETTINGS.reducerBatchSize.defaultValue, intercept: (_e, invoke) => timer.time('reducer', invoke) });
    log(`  reducer: ${reducerInvocations} invocations`);
    const s2 = tableUnits(harness.server.stats(), table);
    const summary = await timer.time('closer-drain', () => harness.closer({ drain: true }));
    const stats = harness.server.stats();
    const s3 = tableUnits(stats, table);
    // A scheduled run with nothing due: what each of the closer's 60 runs an hour costs at least.
    await timer.time('closer-idle', () => harness.closer());
    const s4 = tableUnits(harness.server.stats(), table);

    const ops: Record<string, number> = {};
    for (const t of Object.values(stats.dynamodb.tables)) for (const [op, n] of Object.entries(t.operations)) ops[op] = (ops[op] ?? 0) + n;
    const writes = WRITE_OPS.reduce((a, op) => a + (ops[op] ?? 0), 0);
    const reads = READ_OPS.reduce((a, op) => a + (ops[op] ?? 0), 0);
    const results = await harness.results();
    const exact = results.length === sums.size && results.every((r) => sums.get(`${String(r.key)}|${Date.parse(String(r.windowStart)) / 300_000}`)?.n === r.count);
    const objectsWritten = harness.server.stats().firehose.objectsWritten;

    const mean = (role: string) => {
      const d = timer.durations(role);
      return d.length ? d.reduce((a, b) => a + b, 0) / d.length : 0;
    };
    const hours = events / (options.ratePerHour ?? W_EVENTS_PER_HOUR);
    const scheduledRuns = Math.round(CLOSER_RUNS_PER_HOUR * hours + Math.min(reducerInvocations, MAX_NUDGES_PER_HOUR * hours));
    const drain = timer.usage('closer-drain', SETTINGS.closerMemoryMb.defaultValue);
    const idle = unitsBetween(s3, s4);
    const firehose = mergeSizes(...[harness.names.results, harness.names.late, harness.names.rejected].map((n) => recorder.firehoseOf(n)));
    // Every partition that received records gets an object per buffer interval (an upper bound:
    // on AWS a partition is only written while its hour's windows are being emitted).
    const objects = Math.ceil(FIREHOSE_FLUSHES_PER_HOUR * hours) * objectsWritten;
    const lambda = {
      mapper: timer.usage('mapper', SETTINGS.mapperMemoryMb.defaultValue),
      reducer: timer.usage('reducer', SETTINGS.reducerMemoryMb.defaultValue),
      closer: { invocations: drain.invocations + scheduledRuns, durationMs: drain.durationMs + scheduledRuns * Math.ceil(mean('closer-idle')), memoryMb: drain.memoryMb },
    };
    const costInputs: CostInputs = {
      label: `workload W (${events.toLocaleString('en-US')} events in ${hours.toFixed(2)} h)`,
      events,
      hours,
      kinesisMode: 'provisioned',
      streams: [
        { name: 'input stream', shards: SETTINGS.inputShards.defaultValue, puts: recorder.kinesisOf(harness.names.input), consumers: 1 },
        { name: 'shuffle stream', shards: SETTINGS.shuffleShards.defaultValue, puts: recorder.kinesisOf(harness.names.shuffle), consumers: 1 },
      ],
      lambda,
      dynamodb: {
        mapper: unitsBetween(s0, s1),
        reducer: unitsBetween(s1, s2),
        closer: unitsBetween(s2, s3),
        'closer schedule': { writeUnits: idle.writeUnits * scheduledRuns, readUnits: idle.readUnits * scheduledRuns },
        // dynalite does not count index writes. The sparse KEYS_ONLY index is written when a window
        // item gets openPk/closeAt (its first write) and when closing removes them; reducer writes in
        // between leave the index keys unchanged, and DynamoDB then does not write the index.
        'open-windows index': { writeUnits: 2 * summary.closed, readUnits: 0 },
      },
      firehose: { records: firehose, dynamicPartitioning: true, objects },
      s3: { puts: objects },
      logs: { bytes: Object.values(lambda).reduce((n, l) => n + l.invocations, 0) * LOG_BYTES_PER_INVOCATION },
    };
    return {
      events,
      sensors,
      shuffleBuckets,
      results: summary.closed,
      mapperInvocations,
      reducerInvocations,
      closerInvocations: 1,
      dynamoWriteRequests: writes,
      dynamoReadRequests: reads,
      dynamoWriteUnits: stats.dynamodb.writeUnits,
      dynamoReadUnits: stats.dynamodb.readUnits,
      dynamoOperations: ops,
      writesPerResult: writes / Math.max(1, summary.closed),
      shuffleRecords: shuffle.recordsPut,
      shuffleBytes: shuffle.bytesPut,
      inputBytes,
      firehoseRecords: stats.firehose.recordsIn ?? 0,
      firehoseBytes: stats.firehose.bytesIn ?? 0,
      s3Puts: stats.s3.objectsPut,
      meanDurationMs: { mapper: mean('mapper'), reducer: mean('reducer'), closerDrain: mean('closer-drain'), closerIdle: mean('closer-idle') },
      seconds: (Date.now() - started) / 1000,
      exact,
      costInputs,
    };
  } finally {
    recorder.restore();
    await harness.stop();
  }
}
