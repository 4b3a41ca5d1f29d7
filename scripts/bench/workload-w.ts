// Bench: workload W (issue 3) — 1,000,000 sensor events, 1,000 sensors, 60 minutes of event
// time, 5-minute tumbling windows, mapper and reducer batches of 1,000 — run through the real
// handlers on the embedded services, counting DynamoDB requests and Lambda invocations.
import type { Job } from '../../functions/core/job';
import sensorAverages from '../../jobs/sensor-averages';
import { PipelineHarness } from '../../test/support/pipeline-harness';

export interface WorkloadWResult {
  events: number;
  sensors: number;
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
  seconds: number;
  exact: boolean;
}

const WRITE_OPS = ['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems'];
const READ_OPS = ['GetItem', 'BatchGetItem', 'Query', 'Scan'];

export async function benchWorkloadW(options: { events?: number; sensors?: number; log?: (line: string) => void } = {}): Promise<WorkloadWResult> {
  const events = options.events ?? 1_000_000;
  const sensors = options.sensors ?? 1_000;
  const log = options.log ?? (() => undefined);
  const job = sensorAverages as unknown as Job;
  const harness = await new PipelineHarness({ job, inputShards: 2, shuffleBuckets: 4 }).start();
  const started = Date.now();
  try {
    const start = Math.floor((Date.now() - 2 * 3_600_000) / 300_000) * 300_000;
    const spanMs = 3_600_000;
    const sums = new Map<string, { n: number; sum: number }>();
    let inputBytes = 0;
    const chunk = 50_000;
    for (let offset = 0; offset < events; offset += chunk) {
      const batch = [];
      for (let i = offset; i < Math.min(events, offset + chunk); i++) {
        const sensor = i % sensors;
        const ts = start + Math.floor((i / events) * spanMs);
        const temperature = Math.round((18 + 6 * Math.sin((ts - start) / 600_000 + sensor) + (i % 11) * 0.05) * 100) / 100;
        const event = { sensorId: `sensor-${String(sensor).padStart(4, '0')}`, ts, temperature, humidity: 30 + (i % 50) };
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
    const mapperInvocations = await harness.pump('mapper', { batchSize: 1_000 });
    log(`  mapper: ${mapperInvocations} invocations`);
    const shuffle = harness.server.stats().kinesis;
    const reducerInvocations = await harness.pump('reducer', { batchSize: 1_000 });
    log(`  reducer: ${reducerInvocations} invocations`);
    const summary = await harness.closer({ drain: true });
    const stats = harness.server.stats();
    const ops: Record<string, number> = {};
    for (const table of Object.values(stats.dynamodb.tables)) for (const [op, n] of Object.entries(table.operations)) ops[op] = (ops[op] ?? 0) + n;
    const writes = WRITE_OPS.reduce((a, op) => a + (ops[op] ?? 0), 0);
    const reads = READ_OPS.reduce((a, op) => a + (ops[op] ?? 0), 0);
    const results = await harness.results();
    const exact = results.length === sums.size && results.every((r) => sums.get(`${String(r.key)}|${Date.parse(String(r.windowStart)) / 300_000}`)?.n === r.count);
    return {
      events,
      sensors,
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
      seconds: (Date.now() - started) / 1000,
      exact,
    };
  } finally {
    await harness.stop();
  }
}
