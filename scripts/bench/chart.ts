// The bench's latency–cost chart: p95 event → update-result latency against cost per 1,000,000
// events, one series per latency profile at each rate, with reference lines for Amazon Managed
// Service for Apache Flink (its smallest practical application spread over 100 and 1,000 events/s)
// and for one DynamoDB UpdateItem per event, and the 2 s interactive target. Rendered to SVG by
// Vega-Lite + Vega in Node (no canvas, no network: data is inline, nothing is loaded by URL).
import * as vega from 'vega';
import * as vl from 'vega-lite';

export interface ChartPoint {
  profile: string;
  eventsPerSec: number;
  costPerMillionUsd: number;
  p95Sec: number;
  /** 'measured' on the embedded cloud, or 'model' where the machine cannot sustain the rate. */
  source: 'measured' | 'model';
}

export interface CostReference {
  label: string;
  costPerMillionUsd: number;
}

/** Managed Flink's smallest practical application, per 1,000,000 events at a steady rate. */
export function managedFlinkPerMillion(smallestAppPerMonth: number, eventsPerSec: number): number {
  const hoursPerMonth = 730;
  return (smallestAppPerMonth / (eventsPerSec * 3600 * hoursPerMonth)) * 1e6;
}

export function chartSpec(points: readonly ChartPoint[], references: readonly CostReference[], latencyTargetSec: number, note?: string): vl.TopLevelSpec {
  const rows = points.map((p) => ({ ...p, label: `${p.eventsPerSec.toLocaleString('en-US')}/s${p.source === 'model' ? ' (model)' : ''}` }));
  const x = { field: 'costPerMillionUsd', type: 'quantitative' as const, scale: { type: 'log' as const }, title: 'estimated AWS cost per 1,000,000 events (USD, log scale)' };
  const y = { field: 'p95Sec', type: 'quantitative' as const, scale: { type: 'log' as const }, title: 'p95 event → update result (s, log scale)' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Riffle latency profiles: p95 latency vs cost (workload W shape)', subtitle: ['filled: measured on the embedded cloud · hollow: model (the report says why)', ...(note ? [note] : [])] },
    width: 640,
    height: 400,
    background: 'white',
    layer: [
      {
        data: { values: rows },
        mark: { type: 'line', strokeDash: [2, 2], opacity: 0.5 },
        encoding: { x, y, color: { field: 'profile', type: 'nominal', legend: null }, order: { field: 'eventsPerSec', type: 'quantitative' } },
      },
      {
        data: { values: rows },
        mark: { type: 'point', size: 90, strokeWidth: 2 },
        encoding: {
          x,
          y,
          color: { field: 'profile', type: 'nominal', title: 'profile' },
          shape: { field: 'profile', type: 'nominal', title: 'profile' },
          fill: { condition: { test: "datum.source === 'measured'", field: 'profile', type: 'nominal' }, value: 'white' },
        },
      },
      // Labels: the middle rate's below its point, the others above, so neighbours do not overlap.
      ...[
        { filter: 'datum.eventsPerSec !== 2780', dy: -8 },
        { filter: 'datum.eventsPerSec === 2780', dy: 14 },
      ].map(({ filter, dy }) => ({
        data: { values: rows },
        transform: [{ filter }],
        mark: { type: 'text' as const, dx: 8, dy, align: 'left' as const, fontSize: 10 },
        encoding: { x, y, text: { field: 'label', type: 'nominal' as const }, color: { field: 'profile', type: 'nominal' as const, legend: null } },
      })),
      {
        data: { values: references.map((r) => ({ ...r })) },
        mark: { type: 'rule', strokeDash: [6, 4], color: '#666' },
        encoding: { x: { field: 'costPerMillionUsd', type: 'quantitative' } },
      },
      {
        data: { values: references.map((r) => ({ ...r })) },
        mark: { type: 'text', angle: 270, align: 'right', baseline: 'bottom', dx: -4, y: 4, fontSize: 10, color: '#444' },
        encoding: { x: { field: 'costPerMillionUsd', type: 'quantitative' }, text: { field: 'label', type: 'nominal' } },
      },
      {
        data: { values: [{ p95Sec: latencyTargetSec, label: `${latencyTargetSec} s interactive target` }] },
        mark: { type: 'rule', strokeDash: [2, 4], color: '#b00' },
        encoding: { y: { field: 'p95Sec', type: 'quantitative' } },
      },
      {
        data: { values: [{ p95Sec: latencyTargetSec, label: `p95 ${latencyTargetSec} s target` }] },
        mark: { type: 'text', align: 'left', baseline: 'bottom', x: 4, dy: -2, fontSize: 10, color: '#b00' },
        encoding: { y: { field: 'p95Sec', type: 'quantitative' }, text: { field: 'label', type: 'nominal' } },
      },
    ],
  } as vl.TopLevelSpec;
}

/** The chart as an SVG document. */
export async function latencyCostChartSvg(points: readonly ChartPoint[], references: readonly CostReference[], latencyTargetSec = 2, note?: string): Promise<string> {
  const compiled = vl.compile(chartSpec(points, references, latencyTargetSec, note)).spec;
  // A loader that refuses every URL: the spec carries its data inline, and a chart must not fetch.
  const loader = vega.loader();
  loader.load = () => Promise.reject(new Error('the bench chart loads nothing'));
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', loader });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
