// Projection of the cost per 1,000,000 events to 10×, 100× and 1000× W's rate (docs/SCALING.md),
// from what the bench measured: per-event and per-window counts from workload W, the mapper's time
// per invocation from the live run, and writes per event ≈ min(1, K / (R × w)) — the live runs check
// that formula. Keys grow with the rate (each key keeps W's 0.28 events/s). Pure: the cost model
// (cost.ts) prices the projected counts.
import { addRecord, emptySizes, estimateCost, LOG_BYTES_PER_INVOCATION, type CostInputs } from './cost';
import type { PriceTable } from './prices';

export interface ProjectionBasis {
  /** Input bytes per event (one event per record). */
  inputBytesPerEvent: number;
  /** Shuffle bytes per event (measured in W). */
  shuffleBytesPerEvent: number;
  /** Result (key × window) records per event: W's 12,000 per 1,000,000. */
  windowsPerEvent: number;
  /** Closer request units per closed window (W's drain). */
  closerWriteUnitsPerWindow: number;
  closerReadUnitsPerWindow: number;
  /** Firehose bytes per result record. */
  resultBytes: number;
  /** Mapper time: per invocation and per event (mapper core). */
  mapperMsPerInvocation: number;
  mapperMsPerEvent: number;
}

export interface ProjectionRow {
  scale: number;
  eventsPerSec: number;
  keys: number;
  reducerWindowSec: number;
  kpl: boolean;
  inputShards: number;
  shuffleShards: number;
  writesPerEvent: number;
  writeUnitsPerSec: number;
  perMillionUsd: number;
}

const KPL_PER_RECORD = 100;
const KPL_FRAMING_BYTES = 24;
/** AWS-side assumption: ~8 ms per DynamoDB request, 16 in flight (the reducer's and closer's concurrency). */
const MS_PER_STATE_WRITE = 0.5;

export function project(basis: ProjectionBasis, scale: number, reducerWindowSec: number, prices: PriceTable): ProjectionRow {
  const events = 1_000_000;
  const rate = (1_000_000 / 3600) * scale;
  // Keys grow with the rate: each keeps W's 0.28 events/s (1,000,000 an hour over 1,000 keys).
  const keys = 1000 * scale;
  const hours = events / rate / 3600;
  const kpl = scale >= 10;
  const recordBytes = kpl ? KPL_PER_RECORD * (basis.inputBytesPerEvent + KPL_FRAMING_BYTES) + 20 : basis.inputBytesPerEvent;
  const records = kpl ? events / KPL_PER_RECORD : events;
  // 80% of a shard's 1,000 records/s or 1 MB/s, whichever binds.
  const inputShards = Math.max(1, Math.ceil(Math.max((records / (hours * 3600)) / 800, (records * recordBytes) / (hours * 3600) / 800_000)));
  const shuffleShards = Math.max(1, Math.ceil((events * basis.shuffleBytesPerEvent) / (hours * 3600) / 800_000));
  // Keys that all appear in every reducer batch: min(1, K / (R × w)).
  const writesPerEvent = Math.min(1, keys / (rate * reducerWindowSec));
  const writes = events * writesPerEvent;
  const windows = events * basis.windowsPerEvent;
  // About one mapper invocation per input shard per second (1 s batching window, or full batches).
  const mapperInvocations = inputShards * hours * 3600;
  const buckets = Math.max(8, shuffleShards * Math.min(10, Math.ceil(writes / (hours * 3600) / 2000 / shuffleShards)));
  const reducerInvocations = (hours * 3600 * shuffleShards) / Math.max(1, reducerWindowSec);
  const closerRuns = 60 * hours;
  const inputs: CostInputs = {
    label: `${scale}×`,
    events,
    hours,
    kinesisMode: 'provisioned',
    streams: [
      { name: 'input stream', shards: inputShards, puts: addRecord(emptySizes(), recordBytes, records), consumers: 1 },
      { name: 'shuffle stream', shards: shuffleShards, puts: addRecord(emptySizes(), (events * basis.shuffleBytesPerEvent) / (mapperInvocations * buckets), mapperInvocations * buckets), consumers: 1 },
    ],
    lambda: {
      mapper: { invocations: mapperInvocations, durationMs: mapperInvocations * basis.mapperMsPerInvocation + events * basis.mapperMsPerEvent, memoryMb: 1024 },
      reducer: { invocations: reducerInvocations, durationMs: reducerInvocations * 50 + writes * MS_PER_STATE_WRITE, memoryMb: 1024 },
      closer: { invocations: closerRuns, durationMs: closerRuns * 15 + windows * MS_PER_STATE_WRITE, memoryMb: 512 },
    },
    dynamodb: {
      'mapper progress': { writeUnits: mapperInvocations, readUnits: mapperInvocations },
      reducer: { writeUnits: writes, readUnits: writes + reducerInvocations },
      closer: { writeUnits: windows * basis.closerWriteUnitsPerWindow, readUnits: windows * basis.closerReadUnitsPerWindow },
      'open-windows index': { writeUnits: 2 * windows, readUnits: 0 },
    },
    firehose: { records: addRecord(emptySizes(), basis.resultBytes, windows), dynamicPartitioning: true, objects: Math.ceil(60 * hours) * 2 },
    s3: { puts: Math.ceil(60 * hours) * 2 },
    logs: { bytes: (mapperInvocations + reducerInvocations + closerRuns) * LOG_BYTES_PER_INVOCATION },
  };
  return { scale, eventsPerSec: rate, keys, reducerWindowSec, kpl, inputShards, shuffleShards, writesPerEvent, writeUnitsPerSec: writes / (hours * 3600), perMillionUsd: estimateCost(inputs, prices).perMillionEventsUsd };
}

export function projectionTable(basis: ProjectionBasis, prices: PriceTable): { rows: ProjectionRow[]; md: string[] } {
  const rows: ProjectionRow[] = [];
  for (const scale of [1, 10, 100, 1000]) for (const w of [5, 60, 300]) rows.push(project(basis, scale, w, prices));
  const md = [
    '## Projection to 10×, 100×, 1000× (cost model, keys growing with the rate)',
    '',
    `From this run's counts: ${basis.inputBytesPerEvent.toFixed(0)} input and ${basis.shuffleBytesPerEvent.toFixed(1)} shuffle bytes per event, ${(basis.windowsPerEvent * 1e6).toLocaleString('en-US')} windows per million events, ` +
      `closer ${basis.closerWriteUnitsPerWindow.toFixed(2)} WRU + ${basis.closerReadUnitsPerWindow.toFixed(2)} RRU per window, mapper ${basis.mapperMsPerInvocation.toFixed(0)} ms per invocation; ` +
      'writes per event = min(1, keys / (events/s × reducer window)) (checked by the live runs); KPL aggregation (100 per record) from 10×; shards at 80% of their limits; ' +
      `AWS-side reducer and closer time ${MS_PER_STATE_WRITE} ms per item (assumption). See docs/SCALING.md.`,
    '',
    '| scale | events/s | keys | input shards | shuffle shards | reducer window | writes/event | state WRU/s | $ per 1,000,000 events |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.scale}×${r.kpl ? ' (KPL)' : ''} | ${Math.round(r.eventsPerSec).toLocaleString('en-US')} | ${r.keys.toLocaleString('en-US')} | ${r.inputShards} | ${r.shuffleShards} | ${r.reducerWindowSec} s | ${r.writesPerEvent.toFixed(3)} | ${Math.round(r.writeUnitsPerSec).toLocaleString('en-US')} | $${r.perMillionUsd.toFixed(4)} |`,
    ),
    '',
  ];
  return { rows, md };
}
