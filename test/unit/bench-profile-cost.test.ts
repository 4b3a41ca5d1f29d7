// The bench's per-profile cost model (scripts/bench/profile-cost.ts) and its latency–cost chart
// (scripts/bench/chart.ts): the directions the model must get right whatever the prices — state
// writes fall as the reducer's batching window grows, enhanced fan-out is billed per
// consumer-shard-hour, the interactive profile costs more than economy — and a chart that is a
// valid SVG document with one mark per point and the reference lines. No timings.
import { LATENCY_PROFILES, LATENCY_PROFILE_NAMES } from '../../infra/latency-profiles';
import { latencyCostChartSvg, managedFlinkPerMillion, type ChartPoint } from '../../scripts/bench/chart';
import { PRICES_US_EAST_1 } from '../../scripts/bench/prices';
import { CHART_RATES, distinctKeys, invocationInterval, modelledP95Sec, profileCost, profileCostTable, rateMeetingTarget, W_KEYS } from '../../scripts/bench/profile-cost';
import { chartReferences, whyModelled } from '../../scripts/bench/profiles';

const prices = PRICES_US_EAST_1;

describe('cost per latency profile', () => {
  test('distinct keys: all events distinct when few, all keys when many', () => {
    expect(distinctKeys(1000, 1)).toBeCloseTo(1, 3);
    expect(distinctKeys(1000, 100_000)).toBeCloseTo(1000, 6);
    expect(distinctKeys(1000, 1000)).toBeCloseTo(1000 * (1 - Math.exp(-1)), 6);
  });

  test('invocation interval: the batching window, else the poll or push cadence, shorter when a batch fills first', () => {
    expect(invocationInterval(0, 1000, 10, false)).toBe(1);
    expect(invocationInterval(0, 1000, 10, true)).toBe(0.25);
    expect(invocationInterval(5, 1000, 10, false)).toBe(5);
    expect(invocationInterval(30, 1000, 1000, false)).toBe(1); // a full batch every second
  });

  test('state writes per event fall as the reducer window grows, and never exceed one', () => {
    const writesAt = (reducerBatchingWindow: number) => profileCost('balanced', 278, prices, undefined, { ...LATENCY_PROFILES.balanced, reducerBatchSize: 10_000, reducerBatchingWindow }).writesPerEvent;
    const writes = [1, 5, 30, 300].map(writesAt);
    for (let i = 1; i < writes.length; i++) expect(writes[i]!).toBeLessThan(writes[i - 1]!);
    expect(writes[0]!).toBeLessThanOrEqual(1);
    // A polled shard is read about once a second: no window and a 1 s window write alike.
    expect(writesAt(0)).toBe(writes[0]);
    // keys ÷ (events/s × window) once every key is in every reducer batch: 1,000 ÷ (278 × 300).
    expect(writes[3]!).toBeCloseTo(W_KEYS / (278 * 300), 3);
  });

  test('interactive costs more than balanced, balanced more than economy, at every rate', () => {
    for (const rate of CHART_RATES) {
      const [interactive, balanced, economy] = LATENCY_PROFILE_NAMES.map((p) => profileCost(p, rate, prices).perMillionUsd);
      expect(interactive!).toBeGreaterThan(balanced!);
      expect(balanced!).toBeGreaterThan(economy!);
    }
  });

  test('enhanced fan-out is billed per consumer-shard-hour on both streams, only for interactive', () => {
    const efoLines = (p: 'interactive' | 'economy') => profileCost(p, 278, prices).estimate.lines.filter((l) => l.item.includes('enhanced fan-out consumer-shard-hours'));
    const lines = efoLines('interactive');
    expect(lines.map((l) => l.item)).toEqual(['input stream: enhanced fan-out consumer-shard-hours', 'shuffle stream: enhanced fan-out consumer-shard-hours']);
    for (const l of lines) expect(l.usd).toBeCloseTo(l.quantity * prices.kinesisEnhancedFanOut.consumerShardHour, 12);
    expect(efoLines('economy')).toEqual([]);
  });

  test('cost per event falls with the rate (shard-hours are fixed per hour); shards grow with it', () => {
    for (const p of LATENCY_PROFILE_NAMES) {
      const rows = CHART_RATES.map((rate) => profileCost(p, rate, prices));
      expect(rows[1]!.perMillionUsd).toBeLessThan(rows[0]!.perMillionUsd);
      expect(rows[2]!.perMillionUsd).toBeLessThan(rows[1]!.perMillionUsd);
      expect(rows[2]!.inputShards).toBeGreaterThan(rows[0]!.inputShards);
    }
  });

  test("the table has every profile at every rate and the final default's W row", () => {
    const t = profileCostTable(prices);
    expect(t.rows.map((r) => `${r.profile}@${r.eventsPerSec}`)).toEqual(LATENCY_PROFILE_NAMES.flatMap((p) => CHART_RATES.map((r) => `${p}@${r}`)));
    expect(t.finalDefaultW.profile).toBe('economy');
    expect(t.finalDefaultW.eventsPerSec).toBe(278);
  });

  test('the rate from which a profile meets a cost target: at it the cost is within the target, 2% below it not', () => {
    const rate = rateMeetingTarget('economy', 0.05, prices)!;
    expect(profileCost('economy', rate, prices).perMillionUsd).toBeLessThanOrEqual(0.05);
    expect(profileCost('economy', rate * 0.98, prices).perMillionUsd).toBeGreaterThan(0.05);
    expect(rateMeetingTarget('interactive', 0.0001, prices)).toBeUndefined();
  });

  test('modelled p95 grows with the batching windows; which points are modelled and why', () => {
    const p95 = LATENCY_PROFILE_NAMES.map((p) => modelledP95Sec(profileCost(p, 278, prices)));
    expect(p95[0]!).toBeLessThan(p95[1]!);
    expect(p95[1]!).toBeLessThan(p95[2]!);
    expect(whyModelled('interactive', 278)).toBeUndefined();
    expect(whyModelled('interactive', 27_800)).toMatch(/beyond what the embedded cloud sustains/);
    expect(whyModelled('economy', 278)).toMatch(/batching windows of 30 s \/ 300 s/);
  });
});

describe('latency–cost chart', () => {
  const points: ChartPoint[] = [
    { profile: 'interactive', eventsPerSec: 278, costPerMillionUsd: 0.8, p95Sec: 0.9, source: 'measured' },
    { profile: 'balanced', eventsPerSec: 2780, costPerMillionUsd: 0.08, p95Sec: 6, source: 'measured' },
    { profile: 'economy', eventsPerSec: 27800, costPerMillionUsd: 0.02, p95Sec: 300, source: 'model' },
  ];

  test('Managed Flink reference: ~$0.92 per million at 100 events/s, ~$0.09 at 1,000/s', () => {
    expect(managedFlinkPerMillion(241, 100)).toBeCloseTo(0.917, 3);
    expect(managedFlinkPerMillion(241, 1000)).toBeCloseTo(0.0917, 4);
  });

  test('renders a valid SVG with one point per series entry, labels and the reference lines', async () => {
    const references = chartReferences(prices, 0.69);
    const svg = await latencyCostChartSvg(points, references);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    // Balanced tags (a parser would reject a truncated or malformed document).
    const opened = (svg.match(/<g[\s>]/g) ?? []).length;
    const closed = (svg.match(/<\/g>/g) ?? []).length;
    expect(opened).toBe(closed);
    for (const label of ['interactive', 'balanced', 'economy', '278/s', '2,780/s', '27,800/s (model)', 'Managed Flink, 100 events/s', 'Managed Flink, 1,000 events/s', 'one UpdateItem per event (W)', 'p95 2 s target']) {
      expect(svg).toContain(label);
    }
    // One point symbol per entry, in the point layer's group.
    const pointLayer = svg.match(/<g class="mark-symbol role-mark layer_1_marks"[^>]*>([\s\S]*?)<\/g>/);
    expect(pointLayer).not.toBeNull();
    expect((pointLayer![1]!.match(/<path /g) ?? []).length).toBe(points.length);
  });
});
