// Where the local functions' logs go. Every line a function prints, and Lambda's END/REPORT lines
// (plus the error of a failed invocation) go to a file per function under the data dir
// (<dataDir>/logs/<function>.log, rotated to .log.1 past a size cap), as CloudWatch Logs would
// keep them. The terminal gets, by default, one summary line per invocation — time, function,
// outcome, duration and the counts from the function's embedded-metric (EMF) documents — with
// errors and warnings shown in full; `errors` shows only those (a demo that draws its own
// progress); `verbose` prints every line instead, like before.
import { createWriteStream, fstatSync, mkdirSync, openSync, renameSync, type WriteStream } from 'node:fs';
import * as path from 'node:path';
import type { InvocationReport } from './runtime';
import type { FunctionDefinition } from './types';

export type FunctionLogMode = 'summary' | 'errors' | 'verbose' | 'silent';

export interface FunctionLogsOptions {
  /** Directory of the log files (created on first write). */
  readonly dir: string;
  /** What the terminal gets (default summary). The files get everything whatever the mode. */
  readonly mode?: FunctionLogMode;
  /** A file is moved to <file>.1 (replacing the previous one) when it would grow past this. Default 10 MiB. */
  readonly maxFileBytes?: number;
  /** The function's definition, for a short display name (job and service). */
  readonly describe?: (functionName: string) => FunctionDefinition | undefined;
  /** Terminal output (default: stdout, stderr). */
  readonly print?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Clock for the summary's time of day (tests). */
  readonly now?: () => Date;
}

interface LogFile {
  stream: WriteStream;
  bytes: number;
  readonly file: string;
}

const LEVELS_SHOWN = new Set(['WARN', 'WARNING', 'ERROR', 'CRITICAL', 'FATAL']);
const MAX_METRICS = 8;

export class FunctionLogs {
  readonly dir: string;
  readonly mode: FunctionLogMode;
  private readonly maxFileBytes: number;
  private readonly files = new Map<string, LogFile>();
  private readonly names = new Map<string, string>();
  private readonly print: (line: string, stream: 'stdout' | 'stderr') => void;
  private readonly now: () => Date;
  private closed = false;

  constructor(private readonly opts: FunctionLogsOptions) {
    this.dir = opts.dir;
    this.mode = opts.mode ?? 'summary';
    this.maxFileBytes = opts.maxFileBytes ?? 10 * 1024 * 1024;
    this.print = opts.print ?? ((line, stream) => (stream === 'stderr' ? process.stderr : process.stdout).write(`${line}\n`));
    this.now = opts.now ?? (() => new Date());
  }

  /** The file that holds a function's full log. */
  fileOf(functionName: string): string {
    return path.join(this.dir, `${functionName.replace(/[^A-Za-z0-9_.-]/g, '_')}.log`);
  }

  /** One line the function printed (the runtime's `log`). */
  line(functionName: string, line: string, stream: 'stdout' | 'stderr'): void {
    this.write(functionName, line);
    if (this.mode === 'verbose') this.print(`[${this.displayName(functionName)}] ${line}`, stream);
    else if ((this.mode === 'summary' || this.mode === 'errors') && shownInSummary(line, stream)) this.print(`${this.time()} ${this.displayName(functionName)}  ${line}`, stream);
  }

  /** A finished invocation (the runtime's `onInvocation`): END/REPORT to the file, the summary to the terminal. */
  invocation(report: InvocationReport): void {
    const { result } = report;
    if (result.error) this.write(report.functionName, JSON.stringify({ level: 'ERROR', requestId: report.requestId, ...result.error }));
    this.write(report.functionName, `END RequestId: ${report.requestId}`);
    this.write(
      report.functionName,
      `REPORT RequestId: ${report.requestId}\tDuration: ${result.durationMs} ms\tMemory Size: ${report.memoryMb} MB${report.coldStart ? '\tCold start' : ''}${result.error ? `\tStatus: ${result.timedOut ? 'timeout' : 'error'}` : ''}`,
    );
    if (this.mode === 'silent') return;
    const failed = !result.ok;
    if ((this.mode === 'verbose' || this.mode === 'errors') && !failed) return; // verbose: the lines were printed as they came
    this.print(this.summaryLine(report), failed ? 'stderr' : 'stdout');
    if (failed) for (const t of result.error?.trace ?? []) this.print(`    ${t}`, 'stderr');
  }

  /** The one-line summary of an invocation (what the terminal shows by default). */
  summaryLine(report: InvocationReport): string {
    const { result } = report;
    const duration = `${result.durationMs} ms`.padStart(8);
    const cold = report.coldStart ? ' (cold start)' : '';
    if (result.error) return `${this.time()} ${this.displayName(report.functionName)}  FAILED ${duration}  ${result.error.errorType}: ${result.error.errorMessage}${cold}`;
    const counts = metricsOf(report.lines);
    return `${this.time()} ${this.displayName(report.functionName)}  ok     ${duration}${counts ? `  ${counts}` : ''}${cold}`;
  }

  /**
   * A short name for the terminal: `<job>/<service>` from the function's Powertools/Riffle
   * variables when it has them, else its name without the deployer's random suffix.
   */
  displayName(functionName: string): string {
    let name = this.names.get(functionName);
    if (name !== undefined) return name;
    const env = this.opts.describe?.(functionName)?.environment ?? {};
    const service = env['POWERTOOLS_SERVICE_NAME']?.replace(/^riffle-/, '');
    const job = env['RIFFLE_JOB'];
    name = service && job ? `${job}/${service}` : (service ?? functionName.replace(/-[A-Za-z0-9]{12}$/, ''));
    this.names.set(functionName, name);
    return name;
  }

  /** Closes the files; resolves when everything written so far is on disk. */
  async close(): Promise<void> {
    this.closed = true;
    const files = [...this.files.values()];
    this.files.clear();
    await Promise.all(files.map((f) => new Promise<void>((resolve) => f.stream.end(resolve))));
  }

  private time(): string {
    const d = this.now();
    const pad = (n: number, w = 2) => String(n).padStart(w, '0');
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  private write(functionName: string, line: string): void {
    if (this.closed) return;
    let f = this.files.get(functionName);
    if (!f) {
      mkdirSync(this.dir, { recursive: true });
      const file = this.fileOf(functionName);
      const { stream, bytes } = openLog(file);
      f = { stream, bytes, file };
      this.files.set(functionName, f);
    }
    const bytes = Buffer.byteLength(line) + 1;
    if (f.bytes > 0 && f.bytes + bytes > this.maxFileBytes) {
      // Writes still queued on the old stream land in the renamed file (same inode).
      f.stream.end();
      renameSync(f.file, `${f.file}.1`);
      f.stream = openLog(f.file).stream;
      f.bytes = 0;
    }
    f.bytes += bytes;
    f.stream.write(`${line}\n`);
  }
}

/** Opened synchronously, so the file exists (and can be renamed) at once. */
function openLog(file: string): { stream: WriteStream; bytes: number } {
  const fd = openSync(file, 'a');
  const stream = createWriteStream('', { fd });
  stream.on('error', () => undefined); // a full disk must not take the cloud down; the terminal still has the summary
  return { stream, bytes: fstatSync(fd).size };
}

/** Lines the summary mode still shows: warnings and errors (structured or on stderr). */
function shownInSummary(line: string, stream: 'stdout' | 'stderr'): boolean {
  if (line.startsWith('{')) {
    if (line.includes('"_aws"')) return false; // an EMF document: counted in the summary
    const level = /"level"\s*:\s*"([A-Za-z]+)"/.exec(line)?.[1];
    if (level !== undefined) return LEVELS_SHOWN.has(level.toUpperCase());
  }
  return stream === 'stderr' && line.trim() !== '';
}

/** `Events 500 · ShuffleRecords 12` from the EMF documents among the lines (summed per metric). */
function metricsOf(lines: readonly string[]): string {
  const totals = new Map<string, number>();
  for (const line of lines) {
    if (!line.startsWith('{') || !line.includes('"_aws"')) continue;
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const aws = doc['_aws'] as { CloudWatchMetrics?: Array<{ Metrics?: Array<{ Name?: unknown }> }> } | undefined;
    for (const directive of aws?.CloudWatchMetrics ?? []) {
      for (const metric of directive.Metrics ?? []) {
        if (typeof metric.Name !== 'string' || metric.Name === 'ColdStart') continue;
        const value = doc[metric.Name];
        const sum = Array.isArray(value) ? value.reduce((a: number, v) => a + (typeof v === 'number' ? v : 0), 0) : typeof value === 'number' ? value : undefined;
        if (sum !== undefined) totals.set(metric.Name, (totals.get(metric.Name) ?? 0) + sum);
      }
    }
  }
  return [...totals].slice(0, MAX_METRICS).map(([name, value]) => `${name} ${value.toLocaleString('en-US')}`).join(' · ');
}
