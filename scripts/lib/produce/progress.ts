// `npm run produce` output: a live progress line (redrawn in place on a TTY, plain periodic lines
// otherwise) and the summary printed at the end, which says what to do when records were lost.
import { MAX_ATTEMPTS, type ProduceStats, type ProduceSummary } from './sender';

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A live progress line on a TTY (redrawn in place), plain periodic lines otherwise. */
export class ProgressLine {
  /** Starts now: the first plain line comes after one interval, not with 0 records sent. */
  private last: number;
  private readonly samples: { at: number; sent: number }[] = [];
  private drawn = false;
  constructor(
    private readonly out: { write(text: string): unknown; isTTY?: boolean },
    private readonly total: number | undefined,
    private readonly label: string,
    private readonly now: () => number = Date.now,
  ) {
    this.last = now();
  }

  /** Records per second over the last ~2 s. */
  rate(sent: number): number {
    const at = this.now();
    this.samples.push({ at, sent });
    while (this.samples.length > 2 && at - (this.samples[0] as { at: number }).at > 2_000) this.samples.shift();
    const first = this.samples[0] as { at: number; sent: number };
    return at > first.at ? ((sent - first.sent) * 1000) / (at - first.at) : 0;
  }

  update(stats: ProduceStats, force = false): void {
    const at = this.now();
    const rate = this.rate(stats.sent);
    const interval = this.out.isTTY ? 100 : 5_000;
    if (!force && at - this.last < interval) return;
    this.last = at;
    const done = stats.sent + stats.failed;
    const pct = this.total ? Math.min(100, (100 * done) / this.total) : undefined;
    const counts = `${fmt(stats.sent)}${this.total ? `/${fmt(this.total)}` : ''} · ${fmt(rate)} rec/s · retried ${fmt(stats.retried)} · failed ${fmt(stats.failed)}`;
    if (this.out.isTTY) {
      const width = 24;
      const filled = pct === undefined ? 0 : Math.round((pct / 100) * width);
      const bar = pct === undefined ? '' : `▕${'█'.repeat(filled)}${'░'.repeat(width - filled)}▏ ${pct.toFixed(0).padStart(3)}% `;
      const eta = pct !== undefined && rate > 0 && this.total ? ` · ETA ${Math.ceil((this.total - done) / rate)}s` : '';
      this.out.write(`\r\x1b[2K${this.label} ${bar}${counts}${eta}`);
      this.drawn = true;
    } else {
      this.out.write(`${this.label}: ${pct !== undefined ? `${pct.toFixed(0)}% ` : ''}${counts}\n`);
    }
  }

  finish(): void {
    if (this.drawn) this.out.write('\r\x1b[2K');
  }
}

export function summaryText(s: ProduceSummary, context: { stream: string; target: string; aggregate: boolean; log?: string; seed?: number; file?: string }): string {
  const rate = s.seconds > 0 ? s.sent / s.seconds : s.sent;
  const events = s.byFlag.ok + s.byFlag.late + s.byFlag.duplicate;
  const lines = [
    `${s.interrupted ? 'interrupted: ' : ''}sent ${fmt(s.sent)} records to ${context.stream} (--target ${context.target}) in ${s.seconds.toFixed(1)} s — ${fmt(rate)} records/s`,
    `  events ${fmt(events)} (late ${fmt(s.byFlag.late)}, duplicates ${fmt(s.byFlag.duplicate)}) · malformed ${fmt(s.byFlag.bad)} · ${fmt(s.kinesisRecords)} Kinesis records${context.aggregate ? ' (KPL aggregates)' : ''} in ${fmt(s.putRecordsCalls)} PutRecords calls`,
    `  retried ${fmt(s.retried)} · failed ${fmt(s.failed)}`,
  ];
  if (context.seed !== undefined && context.file === undefined) lines.push(`  seed ${context.seed} (the same --seed, --end and options give the same records)`);
  if (context.log !== undefined) lines.push(`  log: ${context.log}`);
  if (s.failed > 0) {
    lines.push(
      `produce: ${fmt(s.failed)} records were not accepted after ${MAX_ATTEMPTS} attempts (see "error" in the log${context.log ? '' : ': rerun with --log FILE'}); the stream is throttling — lower --rate, add shards, or retry`,
    );
  }
  return lines.join('\n');
}
