// The cost section of the bench report: the cost model (cost.ts) applied to what workload W and
// the live-stream run counted, next to the one-UpdateItem-per-event design, as markdown and JSON.
// Formatting only; every number comes from estimateCost().
import { estimateCost, kplPutPayloadUnits, LOG_BYTES_PER_INVOCATION, oneUpdatePerEvent, type CostEstimate, type CostInputs, type CostLine, type RecordSizes } from './cost';
import type { PriceTable } from './prices';

/** Issue 7's target for workload W. */
export const TARGET_USD_PER_MILLION = 0.05;

export interface CostSection {
  prices: { asOf: string; region: string; sources: Readonly<Record<string, string>> };
  targetUsdPerMillion: number;
  estimates: CostEstimate[];
  /** Per estimate label: the same inputs with on-demand streams. */
  onDemandPerMillion: Record<string, number>;
  /** Per estimate label: the part that is shard-hours (fixed per hour, so it shrinks as the rate grows). */
  shardHoursPerMillion: Record<string, number>;
  /** Per estimate label: Lambda's share at 4× the measured durations (sensitivity to the local timing). */
  lambdaAt4xPerMillion: Record<string, number>;
  /** W: what producer-side KPL aggregation (100 user records per Kinesis record) would save on input PUT payload units. */
  kplInputSavingPerMillion?: number;
  /** Live run: what update mode's per-write emissions add (Firehose ingestion and partitioning). */
  updateModeExtraPerMillion?: number;
  md: string[];
}

const SERVICES: CostLine['service'][] = ['Kinesis', 'Lambda', 'DynamoDB', 'Firehose', 'S3', 'CloudWatch Logs'];

const usd = (x: number) => (x === 0 ? '0' : x >= 0.01 ? `$${x.toFixed(4)}` : `$${x.toPrecision(2)}`);
const qty = (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x >= 1 ? x.toFixed(2) : x.toPrecision(3));

export function costSection(w: CostInputs | undefined, liveRun: { inputs: CostInputs; updateEmissions: RecordSizes } | undefined, prices: PriceTable): CostSection {
  const live = liveRun?.inputs;
  const inputs: CostInputs[] = [];
  if (w) inputs.push(w, oneUpdatePerEvent(w, { inputStream: 'input stream', mapperRole: 'mapper', keepRoles: ['closer', 'closer schedule', 'open-windows index'] }));
  if (live) inputs.push(live);
  const estimates = inputs.map((i) => estimateCost(i, prices));
  const onDemandPerMillion: Record<string, number> = {};
  const shardHoursPerMillion: Record<string, number> = {};
  const lambdaAt4xPerMillion: Record<string, number> = {};
  inputs.forEach((i, n) => {
    const e = estimates[n] as CostEstimate;
    onDemandPerMillion[e.label] = estimateCost({ ...i, kinesisMode: 'on-demand' }, prices).perMillionEventsUsd;
    shardHoursPerMillion[e.label] = (e.lines.filter((l) => l.item.endsWith('shard-hours')).reduce((a, l) => a + l.usd, 0) / e.events) * 1e6;
    const slower = Object.fromEntries(Object.entries(i.lambda).map(([role, l]) => [role, { ...l, durationMs: 4 * l.durationMs }]));
    lambdaAt4xPerMillion[e.label] = (estimateCost({ ...i, lambda: slower }, prices).byService.Lambda / e.events) * 1e6;
  });

  const input = w?.streams.find((s) => s.name === 'input stream');
  const kplInputSavingPerMillion =
    w && input ? (((input.puts.putPayloadUnits - kplPutPayloadUnits(input.puts, 100)) / 1e6) * prices.kinesis.putPayloadUnitsPerMillion * 1e6) / w.events : undefined;
  const updateModeExtraPerMillion = liveRun
    ? ((liveRun.updateEmissions.firehoseBillableBytes * prices.firehose.gbIngested + liveRun.updateEmissions.bytes * prices.firehose.dynamicPartitioningGb) / 1024 ** 3 / liveRun.inputs.events) * 1e6
    : undefined;
  const per = (e: CostEstimate, x: number) => (x / e.events) * 1e6;
  const md: string[] = [`## Cost per 1,000,000 events (AWS ${prices.region} list prices as of ${prices.asOf})`, ''];
  const extras = { ...(kplInputSavingPerMillion !== undefined ? { kplInputSavingPerMillion } : {}), ...(updateModeExtraPerMillion !== undefined ? { updateModeExtraPerMillion } : {}) };
  if (estimates.length === 0) return { prices, targetUsdPerMillion: TARGET_USD_PER_MILLION, estimates, onDemandPerMillion, shardHoursPerMillion, lambdaAt4xPerMillion, ...extras, md: [] };
  const names = estimates.map((e, n) => (w && n === 0 ? 'Riffle, W' : w && n === 1 ? 'one UpdateItem per event, W' : 'Riffle, live stream'));
  md.push(`| per 1,000,000 events | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
  for (const s of SERVICES) md.push(`| ${s} | ${estimates.map((e) => usd(per(e, e.byService[s]))).join(' | ')} |`);
  md.push(`| **total** | ${estimates.map((e) => `**${usd(e.perMillionEventsUsd)}**`).join(' | ')} |`);
  md.push(`| of which shard-hours (fixed per hour) | ${estimates.map((e) => usd(shardHoursPerMillion[e.label] ?? 0)).join(' | ')} |`);
  md.push(`| total with on-demand streams | ${estimates.map((e) => usd(onDemandPerMillion[e.label] ?? 0)).join(' | ')} |`);
  md.push(`| Lambda if invocations took 4× the measured time | ${estimates.map((e) => usd(lambdaAt4xPerMillion[e.label] ?? 0)).join(' | ')} |`, '');
  estimates.forEach((e, n) => md.push(`- ${names[n]}: ${e.label}.`));
  const riffleW = w ? estimates[0] : undefined;
  if (riffleW) {
    const met = riffleW.perMillionEventsUsd <= TARGET_USD_PER_MILLION;
    const naive = estimates[1] as CostEstimate;
    md.push(
      `- Target for W ≤ $${TARGET_USD_PER_MILLION} per 1,000,000 events: **${met ? 'met' : 'not met'}** (${usd(riffleW.perMillionEventsUsd)}; ` +
        `${(naive.perMillionEventsUsd / riffleW.perMillionEventsUsd).toFixed(1)}× less than one UpdateItem per event; ` +
        `without the shard-hours, which shrink as the rate grows: ${usd(riffleW.perMillionEventsUsd - (shardHoursPerMillion[riffleW.label] ?? 0))}).`,
    );
  }
  if (kplInputSavingPerMillion !== undefined) {
    md.push(`- W is produced one event per Kinesis record. Producer-side KPL aggregation (100 per record, \`npm run produce -- --aggregate\`) would save ${usd(kplInputSavingPerMillion)} of input PUT payload units (both designs alike).`);
  }
  if (updateModeExtraPerMillion !== undefined && live) {
    md.push(`- The live column is priced as \`final\` mode (one emission per window); the run itself was \`update\` mode, whose ${liveRun?.updateEmissions.records.toLocaleString('en-US')} per-write emissions add ${usd(updateModeExtraPerMillion)} (Firehose, 5 KB rounding).`);
  }
  md.push('');
  estimates.forEach((e, n) => {
    if (w && n === 1) return; // derived from W's lines; the summary row says enough
    md.push(`### ${names[n]}: line items`, '', '| item | quantity | unit | per 1,000,000 events |', '|---|---:|---|---:|');
    for (const l of e.lines) md.push(`| ${l.service}: ${l.item} | ${qty(l.quantity)} | ${l.unit} | ${usd(per(e, l.usd))} |`);
    md.push('');
  });
  md.push(
    '### How the cost is modelled',
    '',
    '- Counted on the emulators: every record put to Kinesis and Firehose with its size (PUT payload units ⌈size/25 KB⌉, Firehose ingestion rounded up to 5 KB per record, on-demand Kinesis to 1 KB), DynamoDB request units as dynalite computes them from item sizes (WRU per 1 KB written, RRU per 4 KB read, strongly consistent = 1, BatchGetItem per item; failed conditional writes included), Lambda invocations.',
    '- Lambda duration: the measured wall time of each handler invocation against the in-process emulators (same 2 cores), × the deployed memory (mapper and reducer 1,024 MB, closer 512 MB), arm64. AWS round trips are slower than local ones; the "4×" row shows how much that could matter.',
    '- Shard-hours: the deployed default of one input and one shuffle shard, for as long as the events take to arrive (W: its 60 minutes in real time, 278 events/s; the live run: its own duration). They are fixed per hour, so per event they fall as the rate rises (one shard takes 1,000 records/s or 1 MB/s).',
    '- The closer runs every minute plus once per reducer batch (at most every 5 s); each scheduled run costs what one measured idle run cost. Its final emission and close writes are measured (one drain run).',
    '- The open-windows index (KEYS_ONLY, sparse) is not counted by dynalite: 2 WRU per window (entered on the first write, removed on close); reducer writes in between leave the index keys unchanged, so DynamoDB does not write the index.',
    '- Firehose: dynamic partitioning adds per GB and per object; objects = partitions written × one flush per 60 s buffer interval (an upper bound); S3 PUTs = objects. JQ processing hours, KMS requests (stream and table encryption with AWS managed keys), storage, and CloudWatch metrics/alarms are not included.',
    `- CloudWatch Logs: ${LOG_BYTES_PER_INVOCATION.toLocaleString('en-US')} bytes per invocation (START/END/REPORT lines and one EMF metrics document) — an assumption, not measured.`,
    '- One UpdateItem per event: the same input stream and the same batches as Riffle\'s mapper; 1 WRU per event (an item under 1 KB: counts, sums, min, max — generous, since quantile sketches do not fit in 1 KB); 0.25 ms of Lambda per event (8 ms UpdateItems, 32 in flight); no shuffle stream, no reducer; Riffle\'s closer, schedule, index and output kept.',
    `- Prices: ${Object.entries(prices.sources).map(([k, v]) => `${k} ${v}`).join('; ')}.`,
    '',
  );
  return { prices, targetUsdPerMillion: TARGET_USD_PER_MILLION, estimates, onDemandPerMillion, shardHoursPerMillion, lambdaAt4xPerMillion, ...extras, md };
}
