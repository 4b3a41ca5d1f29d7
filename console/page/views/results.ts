// The Results view: for a job and one of its aggregates, a chart per key (the top N keys by
// events, or keys picked from the full list — a searchable list, usable with 1,000 keys), the
// chart's numbers as a table, the latest windows (paged), the live values of open windows for
// `update` jobs, and for top-k aggregates a ranked view of one window.
import type { JobInfo, ResultRow, ResultsSnapshot } from '../../api';
import { charts, renderChart } from '../chart';
import { fill, h, int, numberCell, table, time } from '../dom';

export interface ResultsState {
  aggregate: string;
  top: number;
  keys: string[];
  page: number;
  window?: number;
}

export const PAGE_SIZE = 25;

function rowsTable(caption: string, rows: readonly ResultRow[], aggregates: readonly string[], id: string): HTMLTableElement {
  return table(
    caption,
    ['key', 'window start', 'window end', 'final', 'version', 'events', ...aggregates],
    rows.map((r) => [
      h('td', {}, r.key),
      h('td', { 'data-value': String(r.windowStart), class: 'time' }, time(r.windowStart)),
      h('td', { class: 'time' }, time(r.windowEnd)),
      h('td', {}, r.final ? 'yes' : 'live'),
      numberCell(r.version),
      numberCell(r.eventCount),
      ...aggregates.map((a) => numberCell(r.values[a])),
    ]),
    { id },
  );
}

export function renderResults(main: HTMLElement, job: JobInfo, s: ResultsSnapshot, state: ResultsState, change: (next: Partial<ResultsState>) => void): void {
  const agg = job.aggregates.find((a) => a.name === s.aggregate);
  const aggregateNames = job.aggregates.map((a) => a.name);
  const picking = state.keys.length > 0;
  const keyList = h('datalist', { id: 'all-keys' }, s.keys.map((k) => h('option', { value: k.key }, `${int(k.events)} events`)));
  const keyInput = h('input', { id: 'key-input', list: 'all-keys', autocomplete: 'off', placeholder: `one of ${int(s.keys.length)} keys`, 'aria-describedby': 'key-help' });
  const addKey = () => {
    const k = keyInput.value.trim();
    if (k && s.keys.some((x) => x.key === k) && !state.keys.includes(k)) change({ keys: [...state.keys, k].slice(0, 50) });
  };
  keyInput.addEventListener('keydown', (e) => {
    if ((e as KeyboardEvent).key === 'Enter') addKey();
  });
  const controls = h(
    'form',
    { class: 'controls-row', onsubmit: (e: Event) => e.preventDefault() },
    h('label', { for: 'aggregate' }, 'Aggregate'),
    h(
      'select',
      { id: 'aggregate', onchange: (e: Event) => change({ aggregate: (e.target as HTMLSelectElement).value, page: 0 }) },
      job.aggregates.map((a) => h('option', { value: a.name, selected: a.name === s.aggregate }, `${a.name} (${a.kind})`)),
    ),
    h('label', { for: 'top' }, 'Keys'),
    h(
      'select',
      { id: 'top', disabled: picking, onchange: (e: Event) => change({ top: Number((e.target as HTMLSelectElement).value) }) },
      [5, 10, 20, 50].map((n) => h('option', { value: n, selected: n === state.top }, `top ${n} by events`)),
    ),
    h('label', { for: 'key-input' }, 'or pick keys'),
    keyInput,
    keyList,
    h('button', { type: 'button', id: 'add-key', onclick: addKey }, 'Add'),
    picking ? h('button', { type: 'button', id: 'clear-keys', onclick: () => change({ keys: [] }) }, 'Back to top keys') : null,
    h('p', { id: 'key-help', class: 'muted' }, `${int(s.keys.length)} keys in this job's results; type to search, Enter to add (up to 50).`),
    picking
      ? h(
          'ul',
          { class: 'chips', 'aria-label': 'Picked keys' },
          state.keys.map((k) => h('li', {}, k, h('button', { type: 'button', 'aria-label': `remove ${k}`, onclick: () => change({ keys: state.keys.filter((x) => x !== k) }) }, '×'))),
        )
      : null,
  );

  const sections: (HTMLElement | null)[] = [];
  if (agg?.shape === 'numeric') {
    const chartBox = h('div', { id: 'results-chart', class: 'chart' });
    sections.push(
      h('section', { 'aria-labelledby': 'chart-h' }, h('h3', { id: 'chart-h' }, `${s.aggregate} per window`), chartBox,
        h('details', { id: 'chart-numbers' }, h('summary', {}, "The chart's numbers"),
          table(
            `${s.aggregate} by window start (UTC) and key`,
            ['window start', ...s.series.keys],
            s.series.timestamps.map((t, i) => [h('th', { scope: 'row', 'data-value': String(t) }, time(t)), ...s.series.keys.map((_, k) => numberCell(s.series.values[k]?.[i] ?? null))]),
            { id: 'series-table' },
          ),
        ),
      ),
    );
  } else if (agg?.shape === 'ranked' && s.ranked) {
    const ranked = s.ranked;
    sections.push(
      h('section', { 'aria-labelledby': 'ranked-h' }, h('h3', { id: 'ranked-h' }, `${s.aggregate}: ranked per key`),
        h('label', { for: 'window' }, 'Window '),
        h('select', { id: 'window', onchange: (e: Event) => change({ window: Number((e.target as HTMLSelectElement).value) }) },
          s.windows.map((w) => h('option', { value: w, selected: w === ranked.windowStart }, time(w)))),
        h('div', { class: 'ranked', id: 'ranked' },
          ranked.byKey.map((k) =>
            h('section', { class: 'card', 'data-key': k.key }, h('h4', {}, k.key),
              h('ol', {}, k.ranked.map((r) => h('li', { 'data-value': r.value, 'data-count': String(r.count) }, h('span', {}, r.value), ' ', h('span', { class: 'num' }, int(r.count))))))),
        ),
      ),
    );
  }
  if (job.emit === 'update') {
    sections.push(h('section', { 'aria-labelledby': 'live-h' }, h('h3', { id: 'live-h' }, 'Live values (open windows)'), rowsTable('Latest emission of each open window', s.live, aggregateNames, 'live')));
  }
  const pages = Math.max(1, Math.ceil(s.latestTotal / PAGE_SIZE));
  sections.push(
    h('section', { 'aria-labelledby': 'latest-h' }, h('h3', { id: 'latest-h' }, 'Latest windows'),
      rowsTable(`Windows, newest first (page ${state.page + 1} of ${pages}, ${int(s.latestTotal)} in all)`, s.latest, aggregateNames, 'latest'),
      h('nav', { class: 'pager', 'aria-label': 'Pages of windows' },
        h('button', { type: 'button', id: 'newer', disabled: state.page === 0, onclick: () => change({ page: state.page - 1 }) }, '← newer'),
        h('button', { type: 'button', id: 'older', disabled: state.page + 1 >= pages, onclick: () => change({ page: state.page + 1 }) }, 'older →'),
      ),
    ),
  );
  fill(main, h('h2', {}, `Results: ${s.job}`), controls, ...sections);
  const chartBox = main.querySelector('#results-chart') as HTMLElement | null;
  if (chartBox) {
    renderChart(chartBox, 'results', {
      title: `${s.aggregate} per window, ${s.series.keys.length} key${s.series.keys.length === 1 ? '' : 's'}`,
      timestamps: s.series.timestamps,
      series: s.series.keys.map((k, i) => ({ label: k, values: s.series.values[i] ?? [] })),
      yLabel: s.aggregate,
    });
  } else charts.delete('results');
}
