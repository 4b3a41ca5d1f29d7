// An independent computation of sensor-average results, straight from the events with plain
// arithmetic — no Riffle code — to compare the pipeline's output against.
export interface SensorLike {
  sensorId: string;
  ts: number;
  temperature: number;
  humidity?: number;
}

export interface ExpectedWindow {
  key: string;
  windowStart: string;
  count: number;
  temperature_avg: number;
  temperature_min: number;
  temperature_max: number;
  temperatures: number[];
  humidity_avg: number | null;
}

export function expectedSensorAverages(events: readonly SensorLike[], windowMs = 300_000): Map<string, ExpectedWindow> {
  const out = new Map<string, ExpectedWindow>();
  const humidity = new Map<string, number[]>();
  for (const e of events) {
    const start = Math.floor(e.ts / windowMs) * windowMs;
    const id = `${e.sensorId}|${new Date(start).toISOString()}`;
    let w = out.get(id);
    if (!w) {
      w = { key: e.sensorId, windowStart: new Date(start).toISOString(), count: 0, temperature_avg: 0, temperature_min: Infinity, temperature_max: -Infinity, temperatures: [], humidity_avg: null };
      out.set(id, w);
      humidity.set(id, []);
    }
    w.count++;
    w.temperatures.push(e.temperature);
    w.temperature_min = Math.min(w.temperature_min, e.temperature);
    w.temperature_max = Math.max(w.temperature_max, e.temperature);
    if (e.humidity !== undefined) humidity.get(id)?.push(e.humidity);
  }
  for (const [id, w] of out) {
    w.temperature_avg = w.temperatures.reduce((a, b) => a + b, 0) / w.count;
    const h = humidity.get(id) ?? [];
    w.humidity_avg = h.length ? h.reduce((a, b) => a + b, 0) / h.length : null;
  }
  return out;
}

/**
 * The exact q-quantile as DDSketch defines the rank it approximates: the value at 0-based index
 * floor(q · (n − 1)) of the sorted values (the "lower" quantile).
 */
export function exactQuantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}

/** Compare deduplicated pipeline results to the oracle; returns a list of differences (empty = equal). */
export function diffSensorResults(results: readonly Record<string, unknown>[], expected: Map<string, ExpectedWindow>): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const r of results) {
    const id = `${String(r.key)}|${String(r.windowStart)}`;
    seen.add(id);
    const e = expected.get(id);
    if (!e) {
      problems.push(`unexpected result ${id}`);
      continue;
    }
    if (r.count !== e.count || r.eventCount !== e.count) problems.push(`${id}: count ${String(r.count)}/${String(r.eventCount)} ≠ ${e.count}`);
    if (r.temperature_min !== e.temperature_min) problems.push(`${id}: min ${String(r.temperature_min)} ≠ ${e.temperature_min}`);
    if (r.temperature_max !== e.temperature_max) problems.push(`${id}: max ${String(r.temperature_max)} ≠ ${e.temperature_max}`);
    if (Math.abs(Number(r.temperature_avg) - e.temperature_avg) > 1e-9 * Math.max(1, Math.abs(e.temperature_avg))) problems.push(`${id}: avg ${String(r.temperature_avg)} ≠ ${e.temperature_avg}`);
    const p95 = exactQuantile(e.temperatures, 0.95);
    if (Math.abs(Number(r.temperature_p95) - p95) > 0.01 * Math.abs(p95) + 1e-9) problems.push(`${id}: p95 ${String(r.temperature_p95)} not within 1% of ${p95}`);
    if (e.humidity_avg === null ? r.humidity_avg !== null : Math.abs(Number(r.humidity_avg) - e.humidity_avg) > 1e-9 * Math.max(1, e.humidity_avg)) problems.push(`${id}: humidity ${String(r.humidity_avg)} ≠ ${String(e.humidity_avg)}`);
  }
  for (const id of expected.keys()) if (!seen.has(id)) problems.push(`missing result ${id}`);
  return problems;
}
