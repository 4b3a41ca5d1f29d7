// The console's Results view with 1,000 keys, in Chromium: results for 1,000 sensors × 12 windows
// are written to a bucket on the local endpoint the way Firehose writes them (GZIP JSON lines under
// results/job=<job>/dt=…/hour=…/), and the page must offer every key, chart the top ones, find a key
// far down the list by typing it, and page through the windows — each checked against
// `npm run query`. (How fast it is belongs to a benchmark; the run time is printed.)
import { gzipSync } from 'node:zlib';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Browser, Page } from 'playwright-core';
import { startConsole, type ConsoleServer } from '../../console/server';
import { JOB_OUTPUTS, outputKey, stackName } from '../../infra/outputs';
import { startLocalServer, type LocalServer } from '../../local/server';
import { resolveTarget, type Target } from '../../scripts/lib/targets';
import { runQuery } from '../../scripts/query';
import { launchChromium } from '../support/browser';

jest.setTimeout(120_000);

interface PageElement {
  readonly dataset: Record<string, string | undefined>;
  readonly textContent: string | null;
}
interface ChartData {
  timestamps: number[];
  series: { label: string; values: (number | null)[] }[];
}
declare const document: { querySelector(selector: string): PageElement | null; querySelectorAll(selector: string): ArrayLike<PageElement> };
declare const window: { riffleConsole: { charts: Map<string, { data: ChartData }> } };

const JOB = 'sensor-averages';
const BUCKET = 'riffle-console-scale';
const KEYS = 1_000;
const WINDOWS = 12;
const START = Date.UTC(2026, 0, 1, 10, 0, 0);
const started = Date.now();
let server: LocalServer;
let target: Target;
let consoleServer: ConsoleServer;
let browser: Browser;
let page: Page;
let dir: string;

/** Sensor k in window w: a count that ranks sensors by k and a temperature that varies with both. */
function result(k: number, w: number): Record<string, unknown> {
  const key = `sensor-${String(k).padStart(4, '0')}`;
  const windowStart = new Date(START + w * 300_000).toISOString();
  const count = 2 * KEYS - k + w;
  return {
    resultId: `${k}-${w}`,
    job: JOB,
    key,
    windowStart,
    windowEnd: new Date(START + (w + 1) * 300_000).toISOString(),
    count,
    temperature_avg: 20 + (k % 17) / 4 + w / 8,
    temperature_min: 10,
    temperature_max: 30,
    temperature_p95: 28,
    humidity_avg: null,
    final: true,
    version: 1,
    eventCount: count,
    emittedAt: windowStart,
  };
}

async function query(sql: string): Promise<Record<string, unknown>[]> {
  let out = '';
  const code = await runQuery([sql, '--format', 'json', '--job', JOB], { stdout: { write: (t: string) => (out += t) }, stderr: { write: () => true }, target, cacheDir: path.join(dir, 'query') });
  expect(code).toBe(0);
  return JSON.parse(out) as Record<string, unknown>[];
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-console-scale-'));
  server = await startLocalServer({ port: 0, ttlSweepIntervalMs: 0 });
  const s3 = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  for (let w = 0; w < WINDOWS; w++) {
    const at = new Date(START + w * 300_000).toISOString();
    const lines = Array.from({ length: KEYS }, (_, k) => `${JSON.stringify(result(k + 1, w))}\n`).join('');
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `results/job=${JOB}/dt=${at.slice(0, 10)}/hour=${at.slice(11, 13)}/part-${w}.gz`, Body: gzipSync(lines) }));
  }
  s3.destroy();
  // Outputs as a deployment of the job would have them; only the bucket exists here.
  const outputs = Object.fromEntries(JOB_OUTPUTS.map((o) => [outputKey(JOB, o), o === 'Bucket' ? BUCKET : `absent-${o}`]));
  target = resolveTarget('local', { endpoint: server.endpoint, outputs: { [stackName(JOB)]: { Jobs: JOB, ...outputs } } });
  consoleServer = await startConsole({ target, port: 0, cacheDir: path.join(dir, 'console'), refreshMs: 60_000 });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, locale: 'en-US', timezoneId: 'UTC' });
});

afterAll(async () => {
  await browser?.close();
  await consoleServer?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  console.log(`console at ${KEYS} keys: ${((Date.now() - started) / 1000).toFixed(1)} s including browser start`);
});

it('offers all 1,000 keys, charts the top ones, finds one far down the list, pages the windows', async () => {
  const opened = Date.now();
  await page.goto(`${consoleServer.url}#view=results&job=${JOB}&agg=temperature_avg`);
  await page.waitForFunction(() => document.querySelector('main')?.dataset.view === 'results' && document.querySelectorAll('#all-keys option').length > 0, undefined, { timeout: 60_000 });
  console.log(`results view with ${KEYS} keys rendered in ${Date.now() - opened} ms`);
  expect(await page.$$eval('#all-keys option', (os) => os.length)).toBe(KEYS);

  const top = await query('SELECT key, sum(eventCount) AS events FROM results GROUP BY key ORDER BY events DESC, key LIMIT 10');
  const chart = await page.evaluate(() => window.riffleConsole.charts.get('results')?.data);
  expect(chart?.series.map((s) => s.label)).toEqual(top.map((t) => t.key));
  expect(chart?.timestamps).toHaveLength(WINDOWS);

  const far = 'sensor-0987';
  await page.fill('#key-input', far);
  await page.keyboard.press('Enter');
  await page.waitForFunction((k) => document.querySelector('.chips')?.textContent?.includes(k) === true && document.querySelector('main')?.dataset.view === 'results', far);
  await page.waitForFunction(() => window.riffleConsole.charts.get('results')?.data.series.length === 1);
  const one = await page.evaluate(() => window.riffleConsole.charts.get('results')?.data);
  const expected = await query(`SELECT epoch_ms(windowStart) AS t, temperature_avg FROM results WHERE key = '${far}' ORDER BY t`);
  expect(one?.series[0]?.label).toBe(far);
  expect(one?.timestamps.map((t, i) => `${t}=${one.series[0]?.values[i]}`)).toEqual(expected.map((r) => `${String(r.t)}=${String(r.temperature_avg)}`));

  // The last page of the latest windows table (25 rows a page): 12,000 windows → page 480.
  const last = await query('SELECT key, epoch_ms(windowStart) AS t FROM results ORDER BY windowStart DESC, key LIMIT 25 OFFSET 11975');
  await page.goto(`${consoleServer.url}#view=results&job=${JOB}&agg=temperature_avg&page=479`);
  await page.waitForFunction(() => document.querySelector('#latest caption')?.textContent?.includes('page 480 of 480') === true, undefined, { timeout: 60_000 });
  const rows = await page.$$eval('#latest tbody tr', (trs) => trs.map((tr) => `${tr.children[0]?.textContent}@${(tr.children[1] as unknown as PageElement).dataset.value}`));
  expect(rows).toEqual(last.map((r) => `${String(r.key)}@${String(r.t)}`));
});
