// `npm run verify` — proof of Riffle's exactly-once claim on the embedded local cloud: a workload
// with disorder, late events, producer-side duplicates, bad records and a hot key goes through the
// real synthesized stack while faults are injected (mapper crash mid-batch, timeout, duplicate
// batches, DynamoDB throttling, Firehose and Kinesis partial failures, a closer crash between emit
// and close); an oracle computed independently in DuckDB SQL from the producer's log is compared
// with what Riffle wrote to S3. Prints a verdict table and exits 1 on any FAIL.
// The pieces live in scripts/lib/verify/ (workload, faults, pipeline, oracle, compare, report, run).
// `--crash` is the other proof: the local cloud in a child process SIGKILLed at its crash points
// and at random instants, restarted on the same data each time (scripts/lib/verify/crash*.ts).
import { parseDuration } from '../functions/core/duration';
import { type CommandSpec, intOption, type Parsed, runMain, UsageError } from './lib/cli';
import { CRASH_DEFAULTS, crashPlan, runCrash, type CrashOptions } from './lib/verify/crash';
import { formatCrashReport } from './lib/verify/crash-report';
import { FAULT_IDS } from './lib/verify/faults';
import { SUPPORTED_JOBS } from './lib/verify/jobs';
import { formatReport } from './lib/verify/report';
import { verify, VERIFY_DEFAULTS, type VerifyOptions } from './lib/verify/run';
import { parseFraction } from './produce';

export const verifySpec: CommandSpec = {
  name: 'npm run verify --',
  summary: "check Riffle's results against an independent DuckDB oracle under injected faults, on a fresh embedded cloud",
  usage: 'npm run verify -- [--job sensor-averages] [--events 20000] [--seed N] [--no-faults] [--keep] | --crash [--kills-per-point 2] [--random-kills 3]',
  options: {
    job: { type: 'string', description: 'job to verify', default: VERIFY_DEFAULTS.job, choices: SUPPORTED_JOBS },
    events: { type: 'string', description: 'records to send (events, late events, duplicates and bad records together)', default: String(VERIFY_DEFAULTS.events), integer: { min: 100, max: 2_000_000 } },
    seed: { type: 'string', description: 'workload seed (printed, so a FAIL can be re-run exactly)', default: 'random', integer: { min: 0, max: 2 ** 31 - 1 } },
    'no-faults': { type: 'boolean', description: 'run without fault injection' },
    'skip-faults': { type: 'string', description: `comma-separated faults to leave out (${FAULT_IDS.join(', ')})` },
    keep: { type: 'boolean', description: 'keep the work directory: cdk.out/, cloud state, sent.jsonl (the producer log), results/late/rejected JSONL, report.json (kept on FAIL anyway)' },
    rounds: { type: 'string', description: 'send the input in this many rounds, draining between them (the watermark advances per round)', default: String(VERIFY_DEFAULTS.rounds), integer: { min: 1, max: 100 } },
    shards: { type: 'string', description: 'input stream shards', default: String(VERIFY_DEFAULTS.inputShards), integer: { min: 1, max: 8 } },
    duration: { type: 'string', description: 'event times span this long, ending a minute ago', default: '60m' },
    'max-delay': { type: 'string', description: "event-time disorder (default: 80% of the job's out-of-orderness)" },
    'late-fraction': { type: 'string', description: 'fraction of late events (older than every window + lateness)', default: String(VERIFY_DEFAULTS.lateFraction) },
    'duplicate-fraction': { type: 'string', description: 'fraction of records re-sent byte for byte', default: String(VERIFY_DEFAULTS.duplicateFraction) },
    'bad-fraction': { type: 'string', description: 'fraction of malformed records (bad JSON, wrong types, missing fields, invalid UTF-8, empty)', default: String(VERIFY_DEFAULTS.badFraction) },
    'hot-key-fraction': { type: 'string', description: 'fraction of events moved onto one hot result key', default: String(VERIFY_DEFAULTS.hotKeyFraction) },
    aggregate: { type: 'boolean', description: 'send KPL aggregates (records are then identified by sequence + sub-sequence number)' },
    crash: {
      type: 'boolean',
      description:
        'crash run instead of faults: the local cloud runs as a child process and is SIGKILLed at each crash point (producer mid-PutRecords, reducer mid-batch, ' +
        "Firehose acknowledged but buffered, closer between emit and close) and at random instants, restarted on the same data each time; the oracle reads the input stream back (the producer's retries included)",
    },
    'kills-per-point': { type: 'string', description: 'with --crash: kills at each crash point (the Nth hit grows each time)', default: String(CRASH_DEFAULTS.killsPerPoint), integer: { min: 0, max: 10 } },
    'random-kills': { type: 'string', description: 'with --crash: kills at random instants', default: String(CRASH_DEFAULTS.randomKills), integer: { min: 0, max: 20 } },
  },
  examples: [
    'npm run verify',
    'npm run verify -- --job clickstream --events 5000 --seed 42',
    'npm run verify -- --job trending-hashtags --events 5000',
    'npm run verify -- --no-faults --keep',
    'npm run verify -- --skip-faults mapper-timeout,closer-crash --seed 7',
    'npm run verify -- --crash',
    'npm run verify -- --crash --events 5000 --rounds 4 --kills-per-point 1 --random-kills 0 --seed 11',
  ],
};

function str(parsed: Parsed, name: string): string | undefined {
  const v = parsed.values[name];
  return typeof v === 'string' ? v : undefined;
}

function duration(name: string, text: string): number {
  try {
    return parseDuration(text, `--${name}`);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function verifyOptions(parsed: Parsed, randomSeed = () => Math.floor(Math.random() * 2 ** 31)): VerifyOptions {
  const fraction = (name: string, fallback: number) => parseFraction(name, str(parsed, name) ?? String(fallback));
  const lateFraction = fraction('late-fraction', VERIFY_DEFAULTS.lateFraction);
  const duplicateFraction = fraction('duplicate-fraction', VERIFY_DEFAULTS.duplicateFraction);
  const badFraction = fraction('bad-fraction', VERIFY_DEFAULTS.badFraction);
  if (lateFraction + duplicateFraction + badFraction > 1) throw new UsageError('--late-fraction + --duplicate-fraction + --bad-fraction must not exceed 1');
  const durationMs = duration('duration', str(parsed, 'duration') ?? '60m');
  if (durationMs <= 0) throw new UsageError('--duration must be more than 0, e.g. --duration 60m');
  const maxDelay = str(parsed, 'max-delay');
  const seed = str(parsed, 'seed');
  const skipFaults = (str(parsed, 'skip-faults') ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  for (const id of skipFaults) if (!FAULT_IDS.includes(id)) throw new UsageError(`--skip-faults: unknown fault '${id}'; faults: ${FAULT_IDS.join(', ')}`);
  return {
    job: str(parsed, 'job') ?? VERIFY_DEFAULTS.job,
    events: intOption(parsed, 'events', VERIFY_DEFAULTS.events),
    seed: seed === undefined ? randomSeed() : Number(seed),
    faults: parsed.values['no-faults'] !== true,
    skipFaults,
    keep: parsed.values.keep === true,
    keepOnFailure: true,
    rounds: intOption(parsed, 'rounds', VERIFY_DEFAULTS.rounds),
    inputShards: intOption(parsed, 'shards', VERIFY_DEFAULTS.inputShards),
    durationMs,
    ...(maxDelay !== undefined ? { maxDelayMs: duration('max-delay', maxDelay) } : {}),
    lateFraction,
    duplicateFraction,
    badFraction,
    hotKeyFraction: fraction('hot-key-fraction', VERIFY_DEFAULTS.hotKeyFraction),
    aggregate: parsed.values.aggregate === true,
    timeScale: VERIFY_DEFAULTS.timeScale,
  };
}

/** --crash: verify's workload options plus the kill plan; fault options do not apply. */
export function crashOptions(parsed: Parsed, randomSeed = () => Math.floor(Math.random() * 2 ** 31)): CrashOptions {
  for (const name of ['no-faults', 'skip-faults', 'aggregate']) {
    if (parsed.values[name] !== undefined) {
      throw new UsageError(
        name === 'aggregate'
          ? '--aggregate does not go with --crash: the crash run matches the input stream to the producer record by record'
          : `--${name} does not go with --crash: a crash run injects no faults, its kills are the faults (leave --${name} out)`,
      );
    }
  }
  const base = verifyOptions(parsed, randomSeed);
  const killsPerPoint = intOption(parsed, 'kills-per-point', CRASH_DEFAULTS.killsPerPoint);
  const randomKills = intOption(parsed, 'random-kills', CRASH_DEFAULTS.randomKills);
  if (killsPerPoint + randomKills === 0) throw new UsageError('--crash needs at least one kill: --kills-per-point or --random-kills above 0');
  return {
    job: base.job,
    events: base.events,
    seed: base.seed,
    rounds: base.rounds,
    inputShards: base.inputShards,
    durationMs: base.durationMs,
    ...(base.maxDelayMs !== undefined ? { maxDelayMs: base.maxDelayMs } : {}),
    lateFraction: base.lateFraction,
    duplicateFraction: base.duplicateFraction,
    badFraction: base.badFraction,
    hotKeyFraction: base.hotKeyFraction,
    timeScale: base.timeScale,
    firehoseTimeScale: CRASH_DEFAULTS.firehoseTimeScale,
    plan: crashPlan({ killsPerPoint, randomKills, seed: base.seed }),
    keep: base.keep,
    keepOnFailure: true,
  };
}

async function crashMain(parsed: Parsed): Promise<number> {
  const options = crashOptions(parsed);
  const killsPerPoint = intOption(parsed, 'kills-per-point', CRASH_DEFAULTS.killsPerPoint);
  const randomKills = intOption(parsed, 'random-kills', CRASH_DEFAULTS.randomKills);
  console.log(`verify --crash ${options.job}: ${options.events.toLocaleString('en-US')} records, seed ${options.seed}, ${options.plan.length} kills (${killsPerPoint} per crash point, ${randomKills} random)`);
  const run = await runCrash({ ...options, log: (line) => console.log(line) });
  const r = run.report;
  console.log('');
  console.log(
    formatCrashReport(
      r,
      `npm run verify -- --crash --job ${r.job} --events ${r.events} --seed ${r.seed} --rounds ${r.rounds} --shards ${r.inputShards} --kills-per-point ${killsPerPoint} --random-kills ${randomKills} --keep`,
    ),
  );
  return r.pass ? 0 : 1;
}

if (require.main === module) {
  runMain(verifySpec, async (parsed) => {
    if (parsed.values.crash === true) return crashMain(parsed);
    for (const name of ['kills-per-point', 'random-kills']) if (parsed.values[name] !== undefined) throw new UsageError(`--${name} applies to crash runs: add --crash`);
    const options = verifyOptions(parsed);
    console.log(`verify ${options.job}: ${options.events.toLocaleString('en-US')} records, seed ${options.seed}, faults ${options.faults ? 'on' : 'off'}`);
    const run = await verify({ ...options, log: (line) => console.log(line) });
    console.log('');
    console.log(formatReport(run.report));
    if (run.diagnostics.length) console.log(['', 'failing windows:', ...run.diagnostics.map((d) => `  ${d}`)].join('\n'));
    return run.report.pass ? 0 : 1;
  });
}
