// Crash verifier, the report: what the input stream holds against what the producer sent, each
// planned kill (armed how, whether and when it happened, how long the restart took), what was
// lost or counted twice — itemised, so a failing run says where the loss is (whole windows gone,
// short windows, bad records missing from rejected/, records nobody accounted for) — then verify's
// verdict table with the crash rows in front.
import type { CrashReport } from './crash';
import { formatVerdict } from './report';

const fmt = (n: number) => n.toLocaleString('en-US');

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)];
}

export function formatCrashReport(report: CrashReport, reproduce?: string): string {
  const s = report.stream;
  const l = report.loss;
  const c = report.counts;
  const v = report.verdict;
  const happened = report.kills.filter((k) => k.happened).length;
  const out: string[] = [];
  out.push(
    `input stream: ${fmt(s.streamRecords)} records = ${fmt(s.logged)} producer records as acknowledged + ${fmt(s.retryCopies)} retry copies` +
      `${s.unknown ? ` + ${fmt(s.unknown)} unknown` : ''}${s.missing ? ` (${fmt(s.missing)} producer records missing)` : ''}`,
    `events: valid ${fmt(c.valid)} · bad ${fmt(c.bad)} · late/ records ${fmt(c.lateRecords)} · counted ${fmt(v.counted)} · windows ${fmt(c.windows)}`,
    `kills: ${happened} of ${report.kills.length} happened · ${report.starts} cloud processes started on one data directory`,
  );
  if (report.streamExamples.unknown.length) out.push(`  unknown stream records: ${report.streamExamples.unknown.join(', ')}`);
  if (report.streamExamples.missing.length) out.push(`  producer records missing from the stream: n = ${report.streamExamples.missing.join(', ')}`);
  out.push('');
  out.push(
    ...table(
      ['kill', 'armed', 'happened during', 'restart'],
      report.kills.map((k) => [k.id, k.armed, k.happened ? (k.during ?? '') : `NO — ${k.detail ?? 'not reached'}`, k.restartMs !== undefined ? `${(k.restartMs / 1000).toFixed(1)} s` : '']),
    ).map((line) => `  ${line}`),
  );
  out.push(
    '',
    `lost: ${fmt(l.missingWindowEvents + l.shortEvents)} events — ${fmt(l.missingWindows)} windows missing entirely (${fmt(l.missingWindowEvents)} events), ` +
      `${fmt(l.shortWindows)} windows short (${fmt(l.shortEvents)} events); bad records missing from rejected/: ${fmt(l.rejectedMissing)}` +
      `${l.unaccounted !== null ? `; records neither counted, late nor rejected: ${fmt(l.unaccounted)}` : ''}`,
    `double-counted: ${fmt(l.overEvents)} events in ${fmt(l.overWindows)} windows · repeated rows in the views: late ${fmt(report.checks.lateCopies)}, rejected ${fmt(report.checks.rejectedCopies)}`,
    `views: late ${fmt(report.views.late)} rows from ${fmt(report.views.lateWrites)} written, rejected ${fmt(report.views.rejected)} rows from ${fmt(report.views.rejectedWrites)} written (a retried batch writes its rows again; the views keep one per input record)`,
  );
  out.push('', formatVerdict(v));
  if (v.problems.length) out.push('', 'examples:', ...v.problems.map((p) => `  - ${p}`));
  const t = report.seconds;
  out.push(
    '',
    `${report.pass ? 'PASS' : 'FAIL'}: crash run, ${report.job}, ${fmt(report.events)} events, seed ${report.seed}, ${report.rounds} rounds, ${report.inputShards} input shard${report.inputShards === 1 ? '' : 's'}, ` +
      `${happened} kills — ${t.total.toFixed(0)} s (synth ${t.synth.toFixed(0)} s, run ${t.run.toFixed(0)} s, oracle ${t.oracle.toFixed(1)} s)`,
  );
  if (!report.pass && reproduce) out.push(`reproduce: ${reproduce}`);
  return out.join('\n');
}
