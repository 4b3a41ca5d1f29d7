// The Pipeline view's data: one GetMetricData call per refresh for the job's metrics — what AWS
// services publish (AWS/Kinesis, AWS/Lambda, AWS/Firehose) and what the functions publish as EMF
// (namespace Riffle, dimensions job and service) — plus DescribeAlarms for the stack's alarms,
// the closer's watermark and the mappers' shard progress from the state table, and the count of
// failed batches in the bucket. Every source is read through the public AWS API of the target.
import { DescribeAlarmsCommand, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { METRIC, METRICS_NAMESPACE, serviceName, type FunctionRole, type MetricName } from '../functions/contract/metrics';
import type { AlarmView, FunctionHealth, PipelineEdge, PipelineNode, PipelineSnapshot, ShardProgress } from './api';
import type { Deployment, JobResources } from './deployment';
import { readProgress } from './state';

export interface RateSettings {
  /** Period of the metric data (s): 60 on AWS (standard resolution), shorter locally. */
  readonly periodS: number;
  /** Rates are averaged over this many seconds. */
  readonly rateWindowS: number;
  /** The chart's history (s). */
  readonly historyS: number;
}


interface Q {
  id: string;
  ns: string;
  name: string;
  dims: Record<string, string>;
  stat: string;
}

function queriesFor(r: JobResources): Q[] {
  const q: Q[] = [];
  const add = (id: string, ns: string, name: string, dims: Record<string, string>, stat = 'Sum') => q.push({ id, ns, name, dims, stat });
  add('inR', 'AWS/Kinesis', 'IncomingRecords', { StreamName: r.inputStream });
  add('inB', 'AWS/Kinesis', 'IncomingBytes', { StreamName: r.inputStream });
  add('mapR', 'AWS/Kinesis', 'GetRecords.Records', { StreamName: r.inputStream });
  add('mapB', 'AWS/Kinesis', 'GetRecords.Bytes', { StreamName: r.inputStream });
  add('shR', 'AWS/Kinesis', 'IncomingRecords', { StreamName: r.shuffleStream });
  add('shB', 'AWS/Kinesis', 'IncomingBytes', { StreamName: r.shuffleStream });
  add('redR', 'AWS/Kinesis', 'GetRecords.Records', { StreamName: r.shuffleStream });
  add('redB', 'AWS/Kinesis', 'GetRecords.Bytes', { StreamName: r.shuffleStream });
  add('fhR', 'AWS/Firehose', 'IncomingRecords', { DeliveryStreamName: r.deliveries.results });
  add('fhB', 'AWS/Firehose', 'IncomingBytes', { DeliveryStreamName: r.deliveries.results });
  for (const kind of ['results', 'late', 'rejected'] as const) {
    add(`s3R${kind}`, 'AWS/Firehose', 'DeliveryToS3.Records', { DeliveryStreamName: r.deliveries[kind] });
    add(`s3B${kind}`, 'AWS/Firehose', 'DeliveryToS3.Bytes', { DeliveryStreamName: r.deliveries[kind] });
  }
  for (const [role, fn] of Object.entries(r.functions)) {
    add(`${role}Inv`, 'AWS/Lambda', 'Invocations', { FunctionName: fn });
    add(`${role}Err`, 'AWS/Lambda', 'Errors', { FunctionName: fn });
    add(`${role}Thr`, 'AWS/Lambda', 'Throttles', { FunctionName: fn });
    add(`${role}Dur`, 'AWS/Lambda', 'Duration', { FunctionName: fn }, 'Average');
    if (role !== 'closer') add(`${role}Age`, 'AWS/Lambda', 'IteratorAge', { FunctionName: fn }, 'Maximum');
  }
  // The functions' own metrics, with exactly the dimensions they publish (functions/contract/metrics.ts).
  const riffle = (id: string, name: MetricName, role: FunctionRole) => add(id, METRICS_NAMESPACE, name, { job: r.job.name, service: serviceName(role) });
  riffle('events', METRIC.events, 'mapper');
  riffle('rejected', METRIC.rejected, 'mapper');
  riffle('late', METRIC.late, 'mapper');
  riffle('latePartials', METRIC.latePartials, 'reducer');
  riffle('stateWrites', METRIC.stateWrites, 'reducer');
  riffle('stateConflicts', METRIC.stateConflicts, 'reducer');
  riffle('duplicatePartials', METRIC.duplicatePartials, 'reducer');
  riffle('windowsClosed', METRIC.windowsClosed, 'closer');
  return q;
}

interface Points {
  timestamps: number[];
  values: number[];
}

async function metricData(d: Deployment, r: JobResources, settings: RateSettings, now: number): Promise<Map<string, Points>> {
  const queries: MetricDataQuery[] = queriesFor(r).map((q) => ({
    Id: q.id,
    MetricStat: { Metric: { Namespace: q.ns, MetricName: q.name, Dimensions: Object.entries(q.dims).map(([Name, Value]) => ({ Name, Value })) }, Period: settings.periodS, Stat: q.stat },
    ReturnData: true,
  }));
  const out = new Map<string, Points>();
  let token: string | undefined;
  do {
    const page = await d.cloudwatch.send(
      new GetMetricDataCommand({
        MetricDataQueries: queries,
        StartTime: new Date(now - settings.historyS * 1000),
        EndTime: new Date(now + settings.periodS * 1000),
        ScanBy: 'TimestampAscending',
        ...(token ? { NextToken: token } : {}),
      }),
    );
    for (const m of page.MetricDataResults ?? []) {
      const p = out.get(m.Id as string) ?? { timestamps: [], values: [] };
      p.timestamps.push(...(m.Timestamps ?? []).map((t) => t.getTime()));
      p.values.push(...(m.Values ?? []));
      out.set(m.Id as string, p);
    }
    token = page.NextToken;
  } while (token);
  return out;
}

export async function pipelineSnapshot(d: Deployment, r: JobResources, settings: RateSettings, now = Date.now()): Promise<PipelineSnapshot> {
  const warnings: string[] = [];
  const [metrics, alarms, progress, failedBatches] = await Promise.all([
    metricData(d, r, settings, now).catch((e: Error) => {
      warnings.push(`CloudWatch metrics: ${e.message}`);
      return new Map<string, Points>();
    }),
    readAlarms(d, r).catch((e: Error) => {
      warnings.push(`CloudWatch alarms: ${e.message}`);
      return [] as AlarmView[];
    }),
    readProgress(d, r).catch((e: Error) => {
      warnings.push(`state table: ${e.message}`);
      return { watermark: null, shards: [] as { shardId: string; maxEventTime: number | null; updatedAt: number | null }[] };
    }),
    countFailedBatches(d, r).catch((e: Error) => {
      warnings.push(`failed batches in S3: ${e.message}`);
      return 0;
    }),
  ]);
  // The rate window is the last N whole periods (aligned to the epoch, as CloudWatch aligns them)
  // ending with the current, partial one; rates divide by the time it has covered so far.
  const periodMs = settings.periodS * 1000;
  const since = Math.floor(now / periodMs) * periodMs - (Math.max(1, Math.round(settings.rateWindowS / settings.periodS)) - 1) * periodMs;
  const elapsedS = Math.max(1, (now - since) / 1000);
  const total = (id: string): number | null => {
    const p = metrics.get(id);
    if (!p || p.timestamps.length === 0) return null;
    let sum = 0;
    p.timestamps.forEach((t, i) => {
      if (t >= since) sum += p.values[i] as number;
    });
    return sum;
  };
  const perS = (id: string): number | null => {
    const t = total(id);
    return t === null ? null : t / elapsedS;
  };
  const sumOf = (ids: string[]): number | null => {
    const parts = ids.map(perS).filter((v): v is number => v !== null);
    return parts.length ? parts.reduce((a, b) => a + b, 0) : null;
  };
  const latest = (id: string): number | null => {
    const p = metrics.get(id);
    return p && p.values.length ? (p.values[p.values.length - 1] as number) : null;
  };
  const average = (id: string): number | null => {
    const p = metrics.get(id);
    if (!p) return null;
    const v = p.values.filter((_, i) => (p.timestamps[i] as number) >= since);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };

  const nodes: PipelineNode[] = [
    { id: 'input', label: 'input stream', resource: r.inputStream },
    { id: 'mapper', label: 'mapper', resource: r.functions.mapper },
    { id: 'shuffle', label: 'shuffle stream', resource: r.shuffleStream },
    { id: 'reducer', label: 'reducer', resource: r.functions.reducer },
    { id: 'closer', label: 'closer', resource: r.functions.closer },
    { id: 'firehose', label: 'Firehose', resource: `${r.deliveries.results}, ${r.deliveries.late}, ${r.deliveries.rejected}` },
    { id: 's3', label: 'S3', resource: r.bucket },
  ];
  const closerInv = perS('closerInv');
  const edges: PipelineEdge[] = [
    { from: 'producers', to: 'input', measure: 'IncomingRecords / IncomingBytes of the input stream', recordsPerS: perS('inR'), bytesPerS: perS('inB') },
    { from: 'input', to: 'mapper', measure: 'GetRecords.Records / GetRecords.Bytes of the input stream', recordsPerS: perS('mapR'), bytesPerS: perS('mapB') },
    { from: 'mapper', to: 'shuffle', measure: 'IncomingRecords / IncomingBytes of the shuffle stream', recordsPerS: perS('shR'), bytesPerS: perS('shB') },
    { from: 'shuffle', to: 'reducer', measure: 'GetRecords.Records / GetRecords.Bytes of the shuffle stream', recordsPerS: perS('redR'), bytesPerS: perS('redB') },
    { from: 'reducer', to: 'closer', measure: 'closer invocations per second (nudges and the schedule)', recordsPerS: closerInv, bytesPerS: null },
    { from: 'closer', to: 'firehose', measure: 'IncomingRecords / IncomingBytes of the results delivery stream', recordsPerS: perS('fhR'), bytesPerS: perS('fhB') },
    {
      from: 'firehose',
      to: 's3',
      measure: 'DeliveryToS3.Records / DeliveryToS3.Bytes of the results, late and rejected delivery streams',
      recordsPerS: sumOf(['s3Rresults', 's3Rlate', 's3Rrejected']),
      bytesPerS: sumOf(['s3Bresults', 's3Blate', 's3Brejected']),
    },
  ];
  const functions: FunctionHealth[] = (['mapper', 'reducer', 'closer'] as const).map((role) => ({
    role,
    name: r.functions[role],
    invocations: total(`${role}Inv`) ?? 0,
    errors: total(`${role}Err`) ?? 0,
    throttles: total(`${role}Thr`) ?? 0,
    durationAvgMs: average(`${role}Dur`),
    iteratorAgeMs: role === 'closer' ? null : latest(`${role}Age`),
  }));
  const shards: ShardProgress[] = progress.shards.map((s) => ({ ...s, eventTimeLagMs: s.maxEventTime === null ? null : now - s.maxEventTime }));
  const counter = (id: string) => total(id) ?? 0;
  // The chart: input records/s and records delivered to S3 per second, per period.
  const history = (() => {
    const times = new Set<number>();
    for (const id of ['inR', 's3Rresults', 's3Rlate', 's3Rrejected']) for (const t of metrics.get(id)?.timestamps ?? []) times.add(t);
    const sorted = [...times].sort((a, b) => a - b);
    const at = (id: string, t: number) => {
      const p = metrics.get(id);
      const i = p ? p.timestamps.indexOf(t) : -1;
      return i < 0 || !p ? null : (p.values[i] as number);
    };
    const rate = (ids: string[], t: number) => {
      const v = ids.map((id) => at(id, t)).filter((x): x is number => x !== null);
      return v.length ? v.reduce((a, b) => a + b, 0) / settings.periodS : null;
    };
    return {
      timestamps: sorted,
      inputPerS: sorted.map((t) => rate(['inR'], t)),
      outputPerS: sorted.map((t) => rate(['s3Rresults', 's3Rlate', 's3Rrejected'], t)),
    };
  })();
  return {
    job: r.job.name,
    now,
    nodes,
    edges,
    functions,
    shards,
    watermark: progress.watermark,
    watermarkLagMs: progress.watermark === null ? null : now - progress.watermark,
    counters: {
      events: counter('events'),
      rejected: counter('rejected'),
      late: counter('late'),
      latePartials: counter('latePartials'),
      stateWrites: counter('stateWrites'),
      stateConflicts: counter('stateConflicts'),
      duplicatePartials: counter('duplicatePartials'),
      windowsClosed: counter('windowsClosed'),
    },
    failedBatches,
    alarms,
    historyS: settings.historyS,
    history,
    warnings,
  };
}

async function readAlarms(d: Deployment, r: JobResources): Promise<AlarmView[]> {
  const out: AlarmView[] = [];
  // DescribeAlarms takes at most 100 names per call; a job has 8.
  const page = await d.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [...r.alarmNames], AlarmTypes: ['MetricAlarm'] }));
  for (const a of page.MetricAlarms ?? []) {
    out.push({
      name: a.AlarmName ?? '',
      state: a.StateValue ?? 'INSUFFICIENT_DATA',
      reason: a.StateReason ?? '',
      description: a.AlarmDescription ?? '',
      updatedAt: a.StateUpdatedTimestamp?.getTime() ?? null,
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Objects the event source mappings wrote to the bucket's on-failure prefix (one per lost batch). */
async function countFailedBatches(d: Deployment, r: JobResources): Promise<number> {
  let n = 0;
  let token: string | undefined;
  do {
    const page = await d.s3.send(new ListObjectsV2Command({ Bucket: r.bucket, Prefix: 'aws/lambda/', ...(token ? { ContinuationToken: token } : {}) }));
    n += page.KeyCount ?? page.Contents?.length ?? 0;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token && n < 100_000);
  return n;
}
