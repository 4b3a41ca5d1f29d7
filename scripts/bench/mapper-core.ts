// Bench: the mapper core (decode + validate + map + window + combine) on 10,000-record batches
// of sensor events, against the floor measured in the same process on the same records:
// base64-decode + JSON.parse. Like with like: both loops start from the base64 strings a Lambda
// receives and handle the same records; each round times the floor and then the mapper on the
// process's CPU time (user + system, GC threads included), which a shared machine's other load
// disturbs far less than wall time. Several independent repetitions; each reports the median
// over its rounds, and the report gives min / median / max over the repetitions.
//
// Two key cardinalities, because per-key state (a hash lookup, the window slot, zero + encode of
// every aggregate once per key and batch) is most of the cost beyond the floor: 1,000 sensors
// (10 events per key per batch, the default row) and 10 sensors (1,000 events per key).
import { MapperBatch } from '../../functions/core/mapper-batch';
import type { Job } from '../../functions/core/job';
import sensorAverages from '../../jobs/sensor-averages';

export interface MapperCoreVariant {
  sensors: number;
  /** Per repetition: the median floor and mapper rates (records/s) and their ratio. */
  repetitions: { floorRecordsPerSec: number; mapperRecordsPerSec: number; ratio: number }[];
  ratio: { min: number; median: number; max: number };
  mapperRecordsPerSec: { min: number; median: number; max: number };
  floorRecordsPerSec: { min: number; median: number; max: number };
  partialsPerBatch: number;
}

export interface MapperCoreResult {
  batchSize: number;
  rounds: number;
  repetitions: number;
  clock: 'process CPU time';
  variants: MapperCoreVariant[];
  /** The default row (1,000 sensors), kept for the report's scale projection. */
  floorRecordsPerSec: number;
  mapperRecordsPerSec: number;
  ratio: number;
}

function sensorBatch(size: number, sensors: number, startMs: number): { data: string; seq: string }[] {
  const out: { data: string; seq: string }[] = [];
  for (let i = 0; i < size; i++) {
    const event = {
      sensorId: `sensor-${String(i % sensors).padStart(4, '0')}`,
      ts: startMs + i * 3.6,
      temperature: Math.round((18 + 8 * Math.sin(i / 500) + (i % 7) * 0.1) * 100) / 100,
      humidity: 40 + (i % 30),
    };
    out.push({ data: Buffer.from(JSON.stringify(event)).toString('base64'), seq: (49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n + BigInt(i)).toString() });
  }
  return out;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

export function spread(values: readonly number[]): { min: number; median: number; max: number } {
  return { min: Math.min(...values), median: median(values), max: Math.max(...values) };
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function repetition(job: Job, batch: { data: string; seq: string }[], rounds: number, nowMs: number): { floor: number; mapper: number; partials: number } {
  const floor: number[] = [];
  const mapper: number[] = [];
  let partials = 0;
  let sink = 0;
  // The first rounds warm the JIT and are not counted.
  for (let round = 0; round < rounds + 3; round++) {
    let t0 = cpuMicros();
    for (const r of batch) sink += (JSON.parse(Buffer.from(r.data, 'base64').toString('utf8')) as { ts: number }).ts;
    const floorUs = cpuMicros() - t0;
    t0 = cpuMicros();
    const m = new MapperBatch(job, 'shardId-000000000000', { watermark: Number.NEGATIVE_INFINITY, nowMs });
    for (const r of batch) {
      m.add({ shardId: 'shardId-000000000000', sequenceNumber: r.seq, partitionKey: 'k', data: Buffer.from(r.data, 'base64'), arrivalTime: nowMs });
    }
    const out = m.finish();
    const mapperUs = cpuMicros() - t0;
    partials = out.stats.partials;
    if (round >= 3 && floorUs > 0 && mapperUs > 0) {
      floor.push((batch.length / floorUs) * 1e6);
      mapper.push((batch.length / mapperUs) * 1e6);
    }
  }
  if (sink === 42) console.log(''); // keep the floor loop from being optimized away
  return { floor: median(floor), mapper: median(mapper), partials };
}

export function benchMapperCore(options: { batchSize?: number; rounds?: number; repetitions?: number; sensors?: readonly number[] } = {}): MapperCoreResult {
  const batchSize = options.batchSize ?? 10_000;
  const rounds = options.rounds ?? 15;
  const repetitions = options.repetitions ?? 5;
  const job: Job = sensorAverages;
  const nowMs = Date.now();
  const variants: MapperCoreVariant[] = [];
  for (const sensors of options.sensors ?? [1000, 10]) {
    const batch = sensorBatch(batchSize, sensors, nowMs - 3_600_000);
    const reps: MapperCoreVariant['repetitions'] = [];
    let partials = 0;
    for (let r = 0; r < repetitions; r++) {
      const one = repetition(job, batch, rounds, nowMs);
      partials = one.partials;
      reps.push({ floorRecordsPerSec: Math.round(one.floor), mapperRecordsPerSec: Math.round(one.mapper), ratio: one.mapper / one.floor });
    }
    variants.push({
      sensors,
      repetitions: reps,
      ratio: spread(reps.map((x) => x.ratio)),
      mapperRecordsPerSec: spread(reps.map((x) => x.mapperRecordsPerSec)),
      floorRecordsPerSec: spread(reps.map((x) => x.floorRecordsPerSec)),
      partialsPerBatch: partials,
    });
  }
  const main = variants[0] as MapperCoreVariant;
  return {
    batchSize,
    rounds,
    repetitions,
    clock: 'process CPU time',
    variants,
    floorRecordsPerSec: main.floorRecordsPerSec.median,
    mapperRecordsPerSec: main.mapperRecordsPerSec.median,
    ratio: main.ratio.median,
  };
}
