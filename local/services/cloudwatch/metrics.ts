// The embedded cloud's CloudWatch metric store: every metric (namespace, name, dimension set) keeps
// its data points aggregated per second — sum, count, min, max and a capped sample of the values
// for percentiles — for a retention window (3 h by default, what the console and the stack's alarms
// look back over). Queries aggregate those seconds into periods aligned to the epoch, as
// CloudWatch does, and return only periods that have data. Fed by PutMetricData, by the EMF lines
// the functions print, and by the local cloud's own service metrics (AWS/Lambda, AWS/Kinesis, …).

export interface Dimension {
  readonly Name: string;
  readonly Value: string;
}

export interface MetricIdentity {
  readonly namespace: string;
  readonly name: string;
  /** Sorted by name. */
  readonly dimensions: readonly Dimension[];
}

/** One observation or a pre-aggregated set (PutMetricData's StatisticValues, EMF arrays). */
export interface Sample {
  readonly sum: number;
  readonly count: number;
  readonly min: number;
  readonly max: number;
  /** Individual values when known (percentiles); absent for statistic sets. */
  readonly values?: readonly number[];
}

interface Bucket {
  sum: number;
  count: number;
  min: number;
  max: number;
  values: number[];
}

interface Series {
  readonly identity: MetricIdentity;
  unit: string | undefined;
  lastPutMs: number;
  /** Epoch second → aggregate. Insertion order is roughly time order (pruned from the front). */
  readonly buckets: Map<number, Bucket>;
}

/** Values kept per second for percentiles; beyond it, percentiles come from the kept sample. */
const VALUES_PER_SECOND = 500;
const STAT = /^(Sum|Average|Minimum|Maximum|SampleCount|p(\d{1,2}(?:\.\d+)?|100))$/;

export class CloudWatchInputError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

export function isStatistic(stat: string): boolean {
  return STAT.test(stat);
}

export function metricKey(namespace: string, name: string, dimensions: readonly Dimension[]): string {
  return [namespace, name, ...dimensions.map((d) => `${d.Name}=${d.Value}`)].join('\u0000');
}

export function sortDimensions(dimensions: readonly Dimension[]): Dimension[] {
  return [...dimensions].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
}

export interface SeriesPoints {
  /** Period starts, epoch ms, ascending. */
  readonly timestamps: number[];
  readonly values: number[];
}

export class MetricStore {
  private readonly series = new Map<string, Series>();

  constructor(private readonly retentionMs = 3 * 3_600_000) {}

  put(namespace: string, name: string, dimensions: readonly Dimension[], timestampMs: number, sample: Sample, unit?: string): void {
    if (!(sample.count > 0)) return;
    const dims = sortDimensions(dimensions);
    const key = metricKey(namespace, name, dims);
    let s = this.series.get(key);
    if (!s) {
      s = { identity: { namespace, name, dimensions: dims }, unit, lastPutMs: 0, buckets: new Map() };
      this.series.set(key, s);
    }
    if (unit && unit !== 'None') s.unit = unit;
    s.lastPutMs = Math.max(s.lastPutMs, Date.now());
    const second = Math.floor(timestampMs / 1000);
    let b = s.buckets.get(second);
    if (!b) {
      b = { sum: 0, count: 0, min: Infinity, max: -Infinity, values: [] };
      s.buckets.set(second, b);
      this.prune(s);
    }
    b.sum += sample.sum;
    b.count += sample.count;
    b.min = Math.min(b.min, sample.min);
    b.max = Math.max(b.max, sample.max);
    for (const v of sample.values ?? []) if (b.values.length < VALUES_PER_SECOND) b.values.push(v);
  }

  /** Metrics matching the filter (ListMetrics); `dimensions` entries without a value match any value. */
  list(filter: { namespace?: string; name?: string; dimensions?: readonly { Name: string; Value?: string }[]; activeSinceMs?: number } = {}): MetricIdentity[] {
    const out: MetricIdentity[] = [];
    for (const s of this.series.values()) {
      const id = s.identity;
      if (filter.namespace !== undefined && id.namespace !== filter.namespace) continue;
      if (filter.name !== undefined && id.name !== filter.name) continue;
      if (filter.activeSinceMs !== undefined && s.lastPutMs < filter.activeSinceMs) continue;
      if (filter.dimensions && !filter.dimensions.every((f) => id.dimensions.some((d) => d.Name === f.Name && (f.Value === undefined || d.Value === f.Value)))) continue;
      out.push(id);
    }
    return out;
  }

  unit(identity: MetricIdentity): string | undefined {
    return this.series.get(metricKey(identity.namespace, identity.name, identity.dimensions))?.unit;
  }

  /**
   * One statistic per period over [startMs, endMs): periods aligned to multiples of `periodS`
   * since the epoch, only those with data, ascending.
   */
  points(identity: MetricIdentity, stat: string, periodS: number, startMs: number, endMs: number): SeriesPoints {
    if (!STAT.test(stat)) throw new CloudWatchInputError('InvalidParameterValue', `The statistic ${stat} is not supported (Sum, Average, Minimum, Maximum, SampleCount, p0–p100)`);
    const s = this.series.get(metricKey(identity.namespace, identity.name, sortDimensions(identity.dimensions)));
    if (!s) return { timestamps: [], values: [] };
    const periods = new Map<number, Bucket>();
    const fromS = Math.floor(startMs / 1000);
    const toS = Math.ceil(endMs / 1000);
    for (const [second, b] of s.buckets) {
      if (second < fromS || second >= toS) continue;
      const p = Math.floor(second / periodS) * periodS;
      const agg = periods.get(p);
      if (!agg) periods.set(p, { sum: b.sum, count: b.count, min: b.min, max: b.max, values: [...b.values] });
      else {
        agg.sum += b.sum;
        agg.count += b.count;
        agg.min = Math.min(agg.min, b.min);
        agg.max = Math.max(agg.max, b.max);
        agg.values.push(...b.values);
      }
    }
    const starts = [...periods.keys()].sort((a, b) => a - b);
    return { timestamps: starts.map((p) => p * 1000), values: starts.map((p) => statistic(periods.get(p) as Bucket, stat)) };
  }

  private prune(s: Series): void {
    const cutoff = Math.floor((Date.now() - this.retentionMs) / 1000);
    for (const second of s.buckets.keys()) {
      if (second >= cutoff) break;
      s.buckets.delete(second);
    }
  }
}

function statistic(b: Bucket, stat: string): number {
  switch (stat) {
    case 'Sum':
      return b.sum;
    case 'Average':
      return b.sum / b.count;
    case 'Minimum':
      return b.min;
    case 'Maximum':
      return b.max;
    case 'SampleCount':
      return b.count;
    default: {
      const q = Number(stat.slice(1)) / 100;
      if (b.values.length === 0) return q >= 0.5 ? b.max : b.min; // statistic sets only: the bounds are all we know
      const sorted = [...b.values].sort((x, y) => x - y);
      return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
    }
  }
}
