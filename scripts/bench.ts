// `npm run bench` — Riffle's performance and cost report. Each section measures one claim and
// prints its numbers; the whole report is written to bench-report/report.{json,md}.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { benchMapperCore } from './bench/mapper-core';
import { benchEndToEnd } from './bench/end-to-end';
import { benchWorkloadW } from './bench/workload-w';
import { type CommandSpec, intOption, runMain } from './lib/cli';

const SECTIONS = ['mapper-core', 'workload-w', 'end-to-end'] as const;

const spec: CommandSpec = {
  name: 'npm run bench --',
  summary: 'measure mapper throughput and the DynamoDB/Lambda cost of workload W; write bench-report/',
  usage: 'npm run bench -- [--only mapper-core,workload-w,end-to-end] [--events 1000000] [--aggregation 100] [--out bench-report]',
  options: {
    only: { type: 'string', description: `comma-separated sections to run (${SECTIONS.join(', ')})`, default: 'all' },
    events: { type: 'string', description: 'events in workload W and the end-to-end run', default: '1000000', integer: { min: 1_000 } },
    aggregation: { type: 'string', description: 'user records per KPL aggregate in the end-to-end run (1 = no aggregation)', default: '100', integer: { min: 1, max: 1000 } },
    out: { type: 'string', description: 'directory for report.json and report.md', default: 'bench-report' },
  },
  examples: ['npm run bench', 'npm run bench -- --only mapper-core', 'npm run bench -- --only workload-w --events 100000'],
};

runMain(spec, async (parsed) => {
  const only = typeof parsed.values.only === 'string' ? parsed.values.only.split(',').map((s) => s.trim()) : [...SECTIONS];
  for (const s of only) {
    if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`unknown section '${s}'; sections: ${SECTIONS.join(', ')}`);
  }
  const report: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, cpus: (await import('node:os')).cpus().length };
  const md: string[] = [`# Riffle bench report`, '', `${report.date as string} · Node ${process.version} · ${report.cpus as number} CPUs`, ''];

  if (only.includes('mapper-core')) {
    console.log('mapper core vs decode floor (10,000-record batches)…');
    const r = benchMapperCore();
    report.mapperCore = r;
    const line = `floor (base64 + JSON.parse): ${r.floorRecordsPerSec.toLocaleString()} rec/s · mapper core: ${r.mapperRecordsPerSec.toLocaleString()} rec/s · ratio ${(r.ratio * 100).toFixed(1)}% (target ≥ 50%)`;
    console.log(`  ${line}`);
    md.push('## Mapper core', '', line, '');
  }
  if (only.includes('workload-w')) {
    const events = intOption(parsed, 'events', 1_000_000);
    console.log(`workload W: ${events.toLocaleString()} events, 1,000 sensors, 60 min, tumbling 5m, batches of 1,000…`);
    const r = await benchWorkloadW({ events, log: (l) => console.log(l) });
    report.workloadW = r;
    const rows = [
      ['results (key × window)', r.results],
      ['DynamoDB write requests', r.dynamoWriteRequests],
      ['DynamoDB read requests', r.dynamoReadRequests],
      ['writes per result', r.writesPerResult.toFixed(2)],
      ['one-update-per-event design: writes', r.events],
      ['mapper invocations', r.mapperInvocations],
      ['reducer invocations', r.reducerInvocations],
      ['shuffle records', r.shuffleRecords],
      ['results exact', r.exact ? 'yes' : 'NO'],
    ] as const;
    for (const [k, v] of rows) console.log(`  ${k}: ${typeof v === 'number' ? v.toLocaleString() : v}`);
    console.log(`  target: writes ≤ 3 × results = ${(3 * r.results).toLocaleString()} → ${r.dynamoWriteRequests <= 3 * r.results ? 'met' : 'NOT met'}`);
    md.push('## Workload W', '', '| measure | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${typeof v === 'number' ? v.toLocaleString() : v} |`), '');
  }
  if (only.includes('end-to-end')) {
    const events = intOption(parsed, 'events', 1_000_000);
    const aggregation = intOption(parsed, 'aggregation', 100);
    console.log(`end to end on the embedded cloud: ${events.toLocaleString()} sensor events, KPL aggregation ${aggregation}…`);
    const r = await benchEndToEnd({ events, aggregation, log: (l) => console.log(l) });
    report.endToEnd = r;
    const rows = [
      ['events', r.events],
      ['raw kinesalite PutRecords (single-event records)', `${r.rawPutRecordsPerSec.toLocaleString()} records/s`],
      ['end-to-end throughput (produce → results in S3)', `${r.eventsPerSec.toLocaleString()} events/s (target ≥ 5,000)`],
      ['ratio to raw PutRecords', `${(r.ratioToRawPutRecords * 100).toFixed(0)}% (target ≥ 40%)`],
      ['total / producing', `${r.totalSeconds.toFixed(1)} s / ${r.produceSeconds.toFixed(1)} s`],
      ['peak RSS (whole process, workers included)', `${r.peakRssMb} MB (target ≤ 1,500)`],
      ['results exact', r.exact ? `yes (${r.results.toLocaleString()} windows)` : 'NO'],
    ] as const;
    for (const [k, v] of rows) console.log(`  ${k}: ${typeof v === 'number' ? v.toLocaleString() : v}`);
    md.push('## End to end (embedded cloud)', '', '| measure | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${typeof v === 'number' ? v.toLocaleString() : v} |`), '');
  }
  const out = typeof parsed.values.out === 'string' ? parsed.values.out : 'bench-report';
  await mkdir(out, { recursive: true });
  await writeFile(path.join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(path.join(out, 'report.md'), `${md.join('\n')}\n`);
  console.log(`report: ${path.join(out, 'report.md')}, ${path.join(out, 'report.json')}`);
});
