// Metrics the functions publish (Powertools EMF) and the alarms and dashboard read
// (infra/constructs/operations.ts). A metric is identified by namespace, name and the exact set
// of dimensions, so all three are defined once here: an alarm on any other set never fires.

export type FunctionRole = 'mapper' | 'reducer' | 'closer';

export const FUNCTION_ROLES: readonly FunctionRole[] = ['mapper', 'reducer', 'closer'];

/** CloudWatch namespace (POWERTOOLS_METRICS_NAMESPACE). */
export const METRICS_NAMESPACE = 'Riffle';

/** The `service` dimension (POWERTOOLS_SERVICE_NAME) of a role's metrics. */
export function serviceName(role: FunctionRole): string {
  return `riffle-${role}`;
}

/** Dimensions of every Riffle metric, exactly: `service` (the role) and `job`. */
export const METRIC_DIMENSIONS = ['service', 'job'] as const;

export const METRIC = {
  /** Mapper: valid events counted. */
  events: 'Events',
  /** Mapper: events sent to rejected/ (undecodable or invalid). Drives the rejected-rate alarm. */
  rejected: 'RejectedEvents',
  /** Mapper: events sent to late/. */
  late: 'LateEvents',
  /** Reducer: partials sent to late/ (a window closed while they were in the shuffle stream). */
  latePartials: 'LatePartials',
  /** Mapper: partials emitted. */
  partials: 'Partials',
  /** Mapper: shuffle records (bundles) put. */
  shuffleRecords: 'ShuffleRecords',
  /** Reducer: redelivered partials the fence skipped. */
  duplicatePartials: 'DuplicatePartials',
  /** Reducer: conditional state writes. */
  stateWrites: 'StateWrites',
  /** Reducer: conditional writes that lost a race. */
  stateConflicts: 'StateConflicts',
  /** Closer: windows (and sessions) closed. */
  windowsClosed: 'WindowsClosed',
  /** Closer: input-shard gaps (batches skipped after finite retries) waiting for `npm run replay`; each holds the watermark. */
  openGaps: 'OpenGaps',
  /** Mapper: gaps recorded by an attempt (a batch of its shard was skipped). */
  gapsRecorded: 'GapsRecorded',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
