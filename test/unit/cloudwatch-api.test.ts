// The embedded cloud's CloudWatch API through the real @aws-sdk/client-cloudwatch (AWS JSON 1.0,
// query-compatible errors, gzip-compressed PutMetricData): what the console and any SDK code call.
import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  ListMetricsCommand,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import { startLocalServer, type LocalServer } from '../../local/server';

let server: LocalServer;
let cw: CloudWatchClient;
const now = Math.floor(Date.now() / 60_000) * 60_000; // this minute

beforeAll(async () => {
  server = await startLocalServer({ port: 0, ttlSweepIntervalMs: 0 });
  cw = new CloudWatchClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
});

afterAll(async () => {
  cw.destroy();
  await server.stop();
});

describe('CloudWatch on the local endpoint, through the AWS SDK', () => {
  it('PutMetricData (values, counts, statistic sets, a gzip-compressed batch) → GetMetricData', async () => {
    const metric = { Namespace: 'App', MetricName: 'Latency', Dimensions: [{ Name: 'api', Value: 'get' }] };
    await cw.send(
      new PutMetricDataCommand({
        Namespace: 'App',
        MetricData: [
          { MetricName: 'Latency', Dimensions: metric.Dimensions, Timestamp: new Date(now + 1_000), Value: 10 },
          { MetricName: 'Latency', Dimensions: metric.Dimensions, Timestamp: new Date(now + 2_000), Values: [20, 40], Counts: [1, 2] },
          { MetricName: 'Latency', Dimensions: metric.Dimensions, Timestamp: new Date(now + 3_000), StatisticValues: { SampleCount: 2, Sum: 30, Minimum: 5, Maximum: 25 } },
        ],
      }),
    );
    // Over 10 KB: the SDK gzips the body (Content-Encoding: gzip).
    const many = Array.from({ length: 400 }, (_, i) => ({ MetricName: 'Hits', Dimensions: [{ Name: 'page', Value: `/a/long/page/name/${i % 4}` }], Timestamp: new Date(now + 4_000), Value: 1 }));
    await cw.send(new PutMetricDataCommand({ Namespace: 'App', MetricData: many }));
    const out = await cw.send(
      new GetMetricDataCommand({
        StartTime: new Date(now),
        EndTime: new Date(now + 60_000),
        MetricDataQueries: [
          { Id: 'sum', MetricStat: { Metric: metric, Period: 60, Stat: 'Sum' } },
          { Id: 'n', MetricStat: { Metric: metric, Period: 60, Stat: 'SampleCount' } },
          { Id: 'max', MetricStat: { Metric: metric, Period: 60, Stat: 'Maximum' } },
          { Id: 'hits', Expression: `SUM(SEARCH('{App,page} MetricName="Hits"', 'Sum', 60))` },
        ],
      }),
    );
    // 10 + 20 + 40·2 + 30 = 140 over 1 + 3 + 2 = 6 samples; max 40.
    expect(out.MetricDataResults?.map((r) => [r.Id, r.Values, r.Timestamps?.map((t) => t.getTime()), r.StatusCode])).toEqual([
      ['sum', [140], [now], 'Complete'],
      ['n', [6], [now], 'Complete'],
      ['max', [40], [now], 'Complete'],
      ['hits', [400], [now], 'Complete'],
    ]);
  });

  it('ListMetrics filters and pages', async () => {
    const hits = await cw.send(new ListMetricsCommand({ Namespace: 'App', MetricName: 'Hits' }));
    expect(hits.Metrics?.map((m) => m.Dimensions?.[0]?.Value).sort()).toEqual(['/a/long/page/name/0', '/a/long/page/name/1', '/a/long/page/name/2', '/a/long/page/name/3']);
    const byDim = await cw.send(new ListMetricsCommand({ Dimensions: [{ Name: 'api' }] }));
    expect(byDim.Metrics).toEqual([{ Namespace: 'App', MetricName: 'Latency', Dimensions: [{ Name: 'api', Value: 'get' }] }]);
  });

  it('PutMetricAlarm → DescribeAlarms with its evaluated state; DeleteAlarms', async () => {
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: 'slow',
        Namespace: 'App',
        MetricName: 'Latency',
        Dimensions: [{ Name: 'api', Value: 'get' }],
        Statistic: 'Maximum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 30,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    );
    server.cloudwatch.evaluateAlarms(now + 30_000);
    const described = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'sl' }));
    expect(described.MetricAlarms?.map((a) => [a.AlarmName, a.StateValue, a.Threshold, a.AlarmArn])).toEqual([['slow', 'ALARM', 30, 'arn:aws:cloudwatch:us-east-1:000000000000:alarm:slow']]);
    expect(described.MetricAlarms?.[0]?.StateUpdatedTimestamp).toBeInstanceOf(Date);
    await cw.send(new DeleteAlarmsCommand({ AlarmNames: ['slow'] }));
    expect((await cw.send(new DescribeAlarmsCommand({}))).MetricAlarms).toEqual([]);
  });

  it('answers bad requests with the error CloudWatch gives, by name', async () => {
    await expect(cw.send(new PutMetricDataCommand({ Namespace: 'AWS/Lambda', MetricData: [{ MetricName: 'X', Value: 1 }] }))).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
      $metadata: { httpStatusCode: 400 },
    });
    await expect(
      cw.send(new GetMetricDataCommand({ StartTime: new Date(now), EndTime: new Date(now + 60_000), MetricDataQueries: [{ Id: 'x', Expression: 'ANOMALY_DETECTION_BAND(y)' }] })),
    ).rejects.toThrow(/not supported/);
    // The older query protocol: a clear refusal, not a misparse.
    const response = await fetch(server.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0' },
      body: 'Action=ListMetrics&Version=2010-08-01',
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('AWS JSON 1.0 protocol');
  });
});
