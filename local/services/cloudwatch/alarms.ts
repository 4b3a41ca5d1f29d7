// Metric alarms on the embedded cloud: definitions as PutMetricAlarm (and a template's
// AWS::CloudWatch::Alarm) give them, evaluated against the local metric store every few seconds
// the way CloudWatch evaluates them — the last EvaluationPeriods periods, DatapointsToAlarm of
// them breaching → ALARM, TreatMissingData for periods without data — and described as
// DescribeAlarms returns them. Alarm actions (SNS) are recorded, not sent.
import { getMetricData, type MetricDataQuery } from './math';
import { CloudWatchInputError, type Dimension, type MetricStore } from './metrics';

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
const COMPARISONS = ['GreaterThanOrEqualToThreshold', 'GreaterThanThreshold', 'LessThanThreshold', 'LessThanOrEqualToThreshold'] as const;

export interface AlarmDefinition {
  readonly AlarmName: string;
  readonly AlarmDescription?: string;
  readonly ActionsEnabled?: boolean;
  readonly OKActions?: readonly string[];
  readonly AlarmActions?: readonly string[];
  readonly InsufficientDataActions?: readonly string[];
  readonly MetricName?: string;
  readonly Namespace?: string;
  readonly Statistic?: string;
  readonly ExtendedStatistic?: string;
  readonly Dimensions?: readonly Dimension[];
  readonly Period?: number;
  readonly Unit?: string;
  readonly EvaluationPeriods: number;
  readonly DatapointsToAlarm?: number;
  readonly Threshold?: number;
  readonly ComparisonOperator: string;
  readonly TreatMissingData?: string;
  readonly Metrics?: readonly MetricDataQuery[];
}

export interface AlarmStatus {
  state: AlarmState;
  reason: string;
  reasonData?: string;
  updatedMs: number;
  transitionedMs: number;
}

export class AlarmRegistry {
  private readonly alarms = new Map<string, { def: AlarmDefinition; status: AlarmStatus }>();

  constructor(
    private readonly store: MetricStore,
    private readonly arnPrefix: string,
  ) {}

  put(def: AlarmDefinition): void {
    validate(def);
    const now = Date.now();
    const existing = this.alarms.get(def.AlarmName);
    this.alarms.set(def.AlarmName, {
      def,
      status: existing?.status ?? { state: 'INSUFFICIENT_DATA', reason: 'Unchecked: Initial alarm creation', updatedMs: now, transitionedMs: now },
    });
    this.evaluateOne(def.AlarmName, now);
  }

  delete(names: readonly string[]): void {
    for (const n of names) this.alarms.delete(n);
  }

  names(): string[] {
    return [...this.alarms.keys()];
  }

  /** Re-evaluates every alarm at `nowMs`. */
  evaluate(nowMs = Date.now()): void {
    for (const name of this.alarms.keys()) this.evaluateOne(name, nowMs);
  }

  describe(filter: { names?: readonly string[]; prefix?: string; state?: string }): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const [name, { def, status }] of [...this.alarms].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (filter.names?.length && !filter.names.includes(name)) continue;
      if (filter.prefix !== undefined && !name.startsWith(filter.prefix)) continue;
      if (filter.state !== undefined && status.state !== filter.state) continue;
      out.push({
        ...def,
        AlarmArn: `${this.arnPrefix}${name}`,
        ActionsEnabled: def.ActionsEnabled ?? true,
        OKActions: def.OKActions ?? [],
        AlarmActions: def.AlarmActions ?? [],
        InsufficientDataActions: def.InsufficientDataActions ?? [],
        Dimensions: def.Dimensions ?? [],
        TreatMissingData: def.TreatMissingData ?? 'missing',
        StateValue: status.state,
        StateReason: status.reason,
        ...(status.reasonData ? { StateReasonData: status.reasonData } : {}),
        StateUpdatedTimestamp: status.updatedMs / 1000,
        StateTransitionedTimestamp: status.transitionedMs / 1000,
        AlarmConfigurationUpdatedTimestamp: status.updatedMs / 1000,
      });
    }
    return out;
  }

  private evaluateOne(name: string, nowMs: number): void {
    const entry = this.alarms.get(name);
    if (!entry) return;
    const { def, status } = entry;
    const period = def.Period ?? def.Metrics?.find((m) => m.MetricStat)?.MetricStat?.Period ?? def.Metrics?.find((m) => m.Period)?.Period ?? 60;
    const periodMs = period * 1000;
    const n = def.EvaluationPeriods;
    // The newest period is the one that contains now (CloudWatch evaluates partial periods too).
    const endMs = (Math.floor(nowMs / periodMs) + 1) * periodMs;
    const startMs = endMs - n * periodMs;
    const queries: readonly MetricDataQuery[] = def.Metrics?.length
      ? def.Metrics
      : [
          {
            Id: 'm',
            MetricStat: {
              Metric: { Namespace: def.Namespace as string, MetricName: def.MetricName as string, Dimensions: def.Dimensions ?? [] },
              Period: period,
              Stat: (def.ExtendedStatistic ?? def.Statistic) as string,
            },
          },
        ];
    let values: (number | undefined)[];
    try {
      const result = getMetricData(this.store, queries, startMs, endMs).find((r) => r !== undefined);
      const byTime = new Map((result?.Timestamps ?? []).map((t, i) => [t, result?.Values[i] as number]));
      values = Array.from({ length: n }, (_, i) => byTime.get(startMs + i * periodMs));
    } catch (error) {
      this.transition(status, 'INSUFFICIENT_DATA', `Unable to evaluate: ${(error as Error).message}`, nowMs);
      return;
    }
    const threshold = def.Threshold ?? 0;
    const breaches = (v: number): boolean => {
      switch (def.ComparisonOperator) {
        case 'GreaterThanOrEqualToThreshold':
          return v >= threshold;
        case 'GreaterThanThreshold':
          return v > threshold;
        case 'LessThanThreshold':
          return v < threshold;
        default:
          return v <= threshold;
      }
    };
    const missing = def.TreatMissingData ?? 'missing';
    const present = values.filter((v): v is number => v !== undefined);
    const needed = def.DatapointsToAlarm ?? n;
    const shown = values.map((v) => (v === undefined ? '–' : String(Math.round(v * 1000) / 1000))).join(', ');
    if (present.length === 0) {
      if (missing === 'ignore') return;
      if (missing === 'breaching') this.transition(status, 'ALARM', `no data in the last ${n} period(s) of ${period} s, treated as breaching`, nowMs);
      else if (missing === 'notBreaching') this.transition(status, 'OK', `no data in the last ${n} period(s) of ${period} s, treated as not breaching`, nowMs);
      else this.transition(status, 'INSUFFICIENT_DATA', `no data in the last ${n} period(s) of ${period} s`, nowMs);
      return;
    }
    const breaching = values.filter((v) => (v === undefined ? missing === 'breaching' : breaches(v))).length;
    const verdict: AlarmState = breaching >= needed ? 'ALARM' : 'OK';
    const reason = `Threshold Crossed: ${breaching} out of the last ${n} datapoints [${shown}] ${verdict === 'ALARM' ? 'were' : 'were not'} ${def.ComparisonOperator.replace(/([A-Z])/g, ' $1').trim().toLowerCase()} (${threshold}) (minimum ${needed} datapoint(s) for OK -> ALARM transition).`;
    this.transition(status, verdict, reason, nowMs, JSON.stringify({ version: '1.0', queryDate: new Date(nowMs).toISOString(), period, threshold, recentDatapoints: present }));
  }

  private transition(status: AlarmStatus, state: AlarmState, reason: string, nowMs: number, reasonData?: string): void {
    if (status.state !== state) status.transitionedMs = nowMs;
    status.state = state;
    status.reason = reason;
    if (reasonData !== undefined) status.reasonData = reasonData;
    status.updatedMs = nowMs;
  }
}

function validate(def: AlarmDefinition): void {
  const fail = (m: string): never => {
    throw new CloudWatchInputError('ValidationError', `Alarm ${def.AlarmName ?? '(no name)'}: ${m}`);
  };
  if (typeof def.AlarmName !== 'string' || def.AlarmName === '') fail('AlarmName is required');
  if (!(def.EvaluationPeriods >= 1)) fail('EvaluationPeriods must be at least 1');
  if (!(COMPARISONS as readonly string[]).includes(def.ComparisonOperator)) fail(`ComparisonOperator must be one of ${COMPARISONS.join(', ')} (anomaly detection is not emulated)`);
  if (def.Metrics?.length) {
    if (def.MetricName || def.Namespace) fail('give either Metrics or MetricName/Namespace, not both');
    if (def.Metrics.filter((m) => m.ReturnData !== false).length !== 1) fail('exactly one of Metrics must have ReturnData true');
  } else {
    if (!def.MetricName || !def.Namespace) fail('MetricName and Namespace are required (or Metrics)');
    if (!def.Statistic && !def.ExtendedStatistic) fail('Statistic or ExtendedStatistic is required');
    if (!(Number(def.Period) >= 1)) fail('Period is required');
  }
  if (def.DatapointsToAlarm !== undefined && def.DatapointsToAlarm > def.EvaluationPeriods) fail('DatapointsToAlarm must not exceed EvaluationPeriods');
}
