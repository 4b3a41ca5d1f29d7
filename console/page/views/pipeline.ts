// The Pipeline view: the stack as a graph (producers → input stream → mapper → shuffle → reducer →
// closer → Firehose → S3) with the live rate on every edge, the functions' health, each input
// shard's progress, the watermark against the wall clock, the functions' own counters, failed
// batches and the stack's alarms — every number also in a table (the graph's text alternative).
import type { PipelineSnapshot } from '../../api';
import { renderChart } from '../chart';
import { bytesRate, duration, fill, h, int, numberCell, rate, svg, table, time } from '../dom';

const NODE_W = 128;
const PITCH = 160;
const TOP = 16;
const BOX_H = 58;

function graph(p: PipelineSnapshot): SVGElement {
  const nodes = [{ id: 'producers', label: 'producers', resource: '' }, ...p.nodes];
  const width = nodes.length * PITCH;
  const root = svg('svg', { viewBox: `0 0 ${width} 150`, class: 'graph', role: 'img', 'aria-labelledby': 'graph-title graph-desc' });
  root.appendChild(svg('title', { id: 'graph-title' }, `Pipeline of ${p.job}`));
  root.appendChild(
    svg('desc', { id: 'graph-desc' }, p.edges.map((e) => `${e.from} to ${e.to}: ${rate(e.recordsPerS, 'records')}, ${bytesRate(e.bytesPerS)}`).join('; ')),
  );
  const defs = svg('defs');
  defs.appendChild(svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#24292f' })));
  root.appendChild(defs);
  const health = (id: string): string => {
    const fn = p.functions.find((f) => f.role === id);
    if (!fn) return '';
    if (fn.errors > 0) return `${int(fn.errors)} errors`;
    return fn.iteratorAgeMs !== null ? `age ${duration(fn.iteratorAgeMs)}` : `${int(fn.invocations)} calls`;
  };
  nodes.forEach((n, i) => {
    const x = i * PITCH + 8;
    const fn = p.functions.find((f) => f.role === n.id);
    const bad = fn !== undefined && (fn.errors > 0 || fn.throttles > 0);
    const g = svg('g', { class: `node ${n.id === 'producers' ? 'external' : ''} ${bad ? 'bad' : ''}` });
    g.appendChild(svg('title', {}, n.resource ? `${n.label}: ${n.resource}` : n.label));
    g.appendChild(svg('rect', { x, y: TOP, width: NODE_W, height: BOX_H, rx: 6 }));
    g.appendChild(svg('text', { x: x + NODE_W / 2, y: TOP + 24, 'text-anchor': 'middle', class: 'node-label' }, n.label));
    const sub = health(n.id);
    if (sub) g.appendChild(svg('text', { x: x + NODE_W / 2, y: TOP + 44, 'text-anchor': 'middle', class: 'node-sub' }, sub));
    root.appendChild(g);
    if (i > 0) {
      const edge = p.edges[i - 1];
      const x1 = (i - 1) * PITCH + 8 + NODE_W;
      const x2 = x - 2;
      root.appendChild(svg('line', { x1, y1: TOP + BOX_H / 2, x2, y2: TOP + BOX_H / 2, class: 'edge', 'marker-end': 'url(#arrow)' }));
      if (edge) {
        const cx = (x1 + x2) / 2;
        root.appendChild(svg('text', { x: cx, y: TOP + BOX_H + 26, 'text-anchor': 'middle', class: 'edge-rate' }, rate(edge.recordsPerS, 'rec')));
        root.appendChild(svg('text', { x: cx, y: TOP + BOX_H + 44, 'text-anchor': 'middle', class: 'edge-bytes' }, edge.bytesPerS === null ? '' : bytesRate(edge.bytesPerS)));
      }
    }
  });
  return root;
}

function alarmClass(state: string): string {
  return state === 'ALARM' ? 'state-alarm' : state === 'OK' ? 'state-ok' : 'state-unknown';
}

export function renderPipeline(main: HTMLElement, p: PipelineSnapshot, rateWindowS: number): void {
  const c = p.counters;
  const retries = p.functions.reduce((n, f) => n + f.errors, 0) + c.stateConflicts;
  const throttles = p.functions.reduce((n, f) => n + f.throttles, 0);
  const errors = p.functions.reduce((n, f) => n + f.errors, 0);
  fill(main, 
    h('h2', {}, `Pipeline: ${p.job}`),
    p.warnings.length ? h('ul', { class: 'warnings' }, p.warnings.map((w) => h('li', {}, w))) : null,
    h('section', { 'aria-labelledby': 'flow-h' }, h('h3', { id: 'flow-h' }, `Flow (rates over the last ${rateWindowS} s)`), h('div', { class: 'graph-wrap' }, graph(p)),
      table(
        'Rates per edge',
        ['from', 'to', 'records/s', 'bytes/s', 'measured as'],
        p.edges.map((e) => [h('td', {}, e.from), h('td', {}, e.to), numberCell(e.recordsPerS), numberCell(e.bytesPerS), h('td', { class: 'muted' }, e.measure)]),
        { id: 'edges' },
      ),
    ),
    h('section', { class: 'cards', 'aria-label': 'Health' },
      h('div', { class: 'card', id: 'watermark' }, h('h3', {}, 'Watermark'), h('p', { class: 'big' }, time(p.watermark)), h('p', {}, p.watermarkLagMs === null ? 'no window closed yet' : `${duration(p.watermarkLagMs)} behind the wall clock (${time(p.now)})`)),
      h('div', { class: 'card' }, h('h3', {}, 'Errors'), h('p', { class: errors ? 'big bad' : 'big' }, int(errors)), h('p', {}, `failed invocations in ${rateWindowS} s`)),
      h('div', { class: 'card' }, h('h3', {}, 'Retries'), h('p', { class: 'big' }, int(retries)), h('p', {}, 'retried batches (function errors) and state-write conflicts')),
      h('div', { class: 'card' }, h('h3', {}, 'Throttles'), h('p', { class: 'big' }, int(throttles)), h('p', {}, 'throttled invocations')),
      h('div', { class: 'card' }, h('h3', {}, 'Failed batches'), h('p', { class: p.failedBatches ? 'big bad' : 'big' }, int(p.failedBatches)), h('p', {}, 'batches that exhausted their retries (aws/lambda/ in the bucket)')),
    ),
    h('section', { 'aria-labelledby': 'alarms-h' }, h('h3', { id: 'alarms-h' }, 'Alarms'),
      table('Alarms of the job and its stack', ['alarm', 'state', 'why'], p.alarms.map((a) => [h('td', {}, a.name), h('td', {}, h('span', { class: `badge ${alarmClass(a.state)}` }, a.state)), h('td', { class: 'muted' }, a.reason)]), { id: 'alarms' }),
    ),
    h('section', { 'aria-labelledby': 'fn-h' }, h('h3', { id: 'fn-h' }, 'Functions'),
      table(`Lambda functions over the last ${rateWindowS} s`, ['role', 'invocations', 'errors', 'throttles', 'mean duration (ms)', 'iterator age (ms)'],
        p.functions.map((f) => [h('th', { scope: 'row', title: f.name }, f.role), numberCell(f.invocations), numberCell(f.errors), numberCell(f.throttles), numberCell(f.durationAvgMs === null ? null : Math.round(f.durationAvgMs)), numberCell(f.iteratorAgeMs)]),
        { id: 'functions' }),
    ),
    h('section', { 'aria-labelledby': 'shards-h' }, h('h3', { id: 'shards-h' }, 'Input shards'),
      table('Mapper progress per input shard', ['shard', 'max event time', 'event-time lag', 'last progress'],
        p.shards.map((s) => [h('td', {}, s.shardId), h('td', {}, time(s.maxEventTime)), h('td', {}, duration(s.eventTimeLagMs)), h('td', {}, time(s.updatedAt))]),
        { id: 'shards' }),
    ),
    h('section', { 'aria-labelledby': 'counters-h' }, h('h3', { id: 'counters-h' }, `Counters (functions' metrics, last ${rateWindowS} s)`),
      table('Riffle metrics (namespace Riffle, summed over the job\'s functions)', ['Events', 'RejectedEvents', 'LateEvents', 'LatePartials', 'StateWrites', 'StateConflicts', 'DuplicatePartials', 'WindowsClosed'],
        [[numberCell(c.events), numberCell(c.rejected), numberCell(c.late), numberCell(c.latePartials), numberCell(c.stateWrites), numberCell(c.stateConflicts), numberCell(c.duplicatePartials), numberCell(c.windowsClosed)]],
        { id: 'counters' }),
    ),
    h('section', { 'aria-labelledby': 'history-h' }, h('h3', { id: 'history-h' }, 'Throughput'), h('div', { id: 'history-chart', class: 'chart' })),
  );
  renderChart(main.querySelector('#history-chart') as HTMLElement, 'history', {
    title: 'Records per second: into the input stream and delivered to S3',
    timestamps: p.history.timestamps,
    series: [
      { label: 'input records/s', values: p.history.inputPerS },
      { label: 'delivered to S3 records/s', values: p.history.outputPerS },
    ],
    yLabel: 'records/s',
    xRange: [p.now - p.historyS * 1000, p.now],
  });
}
