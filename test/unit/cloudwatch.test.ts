// The embedded cloud's CloudWatch, pure parts: the metric store's statistics and period alignment,
// metric math (the stack's rejected-rate expression and the dashboard's SEARCH among them), EMF
// extraction from the exact lines Powertools prints, and alarm evaluation with every
// TreatMissingData mode. Expected values are worked out by hand here, not computed by the code.
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { AlarmRegistry, type AlarmDefinition } from '../../local/services/cloudwatch/alarms';
import { parseEmfLine } from '../../local/services/cloudwatch/emf';
import { LocalCloudWatch } from '../../local/services/cloudwatch';
import { getMetricData } from '../../local/services/cloudwatch/math';
import { MetricStore, type Sample } from '../../local/services/cloudwatch/metrics';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0); // a minute boundary
const one = (v: number): Sample => ({ sum: v, count: 1, min: v, max: v, values: [v] });
const dims = (job: string) => [
  { Name: 'service', Value: 'riffle-mapper' },
  { Name: 'job', Value: job },
];

function store(): MetricStore {
  const s = new MetricStore(Number.MAX_SAFE_INTEGER);
  // Two minutes of a counter: 10 + 20 in the first minute, 30 in the second.
  s.put('Riffle', 'Events', dims('a'), T0 + 5_000, one(10));
  s.put('Riffle', 'Events', dims('a'), T0 + 35_000, one(20));
  s.put('Riffle', 'Events', dims('a'), T0 + 65_000, one(30));
  s.put('Riffle', 'RejectedEvents', dims('a'), T0 + 10_000, one(3));
  s.put('Riffle', 'Events', dims('b'), T0 + 5_000, one(7));
  return s;
}

describe('metric store', () => {
  it('aggregates into epoch-aligned periods with every statistic', () => {
    const s = store();
    const id = { namespace: 'Riffle', name: 'Events', dimensions: [...dims('a')].reverse() }; // dimension order does not matter
    expect(s.points(id, 'Sum', 60, T0, T0 + 120_000)).toEqual({ timestamps: [T0, T0 + 60_000], values: [30, 30] });
    expect(s.points(id, 'Average', 60, T0, T0 + 120_000).values).toEqual([15, 30]);
    expect(s.points(id, 'SampleCount', 120, T0, T0 + 120_000)).toEqual({ timestamps: [T0], values: [3] });
    expect(s.points(id, 'Maximum', 3600, T0, T0 + 120_000)).toEqual({ timestamps: [T0], values: [30] });
    expect(s.points(id, 'p50', 3600, T0, T0 + 120_000).values).toEqual([20]);
    expect(s.points(id, 'Sum', 60, T0 + 60_000, T0 + 120_000).values).toEqual([30]); // [start, end)
    expect(() => s.points(id, 'TM(10%:90%)', 60, T0, T0 + 60_000)).toThrow(/not supported/);
  });

  it('lists metrics by namespace, name and dimension (with or without a value)', () => {
    const s = store();
    expect(s.list({ name: 'Events' })).toHaveLength(2);
    expect(s.list({ dimensions: [{ Name: 'job', Value: 'b' }] }).map((m) => m.name)).toEqual(['Events']);
    expect(s.list({ dimensions: [{ Name: 'job' }] })).toHaveLength(3);
    expect(s.list({ namespace: 'AWS/Lambda' })).toEqual([]);
  });
});

describe('GetMetricData and metric math', () => {
  const m = (id: string, name: string, job = 'a', stat = 'Sum', period = 60) => ({
    Id: id,
    MetricStat: { Metric: { Namespace: 'Riffle', MetricName: name, Dimensions: dims(job) }, Period: period, Stat: stat },
    ReturnData: false,
  });

  it("evaluates the stack's rejected-rate expression (IF and FILL over missing periods)", () => {
    const [rate] = getMetricData(
      store(),
      [m('rejected', 'RejectedEvents'), m('incoming', 'Events'), { Id: 'rate', Expression: 'IF(FILL(incoming, 0) > 0, 100 * FILL(rejected, 0) / FILL(incoming, 0), 0)' }],
      T0,
      T0 + 180_000,
    );
    // minute 1: 3 of 30 → 10 %; minute 2: no rejects (filled with 0) → 0 %; minute 3: no data at all → 0.
    expect(rate).toMatchObject({ Id: 'rate', Timestamps: [T0, T0 + 60_000, T0 + 120_000], Values: [10, 0, 0] });
  });

  it('SEARCH finds every metric of a schema matching the terms, one result per metric', () => {
    const results = getMetricData(store(), [{ Id: 'e', Expression: `SEARCH('{Riffle,job,service} MetricName="Events"', 'Sum', 120)` }], T0, T0 + 120_000);
    expect(results.map((r) => [r.Label, r.Values])).toEqual([
      ['Events a riffle-mapper', [60]],
      ['Events b riffle-mapper', [7]],
    ]);
    expect(getMetricData(store(), [{ Id: 'e', Expression: `SEARCH('{Riffle,job} MetricName="Events"', 'Sum', 60)` }], T0, T0 + 60_000)).toEqual([]);
  });

  it('arithmetic, SUM over an array, and clear errors for what it does not support', () => {
    const s = store();
    const [sum] = getMetricData(s, [m('x', 'Events', 'a'), m('y', 'Events', 'b'), { Id: 'total', Expression: 'SUM([x, y]) * 2 - 1' }], T0, T0 + 120_000);
    expect(sum?.Values).toEqual([73, 59]);
    expect(() => getMetricData(s, [{ Id: 'q', Expression: 'ANOMALY_DETECTION_BAND(x)' }], T0, T0 + 60_000)).toThrow(/ANOMALY_DETECTION_BAND is not supported/);
    expect(() => getMetricData(s, [{ Id: 'q', Expression: 'nope * 2' }], T0, T0 + 60_000)).toThrow(/references "nope"/);
    expect(() => getMetricData(s, [{ Id: 'Bad', Expression: '1' }], T0, T0 + 60_000)).toThrow(/Invalid metric data query Id/);
    expect(() => getMetricData(s, [{ Id: 'q', Expression: '1' }], T0 + 1, T0)).toThrow(/StartTime must be less than/);
  });
});

describe('EMF', () => {
  it('reads the lines Powertools Metrics prints, with its namespace, dimensions and units', () => {
    const metrics = new Metrics({ namespace: 'Riffle', serviceName: 'riffle-mapper' });
    metrics.setDefaultDimensions({ job: 'sensor-averages' });
    metrics.addMetric('Events', MetricUnit.Count, 120);
    metrics.addMetric('RejectedEvents', MetricUnit.Count, 3);
    // What publishStoredMetrics() prints: this document as one JSON line.
    const parsed = parseEmfLine(JSON.stringify(metrics.serializeMetrics()));
    expect(parsed?.ok).toBe(true);
    const datums = parsed?.ok ? parsed.datums : [];
    expect(datums.map((d) => [d.namespace, d.name, d.sample.sum, d.unit, Object.fromEntries(d.dimensions.map((x) => [x.Name, x.Value]))])).toEqual([
      ['Riffle', 'Events', 120, 'Count', { service: 'riffle-mapper', job: 'sensor-averages' }],
      ['Riffle', 'RejectedEvents', 3, 'Count', { service: 'riffle-mapper', job: 'sensor-averages' }],
    ]);
  });

  it('ignores lines that are not EMF and reports EMF that breaks the specification', () => {
    expect(parseEmfLine('START RequestId: 1')).toBeUndefined();
    expect(parseEmfLine('{"level":"INFO","message":"hello"}')).toBeUndefined();
    expect(parseEmfLine('{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["job"]],"Metrics":[{"Name":"X"}]}]},"X":1}')).toEqual({
      ok: false,
      reason: 'dimension job has no string value at the root',
    });
    const multi = parseEmfLine('{"_aws":{"Timestamp":5000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"X","Unit":"Milliseconds"}]}]},"X":[1,2,6]}');
    expect(multi).toEqual({ ok: true, datums: [{ namespace: 'N', name: 'X', dimensions: [], timestampMs: 5000, unit: 'Milliseconds', sample: { sum: 9, count: 3, min: 1, max: 6, values: [1, 2, 6] } }] });
  });

  it('turns function output into metrics, counting invalid documents', () => {
    const cw = new LocalCloudWatch({ region: 'us-east-1', accountId: '000000000000', alarmIntervalMs: 0 });
    const at = Math.floor(Date.now() / 60_000) * 60_000; // within the 3 h the store keeps
    cw.ingestLog('/aws/lambda/f', `{"_aws":{"Timestamp":${at},"CloudWatchMetrics":[{"Namespace":"Riffle","Dimensions":[["job"]],"Metrics":[{"Name":"Events"}]}]},"job":"a","Events":4}`);
    cw.ingestLog('/aws/lambda/f', '{"_aws":{"CloudWatchMetrics":"no"}}');
    cw.ingestLog('/aws/lambda/f', 'plain text');
    expect(cw.emf).toEqual({ documents: 1, rejected: 1 });
    expect(cw.metrics.points({ namespace: 'Riffle', name: 'Events', dimensions: [{ Name: 'job', Value: 'a' }] }, 'Sum', 60, at, at + 60_000).values).toEqual([4]);
  });
});

describe('alarms', () => {
  const base: AlarmDefinition = {
    AlarmName: 'errors',
    Namespace: 'AWS/Lambda',
    MetricName: 'Errors',
    Dimensions: [{ Name: 'FunctionName', Value: 'f' }],
    Statistic: 'Sum',
    Period: 60,
    EvaluationPeriods: 3,
    DatapointsToAlarm: 2,
    Threshold: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
  };
  const state = (r: AlarmRegistry) => r.describe({})[0]?.StateValue;

  it('goes to ALARM when M of the last N periods breach, and back to OK', () => {
    const s = new MetricStore(Number.MAX_SAFE_INTEGER);
    const r = new AlarmRegistry(s, 'arn:aws:cloudwatch:us-east-1:0:alarm:');
    r.put(base);
    const f = [{ Name: 'FunctionName', Value: 'f' }];
    s.put('AWS/Lambda', 'Errors', f, T0 + 1_000, one(2));
    s.put('AWS/Lambda', 'Errors', f, T0 + 61_000, one(0));
    r.evaluate(T0 + 90_000); // periods [T0-60s, T0, T0+60s]: –, 2, 0 → 1 breaching < 2
    expect(state(r)).toBe('OK');
    s.put('AWS/Lambda', 'Errors', f, T0 + 121_000, one(5));
    r.evaluate(T0 + 130_000); // 2, 0, 5 → 2 breaching
    expect(state(r)).toBe('ALARM');
    expect(r.describe({})[0]).toMatchObject({ AlarmArn: 'arn:aws:cloudwatch:us-east-1:0:alarm:errors', StateReason: expect.stringContaining('2 out of the last 3 datapoints [2, 0, 5]') });
    r.evaluate(T0 + 400_000); // no data in the last 3 periods, TreatMissingData missing
    expect(state(r)).toBe('INSUFFICIENT_DATA');
  });

  it.each([
    ['notBreaching', 'OK'],
    ['breaching', 'ALARM'],
    ['missing', 'INSUFFICIENT_DATA'],
  ])('with no data at all, TreatMissingData %s → %s', (treat, expected) => {
    const r = new AlarmRegistry(new MetricStore(), 'arn:');
    r.put({ ...base, TreatMissingData: treat });
    r.evaluate(T0);
    expect(state(r)).toBe(expected);
  });

  it('evaluates math alarms, and rejects definitions CloudWatch would reject', () => {
    const r = new AlarmRegistry(store(), 'arn:');
    r.put({
      AlarmName: 'rejected-rate',
      EvaluationPeriods: 1,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanThreshold',
      Metrics: [
        { Id: 'rejected', MetricStat: { Metric: { Namespace: 'Riffle', MetricName: 'RejectedEvents', Dimensions: dims('a') }, Period: 60, Stat: 'Sum' }, ReturnData: false },
        { Id: 'incoming', MetricStat: { Metric: { Namespace: 'Riffle', MetricName: 'Events', Dimensions: dims('a') }, Period: 60, Stat: 'Sum' }, ReturnData: false },
        { Id: 'rate', Expression: '100 * FILL(rejected, 0) / incoming' },
      ],
    });
    r.evaluate(T0 + 30_000); // 3 / 30 = 10 % > 5 %
    expect(state(r)).toBe('ALARM');
    r.evaluate(T0 + 90_000); // 0 / 30 = 0 %
    expect(state(r)).toBe('OK');
    expect(() => r.put({ ...base, ComparisonOperator: 'LessThanLowerOrGreaterThanUpperThreshold' })).toThrow(/ComparisonOperator must be one of/);
    expect(() => r.put({ ...base, DatapointsToAlarm: 4 })).toThrow(/must not exceed EvaluationPeriods/);
    expect(() => r.put({ ...base, Statistic: undefined })).toThrow(/Statistic or ExtendedStatistic is required/);
  });
});
