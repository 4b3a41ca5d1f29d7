// The console's HTTP API: what the server (console/server.ts) sends and the page (console/page/)
// reads. Plain data only — no Node or DOM types — so both sides compile against the same file.

export interface ConsoleInfo {
  readonly target: string;
  /** Endpoint of a local target; undefined on AWS. */
  readonly endpoint?: string;
  readonly region?: string;
  readonly jobs: readonly JobInfo[];
  /** How often the pipeline is refreshed (ms), and the window its rates are averaged over (s). */
  readonly refreshMs: number;
  readonly rateWindowS: number;
}

export interface AggregateInfo {
  readonly name: string;
  readonly kind: string;
  /** numeric: a time series per key; ranked: top-k lists; other: table only. */
  readonly shape: 'numeric' | 'ranked' | 'other';
}

export interface JobInfo {
  readonly name: string;
  readonly source: string;
  readonly emit: 'final' | 'update';
  readonly window: string;
  readonly aggregates: readonly AggregateInfo[];
}

export interface Rate {
  /** Per second over the rate window; null when no data point was published in it. */
  readonly recordsPerS: number | null;
  readonly bytesPerS: number | null;
}

export interface PipelineEdge extends Rate {
  readonly from: string;
  readonly to: string;
  /** What the rate counts, e.g. "IncomingRecords of the shuffle stream". */
  readonly measure: string;
}

export interface PipelineNode {
  readonly id: 'input' | 'mapper' | 'shuffle' | 'reducer' | 'closer' | 'firehose' | 's3';
  readonly label: string;
  /** Resource name(s). */
  readonly resource: string;
}

export interface FunctionHealth {
  readonly role: 'mapper' | 'reducer' | 'closer';
  readonly name: string;
  readonly invocations: number;
  readonly errors: number;
  readonly throttles: number;
  readonly durationAvgMs: number | null;
  /** Latest IteratorAge (ms) in the window; null for the closer or without data. */
  readonly iteratorAgeMs: number | null;
}

export interface ShardProgress {
  readonly shardId: string;
  /** Highest event time the mapper has seen on the shard (ms). */
  readonly maxEventTime: number | null;
  /** When the mapper last recorded progress for the shard (ms). */
  readonly updatedAt: number | null;
  /** Wall clock − maxEventTime. */
  readonly eventTimeLagMs: number | null;
}

export interface AlarmView {
  readonly name: string;
  readonly state: string;
  readonly reason: string;
  readonly description: string;
  readonly updatedAt: number | null;
}

export interface PipelineSnapshot {
  readonly job: string;
  readonly now: number;
  readonly nodes: readonly PipelineNode[];
  readonly edges: readonly PipelineEdge[];
  readonly functions: readonly FunctionHealth[];
  readonly shards: readonly ShardProgress[];
  /** The watermark the closer last acted on (ms), and how far it is behind the wall clock. */
  readonly watermark: number | null;
  readonly watermarkLagMs: number | null;
  /** Sums over the rate window, from the functions' own (EMF) metrics. */
  readonly counters: Readonly<Record<'events' | 'rejected' | 'late' | 'latePartials' | 'stateWrites' | 'stateConflicts' | 'duplicatePartials' | 'windowsClosed', number>>;
  /** Objects under aws/lambda/ in the bucket: batches that exhausted their retries. */
  readonly failedBatches: number;
  readonly alarms: readonly AlarmView[];
  /** How far back the history goes (s). */
  readonly historyS: number;
  /** Input and output records/s over the last minutes (for the chart). */
  readonly history: { readonly timestamps: number[]; readonly inputPerS: (number | null)[]; readonly outputPerS: (number | null)[] };
  /** Problems reading a source (e.g. CloudWatch unreachable); the rest is still shown. */
  readonly warnings: readonly string[];
}

export interface OpenWindow {
  readonly key: string;
  readonly windowStart: number | null;
  readonly windowEnd: number | null;
  readonly closeAt: number;
}

export interface ReasonCount {
  readonly reason: string;
  readonly count: number;
  readonly samples: readonly RecordRef[];
}

/** Enough to find one late or rejected record again (GET /api/record). */
export interface RecordRef {
  readonly kind: 'late' | 'rejected';
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly subSequenceNumber: number;
  readonly summary: string;
}

/** An open window's values so far: the state table read as `npm run query -- --live` reads it. */
export interface LiveWindow {
  readonly key: string;
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly eventCount: number;
  readonly version: number;
  /** 'due': the watermark has reached its close time; the closer's next run closes it. */
  readonly state: 'open' | 'due';
  /** Aggregate name → current value, in the job's order. */
  readonly values: Readonly<Record<string, unknown>>;
}

export interface WindowsSnapshot {
  readonly job: string;
  readonly now: number;
  readonly openWindows: number;
  readonly nextDue: readonly OpenWindow[];
  /** The newest open windows with their values so far; `liveTruncated` when more are open. */
  readonly live: readonly LiveWindow[];
  readonly liveTruncated: boolean;
  readonly watermark: number | null;
  readonly late: { readonly total: number; readonly reasons: readonly ReasonCount[] };
  readonly rejected: { readonly total: number; readonly reasons: readonly ReasonCount[] };
}

export interface KeyVolume {
  readonly key: string;
  readonly events: number;
  readonly windows: number;
}

export interface SeriesData {
  readonly aggregate: string;
  readonly keys: readonly string[];
  /** Window starts (ms), ascending. */
  readonly timestamps: readonly number[];
  /** values[k][t]: key k at timestamps[t]; null where the key has no window. */
  readonly values: readonly (readonly (number | null)[])[];
}

export interface ResultRow {
  readonly key: string;
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly final: boolean;
  readonly version: number;
  readonly eventCount: number;
  readonly values: Readonly<Record<string, unknown>>;
}

export interface RankedWindow {
  readonly windowStart: number;
  readonly byKey: readonly { readonly key: string; readonly ranked: readonly { readonly value: string; readonly count: number }[] }[];
}

export interface ResultsSnapshot {
  readonly job: string;
  readonly aggregate: string;
  readonly keys: readonly KeyVolume[];
  readonly series: SeriesData;
  readonly latest: readonly ResultRow[];
  readonly latestTotal: number;
  readonly live: readonly ResultRow[];
  /** Window starts available for the ranked view (newest first). */
  readonly windows: readonly number[];
  readonly ranked?: RankedWindow;
}

export interface RawRecord {
  readonly kind: 'late' | 'rejected';
  readonly row: Readonly<Record<string, unknown>>;
  /** The payload decoded as UTF-8 when it is text (rejected records). */
  readonly payloadText?: string | null;
}
