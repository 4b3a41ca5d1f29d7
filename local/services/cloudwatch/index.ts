// CloudWatch on the embedded cloud (metrics and metric alarms): one store of metrics fed by
// PutMetricData, by the EMF lines the functions print (as CloudWatch Logs extracts them on AWS)
// and by the cloud's own service metrics (service-metrics.ts); alarms evaluated against it on a
// timer. The HTTP side is service.ts; the local server registers it on its single endpoint.
import { AlarmRegistry, type AlarmDefinition } from './alarms';
import { parseEmfLine } from './emf';
import { MetricStore, sortDimensions, type Dimension, type Sample } from './metrics';

export { AlarmRegistry, type AlarmDefinition } from './alarms';
export { getMetricData, type MetricDataQuery, type MetricDataResult } from './math';
export { MetricStore, type Dimension, type Sample } from './metrics';

export interface LocalCloudWatchOptions {
  readonly region: string;
  readonly accountId: string;
  /** How often alarms are evaluated (default 10 s; 0: only by evaluateAlarms()). */
  readonly alarmIntervalMs?: number;
  /** How long data points are kept (default 3 h). */
  readonly retentionMs?: number;
  readonly warn?: (message: string) => void;
}

export class LocalCloudWatch {
  readonly metrics: MetricStore;
  readonly alarms: AlarmRegistry;
  /** EMF documents read from function output, and those CloudWatch would have dropped. */
  readonly emf = { documents: 0, rejected: 0 };
  private timer: NodeJS.Timeout | undefined;
  private readonly warned = new Set<string>();

  constructor(private readonly options: LocalCloudWatchOptions) {
    this.metrics = new MetricStore(options.retentionMs);
    this.alarms = new AlarmRegistry(this.metrics, `arn:aws:cloudwatch:${options.region}:${options.accountId}:alarm:`);
  }

  start(): void {
    const every = this.options.alarmIntervalMs ?? 10_000;
    if (every > 0 && !this.timer) {
      this.timer = setInterval(() => this.alarms.evaluate(), every);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A line a function printed (its log group `source`): EMF documents become metrics. */
  ingestLog(source: string, line: string): void {
    const parsed = parseEmfLine(line);
    if (parsed === undefined) return;
    if (!parsed.ok) {
      this.emf.rejected++;
      if (!this.warned.has(source)) {
        this.warned.add(source);
        this.options.warn?.(`cloudwatch: an EMF document from ${source} is invalid and was dropped (${parsed.reason})`);
      }
      return;
    }
    this.emf.documents++;
    for (const d of parsed.datums) this.metrics.put(d.namespace, d.name, d.dimensions, d.timestampMs, d.sample, d.unit);
  }

  /** One data point (the service-metrics publisher and tests). */
  put(namespace: string, name: string, dimensions: Record<string, string>, sample: Sample | number, timestampMs = Date.now(), unit?: string): void {
    const dims: Dimension[] = sortDimensions(Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })));
    const s: Sample = typeof sample === 'number' ? { sum: sample, count: 1, min: sample, max: sample, values: [sample] } : sample;
    this.metrics.put(namespace, name, dims, timestampMs, s, unit);
  }

  putAlarms(defs: readonly AlarmDefinition[]): void {
    for (const def of defs) {
      try {
        this.alarms.put(def);
      } catch (error) {
        this.options.warn?.(`cloudwatch: alarm ${def.AlarmName} not created: ${(error as Error).message}`);
      }
    }
  }

  evaluateAlarms(nowMs?: number): void {
    this.alarms.evaluate(nowMs);
  }
}
