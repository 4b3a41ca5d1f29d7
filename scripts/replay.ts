// `npm run replay -- --job J` — re-drive what the event source mapping skipped (finite retryAttempts
// or maxRecordAge) through the deployed mapper, so every event of those batches is applied exactly
// once: the on-failure destination's records and the open gaps on the job's progress (or one
// explicit range), read back from the input stream within its retention. Safe to run again: what
// was replayed stays applied once. docs/DESIGN.md ("Exactly once") has the argument.
import { type CommandSpec, type Parsed, parseCommand, runMain, UsageError } from './lib/cli';
import { runReplay, type ReplayOptions, type ReplaySummary } from './lib/replay/run';
import { ReplayError } from './lib/replay/stream';
import { deployedJobs, endpointWarning, explainError, isTargetName, resolveTarget, TARGET_NAMES, type Target } from './lib/targets';

export const replaySpec: CommandSpec = {
  name: 'npm run replay --',
  summary: 're-drive skipped input batches through the mapper, exactly once',
  usage: 'npm run replay -- --job J [--dry-run] [--target local|localstack|aws]\n       npm run replay -- --job J --shard S --from-seq X --to-seq Y\n       npm run replay -- --job J --shard S --abandon-gap Y',
  options: {
    job: { type: 'string', description: 'the job whose skipped batches to replay (required)' },
    'dry-run': { type: 'boolean', description: 'list the open gaps and what would be replayed; change nothing' },
    shard: { type: 'string', description: 'input shard id of an explicit range or a gap to abandon (e.g. shardId-000000000000)' },
    'from-seq': { type: 'string', description: 'first sequence number of an explicit range (must lie in a recorded gap)' },
    'to-seq': { type: 'string', description: 'last sequence number of an explicit range' },
    'abandon-gap': { type: 'string', description: 'give up the open gap ending at this sequence number (its records are past retention): an explicit loss that releases the watermark' },
    target: { type: 'string', description: 'where the job runs', default: 'local', choices: TARGET_NAMES },
    endpoint: { type: 'string', description: 'endpoint of the local target (default http://127.0.0.1:4566; LocalStack http://localhost:4566)' },
    region: { type: 'string', description: 'AWS region (default: AWS_REGION or your profile; us-east-1 locally)' },
    outputs: { type: 'string', description: "deploy outputs file to read names from (default: the target's)" },
  },
  examples: ['npm run replay -- --job sensor-averages --dry-run', 'npm run replay -- --job sensor-averages --target aws', 'npm run replay -- --job clicks --shard shardId-000000000000 --abandon-gap 49590338271490256608559692538361571095921575989136588898'],
};

const SEQ = /^\d{1,128}$/;

/** The options of a parsed command line (UsageError with a fix for anything wrong). */
export function replayOptions(parsed: Parsed): ReplayOptions & { target: string; endpoint?: string; region?: string; outputs?: string } {
  const v = parsed.values;
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const job = str('job');
  if (!job) throw new UsageError('--job is required: the job whose skipped batches to replay (e.g. --job sensor-averages)');
  const shard = str('shard');
  const from = str('from-seq');
  const to = str('to-seq');
  const abandon = str('abandon-gap');
  for (const [flag, value] of [['--from-seq', from], ['--to-seq', to], ['--abandon-gap', abandon]] as const) {
    if (value !== undefined && !SEQ.test(value)) throw new UsageError(`${flag} '${value}' is not a sequence number (decimal digits, as in the on-failure record or --dry-run)`);
  }
  if ((from === undefined) !== (to === undefined)) throw new UsageError('--from-seq and --to-seq go together (the first and last record of the range)');
  if ((from !== undefined || abandon !== undefined) && !shard) throw new UsageError('--shard is required with --from-seq/--to-seq and --abandon-gap (e.g. --shard shardId-000000000000)');
  if (from !== undefined && abandon !== undefined) throw new UsageError('--abandon-gap cannot be combined with --from-seq/--to-seq; run them separately');
  if (shard && from === undefined && abandon === undefined) throw new UsageError('--shard needs --from-seq and --to-seq, or --abandon-gap');
  const target = str('target') ?? 'local';
  return {
    job,
    dryRun: v['dry-run'] === true,
    ...(from !== undefined && to !== undefined && shard ? { explicit: { shardId: shard, first: from, last: to } } : {}),
    ...(abandon !== undefined && shard ? { abandon: { shardId: shard, gapTo: abandon } } : {}),
    target,
    ...(str('endpoint') ? { endpoint: str('endpoint') } : {}),
    ...(str('region') ? { region: str('region') } : {}),
    ...(str('outputs') ? { outputs: str('outputs') } : {}),
  };
}

export function summaryText(s: ReplaySummary): string {
  return (
    `replay: ${s.failureRecords} failure record(s), ${s.ranges} range(s), ${s.batches} batch(es) sent, ${s.records} records, ` +
    `${s.partials} partials re-emitted, ${s.gapsClosed} gap(s) closed, ${s.nothingToDo} already done, ${s.failureRecordsRemoved} failure record(s) removed` +
    (s.problems.length ? `\n${s.problems.length} problem(s):\n${s.problems.map((p) => `  - ${p}`).join('\n')}` : '')
  );
}

export interface ReplayIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** A resolved target (tests); otherwise from --target. */
  target?: Target;
}

/** `npm run replay` with an argument list: 0 when everything asked was done, 1 when something could not be. */
export async function replayMain(argv: string[], io: ReplayIo): Promise<number> {
  const options = replayOptions(parseCommand(replaySpec, argv));
  if (!isTargetName(options.target)) throw new UsageError(`--target must be one of ${TARGET_NAMES.join(', ')}`);
  const warning = endpointWarning(options.target);
  if (warning) io.stderr.write(`${warning}\n`);
  const target = io.target ?? resolveTarget(options.target, { ...(options.endpoint ? { endpoint: options.endpoint } : {}), ...(options.region ? { region: options.region } : {}), ...(options.outputs ? { outputsFile: options.outputs } : {}) });
  if (!deployedJobs(target).includes(options.job)) throw new UsageError(`job '${options.job}' is not deployed on --target ${target.name} (deployed: ${deployedJobs(target).join(', ') || 'none'})`);
  let summary: ReplaySummary;
  try {
    summary = await runReplay(target, options, (line) => io.stderr.write(`${line}\n`));
  } catch (error) {
    if (error instanceof ReplayError || error instanceof UsageError) throw new UsageError(error.message);
    const explained = explainError(target, error);
    if (explained) throw new UsageError(explained);
    throw error;
  }
  io.stdout.write(`${summaryText(summary)}\n`);
  return summary.problems.length > 0 ? 1 : 0;
}

if (require.main === module) {
  runMain(replaySpec, async () => replayMain(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }));
}
