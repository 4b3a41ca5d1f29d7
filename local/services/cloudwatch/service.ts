// The CloudWatch API on the local endpoint, in the protocol the current AWS SDK speaks to it:
// AWS JSON 1.0 with `X-Amz-Target: GraniteServiceVersion20100801.<Operation>` and query-compatible
// errors (`x-amzn-query-error: Code;Sender`), timestamps as epoch seconds; PutMetricData bodies
// may be gzip-compressed (the SDK compresses requests over 10 KB). Operations: PutMetricData,
// GetMetricData, ListMetrics, PutMetricAlarm, DescribeAlarms, DeleteAlarms. Requests in the
// older query protocol (form-encoded `Action=…`) get an error saying so.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { AlarmDefinition } from './alarms';
import type { LocalCloudWatch } from './index';
import { getMetricData, type MetricDataQuery } from './math';
import { CloudWatchInputError, sortDimensions, type Dimension, type Sample } from './metrics';
import type { LocalService } from '../../endpoint/router';

const TARGET_PREFIX = 'GraniteServiceVersion20100801.';
const MAX_DATAPOINTS = 100_800;

/** The CloudWatch API as a plug-in of the local endpoint. */
export type CloudWatchPlugin = LocalService;

/** ValidationError etc. → the SDK's exception shape and the query error code. */
const ERROR_SHAPES: Record<string, [shape: string, status: number]> = {
  ValidationError: ['InvalidParameterValueException', 400],
  InvalidParameterValue: ['InvalidParameterValueException', 400],
  MissingParameter: ['MissingRequiredParameterException', 400],
  InvalidParameterCombination: ['InvalidParameterCombinationException', 400],
  InvalidNextToken: ['InvalidNextToken', 400],
  InvalidAction: ['InvalidParameterValueException', 400],
};

function targetOf(req: IncomingMessage): string | undefined {
  const t = req.headers['x-amz-target'];
  return typeof t === 'string' && t.startsWith(TARGET_PREFIX) ? t.slice(TARGET_PREFIX.length) : undefined;
}

function signingScope(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  return typeof auth === 'string' ? /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(auth)?.[1] : undefined;
}

const seconds = (ms: number): number => ms / 1000;
const msOf = (v: unknown, what: string): number => {
  if (typeof v === 'number' && Number.isFinite(v)) return v * 1000;
  if (typeof v === 'string' && !Number.isNaN(Date.parse(v))) return Date.parse(v);
  throw new CloudWatchInputError('MissingParameter', `The parameter ${what} is required (epoch seconds).`);
};

function page<T>(items: readonly T[], token: unknown, size: number): { items: T[]; next?: string } {
  const start = token === undefined ? 0 : Number(Buffer.from(String(token), 'base64').toString('utf8'));
  if (!Number.isInteger(start) || start < 0 || start > items.length) throw new CloudWatchInputError('InvalidNextToken', 'The NextToken is not valid.');
  const end = start + size;
  return { items: items.slice(start, end), ...(end < items.length ? { next: Buffer.from(String(end)).toString('base64') } : {}) };
}

function putMetricData(cw: LocalCloudWatch, input: Record<string, unknown>): Record<string, unknown> {
  const namespace = input.Namespace;
  if (typeof namespace !== 'string' || namespace === '') throw new CloudWatchInputError('MissingParameter', 'The parameter Namespace is required.');
  if (namespace.startsWith('AWS/')) throw new CloudWatchInputError('InvalidParameterValue', 'The value AWS/ for parameter Namespace is invalid (reserved for AWS services).');
  const data = Array.isArray(input.MetricData) ? (input.MetricData as Record<string, unknown>[]) : [];
  if (data.length === 0) throw new CloudWatchInputError('MissingParameter', 'The parameter MetricData is required.');
  for (const d of data) {
    if (typeof d.MetricName !== 'string') throw new CloudWatchInputError('MissingParameter', 'The parameter MetricData.member.MetricName is required.');
    const dims = sortDimensions((d.Dimensions as Dimension[] | undefined) ?? []);
    const at = d.Timestamp === undefined ? Date.now() : msOf(d.Timestamp, 'Timestamp');
    let sample: Sample;
    const stats = d.StatisticValues as { SampleCount: number; Sum: number; Minimum: number; Maximum: number } | undefined;
    if (stats) sample = { sum: stats.Sum, count: stats.SampleCount, min: stats.Minimum, max: stats.Maximum };
    else if (Array.isArray(d.Values)) {
      const values: number[] = [];
      (d.Values as number[]).forEach((v, i) => {
        const times = Array.isArray(d.Counts) ? Number((d.Counts as number[])[i] ?? 1) : 1;
        for (let k = 0; k < Math.min(times, 1000); k++) values.push(v);
      });
      sample = { sum: values.reduce((a, b) => a + b, 0), count: values.length, min: Math.min(...values), max: Math.max(...values), values };
    } else if (typeof d.Value === 'number') sample = { sum: d.Value, count: 1, min: d.Value, max: d.Value, values: [d.Value] };
    else throw new CloudWatchInputError('MissingParameter', `MetricData ${d.MetricName}: one of Value, Values or StatisticValues is required.`);
    cw.metrics.put(namespace, d.MetricName, dims, at, sample, typeof d.Unit === 'string' ? d.Unit : undefined);
  }
  return {};
}

function getMetricDataOp(cw: LocalCloudWatch, input: Record<string, unknown>): Record<string, unknown> {
  const queries = (input.MetricDataQueries as MetricDataQuery[] | undefined) ?? [];
  if (queries.length === 0) throw new CloudWatchInputError('MissingParameter', 'The parameter MetricDataQueries is required.');
  if (queries.length > 500) throw new CloudWatchInputError('InvalidParameterValue', 'At most 500 MetricDataQueries are allowed.');
  const results = getMetricData(cw.metrics, queries, msOf(input.StartTime, 'StartTime'), msOf(input.EndTime, 'EndTime'));
  const ascending = input.ScanBy === 'TimestampAscending';
  let budget = typeof input.MaxDatapoints === 'number' ? input.MaxDatapoints : MAX_DATAPOINTS;
  return {
    MetricDataResults: results.map((r) => {
      const order = r.Timestamps.map((_, i) => i);
      if (!ascending) order.reverse();
      const kept = order.slice(0, Math.max(0, budget));
      budget -= kept.length;
      return { Id: r.Id, Label: r.Label, Timestamps: kept.map((i) => seconds(r.Timestamps[i] as number)), Values: kept.map((i) => r.Values[i]), StatusCode: r.StatusCode };
    }),
    Messages: [],
  };
}

function listMetrics(cw: LocalCloudWatch, input: Record<string, unknown>): Record<string, unknown> {
  const recently = input.RecentlyActive === 'PT3H' ? Date.now() - 3 * 3_600_000 : undefined;
  const all = cw.metrics.list({
    ...(typeof input.Namespace === 'string' ? { namespace: input.Namespace } : {}),
    ...(typeof input.MetricName === 'string' ? { name: input.MetricName } : {}),
    ...(Array.isArray(input.Dimensions) ? { dimensions: input.Dimensions as { Name: string; Value?: string }[] } : {}),
    ...(recently !== undefined ? { activeSinceMs: recently } : {}),
  });
  const { items, next } = page(all, input.NextToken, 500);
  return { Metrics: items.map((m) => ({ Namespace: m.namespace, MetricName: m.name, Dimensions: m.dimensions })), ...(next ? { NextToken: next } : {}) };
}

function describeAlarms(cw: LocalCloudWatch, input: Record<string, unknown>): Record<string, unknown> {
  const types = Array.isArray(input.AlarmTypes) ? (input.AlarmTypes as string[]) : ['MetricAlarm'];
  const all = types.includes('MetricAlarm')
    ? cw.alarms.describe({
        ...(Array.isArray(input.AlarmNames) ? { names: input.AlarmNames as string[] } : {}),
        ...(typeof input.AlarmNamePrefix === 'string' ? { prefix: input.AlarmNamePrefix } : {}),
        ...(typeof input.StateValue === 'string' ? { state: input.StateValue } : {}),
      })
    : [];
  const size = typeof input.MaxRecords === 'number' ? Math.min(100, Math.max(1, input.MaxRecords)) : 50;
  const { items, next } = page(all, input.NextToken, size);
  return { MetricAlarms: items, CompositeAlarms: [], ...(next ? { NextToken: next } : {}) };
}

function dispatch(cw: LocalCloudWatch, operation: string, input: Record<string, unknown>): Record<string, unknown> {
  switch (operation) {
    case 'PutMetricData':
      return putMetricData(cw, input);
    case 'GetMetricData':
      return getMetricDataOp(cw, input);
    case 'ListMetrics':
      return listMetrics(cw, input);
    case 'DescribeAlarms':
      return describeAlarms(cw, input);
    case 'PutMetricAlarm':
      cw.alarms.put(input as unknown as AlarmDefinition);
      return {};
    case 'DeleteAlarms':
      cw.alarms.delete((input.AlarmNames as string[] | undefined) ?? []);
      return {};
    default:
      throw new CloudWatchInputError(
        'InvalidAction',
        `The embedded cloud's CloudWatch does not emulate ${operation} (PutMetricData, GetMetricData, ListMetrics, PutMetricAlarm, DescribeAlarms, DeleteAlarms)`,
      );
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(text), 'x-amzn-requestid': randomUUID(), ...extra });
  res.end(text);
}

export function cloudWatchService(cw: LocalCloudWatch): CloudWatchPlugin {
  return {
    name: 'cloudwatch',
    matches: (req) => targetOf(req) !== undefined || signingScope(req) === 'monitoring',
    operation: (req) => targetOf(req) ?? 'query-protocol',
    async stop() {
      cw.stop();
    },
    async handle(req, res, raw) {
      const operation = targetOf(req);
      try {
        if (operation === undefined) {
          throw new CloudWatchInputError('InvalidAction', 'this CloudWatch speaks the AWS JSON 1.0 protocol (X-Amz-Target: GraniteServiceVersion20100801.<Operation>) that current AWS SDKs use; the query protocol (Action=…) is not emulated');
        }
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        let input: unknown = {};
        if (body.length > 0) {
          try {
            input = JSON.parse(body.toString('utf8'));
          } catch {
            throw new CloudWatchInputError('InvalidParameterValue', 'The request body is not JSON.');
          }
        }
        sendJson(res, 200, dispatch(cw, operation, (input ?? {}) as Record<string, unknown>));
      } catch (error) {
        if (!(error instanceof CloudWatchInputError)) throw error;
        const [shape, status] = ERROR_SHAPES[error.code] ?? ['InvalidParameterValueException', 400];
        sendJson(res, status, { __type: `com.amazonaws.cloudwatch#${shape}`, message: error.message }, { 'x-amzn-query-error': `${error.code};Sender` });
      }
    },
  };
}
