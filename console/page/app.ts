// The console page: a job picker, three views (Pipeline, Windows, Results) addressed by the URL
// hash (so every view can be bookmarked and the browser's back button works), live updates from
// the server's event stream (/api/events), and re-rendering that keeps keyboard focus in place.
import type { ConsoleInfo, JobInfo, PipelineSnapshot, ResultsSnapshot, WindowsSnapshot } from '../api';
import { charts } from './chart';
import { getJson, h, time } from './dom';
import { renderPipeline } from './views/pipeline';
import { PAGE_SIZE, renderResults, type ResultsState } from './views/results';
import { renderWindows } from './views/windows';
import './style.css';

type View = 'pipeline' | 'windows' | 'results';
const VIEWS: readonly View[] = ['pipeline', 'windows', 'results'];

interface Route extends ResultsState {
  view: View;
  job: string;
}

let info: ConsoleInfo;
let events: EventSource | undefined;
let eventsJob: string | undefined;
let lastPipeline: PipelineSnapshot | undefined;
let renders = 0;
let loading = 0;
let inFlight = false;
let lastWindowsRefresh = 0;

const main = document.getElementById('main') as HTMLElement;
const alertBox = document.getElementById('alert') as HTMLElement;
const updated = document.getElementById('updated') as HTMLElement;
const jobSelect = document.getElementById('job') as HTMLSelectElement;

function route(): Route {
  const q = new URLSearchParams(location.hash.slice(1));
  const view = (VIEWS as readonly string[]).includes(q.get('view') ?? '') ? (q.get('view') as View) : 'pipeline';
  const job = info.jobs.some((j) => j.name === q.get('job')) ? (q.get('job') as string) : (info.jobs[0]?.name ?? '');
  const window = q.get('window');
  return {
    view,
    job,
    aggregate: q.get('agg') ?? '',
    top: Number(q.get('top') ?? 10) || 10,
    keys: (q.get('keys') ?? '').split(',').filter(Boolean),
    page: Math.max(0, Number(q.get('page') ?? 0) || 0),
    ...(window ? { window: Number(window) } : {}),
  };
}

function navigate(next: Partial<Route>): void {
  const r = { ...route(), ...next };
  const q = new URLSearchParams({ view: r.view, job: r.job });
  if (r.view === 'results') {
    if (r.aggregate) q.set('agg', r.aggregate);
    if (r.top !== 10) q.set('top', String(r.top));
    if (r.keys.length) q.set('keys', r.keys.join(','));
    if (r.page) q.set('page', String(r.page));
    if (r.window !== undefined) q.set('window', String(r.window));
  }
  location.hash = q.toString();
}

function jobInfo(name: string): JobInfo {
  return info.jobs.find((j) => j.name === name) as JobInfo;
}

/** Re-renders without losing the keyboard focus (by element id) or the scroll position. */
function rerender(fn: () => void): void {
  const focused = document.activeElement instanceof HTMLElement && document.activeElement.id ? document.activeElement.id : undefined;
  const scroll = window.scrollY;
  fn();
  renders++;
  main.dataset.renders = String(renders);
  if (focused) document.getElementById(focused)?.focus({ preventScroll: true });
  window.scrollTo({ top: scroll });
}

function problem(message: string | undefined): void {
  alertBox.replaceChildren(message ? h('p', {}, message) : '');
}

/** A background refresh: skipped while a load is still running (a slow one must not be starved). */
function refresh(): void {
  if (!inFlight) void load();
}

async function load(): Promise<void> {
  const r = route();
  const token = ++loading;
  inFlight = true;
  main.setAttribute('aria-busy', 'true');
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a[data-view]')) {
    if (a.dataset.view === r.view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
    a.href = `#view=${a.dataset.view}&job=${encodeURIComponent(r.job)}`;
  }
  jobSelect.value = r.job;
  connect(r.job);
  try {
    if (r.view === 'pipeline') {
      const p = lastPipeline?.job === r.job ? lastPipeline : await getJson<PipelineSnapshot>(`/api/pipeline?job=${encodeURIComponent(r.job)}`);
      if (token !== loading) return;
      rerender(() => renderPipeline(main, p, info.rateWindowS));
      stamp(p.now);
    } else if (r.view === 'windows') {
      const w = await getJson<WindowsSnapshot>(`/api/windows?job=${encodeURIComponent(r.job)}`);
      if (token !== loading) return;
      lastWindowsRefresh = Date.now();
      rerender(() => renderWindows(main, w));
      stamp(w.now);
    } else {
      const q = new URLSearchParams({ job: r.job, aggregate: r.aggregate, top: String(r.top), page: String(r.page), pageSize: String(PAGE_SIZE) });
      if (r.keys.length) q.set('keys', r.keys.join(','));
      if (r.window !== undefined) q.set('window', String(r.window));
      const s = await getJson<ResultsSnapshot>(`/api/results?${q.toString()}`);
      if (token !== loading) return;
      rerender(() => renderResults(main, jobInfo(r.job), s, r, (next) => navigate(next)));
      stamp(Date.now());
    }
    main.dataset.view = r.view;
    main.dataset.job = r.job;
    problem(undefined);
  } catch (error) {
    if (token === loading) problem(`Could not load the ${r.view} view: ${(error as Error).message}`);
  } finally {
    if (token === loading) {
      main.setAttribute('aria-busy', 'false');
      inFlight = false;
    }
  }
}

function stamp(ms: number): void {
  updated.textContent = `updated ${time(ms)} · live`;
}

function connect(job: string): void {
  if (events && eventsJob === job) return;
  events?.close();
  eventsJob = job;
  lastPipeline = undefined;
  events = new EventSource(`/api/events?job=${encodeURIComponent(job)}`);
  events.addEventListener('pipeline', (e) => {
    lastPipeline = JSON.parse((e as MessageEvent<string>).data) as PipelineSnapshot;
    const r = route();
    if (r.job !== job) return;
    if (r.view === 'pipeline') {
      const p = lastPipeline;
      rerender(() => renderPipeline(main, p, info.rateWindowS));
      main.dataset.view = 'pipeline';
      main.dataset.job = job;
      stamp(p.now);
    } else if (r.view === 'windows' && Date.now() - lastWindowsRefresh > 5_000) refresh(); // open windows change without new output
  });
  events.addEventListener('outputs', () => {
    const r = route();
    if (r.job === job && r.view !== 'pipeline') refresh();
  });
  events.addEventListener('problem', (e) => problem(`Live update failed: ${(JSON.parse((e as MessageEvent<string>).data) as { message: string }).message}`));
  events.onerror = () => (updated.textContent = 'reconnecting…');
}

async function start(): Promise<void> {
  info = await getJson<ConsoleInfo>('/api/info');
  (document.getElementById('deployment') as HTMLElement).textContent =
    `--target ${info.target}${info.endpoint ? ` · ${info.endpoint}` : ''}${info.region ? ` · ${info.region}` : ''} · ${info.jobs.length} job${info.jobs.length === 1 ? '' : 's'}`;
  jobSelect.replaceChildren(...info.jobs.map((j) => h('option', { value: j.name }, `${j.name} (${j.window}, ${j.emit})`)));
  jobSelect.addEventListener('change', () => navigate({ job: jobSelect.value, aggregate: '', keys: [], page: 0 }));
  if (info.jobs.length === 0) {
    problem('No Riffle job is deployed on this target.');
    return;
  }
  window.addEventListener('hashchange', () => void load());
  await load();
}

// For tests and for anyone curious in the devtools: what each chart draws.
(window as unknown as { riffleConsole: unknown }).riffleConsole = { charts, route: () => route() };

start().catch((error: unknown) => problem(`The console could not start: ${(error as Error).message}`));
