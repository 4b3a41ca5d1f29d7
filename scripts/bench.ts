// `npm run bench` — Riffle's performance and cost report. Each section measures one claim and
// prints its numbers; the whole report is written to bench-report/report.{json,md}. The cost
// section is computed from what workload W and the live-stream run counted (scripts/bench/cost.ts).
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { costSection } from './bench/cost-report';
import { benchEndToEnd } from './bench/end-to-end';
import { benchLatency, type LatencyResult } from './bench/latency';
import { benchMapperCore } from './bench/mapper-core';
import { benchProfiles, profilesMarkdown } from './bench/profiles';
import { DEFAULT_BASIS, profileCostTable } from './bench/profile-cost';
import { PRICES_US_EAST_1 } from './bench/prices';
import { projectionTable, type ProjectionBasis } from './bench/projection';
import { benchResultsFormat } from './bench/results-format';
import { benchUploadMemory } from './bench/upload-memory';
import { benchWorkloadW, type WorkloadWResult } from './bench/workload-w';
import { type CommandSpec, intOption, runMain } from './lib/cli';

const SECTIONS = ['mapper-core', 'workload-w', 'results-format', 'latency', 'profiles', 'end-to-end', 'upload-memory'] as const;

const spec: CommandSpec = {
  name: 'npm run bench --',
  summary: 'measure mapper throughput, DynamoDB/Lambda use and cost of workload W, update-mode latency, end-to-end throughput; write bench-report/',
  usage: 'npm run bench -- [--only mapper-core,workload-w,results-format,latency,profiles,end-to-end,upload-memory] [--events 1000000] [--aggregation 100] [--rate 278] [--seconds 60] [--reducer-window 5] [--profile-seconds 30] [--out bench-report]',
  options: {
    only: { type: 'string', description: `comma-separated sections to run (${SECTIONS.join(', ')}); the cost section follows workload-w and latency`, default: 'all' },
    events: { type: 'string', description: 'events in workload W and the end-to-end run', default: '1000000', integer: { min: 1_000 } },
    aggregation: { type: 'string', description: 'user records per KPL aggregate in the end-to-end run (1 = no aggregation)', default: '100', integer: { min: 1, max: 1000 } },
    rate: { type: 'string', description: "events per second of the live latency run (278 = W's 1,000,000 per hour)", default: '278', integer: { min: 10, max: 5000 } },
    seconds: { type: 'string', description: 'seconds of producing in the live latency run', default: '60', integer: { min: 10, max: 3600 } },
    'reducer-window': { type: 'string', description: 'reducer batching window (s) of the live latency run (the deployed default: 5)', default: '5', integer: { min: 0, max: 300 } },
    'profile-seconds': { type: 'string', description: 'seconds of producing per measured point of the profiles section', default: '30', integer: { min: 10, max: 600 } },
    out: { type: 'string', description: 'directory for report.json, report.md and latency-cost.svg', default: 'bench-report' },
  },
  examples: ['npm run bench', 'npm run bench -- --only mapper-core', 'npm run bench -- --only results-format', 'npm run bench -- --only workload-w --events 100000', 'npm run bench -- --only latency --rate 2780 --seconds 30', 'npm run bench -- --only latency --reducer-window 30 --seconds 120', 'npm run bench -- --only profiles --profile-seconds 30'],
};

const num = (v: number) => v.toLocaleString('en-US');
const ms = (v: number) => `${num(Math.round(v))} ms`;

function table(rows: readonly (readonly [string, string | number])[]): string[] {
  return ['| measure | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${typeof v === 'number' ? num(v) : v} |`)];
}

runMain(spec, async (parsed) => {
  const only = typeof parsed.values.only === 'string' ? parsed.values.only.split(',').map((s) => s.trim()) : [...SECTIONS];
  for (const s of only) {
    if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`unknown section '${s}'; sections: ${SECTIONS.join(', ')}`);
  }
  const report: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}` };
  const md: string[] = [`# Riffle bench report`, '', `${report.date as string} · Node ${process.version} · ${report.cpus as number} CPUs · \`${report.command as string}\``, ''];
  let w: WorkloadWResult | undefined;
  let live: LatencyResult | undefined;
  let mapperCoreRecordsPerSec: number | undefined;
  let wBasis: ProjectionBasis | undefined;

  if (only.includes('mapper-core')) {
    console.log('mapper core vs decode floor (10,000-record batches)…');
    const r = benchMapperCore();
    report.mapperCore = r;
    mapperCoreRecordsPerSec = r.mapperRecordsPerSec;
    const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
    const rows = r.variants.map(
      (v) =>
        `| ${num(v.sensors)} (${num(r.batchSize / v.sensors)} events per key per batch) | ${pct(v.ratio.min)} / **${pct(v.ratio.median)}** / ${pct(v.ratio.max)} | ${num(v.mapperRecordsPerSec.min)} / ${num(v.mapperRecordsPerSec.median)} / ${num(v.mapperRecordsPerSec.max)} | ${num(v.floorRecordsPerSec.min)} / ${num(v.floorRecordsPerSec.median)} / ${num(v.floorRecordsPerSec.max)} |`,
    );
    for (const v of r.variants) console.log(`  ${num(v.sensors)} sensors: mapper ÷ floor min/median/max ${pct(v.ratio.min)} / ${pct(v.ratio.median)} / ${pct(v.ratio.max)} (target ≥ 50%)`);
    md.push(
      '## Mapper core',
      '',
      `The same ${num(r.batchSize)} base64 records per round through base64 + \`JSON.parse\` (the floor) and through the mapper core (decode, validate, map, window, combine, partials), timed on ${r.clock}; ${r.repetitions} repetitions of ${r.rounds} rounds, each repetition's median; min / median / max over the repetitions. Target ≥ 50%.`,
      '',
      '| sensors in the batch | mapper ÷ floor (min / median / max) | mapper records/s | floor records/s |',
      '|---|---:|---:|---:|',
      ...rows,
      '',
    );
  }
  if (only.includes('workload-w')) {
    const events = intOption(parsed, 'events', 1_000_000);
    console.log(`workload W: ${num(events)} events, 1,000 sensors, 60 min, tumbling 5m, batches of 1,000…`);
    const r = (w = await benchWorkloadW({ events, log: (l) => console.log(l) }));
    report.workloadW = r;
    const rows = [
      ['results (key × window)', r.results],
      ['DynamoDB write requests', r.dynamoWriteRequests],
      ['DynamoDB read requests', r.dynamoReadRequests],
      ['DynamoDB write / read request units', `${num(r.dynamoWriteUnits)} / ${num(r.dynamoReadUnits)}`],
      ['writes per result', r.writesPerResult.toFixed(2)],
      ['one-update-per-event design: writes', r.events],
      ['mapper / reducer invocations', `${num(r.mapperInvocations)} / ${num(r.reducerInvocations)}`],
      ['mean handler time: mapper / reducer / closer (drain, idle)', `${ms(r.meanDurationMs.mapper)} / ${ms(r.meanDurationMs.reducer)} / ${ms(r.meanDurationMs.closerDrain)}, ${ms(r.meanDurationMs.closerIdle)}`],
      ['shuffle records (buckets)', `${num(r.shuffleRecords)} (${r.shuffleBuckets})`],
      ['results exact', r.exact ? 'yes' : 'NO'],
    ] as const;
    for (const [k, v] of rows) console.log(`  ${k}: ${typeof v === 'number' ? num(v) : v}`);
    const met = r.dynamoWriteRequests <= 3 * r.results;
    console.log(`  target: writes ≤ 3 × results = ${num(3 * r.results)} → ${met ? 'met' : 'NOT met'}`);
    md.push('## Workload W', '', `\`--events ${r.events}\`: 1,000 sensors, 60 minutes of event time, tumbling 5 min, mapper and reducer batches of 1,000, replayed as a backlog (full batches). Target: writes ≤ 3 × results → **${met ? 'met' : 'not met'}**.`, '', ...table(rows), '');
  }
  if (only.includes('results-format')) {
    const events = intOption(parsed, 'events', 1_000_000);
    console.log(`results format: workload W's results (${num(events)} events) as JSON lines (GZIP) and as Parquet (SNAPPY); three queries through npm run query's code…`);
    const r = await benchResultsFormat({ events, log: (l) => console.log(l) });
    report.resultsFormat = r;
    const kb = (b: number) => `${(b / 1024).toFixed(b < 10 * 1024 ? 1 : 0)} KiB`;
    const ratio = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;
    const rows: string[] = [
      '| | JSON lines, GZIP | Parquet, SNAPPY | Parquet ÷ JSON |',
      '|---|---|---|---|',
      `| objects in results/ | ${num(r.storage['json-gzip'].objects)} | ${num(r.storage.parquet.objects)} | |`,
      `| bytes stored | ${kb(r.storage['json-gzip'].bytes)} | ${kb(r.storage.parquet.bytes)} | ${ratio(r.storage.parquet.bytes, r.storage['json-gzip'].bytes)} |`,
    ];
    r.queries['json-gzip'].forEach((json, i) => {
      const parquet = r.queries.parquet[i]!;
      rows.push(`| ${json.query}: downloaded (objects, bytes) | ${json.objectsDownloaded}, ${kb(json.bytesDownloaded)} | ${parquet.objectsDownloaded}, ${kb(parquet.bytesDownloaded)} | ${ratio(parquet.bytesDownloaded, json.bytesDownloaded)} |`);
      rows.push(`| ${json.query}: bytes DuckDB read (from the cache) | ${kb(json.bytesRead)} | ${kb(parquet.bytesRead)} | ${ratio(parquet.bytesRead, json.bytesRead)} |`);
    });
    console.log(`  same answers in both formats: ${r.sameAnswers ? 'yes' : 'NO'}`);
    md.push(
      "## Results format (workload W's results)",
      '',
      `${num(r.results)} results of W (${num(r.events)} events), one object per closing round as a real-time W reaches S3 through 60 s buffers; ` +
        "queries run by `npm run query`'s own code against the embedded S3: download (first run), then the bytes read through the file system (/proc/self/io rchar) while DuckDB answers from the cache (second run). " +
        `Same answers in both formats: ${r.sameAnswers ? 'yes' : '**no**'}.`,
      '',
      ...rows,
      '',
    );
  }
  if (only.includes('upload-memory')) {
    console.log('local cloud memory under large S3 uploads (4 concurrent PutObject of 500 MB, streamed)…');
    const r = await benchUploadMemory({ log: (l) => console.log(l) });
    report.uploadMemory = r;
    const line = `RSS baseline ${num(r.baselineRssMb)} MB · peak ${num(r.peakRssMb)} MB (target < ${num(r.peakTargetMb)}) · after ${num(r.afterRssMb)} MB (target ≤ baseline + ${r.settleTargetMb}) · ${r.mbPerSec.toFixed(0)} MB/s · ${r.objectsVerified}/${r.uploads} objects verified → ${r.met ? 'met' : 'NOT met'}`;
    console.log(`  ${line}`);
    md.push('## Local cloud memory under uploads', '', `${r.uploads} concurrent PutObject of ${num(r.bytesPerUpload / 1_000_000)} MB each (SDK v3, aws-chunked streams) into the endpoint running in its own process; its RSS sampled every 100 ms.`, '', line, '');
  }
  if (only.includes('latency')) {
    const ratePerSec = intOption(parsed, 'rate', 278);
    const seconds = intOption(parsed, 'seconds', 60);
    const reducerBatchingWindowSec = intOption(parsed, 'reducer-window', 5);
    console.log(`update-mode latency on a live stream: ${num(ratePerSec)} events/s for ${seconds} s, reducer batching window ${reducerBatchingWindowSec} s…`);
    const r = (live = await benchLatency({ ratePerSec, seconds, reducerBatchingWindowSec, log: (l) => console.log(l) }));
    report.latency = r;
    const rows = [
      ['events sent (1,000 sensors, event time = send time)', r.events],
      ['events matched to their first covering result', r.eventsMatched === r.events ? `all ${num(r.events)}` : `${num(r.eventsMatched)} of ${num(r.events)} (MISSING RESULTS)`],
      ['send → emittedAt: p50 / p95 / p99 / max', `${ms(r.emittedAtMs.p50)} / ${ms(r.emittedAtMs.p95)} / ${ms(r.emittedAtMs.p99)} / ${ms(r.emittedAtMs.max)}`],
      ['send → end of the emitting reducer invocation: p50 / p95', `${ms(r.deliveredMs.p50)} / ${ms(r.deliveredMs.p95)}`],
      ['mapper / reducer invocations', `${num(r.mapperInvocations)} / ${num(r.reducerInvocations)}`],
      ['state writes (conditional PutItem of window items)', `${num(r.stateWrites)} = ${r.stateWritesPerEvent.toFixed(3)} per event`],
      ['update results emitted', r.updateResults],
    ] as const;
    for (const [k, v] of rows) console.log(`  ${k}: ${typeof v === 'number' ? num(v) : v}`);
    md.push(
      '## Event → result latency (update mode)',
      '',
      `A producer sends ${num(r.ratePerSec)} events/s for ${r.seconds} s (PutRecords every 100 ms, partition key = sensor, event time = send time) into 1 input shard. ` +
        `The real mapper and reducer handlers run behind the embedded cloud's Kinesis event source mapping pollers, set up like the stack's mappings: batch size 1,000, ` +
        `batching windows ${r.mapperBatchingWindowSec} s (mapper) and ${r.reducerBatchingWindowSec} s (reducer) (deployed defaults: 1 s and 5 s), a caught-up shard polled every ${r.pollIntervalMs} ms (Lambda's pace). ` +
        `Latency of an event = emittedAt of the first update result whose eventCount covers it (a key's events reach the reducer in send order) − its send time. ` +
        `emittedAt is stamped when the reducer batch starts; the second row uses the end of that reducer invocation. Results reach S3 after Firehose's buffer interval (60 s minimum with dynamic partitioning) on top.`,
      '',
      ...table(rows),
      '',
    );
  }
  if (w || live) {
    const cost = costSection(w?.costInputs, live ? { inputs: live.costInputs, updateEmissions: live.updateEmissions } : undefined, PRICES_US_EAST_1);
    const { md: costMd, ...costJson } = cost;
    report.cost = costJson;
    for (const e of cost.estimates) console.log(`  cost: ${e.label}: $${e.perMillionEventsUsd.toFixed(4)} per 1,000,000 events`);
    md.push(...costMd);
  }
  if (w) {
    // The scale plan's cost column (docs/SCALING.md), from this run's counts.
    const input = w.costInputs.streams.find((s) => s.name === 'input stream')?.puts;
    const closer = w.costInputs.dynamodb.closer ?? { writeUnits: 0, readUnits: 0 };
    const mapper = live?.costInputs.lambda.mapper ?? w.costInputs.lambda.mapper;
    wBasis = {
      inputBytesPerEvent: input && input.records ? input.bytes / input.records : 80,
      shuffleBytesPerEvent: w.shuffleBytes / w.events,
      windowsPerEvent: w.results / w.events,
      closerWriteUnitsPerWindow: closer.writeUnits / Math.max(1, w.results),
      closerReadUnitsPerWindow: closer.readUnits / Math.max(1, w.results),
      resultBytes: w.firehoseRecords ? w.firehoseBytes / w.firehoseRecords : 400,
      mapperMsPerInvocation: mapper && mapper.invocations ? mapper.durationMs / mapper.invocations : 50,
      mapperMsPerEvent: 1000 / (mapperCoreRecordsPerSec ?? 180_000),
    };
    const projection = projectionTable(wBasis, PRICES_US_EAST_1);
    report.projection = projection.rows;
    md.push(...projection.md);
  }
  if (only.includes('profiles')) {
    const seconds = intOption(parsed, 'profile-seconds', 30);
    console.log(`latency profiles: p95 and cost per 1,000,000 events at 278, 2,780, 27,800 events/s (${seconds} s per measured point)…`);
    const basis = wBasis ? { ...DEFAULT_BASIS, ...wBasis, shuffleBuckets: w?.shuffleBuckets ?? DEFAULT_BASIS.shuffleBuckets } : DEFAULT_BASIS;
    const oneUpdate = w ? costSection(w.costInputs, undefined, PRICES_US_EAST_1).estimates[1]?.perMillionEventsUsd : undefined;
    const r = await benchProfiles({ prices: PRICES_US_EAST_1, basis, seconds, ...(oneUpdate !== undefined ? { oneUpdatePerEventPerMillion: oneUpdate } : {}), log: (l) => console.log(l) });
    const outDir = typeof parsed.values.out === 'string' ? parsed.values.out : 'bench-report';
    await mkdir(outDir, { recursive: true });
    await writeFile(path.join(outDir, 'latency-cost.svg'), r.svg);
    const { svg: _svg, ...json } = r;
    report.profiles = { ...json, finalDefaultW: profileCostTable(PRICES_US_EAST_1, basis).finalDefaultW };
    for (const p of r.points) console.log(`  ${p.profile} ${num(p.eventsPerSec)}/s: p95 ${p.p95Sec.toFixed(2)} s (${p.source}) · $${p.cost.perMillionUsd.toFixed(4)} per 1,000,000`);
    md.push(...profilesMarkdown(r, 'latency-cost.svg'));
  }
  if (only.includes('end-to-end')) {
    const events = intOption(parsed, 'events', 1_000_000);
    const aggregation = intOption(parsed, 'aggregation', 100);
    console.log(`end to end on the embedded cloud: ${num(events)} sensor events, KPL aggregation ${aggregation}…`);
    const r = await benchEndToEnd({ events, aggregation, log: (l) => console.log(l) });
    report.endToEnd = r;
    const rows = [
      ['events', r.events],
      [`raw kinesalite PutRecords of the same records (${aggregation > 1 ? `KPL aggregates of ${aggregation}` : 'single events'}), min / median / max of ${r.rawEventsPerSec.repetitions}`, `${num(r.rawEventsPerSec.min)} / ${num(r.rawEventsPerSec.median)} / ${num(r.rawEventsPerSec.max)} events/s`],
      ['end-to-end throughput (produce → results in S3), one run', `${num(r.eventsPerSec)} events/s (target ≥ 5,000)`],
      ['end to end ÷ raw ingest of the same records (events/s ÷ events/s)', `${(r.ratioToRaw.min * 100).toFixed(0)}% / ${(r.ratioToRaw.median * 100).toFixed(0)}% / ${(r.ratioToRaw.max * 100).toFixed(0)}% (target ≥ 40%)`],
      ['total / producing', `${r.totalSeconds.toFixed(1)} s / ${r.produceSeconds.toFixed(1)} s`],
      ['peak RSS (local cloud process + function processes; on Linux)', `${r.peakRssMb} MB (target ≤ 1,500)`],
      ['results exact', r.exact ? `yes (${num(r.results)} windows)` : 'NO'],
    ] as const;
    for (const [k, v] of rows) console.log(`  ${k}: ${typeof v === 'number' ? num(v) : v}`);
    md.push('## End to end (embedded cloud)', '', ...table(rows), '');
  }
  const out = typeof parsed.values.out === 'string' ? parsed.values.out : 'bench-report';
  await mkdir(out, { recursive: true });
  await writeFile(path.join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(path.join(out, 'report.md'), `${md.join('\n')}\n`);
  console.log(`report: ${path.join(out, 'report.md')}, ${path.join(out, 'report.json')}`);
});
