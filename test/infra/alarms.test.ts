// The stack's throttle, Firehose and DynamoDB alarms, as synthesized, evaluated by the embedded
// cloud's CloudWatch alarm evaluator (local/services/cloudwatch/alarms.ts, the one `npm run local`
// runs on every template) against metric data written here: each fires on what it is meant to,
// stays OK on a short blip or on no data, and the closer's fires only when it did not run at all.
import { Template } from 'aws-cdk-lib/assertions';
import { AlarmRegistry, type AlarmDefinition } from '../../local/services/cloudwatch/alarms';
import { MetricStore, type Dimension } from '../../local/services/cloudwatch/metrics';
import { buildTestApp } from './helpers';

const PERIOD_MS = 300_000;
/** Three 5-minute periods, aligned; the alarms look at the last three. */
const T0 = Math.floor(Date.UTC(2026, 0, 5, 12) / PERIOD_MS) * PERIOD_MS;
const PERIODS = [T0, T0 + PERIOD_MS, T0 + 2 * PERIOD_MS];
const NOW = T0 + 2 * PERIOD_MS + 10_000;

let definitions: Record<string, AlarmDefinition>;
/** The logical IDs the template's Refs name (the test writes metrics under these as the resources' names). */
let refs: { table: string; stream: (kind: string) => string; fn: (role: string) => string };
let bufferSeconds: number;

beforeAll(() => {
  const { stacks } = buildTestApp({ jobs: 'clicks' });
  const stack = stacks[0]!;
  const json = JSON.stringify(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm'));
  // Resolve every { "Ref": "X" } to "X": a physical name stand-in the metrics below use too.
  const resolved = JSON.parse(json.replace(/\{"Ref":"([A-Za-z0-9]+)"\}/g, '"$1"')) as Record<string, { Properties: AlarmDefinition }>;
  definitions = Object.fromEntries(Object.values(resolved).map((r) => [r.Properties.AlarmName, r.Properties]));
  const id = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
  const job = stack.jobs.clicks!;
  refs = {
    table: id(stack.state.table),
    stream: (kind) => stack.getLogicalId(job.delivery.deliveryStreams[kind as 'results'] as never),
    fn: (role) => id(job.wiring[role as 'mapper']),
  };
  bufferSeconds = job.delivery.bufferingInterval.toSeconds();
});

/** The state of alarm `name` after the metric data `write` puts, evaluated at NOW. */
function stateAfter(name: string, write: (put: (namespace: string, metric: string, dimensions: Dimension[], atMs: number, value: number) => void) => void): string {
  const store = new MetricStore(Number.MAX_SAFE_INTEGER);
  const registry = new AlarmRegistry(store, 'arn:aws:cloudwatch:us-east-1:000000000000:alarm:');
  const definition = definitions[name];
  if (!definition) throw new Error(`no alarm ${name} in the template`);
  registry.put(definition);
  write((namespace, metric, dimensions, atMs, value) => store.put(namespace, metric, dimensions, atMs + 1_000, { sum: value, count: 1, min: value, max: value, values: [value] }));
  registry.evaluate(NOW);
  return registry.describe({ names: [name] })[0]?.StateValue as string;
}

const lambda = (role: string) => [{ Name: 'FunctionName', Value: refs.fn(role) }];
const firehose = (kind: string) => [{ Name: 'DeliveryStreamName', Value: refs.stream(kind) }];

test('mapper throttles: ALARM when throttled in each of three periods, OK after a blip or with no data', () => {
  expect(stateAfter('Riffle-clicks-mapper-throttles', (put) => PERIODS.forEach((t) => put('AWS/Lambda', 'Throttles', lambda('mapper'), t, 4)))).toBe('ALARM');
  expect(stateAfter('Riffle-clicks-mapper-throttles', (put) => PERIODS.slice(1).forEach((t) => put('AWS/Lambda', 'Throttles', lambda('mapper'), t, 4)))).toBe('OK');
  expect(stateAfter('Riffle-clicks-mapper-throttles', () => undefined)).toBe('OK');
});

test('closer throttles: ALARM only when it was throttled and never ran; throttled nudges beside runs are normal', () => {
  const throttled = (put: Parameters<Parameters<typeof stateAfter>[1]>[0]) => PERIODS.forEach((t) => put('AWS/Lambda', 'Throttles', lambda('closer'), t, 20));
  expect(stateAfter('Riffle-clicks-closer-throttles', throttled)).toBe('ALARM');
  expect(
    stateAfter('Riffle-clicks-closer-throttles', (put) => {
      throttled(put);
      PERIODS.forEach((t) => put('AWS/Lambda', 'Invocations', lambda('closer'), t, 5));
    }),
  ).toBe('OK');
});

test("delivery freshness: ALARM past the stream's buffering interval + 5 minutes, OK at it", () => {
  const limit = bufferSeconds + 300;
  const freshness = (seconds: number) => (put: Parameters<Parameters<typeof stateAfter>[1]>[0]) =>
    PERIODS.forEach((t) => put('AWS/Firehose', 'DeliveryToS3.DataFreshness', firehose('results'), t, seconds));
  expect(stateAfter('Riffle-clicks-results-delivery-freshness', freshness(limit + 1))).toBe('ALARM');
  expect(stateAfter('Riffle-clicks-results-delivery-freshness', freshness(limit))).toBe('OK');
  expect(stateAfter('Riffle-clicks-late-delivery-freshness', freshness(limit + 1))).toBe('OK'); // another stream's data
});

test('delivery success: ALARM when below 1 in every period, OK when one period delivered everything or nothing was sent', () => {
  const success = (values: number[]) => (put: Parameters<Parameters<typeof stateAfter>[1]>[0]) =>
    PERIODS.forEach((t, i) => put('AWS/Firehose', 'DeliveryToS3.Success', firehose('rejected'), t, values[i]!));
  expect(stateAfter('Riffle-clicks-rejected-delivery-success', success([0, 0.5, 0]))).toBe('ALARM');
  expect(stateAfter('Riffle-clicks-rejected-delivery-success', success([0, 1, 0]))).toBe('OK');
  expect(stateAfter('Riffle-clicks-rejected-delivery-success', () => undefined)).toBe('OK');
});

test("state table: throttled requests of any of the functions' operations, table and index throttle events", () => {
  expect(
    stateAfter('Riffle-clicks-state-throttled-requests', (put) =>
      PERIODS.forEach((t, i) => put('AWS/DynamoDB', 'ThrottledRequests', [{ Name: 'TableName', Value: refs.table }, { Name: 'Operation', Value: ['PutItem', 'BatchGetItem', 'Query'][i]! }], t, 2)),
    ),
  ).toBe('ALARM');
  expect(
    stateAfter('Riffle-clicks-state-throttled-requests', (put) =>
      PERIODS.forEach((t) => put('AWS/DynamoDB', 'ThrottledRequests', [{ Name: 'TableName', Value: refs.table }, { Name: 'Operation', Value: 'Scan' }], t, 2)),
    ),
  ).toBe('OK'); // an operation no function sends
  expect(stateAfter('Riffle-clicks-state-throttle-events', (put) => PERIODS.forEach((t) => put('AWS/DynamoDB', 'WriteThrottleEvents', [{ Name: 'TableName', Value: refs.table }], t, 1)))).toBe('ALARM');
  const index = [{ Name: 'TableName', Value: refs.table }, { Name: 'GlobalSecondaryIndexName', Value: 'open-windows' }];
  expect(stateAfter('Riffle-clicks-state-index-throttle-events', (put) => PERIODS.forEach((t) => put('AWS/DynamoDB', 'ReadThrottleEvents', index, t, 3)))).toBe('ALARM');
  // The table's own throttle events are not the index's.
  expect(stateAfter('Riffle-clicks-state-index-throttle-events', (put) => PERIODS.forEach((t) => put('AWS/DynamoDB', 'ReadThrottleEvents', [{ Name: 'TableName', Value: refs.table }], t, 3)))).toBe('OK');
});
