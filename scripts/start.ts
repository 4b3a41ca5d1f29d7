// `npm start` — Riffle end to end on the embedded local cloud, no Docker, no AWS account:
// synth the CDK app → start the local cloud (one endpoint, :4566) → deploy the synthesized
// sensor-averages stack → stream the bundled sample data (60,000 readings with disorder, a few
// stragglers and malformed records) → wait for the pipeline to drain and the windows to close →
// print the results and where the files are.
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { outputKey, stackName } from '../infra/outputs';
import { startLocalCloud, type LocalCloud } from '../local/cloud';
import { SAMPLE_FILE } from '../events/samples/generate-sensor-readings';
import { type CommandSpec, intOption, runMain } from './lib/cli';
import { latestResults, readJsonLines } from './lib/output-reader';
import { synth } from './lib/synth';

const JOB = 'sensor-averages';
const SOURCE = 'sensor-averages';

const spec: CommandSpec = {
  name: 'npm start --',
  summary: 'run the sensor-averages pipeline end to end on the embedded local cloud and print its results',
  usage: 'npm start -- [--events N] [--port 4566] [--keep-running] [--rows 15] [--no-iam] [--verbose]',
  options: {
    events: { type: 'string', description: 'how many of the 60,000 sample readings to send', default: '60000', integer: { min: 1, max: 60_000 } },
    port: { type: 'string', description: 'port of the local endpoint (0 picks a free one)', default: '4566', integer: { min: 0, max: 65_535 } },
    'keep-running': { type: 'boolean', description: 'stay up after printing the results (Ctrl-C stops, flushing Firehose first)' },
    rows: { type: 'string', description: 'result rows to print', default: '15', integer: { min: 0 } },
    'data-dir': { type: 'string', description: 'state directory of the demo, wiped at every start (npm run local keeps its own in .riffle/)', default: '.riffle/start' },
    'no-iam': { type: 'boolean', description: "do not check the functions' AWS calls against their roles' IAM policies (checked by default, as on AWS)" },
    verbose: { type: 'boolean', description: 'print every line the functions log (default: only their errors and warnings; the full logs are always in <data-dir>/logs/)' },
  },
  examples: ['npm start', 'npm start -- --events 10000', 'npm start -- --keep-running'],
};

function progress(line: string): void {
  if (process.stdout.isTTY) process.stdout.write(`\r\x1b[2K${line}`);
}

function endProgress(line: string): void {
  if (process.stdout.isTTY) process.stdout.write('\r\x1b[2K');
  console.log(line);
}

async function stream(cloud: LocalCloud, streamName: string, lines: readonly string[]): Promise<void> {
  const started = Date.now();
  let sent = 0;
  let retried = 0;
  for (let i = 0; i < lines.length; i += 500) {
    let pending = lines.slice(i, i + 500).map((line) => {
      let key = 'unknown';
      try {
        key = String((JSON.parse(line) as { sensorId?: unknown }).sensorId ?? key);
      } catch {
        // malformed sample lines are sent as they are: the mapper rejects them with a reason
      }
      return { PartitionKey: key, Data: Buffer.from(line) };
    });
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 10) throw new Error(`PutRecords kept failing for ${pending.length} records`);
      if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt * Math.random()));
      const response = await cloud.clients.kinesis.send(new PutRecordsCommand({ StreamName: streamName, Records: pending }));
      const failed = pending.filter((_, j) => response.Records?.[j]?.ErrorCode);
      sent += pending.length - failed.length;
      retried += failed.length;
      pending = failed;
    }
    const rate = sent / Math.max(0.001, (Date.now() - started) / 1000);
    progress(`sending: ${sent.toLocaleString()} / ${lines.length.toLocaleString()} events (${Math.round(rate).toLocaleString()}/s)`);
  }
  endProgress(`sent ${sent.toLocaleString()} events in ${((Date.now() - started) / 1000).toFixed(1)} s${retried ? ` (${retried} retried)` : ''}`);
}

function table(rows: readonly Record<string, unknown>[], columns: readonly string[]): string {
  const cell = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : v === null || v === undefined ? '—' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i] as number)).join('  ');
  return [line([...columns]), line(widths.map((w) => '─'.repeat(w))), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}

runMain(spec, async (parsed) => {
  const events = intOption(parsed, 'events', 60_000);
  const port = intOption(parsed, 'port', 4566);
  const rows = intOption(parsed, 'rows', 15);
  // The demo replays the same sample every time: into old state its events would be sent twice
  // (and, their windows being closed, come out late). So it starts from nothing, in its own dir.
  const dataDir = path.resolve(typeof parsed.values['data-dir'] === 'string' ? parsed.values['data-dir'] : path.join('.riffle', 'start'));

  console.log('synthesizing the CDK app (npm run synth)…');
  await synth({ log: (l) => console.log(l) });

  const cloud = await startLocalCloud({ port, dataDir, fresh: true, stacks: [stackName(SOURCE)], iam: parsed.values['no-iam'] !== true, log: (l) => console.log(l), functionLogs: parsed.values.verbose === true ? 'verbose' : 'errors' });
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    endProgress('stopping: flushing Firehose buffers…');
    await cloud.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown()); // on, not once: Ctrl-C arrives twice (directly and relayed by tsx)
  process.on('SIGTERM', () => void shutdown());

  const out = cloud.outputs[stackName(SOURCE)] ?? {};
  const name = (key: Parameters<typeof outputKey>[1]) => {
    const value = out[outputKey(JOB, key)];
    if (!value) throw new Error(`stack output ${outputKey(JOB, key)} is missing from the local deployment`);
    return value;
  };
  console.log(`local cloud at ${cloud.endpoint} · state in ${path.relative(process.cwd(), dataDir) || '.'}/`);
  console.log(`function logs: ${path.relative(process.cwd(), cloud.functionLogs.dir)}/<function>.log${parsed.values.verbose === true ? '' : ' (only errors and warnings here; --verbose prints every line)'}`);

  const lines = gunzipSync(readFileSync(SAMPLE_FILE)).toString('utf8').split('\n').filter(Boolean).slice(0, events);
  await stream(cloud, name('InputStream'), lines);

  // Drain: every poller at the tip of its shards and nothing running, then close what is left —
  // the sample is a bounded input, so its last windows close at end of input, not by the clock.
  const drainStarted = Date.now();
  const timer = setInterval(() => {
    const fns = cloud.stats().functions;
    const count = (suffix: string) => Object.entries(fns).filter(([n]) => n.includes(suffix)).reduce((a, [, s]) => a + s.invocations, 0);
    progress(`processing: mapper ${count('Mapper')} · reducer ${count('Reducer')} · closer ${count('Closer')} invocations (${Math.round((Date.now() - drainStarted) / 1000)} s)`);
  }, 500);
  try {
    await cloud.waitForIdle({ timeoutMs: 600_000, settleMs: 1_000 });
    const close = await cloud.runtime.invoke(name('CloserFunction'), { drain: true });
    if (!close.ok) throw new Error(`the closer failed: ${close.payload}`);
    const summary = JSON.parse(close.payload || '{}') as { closed?: number };
    await cloud.server.firehose.flushAll();
    clearInterval(timer);
    endProgress(`pipeline drained in ${((Date.now() - drainStarted) / 1000).toFixed(1)} s; end of input closed ${summary.closed ?? 0} more windows`);
  } finally {
    clearInterval(timer);
  }

  const s3 = new S3Client({ endpoint: cloud.endpoint, region: cloud.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, forcePathStyle: true });
  const bucket = name('Bucket');
  const results = latestResults(await readJsonLines(s3, bucket, `results/job=${JOB}/`)).sort(
    (a, b) => String(a.windowStart).localeCompare(String(b.windowStart)) || String(a.key).localeCompare(String(b.key)),
  );
  const rejected = await readJsonLines(s3, bucket, `rejected/job=${JOB}/`);
  const late = await readJsonLines(s3, bucket, `late/job=${JOB}/`);
  const counted = results.reduce((n, r) => n + Number(r.eventCount ?? 0), 0);

  // Show the busiest window: the first ones hold only a few early stragglers.
  const perWindow = new Map<string, number>();
  for (const r of results) perWindow.set(String(r.windowStart), (perWindow.get(String(r.windowStart)) ?? 0) + Number(r.count ?? 0));
  const busiest = [...perWindow.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const shown = results.filter((r) => r.windowStart === busiest);
  console.log('');
  console.log(`window ${busiest ?? '—'} (the busiest of ${perWindow.size}):`);
  console.log(table(shown.slice(0, rows), ['windowStart', 'key', 'count', 'temperature_avg', 'temperature_min', 'temperature_max', 'temperature_p95', 'humidity_avg']));
  if (shown.length > rows) console.log(`… ${(shown.length - rows).toLocaleString()} more sensors in this window`);
  console.log('');
  console.log(`${results.length.toLocaleString()} windows · ${counted.toLocaleString()} events counted · ${rejected.length} rejected · ${late.length} late · ${lines.length.toLocaleString()} sent`);
  if (counted + rejected.length + late.length !== lines.length) {
    console.log(`warning: counted + rejected + late = ${(counted + rejected.length + late.length).toLocaleString()} ≠ ${lines.length.toLocaleString()} sent`);
  }
  const s3Root = `s3://${bucket}`;
  console.log(`objects: ${s3Root}/results/ (GZIP JSON lines by window hour) · ${s3Root}/rejected/ · ${s3Root}/late/ (any S3 client with --endpoint-url ${cloud.endpoint}, with --keep-running)`);
  console.log(`query them: npm run query -- "SELECT key, windowStart, temperature_avg FROM results ORDER BY temperature_avg DESC LIMIT 5"  (with npm run local up)`);

  if (parsed.values['keep-running'] === true) {
    const web = await (await import('../console/attach')).attachConsole(cloud).catch(() => undefined);
    console.log(`\nstill running at ${cloud.endpoint}${web ? ` · console: ${web.url}` : ''}; Ctrl-C to stop`);
    await new Promise(() => undefined);
  }
  await cloud.stop();
  return counted + rejected.length + late.length === lines.length ? 0 : 1;
});
