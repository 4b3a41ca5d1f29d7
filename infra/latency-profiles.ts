// The latency profiles: one per-job knob (`latency`) that sets every setting on the path from an
// input record to a result — ESM batch sizes and batching windows, the closer's schedule, Firehose
// buffering and enhanced fan-out — to one consistent point on the latency/cost curve. One table, so
// the stack (infra/config.ts), the docs and the bench's cost/latency chart read the same numbers.
// Pure: no CDK imports. Why each number is what it is: infra/README.md, "Latency and cost: one knob".

export const LATENCY_PROFILE_NAMES = ['interactive', 'balanced', 'economy'] as const;
export type LatencyProfileName = (typeof LATENCY_PROFILE_NAMES)[number];

export interface LatencyProfile {
  /** Input records per mapper invocation (ESM BatchSize). */
  readonly mapperBatchSize: number;
  /** Seconds the mapper's ESM gathers records before invoking (MaximumBatchingWindowInSeconds). */
  readonly mapperBatchingWindow: number;
  /** Shuffle records per reducer invocation (ESM BatchSize). */
  readonly reducerBatchSize: number;
  /** Seconds the reducer's ESM gathers records; the cost lever (one state write per key per batch). */
  readonly reducerBatchingWindow: number;
  /** Period of the closer's schedule, whole minutes (EventBridge's rate() cannot go below one). */
  readonly closerIntervalSeconds: number;
  /** Firehose BufferingHints.IntervalInSeconds (60–900 with dynamic partitioning). */
  readonly firehoseBufferInterval: number;
  /** Firehose BufferingHints.SizeInMBs (64–128 with dynamic partitioning). */
  readonly firehoseBufferSizeMb: number;
  /** Enhanced fan-out consumers (pushed records, ~70 ms) for the mapper on the input stream and the reducer on the shuffle stream, instead of polling (~1 s per shard). */
  readonly enhancedFanOut: boolean;
}

export const LATENCY_PROFILES: Readonly<Record<LatencyProfileName, LatencyProfile>> = {
  // Event → update result in well under 2 s on AWS: no batching windows, records pushed to both
  // functions. Pays per invocation (≈ one state write per key per mapper batch) and two EFO
  // consumer-shard-hours ($0.015 each).
  interactive: {
    mapperBatchSize: 1000,
    mapperBatchingWindow: 0,
    reducerBatchSize: 1000,
    reducerBatchingWindow: 0,
    closerIntervalSeconds: 60,
    firehoseBufferInterval: 60,
    firehoseBufferSizeMb: 64,
    enhancedFanOut: true,
  },
  // Update results within a few seconds (1 s + poll + 5 s + poll) without an hourly fee: the
  // settings Riffle deployed before profiles existed, and the default for `update` jobs.
  balanced: {
    mapperBatchSize: 1000,
    mapperBatchingWindow: 1,
    reducerBatchSize: 1000,
    reducerBatchingWindow: 5,
    closerIntervalSeconds: 60,
    firehoseBufferInterval: 60,
    firehoseBufferSizeMb: 64,
    enhancedFanOut: false,
  },
  // The default for `final` jobs, whose results wait for window end + lateness anyway: the longest
  // batching windows AWS allows for the reducer (state writes per event ≈ keys ÷ (events/s × 300)),
  // full batches, a closer every 5 minutes and larger, fewer Firehose objects.
  economy: {
    mapperBatchSize: 10_000,
    mapperBatchingWindow: 30,
    reducerBatchSize: 10_000,
    reducerBatchingWindow: 300,
    closerIntervalSeconds: 300,
    firehoseBufferInterval: 300,
    firehoseBufferSizeMb: 128,
    enhancedFanOut: false,
  },
};

/** The profile a job gets when it sets none: `update` jobs want results soon, `final` jobs cheap. */
export function defaultLatencyProfile(emit: 'final' | 'update'): LatencyProfileName {
  return emit === 'update' ? 'balanced' : 'economy';
}
