// Bench: the mapper core (decode + validate + map + window + combine) on 10,000-record batches
// of sensor events, against the floor measured in the same process: base64-decode + JSON.parse.
import { MapperBatch } from '../../functions/core/mapper-batch';
import type { Job } from '../../functions/core/job';
import sensorAverages from '../../jobs/sensor-averages';

export interface MapperCoreResult {
  batchSize: number;
  rounds: number;
  floorRecordsPerSec: number;
  mapperRecordsPerSec: number;
  ratio: number;
  partialsPerBatch: number;
}

function sensorBatch(size: number, startMs: number): { data: string; seq: string }[] {
  const out: { data: string; seq: string }[] = [];
  for (let i = 0; i < size; i++) {
    const event = {
      sensorId: `sensor-${String(i % 1000).padStart(4, '0')}`,
      ts: startMs + i * 3.6,
      temperature: Math.round((18 + 8 * Math.sin(i / 500) + (i % 7) * 0.1) * 100) / 100,
      humidity: 40 + (i % 30),
    };
    out.push({ data: Buffer.from(JSON.stringify(event)).toString('base64'), seq: (49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n + BigInt(i)).toString() });
  }
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

export function benchMapperCore(options: { batchSize?: number; rounds?: number } = {}): MapperCoreResult {
  const batchSize = options.batchSize ?? 10_000;
  const rounds = options.rounds ?? 30;
  const job: Job = sensorAverages;
  const nowMs = Date.now();
  const batch = sensorBatch(batchSize, nowMs - 3_600_000);
  const floor: number[] = [];
  const mapper: number[] = [];
  let partials = 0;
  let sink = 0;
  // Alternate the two loops so machine noise hits both alike; the first rounds warm the JIT.
  for (let round = 0; round < rounds + 5; round++) {
    let t0 = process.hrtime.bigint();
    for (const r of batch) sink += (JSON.parse(Buffer.from(r.data, 'base64').toString('utf8')) as { ts: number }).ts;
    const floorNs = Number(process.hrtime.bigint() - t0);
    t0 = process.hrtime.bigint();
    const m = new MapperBatch(job, 'shardId-000000000000', { watermark: Number.NEGATIVE_INFINITY, nowMs });
    for (const r of batch) {
      m.add({ shardId: 'shardId-000000000000', sequenceNumber: r.seq, partitionKey: 'k', data: Buffer.from(r.data, 'base64'), arrivalTime: nowMs });
    }
    const out = m.finish();
    const mapperNs = Number(process.hrtime.bigint() - t0);
    partials = out.stats.partials;
    if (round >= 5) {
      floor.push((batchSize / floorNs) * 1e9);
      mapper.push((batchSize / mapperNs) * 1e9);
    }
  }
  if (sink === 42) console.log(''); // keep the floor loop from being optimized away
  const floorRate = median(floor);
  const mapperRate = median(mapper);
  return { batchSize, rounds, floorRecordsPerSec: Math.round(floorRate), mapperRecordsPerSec: Math.round(mapperRate), ratio: mapperRate / floorRate, partialsPerBatch: partials };
}
