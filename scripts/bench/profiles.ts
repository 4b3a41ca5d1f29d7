// Bench section `profiles`: each latency profile (infra/latency-profiles.ts) at 278, 2,780 and
// 27,800 events/s — p95 event → update result measured on the embedded cloud's event source
// mappings where this machine can sustain the rate and the profile's batching windows fit in a
// run, the labelled model (profile-cost.ts) elsewhere — against the modelled cost per 1,000,000
// events; then the chart (chart.ts) as SVG.
import { LATENCY_PROFILES, LATENCY_PROFILE_NAMES, type LatencyProfileName } from '../../infra/latency-profiles';
import { latencyCostChartSvg, managedFlinkPerMillion, type ChartPoint, type CostReference } from './chart';
import { benchLatency, type LatencyResult } from './latency';
import type { PriceTable } from './prices';
import { CHART_RATES, DEFAULT_BASIS, modelledP95Sec, profileCost, type ProfileCost, type ProfileCostBasis } from './profile-cost';

/** Above this rate the embedded cloud on this machine (2 shared cores) falls behind: modelled. */
export const MAX_MEASURED_RATE = 5_000;
/** Runs are at most this long; a profile whose batching windows need longer is modelled. */
const MAX_WINDOW_FOR_A_RUN_SEC = 10;

export interface ProfilePoint {
  profile: LatencyProfileName;
  eventsPerSec: number;
  cost: ProfileCost;
  p95Sec: number;
  p50Sec?: number;
  source: 'measured' | 'model';
  /** Why a point is modelled. */
  why?: string;
  measured?: Pick<LatencyResult, 'events' | 'eventsMatched' | 'emittedAtMs' | 'mapperInvocations' | 'reducerInvocations' | 'stateWritesPerEvent' | 'enhancedFanOut'>;
}

export interface ProfilesResult {
  seconds: number;
  points: ProfilePoint[];
  references: CostReference[];
  svg: string;
}

/** What a live run cannot show: the rate is beyond the machine, or the batching windows beyond the run. */
export function whyModelled(profile: LatencyProfileName, rate: number): string | undefined {
  const p = LATENCY_PROFILES[profile];
  if (rate > MAX_MEASURED_RATE) return `${rate.toLocaleString('en-US')} events/s is beyond what the embedded cloud sustains on this 2-core machine`;
  if (Math.max(p.mapperBatchingWindow, p.reducerBatchingWindow) > MAX_WINDOW_FOR_A_RUN_SEC) {
    return `batching windows of ${p.mapperBatchingWindow} s / ${p.reducerBatchingWindow} s: a steady state takes longer than a bench run`;
  }
  return undefined;
}

export function chartReferences(prices: PriceTable, oneUpdatePerEventPerMillion: number): CostReference[] {
  return [
    { label: 'Managed Flink, 100 events/s', costPerMillionUsd: managedFlinkPerMillion(prices.managedFlink.smallestAppPerMonth, 100) },
    { label: 'Managed Flink, 1,000 events/s', costPerMillionUsd: managedFlinkPerMillion(prices.managedFlink.smallestAppPerMonth, 1000) },
    { label: 'one UpdateItem per event (W)', costPerMillionUsd: oneUpdatePerEventPerMillion },
  ];
}

export async function benchProfiles(options: {
  prices: PriceTable;
  basis?: ProfileCostBasis;
  seconds?: number;
  /** W's one-UpdateItem-per-event cost when the bench computed it, else the documented $0.69. */
  oneUpdatePerEventPerMillion?: number;
  log?: (line: string) => void;
}): Promise<ProfilesResult> {
  const seconds = options.seconds ?? 30;
  const basis = options.basis ?? DEFAULT_BASIS;
  const log = options.log ?? (() => undefined);
  const points: ProfilePoint[] = [];
  for (const profile of LATENCY_PROFILE_NAMES) {
    for (const rate of CHART_RATES) {
      const cost = profileCost(profile, rate, options.prices, basis);
      const why = whyModelled(profile, rate);
      if (why) {
        points.push({ profile, eventsPerSec: rate, cost, p95Sec: modelledP95Sec(cost, basis), source: 'model', why });
        continue;
      }
      const p = LATENCY_PROFILES[profile];
      log(`  ${profile} at ${rate.toLocaleString('en-US')} events/s for ${seconds} s…`);
      let r: LatencyResult;
      try {
        r = await benchLatency({
          ratePerSec: rate,
          seconds,
          mapperBatchingWindowSec: p.mapperBatchingWindow,
          reducerBatchingWindowSec: p.reducerBatchingWindow,
          mapperBatchSize: p.mapperBatchSize,
          reducerBatchSize: p.reducerBatchSize,
          enhancedFanOut: p.enhancedFanOut,
        });
      } catch (error) {
        // The machine did not keep up (e.g. the pipeline did not drain): say so, plot the model.
        const reason = `the live run failed on this machine (${(error as Error).message}); modelled`;
        log(`    ${reason}`);
        points.push({ profile, eventsPerSec: rate, cost, p95Sec: modelledP95Sec(cost, basis), source: 'model', why: reason });
        continue;
      }
      if (r.eventsMatched < r.events) log(`    only ${r.eventsMatched} of ${r.events} events reached a result`);
      log(`    p50 ${(r.emittedAtMs.p50 / 1000).toFixed(2)} s · p95 ${(r.emittedAtMs.p95 / 1000).toFixed(2)} s · ${r.eventsMatched}/${r.events} events matched`);
      points.push({
        profile,
        eventsPerSec: rate,
        cost,
        p95Sec: r.emittedAtMs.p95 / 1000,
        p50Sec: r.emittedAtMs.p50 / 1000,
        source: 'measured',
        measured: {
          events: r.events,
          eventsMatched: r.eventsMatched,
          emittedAtMs: r.emittedAtMs,
          mapperInvocations: r.mapperInvocations,
          reducerInvocations: r.reducerInvocations,
          stateWritesPerEvent: r.stateWritesPerEvent,
          enhancedFanOut: r.enhancedFanOut,
        },
      });
    }
  }
  const references = chartReferences(options.prices, options.oneUpdatePerEventPerMillion ?? 0.69);
  const chartPoints: ChartPoint[] = points.map((p) => ({ profile: p.profile, eventsPerSec: p.eventsPerSec, costPerMillionUsd: p.cost.perMillionUsd, p95Sec: p.p95Sec, source: p.source }));
  const svg = await latencyCostChartSvg(chartPoints, references);
  return { seconds, points, references, svg };
}

/** The report's markdown for the section. */
export function profilesMarkdown(r: ProfilesResult, chartFile: string): string[] {
  const usd = (x: number) => `$${x.toFixed(x < 0.1 ? 4 : 3)}`;
  const lines = [
    '## Latency profiles: p95 latency and cost per 1,000,000 events',
    '',
    `![p95 latency vs cost per profile](${chartFile})`,
    '',
    `p95 event → update result (\`emittedAt\`): **measured** = a ${r.seconds} s live run per point on the embedded cloud's event source mappings with the profile's batch sizes, batching windows and (interactive) enhanced fan-out pushes; **model** = the labelled formula in scripts/bench/profile-cost.ts (why in the last column). ` +
      'Cost: the cost model (scripts/bench/profile-cost.ts) from each profile\'s settings for a live stream of W\'s shape (1,000 keys, tumbling 5 min) at that rate, provisioned shards at 80% of their limits.',
    '',
    '| profile | events/s | p95 (p50) | source | input + shuffle shards | mapper / reducer invocation every | state writes per event | $ per 1,000,000 events | why modelled |',
    '|---|---:|---:|---|---:|---:|---:|---:|---|',
    ...r.points.map(
      (p) =>
        `| ${p.profile} | ${p.eventsPerSec.toLocaleString('en-US')} | ${p.p95Sec.toFixed(2)} s${p.p50Sec !== undefined ? ` (${p.p50Sec.toFixed(2)} s)` : ''} | ${p.source}${p.measured?.enhancedFanOut ? ', pushed' : ''} | ${p.cost.inputShards} + ${p.cost.shuffleShards} | ${p.cost.mapperIntervalSec.toFixed(2)} s / ${p.cost.reducerIntervalSec.toFixed(2)} s | ${p.cost.writesPerEvent.toFixed(4)} | ${usd(p.cost.perMillionUsd)} | ${p.why ?? ''} |`,
    ),
    '',
    `Reference lines: ${r.references.map((x) => `${x.label} ${usd(x.costPerMillionUsd)}`).join('; ')}.`,
    '',
  ];
  return lines;
}
