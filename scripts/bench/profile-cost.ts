// Cost per 1,000,000 events of each latency profile (infra/latency-profiles.ts) on a live stream
// of workload W's shape (1,000 sensors, tumbling 5 min, `final` results) at a given rate, derived
// from the profile's settings: how often each function is invoked per shard (batching window,
// ~1 s polling or enhanced fan-out pushes, full batches), how many state writes a reducer
// invocation makes (one per key it touches), the closer's schedule, Firehose's buffer, and the
// shard- and consumer-hours. Per-event and per-window sizes come from workload W's measured counts
// when the bench ran it (ProjectionBasis), else from the documented defaults below. Pure: the cost
// model (cost.ts) prices the counts; test/unit/bench-profile-cost.test.ts checks its shape.
import { defaultLatencyProfile, LATENCY_PROFILES, LATENCY_PROFILE_NAMES, type LatencyProfile, type LatencyProfileName } from '../../infra/latency-profiles';
import { addRecord, emptySizes, estimateCost, LOG_BYTES_PER_INVOCATION, type CostEstimate, type CostInputs } from './cost';
import type { PriceTable } from './prices';
import type { ProjectionBasis } from './projection';

/** The three rates of the latency–cost chart: W's 1,000,000 an hour, ×10, ×100. */
export const CHART_RATES = [278, 2_780, 27_800] as const;
/** W's key space and window: 1,000 sensors, tumbling 5 minutes. */
export const W_KEYS = 1_000;
export const W_WINDOW_SEC = 300;

/** Lambda polls a caught-up shard about once a second. */
export const POLL_INTERVAL_SEC = 1;
/**
 * Enhanced fan-out: SubscribeToShard pushes records ~70 ms after they are written; Lambda runs one
 * batch per shard at a time, so with no batching window a shard is invoked about once per
 * (push delay + invocation), taken as 0.25 s (assumption: a ~180 ms invocation with DynamoDB
 * round trips).
 */
export const EFO_INTERVAL_SEC = 0.25;
export const EFO_PUSH_DELAY_SEC = 0.07;
/** A shard's limits, used at 80% (1,000 records/s and 1 MB/s in). */
const SHARD_RECORDS_PER_SEC = 800;
const SHARD_BYTES_PER_SEC = 800_000;
/** AWS-side reducer and closer time per state item (~8 ms per request, 16 in flight). */
const MS_PER_STATE_WRITE = 0.5;
const REDUCER_MS_PER_INVOCATION = 50;
const CLOSER_MS_PER_RUN = 15;

/**
 * W's counts as docs/SCALING.md records them ("What was measured"), used when this bench run has
 * not just measured workload W: 79-byte events, 12 shuffle bytes per event, 12,000 windows per
 * million events, a 30 ms mapper invocation, the mapper core's ~192,000 records/s; one WRU per
 * state write and per closing write (items under 1 KB); 8 shuffle buckets.
 */
export const DEFAULT_BASIS: ProjectionBasis & { reducerWriteUnitsPerWrite: number; shuffleBuckets: number } = {
  inputBytesPerEvent: 79,
  shuffleBytesPerEvent: 12,
  windowsPerEvent: 12_000 / 1_000_000,
  closerWriteUnitsPerWindow: 1,
  closerReadUnitsPerWindow: 1,
  resultBytes: 400,
  mapperMsPerInvocation: 30,
  mapperMsPerEvent: 1000 / 192_000,
  reducerWriteUnitsPerWrite: 1,
  shuffleBuckets: 8,
};
export type ProfileCostBasis = typeof DEFAULT_BASIS;

export interface ProfileCost {
  profile: LatencyProfileName;
  eventsPerSec: number;
  inputShards: number;
  shuffleShards: number;
  /** Seconds between invocations of one shard's mapper / reducer. */
  mapperIntervalSec: number;
  reducerIntervalSec: number;
  mapperInvocationsPerHour: number;
  reducerInvocationsPerHour: number;
  /** Reducer state writes per event: distinct keys per reducer invocation ÷ its events. */
  writesPerEvent: number;
  estimate: CostEstimate;
  perMillionUsd: number;
}

/** Expected distinct keys among n events spread evenly at random over k keys. */
export function distinctKeys(k: number, n: number): number {
  return k * -Math.expm1(-n / k);
}

/** Seconds between invocations of one shard: the batching window, the poll or push cadence, or a full batch sooner. */
export function invocationInterval(windowSec: number, batchSize: number, recordsPerSecPerShard: number, efo: boolean): number {
  const cadence = Math.max(windowSec, efo ? EFO_INTERVAL_SEC : POLL_INTERVAL_SEC);
  return Math.min(cadence, batchSize / Math.max(recordsPerSecPerShard, 1e-9));
}

export function profileCost(name: LatencyProfileName, eventsPerSec: number, prices: PriceTable, basis: ProfileCostBasis = DEFAULT_BASIS, profile: LatencyProfile = LATENCY_PROFILES[name]): ProfileCost {
  const hours = 1;
  const seconds = 3600 * hours;
  const events = eventsPerSec * seconds;
  const keys = W_KEYS;
  const efo = profile.enhancedFanOut;

  const inputShards = Math.max(1, Math.ceil(eventsPerSec / SHARD_RECORDS_PER_SEC), Math.ceil((eventsPerSec * basis.inputBytesPerEvent) / SHARD_BYTES_PER_SEC));
  const mapperIntervalSec = invocationInterval(profile.mapperBatchingWindow, profile.mapperBatchSize, eventsPerSec / inputShards, efo);
  const mapperInvocations = (inputShards * seconds) / mapperIntervalSec;
  // Each mapper invocation writes one bundle per shuffle bucket it has partials for.
  const eventsPerMapperInvocation = events / mapperInvocations;
  const shuffleRecords = mapperInvocations * Math.min(basis.shuffleBuckets, distinctKeys(keys, eventsPerMapperInvocation));
  const partials = mapperInvocations * distinctKeys(keys, eventsPerMapperInvocation);
  const shuffleBytes = Math.max(events * basis.shuffleBytesPerEvent, partials * 40);
  const shuffleShards = Math.max(1, Math.ceil(shuffleRecords / seconds / SHARD_RECORDS_PER_SEC), Math.ceil(shuffleBytes / seconds / SHARD_BYTES_PER_SEC));
  const reducerIntervalSec = invocationInterval(profile.reducerBatchingWindow, profile.reducerBatchSize, shuffleRecords / seconds / shuffleShards, efo);
  const reducerInvocations = (shuffleShards * seconds) / reducerIntervalSec;
  // One state write per (key, window) a reducer invocation touches; each shuffle shard holds
  // keys ÷ shards keys and sees events ÷ shards of the events.
  const eventsPerReducerInvocation = events / reducerInvocations;
  const writes = reducerInvocations * Math.min(eventsPerReducerInvocation, distinctKeys(keys / shuffleShards, eventsPerReducerInvocation));
  const windows = events * basis.windowsPerEvent * (W_KEYS / keys);
  const closedWindows = Math.min(windows, keys * (seconds / W_WINDOW_SEC));
  const closerRuns = seconds / profile.closerIntervalSeconds;
  const firehoseObjects = Math.ceil(seconds / profile.firehoseBufferInterval) * 2;

  const inputs: CostInputs = {
    label: `${name} profile, live stream at ${eventsPerSec.toLocaleString('en-US')} events/s (W's keys and windows)`,
    events,
    hours,
    kinesisMode: 'provisioned',
    streams: [
      { name: 'input stream', shards: inputShards, puts: addRecord(emptySizes(), basis.inputBytesPerEvent, events), consumers: 1, efoConsumers: efo ? 1 : 0 },
      { name: 'shuffle stream', shards: shuffleShards, puts: addRecord(emptySizes(), shuffleBytes / shuffleRecords, shuffleRecords), consumers: 1, efoConsumers: efo ? 1 : 0 },
    ],
    lambda: {
      mapper: { invocations: mapperInvocations, durationMs: mapperInvocations * basis.mapperMsPerInvocation + events * basis.mapperMsPerEvent, memoryMb: 1024 },
      reducer: { invocations: reducerInvocations, durationMs: reducerInvocations * REDUCER_MS_PER_INVOCATION + writes * MS_PER_STATE_WRITE, memoryMb: 1024 },
      closer: { invocations: closerRuns, durationMs: closerRuns * CLOSER_MS_PER_RUN + closedWindows * MS_PER_STATE_WRITE, memoryMb: 512 },
    },
    dynamodb: {
      'mapper progress': { writeUnits: mapperInvocations, readUnits: mapperInvocations },
      reducer: { writeUnits: writes * basis.reducerWriteUnitsPerWrite, readUnits: writes + reducerInvocations },
      closer: { writeUnits: closedWindows * basis.closerWriteUnitsPerWindow, readUnits: closedWindows * basis.closerReadUnitsPerWindow + closerRuns },
      'open-windows index': { writeUnits: 2 * closedWindows, readUnits: 0 },
    },
    firehose: { records: addRecord(emptySizes(), basis.resultBytes, closedWindows), dynamicPartitioning: true, objects: firehoseObjects },
    s3: { puts: firehoseObjects },
    logs: { bytes: (mapperInvocations + reducerInvocations + closerRuns) * LOG_BYTES_PER_INVOCATION },
  };
  const estimate = estimateCost(inputs, prices);
  return {
    profile: name,
    eventsPerSec,
    inputShards,
    shuffleShards,
    mapperIntervalSec,
    reducerIntervalSec,
    mapperInvocationsPerHour: mapperInvocations,
    reducerInvocationsPerHour: reducerInvocations,
    writesPerEvent: writes / events,
    estimate,
    perMillionUsd: estimate.perMillionEventsUsd,
  };
}

/**
 * Modelled event → update-result p95 (seconds) where the machine cannot run the rate: the wait for
 * the mapper's invocation (95th percentile of a uniform wait over its interval, plus the push delay
 * with enhanced fan-out), the mapper's run, the same for the reducer. A model, labelled as such
 * wherever it is shown; the bench measures the rates the machine sustains.
 */
export function modelledP95Sec(cost: ProfileCost, basis: ProfileCostBasis = DEFAULT_BASIS, profile: LatencyProfile = LATENCY_PROFILES[cost.profile]): number {
  const push = profile.enhancedFanOut ? EFO_PUSH_DELAY_SEC : 0;
  const mapperRun = (basis.mapperMsPerInvocation + (cost.eventsPerSec / cost.inputShards) * cost.mapperIntervalSec * basis.mapperMsPerEvent) / 1000;
  const reducerRun = REDUCER_MS_PER_INVOCATION / 1000;
  return 0.95 * cost.mapperIntervalSec + push + mapperRun + 0.95 * cost.reducerIntervalSec + push + reducerRun;
}

export interface ProfileCostTable {
  rows: ProfileCost[];
  /** The default profile of `final` jobs at W's rate. */
  finalDefaultW: ProfileCost;
}

export function profileCostTable(prices: PriceTable, basis: ProfileCostBasis = DEFAULT_BASIS, rates: readonly number[] = CHART_RATES): ProfileCostTable {
  const rows: ProfileCost[] = [];
  for (const name of LATENCY_PROFILE_NAMES) for (const rate of rates) rows.push(profileCost(name, rate, prices, basis));
  return { rows, finalDefaultW: profileCost(defaultLatencyProfile('final'), 278, prices, basis) };
}

/** The lowest rate (events/s, to 1%) at which a profile's cost per 1,000,000 events is at most `targetUsd`, or undefined above 1,000,000/s. */
export function rateMeetingTarget(name: LatencyProfileName, targetUsd: number, prices: PriceTable, basis: ProfileCostBasis = DEFAULT_BASIS): number | undefined {
  let lo = 1;
  let hi = 1_000_000;
  if (profileCost(name, hi, prices, basis).perMillionUsd > targetUsd) return undefined;
  while (hi / lo > 1.01) {
    const mid = Math.sqrt(lo * hi);
    if (profileCost(name, mid, prices, basis).perMillionUsd <= targetUsd) hi = mid;
    else lo = mid;
  }
  return hi;
}
