// The bench's AWS cost model: counted operations × the dated price table (prices.ts) → dollars per
// run and per 1,000,000 events. Pure (no I/O), so test/unit/bench-cost.test.ts checks it by hand.
// The bench fills CostInputs from what it counted on the emulators; what it cannot count (hours of
// shard time, closer runs on the schedule, log bytes) enters as a named assumption.
import type { PriceTable } from './prices';

const KB = 1024;
/** AWS bills data by the GB of 2^30 bytes. */
const GB = 1024 ** 3;
/** A Kinesis PUT payload unit is a 25 KB chunk of a record. */
const PUT_PAYLOAD_UNIT_BYTES = 25 * KB;
/** Firehose bills ingestion per record rounded up to the next 5 KB. */
const FIREHOSE_ROUNDING_BYTES = 5 * KB;
/** Kinesis on-demand bills ingestion per record rounded up to the next 1 KB. */
const ON_DEMAND_ROUNDING_BYTES = KB;

/**
 * CloudWatch Logs bytes per Lambda invocation (assumption): START, END and REPORT lines (~350 B)
 * plus one Powertools EMF metrics document (~850 B: 4–6 metrics, two dimensions).
 */
export const LOG_BYTES_PER_INVOCATION = 1_200;

/** Records put to a stream or delivery stream, with the roundings the services bill by. */
export interface RecordSizes {
  records: number;
  bytes: number;
  /** Kinesis provisioned: Σ ⌈size / 25 KB⌉ (a record is at least one unit). */
  putPayloadUnits: number;
  /** Kinesis on-demand: Σ size rounded up to 1 KB. */
  kinesisBillableBytes: number;
  /** Firehose: Σ size rounded up to 5 KB. */
  firehoseBillableBytes: number;
}

export function emptySizes(): RecordSizes {
  return { records: 0, bytes: 0, putPayloadUnits: 0, kinesisBillableBytes: 0, firehoseBillableBytes: 0 };
}

const roundUp = (bytes: number, unit: number) => Math.max(1, Math.ceil(bytes / unit)) * unit;

/** Adds `count` records of `size` bytes to a tally (mutates and returns it). */
export function addRecord(tally: RecordSizes, size: number, count = 1): RecordSizes {
  tally.records += count;
  tally.bytes += size * count;
  tally.putPayloadUnits += (roundUp(size, PUT_PAYLOAD_UNIT_BYTES) / PUT_PAYLOAD_UNIT_BYTES) * count;
  tally.kinesisBillableBytes += roundUp(size, ON_DEMAND_ROUNDING_BYTES) * count;
  tally.firehoseBillableBytes += roundUp(size, FIREHOSE_ROUNDING_BYTES) * count;
  return tally;
}

export function sizesOf(sizes: Iterable<number>): RecordSizes {
  const tally = emptySizes();
  for (const size of sizes) addRecord(tally, size);
  return tally;
}

export function mergeSizes(...tallies: readonly RecordSizes[]): RecordSizes {
  const out = emptySizes();
  for (const t of tallies) {
    out.records += t.records;
    out.bytes += t.bytes;
    out.putPayloadUnits += t.putPayloadUnits;
    out.kinesisBillableBytes += t.kinesisBillableBytes;
    out.firehoseBillableBytes += t.firehoseBillableBytes;
  }
  return out;
}

/** A tally scaled by `f` (to extrapolate a sample to a steady state); counts stay fractional. */
export function scaleSizes(t: RecordSizes, f: number): RecordSizes {
  return { records: t.records * f, bytes: t.bytes * f, putPayloadUnits: t.putPayloadUnits * f, kinesisBillableBytes: t.kinesisBillableBytes * f, firehoseBillableBytes: t.firehoseBillableBytes * f };
}

/**
 * PUT payload units the same user records would need as KPL aggregates of `perAggregate` records
 * (the producer's --aggregate): each aggregate carries ~12 bytes of framing per user record plus
 * its partition key, and 20 bytes of magic and MD5.
 */
export function kplPutPayloadUnits(puts: RecordSizes, perAggregate: number, partitionKeyBytes = 12): number {
  if (puts.records === 0) return 0;
  const aggregates = Math.ceil(puts.records / perAggregate);
  const bytes = puts.bytes + puts.records * (12 + partitionKeyBytes) + aggregates * 20;
  return Math.max(aggregates, Math.ceil(bytes / aggregates / PUT_PAYLOAD_UNIT_BYTES) * aggregates);
}

export interface StreamUsage {
  name: string;
  /** Provisioned shards (ignored in on-demand mode). */
  shards: number;
  puts: RecordSizes;
  /** Event source mappings reading the stream (on-demand bills reads per consumer). */
  consumers: number;
  /** Of those, enhanced fan-out consumers: billed per consumer-shard-hour and per GB retrieved. */
  efoConsumers?: number;
}

export interface LambdaUsage {
  invocations: number;
  /** Total billed duration of all invocations. */
  durationMs: number;
  memoryMb: number;
}

export interface CapacityUnits {
  writeUnits: number;
  readUnits: number;
}

export interface CostInputs {
  label: string;
  events: number;
  /** Wall-clock hours the events span at the assumed rate: shard-hours and stream-hours accrue over them. */
  hours: number;
  kinesisMode: 'provisioned' | 'on-demand';
  streams: readonly StreamUsage[];
  /** By function role. */
  lambda: Readonly<Record<string, LambdaUsage>>;
  /** By role (mapper, reducer, closer, index, …): request units as on-demand DynamoDB bills them. */
  dynamodb: Readonly<Record<string, CapacityUnits>>;
  firehose: { records: RecordSizes; dynamicPartitioning: boolean; objects: number };
  s3: { puts: number };
  logs: { bytes: number };
}

export interface CostLine {
  service: 'Kinesis' | 'Lambda' | 'DynamoDB' | 'Firehose' | 'S3' | 'CloudWatch Logs';
  item: string;
  quantity: number;
  unit: string;
  usd: number;
}

export interface CostEstimate {
  label: string;
  events: number;
  lines: CostLine[];
  byService: Record<CostLine['service'], number>;
  totalUsd: number;
  perMillionEventsUsd: number;
}

/** Dollars for the counted operations, line by line, and per 1,000,000 events. */
export function estimateCost(inputs: CostInputs, prices: PriceTable): CostEstimate {
  const lines: CostLine[] = [];
  const line = (service: CostLine['service'], item: string, quantity: number, unit: string, usd: number) => {
    if (quantity > 0) lines.push({ service, item, quantity, unit, usd });
  };
  const k = prices.kinesis;
  for (const s of inputs.streams) {
    if (inputs.kinesisMode === 'provisioned') {
      line('Kinesis', `${s.name}: shard-hours`, s.shards * inputs.hours, 'shard-h', s.shards * inputs.hours * k.shardHour);
      line('Kinesis', `${s.name}: PUT payload units`, s.puts.putPayloadUnits, '25 KB units', (s.puts.putPayloadUnits / 1e6) * k.putPayloadUnitsPerMillion);
      const efo = s.efoConsumers ?? 0;
      if (efo > 0) {
        const consumerShardHours = efo * s.shards * inputs.hours;
        line('Kinesis', `${s.name}: enhanced fan-out consumer-shard-hours`, consumerShardHours, 'consumer-shard-h', consumerShardHours * prices.kinesisEnhancedFanOut.consumerShardHour);
        const retrieved = (s.puts.bytes * efo) / GB;
        line('Kinesis', `${s.name}: enhanced fan-out data retrieved`, retrieved, 'GB', retrieved * prices.kinesisEnhancedFanOut.gbRetrieved);
      }
    } else {
      line('Kinesis', `${s.name}: stream-hours (on-demand)`, inputs.hours, 'stream-h', inputs.hours * k.onDemandStreamHour);
      line('Kinesis', `${s.name}: data in (1 KB rounding)`, s.puts.kinesisBillableBytes / GB, 'GB', (s.puts.kinesisBillableBytes / GB) * k.onDemandGbIn);
      const read = (s.puts.bytes * s.consumers) / GB;
      line('Kinesis', `${s.name}: data out`, read, 'GB', read * k.onDemandGbOut);
    }
  }
  for (const [role, l] of Object.entries(inputs.lambda)) {
    const gbSeconds = (l.durationMs / 1000) * (l.memoryMb / 1024);
    line('Lambda', `${role}: requests`, l.invocations, 'requests', (l.invocations / 1e6) * prices.lambda.requestsPerMillion);
    line('Lambda', `${role}: duration (${l.memoryMb} MB, arm64)`, gbSeconds, 'GB-s', gbSeconds * prices.lambda.arm64GbSecond);
  }
  for (const [role, u] of Object.entries(inputs.dynamodb)) {
    line('DynamoDB', `${role}: write request units`, u.writeUnits, 'WRU', (u.writeUnits / 1e6) * prices.dynamodb.wruPerMillion);
    line('DynamoDB', `${role}: read request units`, u.readUnits, 'RRU', (u.readUnits / 1e6) * prices.dynamodb.rruPerMillion);
  }
  const f = inputs.firehose;
  line('Firehose', 'ingestion (5 KB rounding)', f.records.firehoseBillableBytes / GB, 'GB', (f.records.firehoseBillableBytes / GB) * prices.firehose.gbIngested);
  if (f.dynamicPartitioning) {
    line('Firehose', 'dynamic partitioning: data', f.records.bytes / GB, 'GB', (f.records.bytes / GB) * prices.firehose.dynamicPartitioningGb);
    line('Firehose', 'dynamic partitioning: objects', f.objects, 'objects', (f.objects / 1000) * prices.firehose.dynamicPartitioningObjectsPer1000);
  }
  line('S3', 'PUT requests', inputs.s3.puts, 'requests', (inputs.s3.puts / 1000) * prices.s3.putPer1000);
  line('CloudWatch Logs', 'Lambda logs and EMF metrics', inputs.logs.bytes / GB, 'GB', (inputs.logs.bytes / GB) * prices.cloudwatchLogs.gbIngested);

  const byService = { Kinesis: 0, Lambda: 0, DynamoDB: 0, Firehose: 0, S3: 0, 'CloudWatch Logs': 0 } as Record<CostLine['service'], number>;
  for (const l of lines) byService[l.service] += l.usd;
  const totalUsd = lines.reduce((a, l) => a + l.usd, 0);
  return { label: inputs.label, events: inputs.events, lines, byService, totalUsd, perMillionEventsUsd: inputs.events > 0 ? (totalUsd / inputs.events) * 1e6 : 0 };
}

export interface OneUpdatePerEventAssumptions {
  /** WRU per event: an UpdateItem of an item under 1 KB (count, sums, min, max — no sketches). */
  writeUnitsPerEvent: number;
  /** Billed Lambda time per event: ~8 ms per UpdateItem round trip, 32 in flight → 0.25 ms. */
  lambdaMsPerEvent: number;
  /** Consumer memory. */
  memoryMb: number;
}

export const ONE_UPDATE_PER_EVENT: OneUpdatePerEventAssumptions = { writeUnitsPerEvent: 1, lambdaMsPerEvent: 0.25, memoryMb: 1024 };

/**
 * The same workload on the design Riffle replaces: one consumer Lambda on the input stream (same
 * batches as Riffle's mapper) doing one UpdateItem per event; no shuffle stream, no reducer. It keeps
 * Riffle's closer, its schedule, the open-windows index and the Firehose/S3 output, so only what
 * the designs do differently differs.
 */
export function oneUpdatePerEvent(riffle: CostInputs, options: { inputStream: string; mapperRole: string; keepRoles: readonly string[] }, a: OneUpdatePerEventAssumptions = ONE_UPDATE_PER_EVENT): CostInputs {
  const input = riffle.streams.filter((s) => s.name === options.inputStream);
  const consumer = riffle.lambda[options.mapperRole];
  const invocations = consumer?.invocations ?? Math.ceil(riffle.events / 1000);
  const lambda: Record<string, LambdaUsage> = { consumer: { invocations, durationMs: riffle.events * a.lambdaMsPerEvent, memoryMb: a.memoryMb } };
  const dynamodb: Record<string, CapacityUnits> = { 'consumer (UpdateItem per event)': { writeUnits: riffle.events * a.writeUnitsPerEvent, readUnits: 0 } };
  for (const role of options.keepRoles) {
    const l = riffle.lambda[role];
    if (l) lambda[role] = l;
    const d = riffle.dynamodb[role];
    if (d) dynamodb[role] = d;
  }
  const invocationsTotal = Object.values(lambda).reduce((n, l) => n + l.invocations, 0);
  return {
    ...riffle,
    label: `one UpdateItem per event (${riffle.label})`,
    streams: input,
    lambda,
    dynamodb,
    logs: { bytes: invocationsTotal * LOG_BYTES_PER_INVOCATION },
  };
}
