// Verifier, the report: the verdict table (check, expected, actual, PASS/FAIL), the counts the
// issue asks for (sent, valid, duplicates, bad, late, counted, windows), the faults with how often
// each fired, examples of what failed, and the report JSON written next to the run's files.
import type { Verdict } from './compare';
import type { FaultReportRow } from './faults';
import type { OracleResult } from './oracle';

export interface VerifyReport {
  job: string;
  seed: number;
  events: number;
  rounds: number;
  inputShards: number;
  faults: boolean;
  skippedFaults: string[];
  /** False for jobs whose counts are of (event × key × window) values (hopping, multi-key maps). */
  onePairPerEvent: boolean;
  pass: boolean;
  verdict: Verdict;
  counts: OracleResult['counts'];
  bounds: OracleResult['bounds'];
  faultsFired: FaultReportRow[];
  firedLog: Record<string, number>;
  seconds: { synth: number; produceAndProcess: number; drain: number; oracle: number; total: number };
  workDir?: string;
}

const fmt = (n: number) => n.toLocaleString('en-US');

function table(header: readonly string[], rows: readonly (readonly string[])[], rightAligned: readonly boolean[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (rightAligned[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)];
}

export function formatVerdict(verdict: Verdict): string {
  return table(
    ['check', 'expected', 'actual', 'verdict'],
    verdict.rows.map((r) => [r.check, r.expected, r.actual, r.pass ? 'PASS' : 'FAIL']),
    [false, true, true, false],
  ).join('\n');
}

export function formatReport(report: VerifyReport): string {
  const c = report.counts;
  const v = report.verdict;
  const out: string[] = [];
  out.push(
    `sent ${fmt(c.sent)} · valid ${fmt(c.valid)} · duplicates ${fmt(c.duplicates)} · bad ${fmt(c.bad)} · ` +
      `late-flagged ${fmt(c.lateFlagged)} (in late/ ${fmt(c.lateFlaggedInLate)}, counted before the watermark passed ${fmt(c.lateFlaggedCounted)}) · ` +
      `late/ records ${fmt(c.lateRecords)} · counted ${fmt(v.counted)}${report.onePairPerEvent ? '' : ' values (event × key × window)'} · windows ${fmt(c.windows)}`,
  );
  out.push(`result emissions ${fmt(v.reEmissions + c.windows)} for ${fmt(c.windows)} windows (${fmt(v.sameVersionReEmissions)} re-emissions of a version already emitted)`);
  if (report.faults) {
    out.push('', 'faults:');
    out.push(
      ...table(['id', 'fault', 'armed', 'fired'], report.faultsFired.map((f) => [f.id, f.description, f.armed, f.fired ? `${f.fired}×` : 'no']), [false, false, false, true]).map((l) => `  ${l}`),
    );
    if (report.skippedFaults.length) out.push(`  skipped: ${report.skippedFaults.join(', ')}`);
    const log = Object.entries(report.firedLog).map(([k, n]) => `${k} ×${n}`);
    if (log.length) out.push(`  cloud.faults.fired(): ${log.join(' · ')}`);
  }
  out.push('', formatVerdict(v));
  if (v.problems.length) out.push('', 'examples:', ...v.problems.map((p) => `  - ${p}`));
  const s = report.seconds;
  out.push(
    '',
    `${report.pass ? 'PASS' : 'FAIL'}: ${report.job}, ${fmt(report.events)} events, seed ${report.seed}, ${report.rounds} rounds, ${report.inputShards} input shard${report.inputShards === 1 ? '' : 's'}, ` +
      `faults ${report.faults ? 'on' : 'off'} — ${s.total.toFixed(0)} s (synth ${s.synth.toFixed(0)} s, produce+process ${s.produceAndProcess.toFixed(0)} s, drain ${s.drain.toFixed(0)} s, oracle ${s.oracle.toFixed(1)} s)`,
  );
  if (!report.pass) {
    const skip = report.skippedFaults.length ? ` --skip-faults ${report.skippedFaults.join(',')}` : '';
    out.push(`reproduce: npm run verify -- --job ${report.job} --events ${report.events} --seed ${report.seed} --rounds ${report.rounds} --shards ${report.inputShards}${report.faults ? skip : ' --no-faults'} --keep`);
  }
  return out.join('\n');
}
