// Bench section `profiles`: each latency profile (infra/latency-profiles.ts) at 278, 2,780 and
// 27,800 events/s — p95 event → update result measured on the embedded cloud's event source
// mappings where this machine can sustain the rate and the profile's batching windows fit in a
// run, the labelled model (profile-cost.ts) elsewhere — against the modelled cost per 1,000,000
// events; then the chart (chart.ts) as SVG.
import os from 'node:os';
import { LATENCY_PROFILES, LATENCY_PROFILE_NAMES, type LatencyProfileName } from '../../infra/latency-profiles';
import { latencyCostChartSvg, managedFlinkPerMillion, type ChartPoint, type CostReference } from './chart';
import { benchLatency, type LatencyResult } from './latency';
import type { PriceTable } from './prices';
import { CHART_RATES, DEFAULT_BASIS, modelledP95Sec, profileCost, rateMeetingTarget, type ProfileCost, type ProfileCostBasis } from './profile-cost';
import { defaultLatencyProfile } from '../../infra/latency-profiles';

/** Target for the default profile of `final` jobs on workload W, per 1,000,000 events. */
export const FINAL_TARGET_USD = 0.05;
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
  /** 1-minute load average before and after a measured run (this machine's cores are shared). */
  loadAverage?: [number, number];
  /** Why a point is modelled. */
  why?: string;
  measured?: Pick<LatencyResult, 'events' | 'eventsMatched' | 'emittedAtMs' | 'mapperInvocations' | 'reducerInvocations' | 'stateWritesPerEvent' | 'enhancedFanOut'>;
}

export interface ProfilesResult {
  seconds: number;
  /** The default profile of `final` jobs at W's rate, against the $0.05 target. */
  finalDefaultW: { profile: LatencyProfileName; perMillionUsd: number; targetUsd: number; met: boolean; lines: { item: string; perMillionUsd: number }[]; meetsTargetFromEventsPerSec: number | undefined };
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
      const loadBefore = os.loadavg()[0] as number;
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
        loadAverage: [loadBefore, os.loadavg()[0] as number],
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
  const finalProfile = defaultLatencyProfile('final');
  const w = profileCost(finalProfile, 278, options.prices, basis);
  const finalDefaultW = {
    profile: finalProfile,
    perMillionUsd: w.perMillionUsd,
    targetUsd: FINAL_TARGET_USD,
    met: w.perMillionUsd <= FINAL_TARGET_USD,
    lines: w.estimate.lines.map((l) => ({ item: `${l.service}: ${l.item}`, perMillionUsd: (l.usd / w.estimate.events) * 1e6 })).sort((a, b) => b.perMillionUsd - a.perMillionUsd),
    meetsTargetFromEventsPerSec: rateMeetingTarget(finalProfile, FINAL_TARGET_USD, options.prices, basis),
  };
  const references = chartReferences(options.prices, options.oneUpdatePerEventPerMillion ?? 0.69);
  const chartPoints: ChartPoint[] = points.map((p) => ({ profile: p.profile, eventsPerSec: p.eventsPerSec, costPerMillionUsd: p.cost.perMillionUsd, p95Sec: p.p95Sec, source: p.source }));
  const loads = points.flatMap((p) => p.loadAverage ?? []);
  const note = loads.length ? `measured points: ${os.cpus().length} shared cores, 1-min load average ${Math.min(...loads).toFixed(0)}–${Math.max(...loads).toFixed(0)} during the runs` : undefined;
  const svg = await latencyCostChartSvg(chartPoints, references, 2, note);
  return { seconds, finalDefaultW, points, references, svg };
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
    `This machine has ${os.cpus().length} cores shared with other work: each measured point gives the 1-minute load average before → after its run; above ~${os.cpus().length} the handlers and emulators wait for CPU and the measured latency is the machine's, not the profile's.`,
    '',
    '| profile | events/s | p95 (p50) | source | load avg | input + shuffle shards | mapper / reducer invocation every | state writes per event | $ per 1,000,000 events | why modelled |',
    '|---|---:|---:|---|---:|---:|---:|---:|---:|---|',
    ...r.points.map(
      (p) =>
        `| ${p.profile} | ${p.eventsPerSec.toLocaleString('en-US')} | ${p.p95Sec.toFixed(2)} s${p.p50Sec !== undefined ? ` (${p.p50Sec.toFixed(2)} s)` : ''} | ${p.source}${p.measured?.enhancedFanOut ? ', pushed' : ''} | ${p.loadAverage ? `${p.loadAverage[0].toFixed(1)} → ${p.loadAverage[1].toFixed(1)}` : ''} | ${p.cost.inputShards} + ${p.cost.shuffleShards} | ${p.cost.mapperIntervalSec.toFixed(2)} s / ${p.cost.reducerIntervalSec.toFixed(2)} s | ${p.cost.writesPerEvent.toFixed(4)} | ${usd(p.cost.perMillionUsd)} | ${p.why ?? ''} |`,
    ),
    '',
    `Reference lines: ${r.references.map((x) => `${x.label} ${usd(x.costPerMillionUsd)}`).join('; ')}.`,
    '',
    `**Default profile of \`final\` jobs (${r.finalDefaultW.profile}) on W at 278 events/s: ${usd(r.finalDefaultW.perMillionUsd)} per 1,000,000 events — target ≤ ${usd(r.finalDefaultW.targetUsd)} ${r.finalDefaultW.met ? 'met' : 'not met'}.** ` +
      `Largest items: ${r.finalDefaultW.lines.slice(0, 5).map((l) => `${l.item} ${usd(l.perMillionUsd)}`).join('; ')}. ` +
      (r.finalDefaultW.meetsTargetFromEventsPerSec !== undefined ? `The same profile meets the target from ${Math.round(r.finalDefaultW.meetsTargetFromEventsPerSec).toLocaleString('en-US')} events/s, where the two streams' fixed shard-hours are spread over more events.` : ''),
    '',
  ];
  return lines;
}
