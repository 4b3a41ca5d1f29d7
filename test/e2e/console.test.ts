// The console in a real browser (Chromium from @sparticuz/chromium, driven by playwright-core) over
// a real pipeline: the trending-hashtags stack synthesized and deployed on the embedded cloud,
// events sent with `npm run produce`, and every number the page shows checked against an
// independent source — `npm run query` for results, late and rejected records; the CloudWatch and
// DynamoDB APIs for metrics, alarms and the watermark. Also: no request leaves 127.0.0.1, foreign
// Host/Origin headers are refused, the views work from the keyboard. Screenshots of each view are
// taken; with RIFFLE_SCREENSHOTS=docs/images they are written there for the README.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { jobAlarmNames, stackAlarmNames } from '../../infra/alarm-names';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Browser, Page } from 'playwright-core';
import { startConsole, type ConsoleServer } from '../../console/server';
import { PROGRESS_SK, progressPk } from '../../functions/contract/table';
import { outputKey, stackName } from '../../infra/outputs';
import { startLocalCloud, type LocalCloud } from '../../local/cloud';
import { synth } from '../../scripts/lib/synth';
import { resolveTarget, type Target } from '../../scripts/lib/targets';
import { runProduce } from '../../scripts/produce';
import { runQuery } from '../../scripts/query';
import { launchChromium } from '../support/browser';

jest.setTimeout(240_000);

// The page's globals, as far as these tests read them inside the browser (the project's tsconfig
// has no DOM library: everything else here runs in Node).
interface PageElement {
  readonly dataset: Record<string, string | undefined>;
  readonly textContent: string | null;
  readonly children: ArrayLike<PageElement> & Iterable<PageElement>;
  getAttribute(name: string): string | null;
  closest(selector: string): PageElement | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
}
interface ChartData {
  timestamps: number[];
  series: { label: string; values: (number | null)[] }[];
}
declare const document: { querySelector(selector: string): PageElement | null; querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement> };
declare const location: { hash: string };
declare const window: { riffleConsole: { charts: Map<string, { data: ChartData }> } };

const JOB = 'trending-hashtags';
const quiet = { write: () => true };
const started = Date.now();
const temp: string[] = [];
let cloud: LocalCloud;
let target: Target;
let consoleServer: ConsoleServer;
let browser: Browser;
let page: Page;
let sentRecords = 0;
let cacheDir: string;
/** Requests that tried to leave the console, page errors and console errors: must stay empty. */
const external: string[] = [];
const shotsDir = process.env.RIFFLE_SCREENSHOTS ? path.resolve(process.env.RIFFLE_SCREENSHOTS) : undefined;

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  temp.push(dir);
  return dir;
}

/** `npm run query` itself (its argument parsing, fetching and formatting), as JSON rows. */
async function query(sql: string): Promise<Record<string, unknown>[]> {
  let out = '';
  const code = await runQuery([sql, '--format', 'json', '--job', JOB], { stdout: { write: (t: string) => (out += t) }, stderr: quiet, target, cacheDir: path.join(cacheDir, 'query') });
  expect(code).toBe(0);
  return JSON.parse(out) as Record<string, unknown>[];
}

async function screenshot(name: string): Promise<void> {
  const file = path.join(shotsDir ?? tempDir('riffle-console-shot-'), `console-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  expect(readFileSync(file).subarray(1, 4).toString()).toBe('PNG');
}

async function show(view: string, extra = ''): Promise<void> {
  const renders = Number((await page.getAttribute('main', 'data-renders')) ?? 0);
  await page.evaluate((hash) => (location.hash = hash), `view=${view}&job=${JOB}${extra}`);
  await page.waitForFunction(
    ([v, before]) => {
      const main = document.querySelector('main');
      return main?.dataset.view === v && Number(main.dataset.renders ?? 0) > (before as number) && main.getAttribute('aria-busy') === 'false';
    },
    [view, renders] as const,
    { timeout: 60_000 },
  );
}

/** data-value of every cell of a table row, by column header. */
async function tableRows(selector: string): Promise<Record<string, string>[]> {
  return page.$$eval(`${selector} tbody tr`, (rows) =>
    rows.map((tr) => {
      const row = tr as unknown as PageElement;
      const table = row.closest('table') as PageElement;
      const headers = [...table.querySelectorAll('thead th')].map((th) => th.textContent ?? '');
      return Object.fromEntries([...row.children].map((cell, i) => [headers[i] ?? String(i), cell.dataset.value ?? cell.textContent ?? '']));
    }),
  );
}

beforeAll(async () => {
  const assembly = tempDir('riffle-console-cdk-');
  const [launched] = await Promise.all([launchChromium(), synth({ outdir: assembly, jobs: [JOB] })]);
  browser = launched;
  cloud = await startLocalCloud({ port: 0, dataDir: tempDir('riffle-console-data-'), assembly, timeScale: 30, log: () => undefined, warn: () => undefined, functionLogs: 'silent' });
  target = resolveTarget('local', { endpoint: cloud.endpoint, outputs: cloud.outputs });
  cacheDir = tempDir('riffle-console-cache-');
  consoleServer = await startConsole({ target, port: 0, cacheDir: path.join(cacheDir, 'console'), refreshMs: 1_000 });
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, locale: 'en-US', timezoneId: 'UTC' });
  // Every request the page makes: anything not for the console is recorded and aborted.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(consoleServer.url)) return route.continue();
    external.push(url);
    return route.abort();
  });
  page = await context.newPage();
  page.on('pageerror', (e) => external.push(`page error: ${e.message}`));
  // Content-Security-Policy violations and failed loads show up as console errors.
  page.on('console', (m) => {
    if (m.type() === 'error') external.push(`console error: ${m.text()}`);
  });

  // Two hours of posts with bad records, then — once the watermark has moved — a few stragglers
  // older than any open window (late), while the page watches.
  const log = path.join(cacheDir, 'sent.jsonl');
  const argv = ['--job', JOB, '--count', '3000', '--duration', '2h', '--seed', '21', '--bad-fraction', '3%', '--max-delay', '5s', '--log', log];
  expect(await runProduce(argv, { stdout: quiet, stderr: quiet, target })).toBe(0);
  await cloud.waitForIdle({ timeoutMs: 120_000, settleMs: 500 });
  const lateLog = path.join(cacheDir, 'late.jsonl');
  expect(await runProduce(['--job', JOB, '--count', '300', '--duration', '10m', '--seed', '22', '--late-fraction', '20%', '--log', lateLog], { stdout: quiet, stderr: quiet, target })).toBe(0);
  sentRecords = [log, lateLog].reduce((n, file) => n + readFileSync(file, 'utf8').split('\n').filter(Boolean).length, 0);
  // The pipeline is processing now: the first view is taken live.
  await page.goto(`${consoleServer.url}#view=pipeline&job=${JOB}`);
  await page.waitForSelector('main[data-view="pipeline"] #edges');
});

afterAll(async () => {
  await browser?.close();
  await consoleServer?.close();
  await cloud?.stop();
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
  console.log(`console e2e: ${((Date.now() - started) / 1000).toFixed(1)} s including synth and browser start`);
});

describe('npm run console, in Chromium, over a pipeline on the embedded cloud', () => {
  it('Pipeline: live rates per edge, and the input chart adds up to the records sent (CloudWatch)', async () => {
    // Rates appear once the cloud's metrics sampler has published the puts (every 5 s).
    await page.waitForFunction(() => Number(document.querySelector('#edges tbody tr td:nth-child(3)')?.getAttribute('data-value') || 0) > 0, undefined, { timeout: 30_000 });
    const edges = await tableRows('#edges');
    expect(edges.map((e) => `${e.from}→${e.to}`)).toEqual(['producers→input', 'input→mapper', 'mapper→shuffle', 'shuffle→reducer', 'reducer→closer', 'closer→firehose', 'firehose→s3']);
    expect(Number(edges[0]?.['records/s'])).toBeGreaterThan(0);
    expect(Number(edges[0]?.['bytes/s'])).toBeGreaterThan(0);
    // The mappers' and reducers' reads show up too while the batches flow (a 30 s rate window).
    await page.waitForFunction(
      () => ['input', 'shuffle'].every((from) => [...document.querySelectorAll('#edges tbody tr')].some((tr) => tr.querySelector('td')?.textContent === from && Number(tr.querySelector('td:nth-child(3)')?.getAttribute('data-value') || 0) > 0)),
      undefined,
      { timeout: 60_000 },
    );
    await screenshot('pipeline');
    await cloud.waitForIdle({ timeoutMs: 120_000, settleMs: 1_500 });
    const drained = await cloud.runtime.invoke(cloud.outputs[stackName(JOB)]?.[outputKey(JOB, 'CloserFunction')] as string, { drain: true });
    expect(drained.ok).toBe(true);
    await cloud.server.firehose.flushAll();
    // The history chart's input series (records/s per 10 s period) × 10 s = every record put.
    await page.waitForFunction(
      (sent) => {
        const chart = window.riffleConsole.charts.get('history');
        const input = chart?.data.series[0]?.values ?? [];
        return Math.round(input.reduce<number>((a, v) => a + (v ?? 0), 0) * 10) === sent;
      },
      sentRecords,
      { timeout: 30_000 },
    );
  });

  it('Pipeline: alarms and watermark are those of the CloudWatch and DynamoDB APIs', async () => {
    await cloud.server.cloudwatch.evaluateAlarms();
    await page.waitForTimeout(1_500); // one more live update
    const shown = (await tableRows('#alarms')).map((a) => ({ name: a.alarm, state: a.state }));
    const described = await consoleServer.deployment.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'Riffle-' }));
    expect(shown).toEqual((described.MetricAlarms ?? []).map((a) => ({ name: a.AlarmName, state: a.StateValue })).sort((a, b) => String(a.name).localeCompare(String(b.name))));
    expect(shown).toHaveLength(jobAlarmNames(JOB).length + stackAlarmNames(JOB).length); // one job in its own stack
    const wm = await consoleServer.deployment.dynamo.send(new GetCommand({ TableName: cloud.outputs[stackName(JOB)]?.[outputKey(JOB, 'StateTable')], Key: { pk: progressPk(JOB), sk: PROGRESS_SK.watermark } }));
    const watermark = wm.Item?.watermark as number;
    expect(watermark).toBeGreaterThan(0);
    await expect(page.textContent('#watermark .big')).resolves.toBe(`${new Date(watermark).toISOString().slice(0, 19).replace('T', ' ')}Z`);
  });

  it('Windows: late and rejected counts and reasons equal npm run query; a sample opens the raw record', async () => {
    await show('windows');
    const [late] = await query('SELECT count(*) AS n FROM late');
    const [rejected] = await query('SELECT count(*) AS n FROM rejected');
    expect(Number(rejected?.n)).toBeGreaterThan(40);
    expect(Number(late?.n)).toBeGreaterThan(20);
    await expect(page.getAttribute('#late-total', 'data-value')).resolves.toBe(String(late?.n));
    await expect(page.getAttribute('#rejected-total', 'data-value')).resolves.toBe(String(rejected?.n));
    expect(await page.getAttribute('#open-windows', 'data-value')).toBe('0'); // drained: every window closed
    const lateReasons = await tableRows('#late-reasons');
    expect(lateReasons.length).toBeLessThan(5); // all of them shown: their counts add up to the total
    expect(lateReasons.reduce((n, r) => n + Number(r.records), 0)).toBe(Number(late?.n));
    const reasons = await tableRows('#rejected-reasons');
    expect(reasons.length).toBeGreaterThan(2);
    // Each shown reason is the start of the stored reasons it counts (their particulars dropped).
    const values = reasons.map((r) => `('${String(r.reason).replace(/'/g, "''")}')`).join(', ');
    const counts = await query(`SELECT p.reason, count(x.reason) AS n FROM (VALUES ${values}) AS p(reason) LEFT JOIN rejected x ON starts_with(x.reason, p.reason) GROUP BY p.reason`);
    expect(Object.fromEntries(reasons.map((r) => [r.reason, Number(r.records)]))).toEqual(Object.fromEntries(counts.map((c) => [String(c.reason), Number(c.n)])));
    // Keyboard: focus the first rejected sample and open it with Enter.
    const sample = page.locator('#rejected-reasons button[data-record]').first();
    const [, shard, seq, sub] = ((await sample.getAttribute('data-record')) as string).split(':');
    await sample.focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('#record-json');
    const [row] = await query(`SELECT payloadText, reason FROM rejected WHERE shardId = '${shard}' AND sequenceNumber = '${seq}' AND subSequenceNumber = ${Number(sub)}`);
    expect(JSON.parse((await page.textContent('#record-json')) as string).reason).toBe(row?.reason);
    expect(await page.textContent('#record-payload')).toBe(row?.payloadText ?? '(not UTF-8: see payload, base64)');
    await screenshot('record');
    await page.click('#record button[type="submit"]');
    expect(await page.$eval('#record', (d) => (d as unknown as { open: boolean }).open)).toBe(false);
    await screenshot('windows');
  });

  it('Results: the chart series, its table and the latest windows equal npm run query', async () => {
    await show('results', '&agg=mentions&top=5');
    const top = await query('SELECT key, sum(eventCount) AS events FROM results GROUP BY key ORDER BY events DESC, key LIMIT 5');
    const chart = await page.evaluate(() => window.riffleConsole.charts.get('results')?.data);
    expect(chart?.series.map((s) => s.label)).toEqual(top.map((t) => t.key));
    const rows = await query(`SELECT key, epoch_ms(windowStart) AS t, mentions FROM results WHERE key IN (${top.map((t) => `'${String(t.key)}'`).join(', ')}) ORDER BY t, key`);
    const drawn = chart?.series.flatMap((s) => (chart?.timestamps ?? []).flatMap((t, i) => (s.values[i] === null ? [] : [`${s.label}@${t}=${s.values[i]}`]))).sort();
    expect(drawn).toEqual(rows.map((r) => `${String(r.key)}@${String(r.t)}=${String(r.mentions)}`).sort());
    // The text alternative holds the same numbers.
    const table = await tableRows('#series-table');
    const tabled = table.flatMap((r) => top.map((t) => String(t.key)).flatMap((k) => (r[k] === '' ? [] : [`${k}@${r['window start']}=${r[k]}`]))).sort();
    expect(tabled).toEqual(drawn);
    // Latest windows, first page.
    const latest = await query('SELECT key, epoch_ms(windowStart) AS t, mentions, eventCount FROM results ORDER BY windowStart DESC, key LIMIT 25');
    const shown = await tableRows('#latest');
    expect(shown.map((r) => `${r.key}@${r['window start']}=${r.mentions}/${r.events}`)).toEqual(latest.map((r) => `${String(r.key)}@${String(r.t)}=${String(r.mentions)}/${String(r.eventCount)}`));
    await screenshot('results');

    // Pick one key from the full list with the keyboard: type it, Enter.
    const picked = String(top[top.length - 1]?.key);
    await page.focus('#key-input');
    await page.keyboard.type(picked);
    await page.keyboard.press('Enter');
    await page.waitForFunction((k) => document.querySelector('.chips')?.textContent?.includes(k) === true && document.querySelector('main')?.getAttribute('aria-busy') === 'false', picked);
    const one = await page.evaluate(() => window.riffleConsole.charts.get('results')?.data.series.map((s) => s.label));
    expect(one).toEqual([picked]);
  });

  it('Results: the ranked top-k view of the latest window equals npm run query', async () => {
    await show('results', '&agg=top_hashtags');
    const expected = await query(
      'SELECT key, t.value AS value, t.count AS count FROM (SELECT key, unnest(top_hashtags) AS t FROM results WHERE windowStart = (SELECT max(windowStart) FROM results)) ORDER BY key, count DESC, value',
    );
    expect(expected.length).toBeGreaterThan(0); // the newest window may hold only the last few posts
    const shown = await page.$$eval('#ranked [data-key]', (cards) =>
      cards.flatMap((card) => {
        const c = card as unknown as PageElement;
        return [...c.querySelectorAll('li')].map((li) => `${c.dataset.key}:${li.dataset.value}=${li.dataset.count}`);
      }),
    );
    expect(shown).toEqual(expected.map((r) => `${String(r.key)}:${String(r.value)}=${String(r.count)}`));
    // An earlier (full) window, chosen from the window list.
    const options = await page.$$eval('#window option', (os) => os.map((o) => (o as unknown as { value: string }).value));
    const chosen = options[Math.min(10, options.length - 1)] as string;
    const renders = Number(await page.getAttribute('main', 'data-renders'));
    await page.selectOption('#window', chosen);
    await page.waitForFunction((before) => Number(document.querySelector('main')?.dataset.renders) > before && document.querySelector('main')?.getAttribute('aria-busy') === 'false', renders);
    const earlier = await query(
      `SELECT key, t.value AS value, t.count AS count FROM (SELECT key, unnest(top_hashtags) AS t FROM results WHERE epoch_ms(windowStart) = ${Number(chosen)}) ORDER BY key, count DESC, value`,
    );
    const shownEarlier = await page.$$eval('#ranked [data-key]', (cards) =>
      cards.flatMap((card) => {
        const c = card as unknown as PageElement;
        return [...c.querySelectorAll('li')].map((li) => `${c.dataset.key}:${li.dataset.value}=${li.dataset.count}`);
      }),
    );
    expect(earlier.length).toBeGreaterThan(3);
    expect(shownEarlier).toEqual(earlier.map((r) => `${String(r.key)}:${String(r.value)}=${String(r.count)}`));
    await screenshot('ranked');
  });

  it('makes no request that leaves the console, and is keyboard-navigable with text alternatives', async () => {
    // Keyboard: the views are links in the tab order; Enter on "Pipeline" switches back.
    await page.focus('nav a[data-view="pipeline"]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('main[data-view="pipeline"] #edges');
    expect(await page.getAttribute('nav a[data-view="pipeline"]', 'aria-current')).toBe('page');
    // Every table has a caption, the graph and charts have text alternatives.
    expect(await page.$$eval('table', (ts) => ts.filter((t) => !t.querySelector('caption')?.textContent).length)).toBe(0);
    expect(await page.$eval('svg.graph desc', (d) => d.textContent ?? '')).toContain('producers to input');
    expect(await page.getAttribute('#history-chart', 'aria-label')).toContain('numbers are in the table');
    expect(external).toEqual([]);
  });

  it('refuses requests whose Host or Origin is not the console', async () => {
    const get = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        http.get(`${consoleServer.url}api/info`, { headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject);
      });
    expect(await get({})).toBe(200);
    expect(await get({ host: 'attacker.example' })).toBe(403);
    expect(await get({ origin: 'http://attacker.example' })).toBe(403);
    expect(await get({ host: `localhost:${consoleServer.port}`, origin: `http://localhost:${consoleServer.port}` })).toBe(200);
  });
});
