// Time-series charts with uPlot (bundled; fast with many series and points). Each chart keeps its
// data on the element (`chart.data`) for the text alternative and for tests, draws series in a
// palette that keeps 3:1 contrast on white, and adds dashes after ten series so lines stay apart.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export const PALETTE = ['#0b62a4', '#c4400b', '#1a7f37', '#8250df', '#b5179e', '#8a6d00', '#0a7a7a', '#d1242f', '#4d5bd5', '#57606a'];
const DASHES: number[][] = [[], [6, 3], [2, 3], [10, 4, 2, 4]];

export interface ChartSeries {
  readonly label: string;
  readonly values: readonly (number | null)[];
}

export interface ChartData {
  readonly title: string;
  /** X values in ms (UTC). */
  readonly timestamps: readonly number[];
  readonly series: readonly ChartSeries[];
  readonly yLabel: string;
  /** Fixed x range (ms); by default the data's, widened when there is a single point. */
  readonly xRange?: readonly [number, number];
}

/** The chart instances on the page, by id (tests read what each one draws). */
export const charts = new Map<string, { plot: uPlot; data: ChartData }>();

export function renderChart(container: HTMLElement, id: string, data: ChartData): void {
  charts.get(id)?.plot.destroy();
  charts.delete(id);
  container.replaceChildren();
  if (data.timestamps.length === 0 || data.series.length === 0) {
    container.textContent = 'No data points yet.';
    return;
  }
  const width = Math.max(320, Math.min(container.clientWidth || 900, 1400));
  const first = data.timestamps[0] as number;
  const last = data.timestamps[data.timestamps.length - 1] as number;
  const xRange: [number, number] | undefined = data.xRange
    ? [data.xRange[0] / 1000, data.xRange[1] / 1000]
    : first === last
      ? [first / 1000 - 60, last / 1000 + 60] // one point: a minute either side, not uPlot's years
      : undefined;
  const opts: uPlot.Options = {
    title: data.title,
    width,
    height: 300,
    scales: { x: { time: true, ...(xRange ? { range: () => xRange } : {}) } },
    axes: [{ stroke: '#24292f', grid: { stroke: '#d0d7de' } }, { stroke: '#24292f', grid: { stroke: '#d0d7de' }, label: data.yLabel, size: 70 }],
    legend: { live: true },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    series: [
      { label: 'window (UTC)' },
      ...data.series.map((s, i) => ({
        label: s.label,
        stroke: PALETTE[i % PALETTE.length] as string,
        width: 2,
        dash: DASHES[Math.floor(i / PALETTE.length) % DASHES.length] as number[],
        spanGaps: false,
        points: { show: data.timestamps.length < 60 },
      })),
    ],
  };
  const aligned: uPlot.AlignedData = [data.timestamps.map((t) => t / 1000), ...data.series.map((s) => s.values.map((v) => (v === null ? null : v)))];
  const plot = new uPlot(opts, aligned, container);
  // uPlot's legend is a table: give it a caption like every other table on the page.
  const legend = plot.root.querySelector('table.u-legend');
  if (legend) legend.prepend(Object.assign(document.createElement('caption'), { className: 'visually-hidden', textContent: `Legend of ${data.title}` }));
  container.setAttribute('role', 'img');
  container.setAttribute('aria-label', `${data.title}: ${data.series.length} series over ${data.timestamps.length} points; the numbers are in the table below`);
  charts.set(id, { plot, data });
}
