// The bench's cost model (scripts/bench/cost.ts): billing roundings and line items checked against
// numbers worked out by hand from the price table, and the one-UpdateItem-per-event comparison.
import { addRecord, emptySizes, estimateCost, kplPutPayloadUnits, oneUpdatePerEvent, scaleSizes, sizesOf, type CostInputs } from '../../scripts/bench/cost';
import { PRICES_US_EAST_1, type PriceTable } from '../../scripts/bench/prices';

const GB = 1024 ** 3;

/** Round numbers make the hand arithmetic below easy to follow. */
const PRICES: PriceTable = {
  ...PRICES_US_EAST_1,
  kinesis: { shardHour: 0.01, putPayloadUnitsPerMillion: 0.02, onDemandStreamHour: 0.04, onDemandGbIn: 0.08, onDemandGbOut: 0.04 },
  lambda: { arm64GbSecond: 0.00001, requestsPerMillion: 0.2 },
  dynamodb: { wruPerMillion: 1, rruPerMillion: 0.25 },
  firehose: { gbIngested: 0.03, dynamicPartitioningGb: 0.02, dynamicPartitioningObjectsPer1000: 0.005 },
  s3: { putPer1000: 0.005 },
  cloudwatchLogs: { gbIngested: 0.5 },
};

function inputs(overrides: Partial<CostInputs> = {}): CostInputs {
  return {
    label: 'test',
    events: 1_000_000,
    hours: 1,
    kinesisMode: 'provisioned',
    streams: [
      { name: 'input stream', shards: 1, puts: addRecord(emptySizes(), 100, 1_000_000), consumers: 1 },
      { name: 'shuffle stream', shards: 1, puts: addRecord(emptySizes(), 30_000, 1_000), consumers: 1 },
    ],
    lambda: { mapper: { invocations: 1_000, durationMs: 1_000 * 100, memoryMb: 1024 }, reducer: { invocations: 10, durationMs: 10 * 2_000, memoryMb: 512 } },
    dynamodb: { reducer: { writeUnits: 20_000, readUnits: 12_000 } },
    firehose: { records: addRecord(emptySizes(), 400, 12_000), dynamicPartitioning: false, objects: 0 },
    s3: { puts: 60 },
    logs: { bytes: 0 },
    ...overrides,
  };
}

describe('billing roundings', () => {
  it('Kinesis PUT payload units are 25 KB chunks per record, at least one', () => {
    expect(sizesOf([0, 1, 25 * 1024, 25 * 1024 + 1, 1024 * 1024]).putPayloadUnits).toBe(1 + 1 + 1 + 2 + 41);
  });

  it('Firehose bills each record rounded up to 5 KB; on-demand Kinesis to 1 KB', () => {
    const t = sizesOf([400, 5 * 1024, 5 * 1024 + 1]);
    expect(t.firehoseBillableBytes).toBe(5120 + 5120 + 10_240);
    expect(t.kinesisBillableBytes).toBe(1024 + 5 * 1024 + 6 * 1024);
    expect(t).toMatchObject({ records: 3, bytes: 400 + 5120 + 5121 });
  });

  it('addRecord with a count equals adding one at a time; scaleSizes scales every field', () => {
    expect(addRecord(emptySizes(), 30_000, 3)).toEqual(sizesOf([30_000, 30_000, 30_000]));
    expect(scaleSizes(sizesOf([30_000, 30_000]), 0.5)).toEqual(sizesOf([30_000]));
  });

  it('KPL aggregation of 100 records of 100 bytes needs one unit per aggregate', () => {
    const puts = addRecord(emptySizes(), 100, 1_000_000);
    expect(kplPutPayloadUnits(puts, 100)).toBe(10_000);
    // 100 records of 300 bytes (+24 framing) are 32 KB: two units each.
    expect(kplPutPayloadUnits(addRecord(emptySizes(), 300, 1_000), 100)).toBe(20);
    expect(kplPutPayloadUnits(emptySizes(), 100)).toBe(0);
  });
});

describe('estimateCost', () => {
  it('prices each counted operation (worked by hand)', () => {
    const e = estimateCost(inputs(), PRICES);
    const item = (name: string) => e.lines.find((l) => l.item === name)?.usd;
    expect(item('input stream: shard-hours')).toBeCloseTo(0.01, 12); // 1 shard × 1 h × $0.01
    expect(item('input stream: PUT payload units')).toBeCloseTo(0.02, 12); // 1e6 units × $0.02/1e6
    expect(item('shuffle stream: PUT payload units')).toBeCloseTo(2_000 * 0.02e-6, 12); // 30 KB → 2 units each
    expect(item('mapper: requests')).toBeCloseTo(1_000 * 0.2e-6, 12);
    expect(item('mapper: duration (1024 MB, arm64)')).toBeCloseTo(100 * 1 * 0.00001, 12); // 100 s × 1 GB
    expect(item('reducer: duration (512 MB, arm64)')).toBeCloseTo(20 * 0.5 * 0.00001, 12); // 20 s × 0.5 GB
    expect(item('reducer: write request units')).toBeCloseTo(0.02, 12);
    expect(item('reducer: read request units')).toBeCloseTo(0.003, 12);
    expect(item('ingestion (5 KB rounding)')).toBeCloseTo(((12_000 * 5120) / GB) * 0.03, 12);
    expect(item('PUT requests')).toBeCloseTo(0.0003, 12);
    expect(e.lines.some((l) => l.item.startsWith('dynamic partitioning'))).toBe(false);
    expect(e.totalUsd).toBeCloseTo(e.lines.reduce((a, l) => a + l.usd, 0), 12);
    expect(e.perMillionEventsUsd).toBeCloseTo(e.totalUsd, 12); // exactly 1e6 events
    expect(Object.values(e.byService).reduce((a, b) => a + b, 0)).toBeCloseTo(e.totalUsd, 12);
  });

  it('on-demand streams bill stream-hours and GB in and out instead', () => {
    const e = estimateCost(inputs({ kinesisMode: 'on-demand' }), PRICES);
    const kinesis = e.lines.filter((l) => l.service === 'Kinesis');
    const inBytes = 1_000_000 * 1024 + 1_000 * 30 * 1024;
    const outBytes = 1_000_000 * 100 + 1_000 * 30_000;
    expect(kinesis.reduce((a, l) => a + l.usd, 0)).toBeCloseTo(2 * 0.04 + (inBytes / GB) * 0.08 + (outBytes / GB) * 0.04, 12);
    expect(kinesis.some((l) => l.item.includes('shard-hours'))).toBe(false);
  });

  it('dynamic partitioning adds per GB processed and per object', () => {
    const e = estimateCost(inputs({ firehose: { records: addRecord(emptySizes(), 1024, 1024 * 1024), dynamicPartitioning: true, objects: 2_000 } }), PRICES);
    expect(e.lines.find((l) => l.item === 'dynamic partitioning: data')?.usd).toBeCloseTo(0.02, 12); // exactly 1 GB
    expect(e.lines.find((l) => l.item === 'dynamic partitioning: objects')?.usd).toBeCloseTo(0.01, 12);
  });

  it('per-event costs are rate-independent; shard-hours are not', () => {
    const base = estimateCost(inputs(), PRICES);
    const fasterSameEvents = estimateCost(inputs({ hours: 0.5 }), PRICES);
    expect(base.perMillionEventsUsd - fasterSameEvents.perMillionEventsUsd).toBeCloseTo(2 * 0.5 * 0.01, 12);
  });

  it('leaves out zero quantities', () => {
    expect(estimateCost(inputs({ s3: { puts: 0 } }), PRICES).lines.some((l) => l.service === 'S3')).toBe(false);
  });
});

describe('oneUpdatePerEvent', () => {
  it('drops the shuffle stream and reducer, writes one WRU per event, keeps the named roles', () => {
    const riffle = inputs({ dynamodb: { reducer: { writeUnits: 20_000, readUnits: 12_000 }, closer: { writeUnits: 12_000, readUnits: 12_000 } } });
    const naive = oneUpdatePerEvent(riffle, { inputStream: 'input stream', mapperRole: 'mapper', keepRoles: ['closer'] });
    expect(naive.streams.map((s) => s.name)).toEqual(['input stream']);
    expect(Object.keys(naive.lambda)).toEqual(['consumer']);
    expect(naive.lambda.consumer).toEqual({ invocations: 1_000, durationMs: 250_000, memoryMb: 1024 });
    expect(naive.dynamodb).toEqual({ 'consumer (UpdateItem per event)': { writeUnits: 1_000_000, readUnits: 0 }, closer: { writeUnits: 12_000, readUnits: 12_000 } });
    const a = estimateCost(riffle, PRICES);
    const b = estimateCost(naive, PRICES);
    expect(b.byService.DynamoDB).toBeCloseTo(1 + 0.012 + 0.003, 12);
    expect(b.byService.DynamoDB).toBeGreaterThan(a.byService.DynamoDB * 10);
  });
});
