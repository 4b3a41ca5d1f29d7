// CloudWatch Embedded Metric Format, as CloudWatch Logs extracts it from a Lambda function's log
// lines: a line that is one JSON object with `_aws.CloudWatchMetrics` becomes one metric per
// (directive, dimension set, metric), its value(s) read from the root member of the metric's
// name, its dimension values from the root members of the dimension names. Lines that are not
// EMF are ignored, as CloudWatch ignores them; an EMF line that breaks the specification is
// reported (CloudWatch drops it too, but says so in the log group, which has no local equivalent).
import type { Dimension, Sample } from './metrics';

export interface EmfDatum {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: readonly Dimension[];
  readonly timestampMs: number;
  readonly sample: Sample;
  readonly unit?: string;
}

export type EmfParse = { readonly ok: true; readonly datums: EmfDatum[] } | { readonly ok: false; readonly reason: string } | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The datums of one log line; undefined when the line is not EMF at all. */
export function parseEmfLine(line: string, nowMs = Date.now()): EmfParse {
  const text = line.trim();
  if (!text.startsWith('{') || !text.includes('"_aws"')) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(doc) || !isObject(doc._aws)) return undefined;
  const meta = doc._aws;
  const directives = meta.CloudWatchMetrics;
  if (!Array.isArray(directives)) return { ok: false, reason: '_aws.CloudWatchMetrics is not an array' };
  const timestampMs = typeof meta.Timestamp === 'number' && Number.isFinite(meta.Timestamp) ? meta.Timestamp : nowMs;
  const datums: EmfDatum[] = [];
  for (const directive of directives) {
    if (!isObject(directive) || typeof directive.Namespace !== 'string' || !Array.isArray(directive.Metrics)) {
      return { ok: false, reason: 'a CloudWatchMetrics directive needs Namespace and Metrics' };
    }
    const sets = Array.isArray(directive.Dimensions) ? directive.Dimensions : [[]];
    for (const set of sets) {
      if (!Array.isArray(set)) return { ok: false, reason: 'Dimensions must be an array of arrays of names' };
      const dimensions: Dimension[] = [];
      for (const name of set) {
        const value = doc[String(name)];
        if (typeof value !== 'string') return { ok: false, reason: `dimension ${String(name)} has no string value at the root` };
        dimensions.push({ Name: String(name), Value: value });
      }
      for (const metric of directive.Metrics) {
        if (!isObject(metric) || typeof metric.Name !== 'string') return { ok: false, reason: 'a metric definition needs a Name' };
        const raw = doc[metric.Name];
        const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
        if (values.length === 0) continue;
        let sum = 0;
        let min = Infinity;
        let max = -Infinity;
        for (const v of values) {
          sum += v;
          min = Math.min(min, v);
          max = Math.max(max, v);
        }
        datums.push({
          namespace: directive.Namespace,
          name: metric.Name,
          dimensions,
          timestampMs,
          sample: { sum, count: values.length, min, max, values },
          ...(typeof metric.Unit === 'string' ? { unit: metric.Unit } : {}),
        });
      }
    }
  }
  return { ok: true, datums };
}
