// npm run synth | deploy | diff | destroy: the project's cdk CLI (node_modules/.bin/cdk) with the
// flags every run wants — telemetry and notices off (offline synth from a fresh clone), every
// stack unless some are named, and the deploy outputs written to cdk-outputs.json for scripts.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { checkDeploy, fingerprintsIn, jobFingerprint, type DeployCheck, type JobFingerprint } from '../functions/core/job-fingerprint';
import { JOBS_CONTEXT, selectJobs, stackName } from '../infra/config';
import { jobs } from '../jobs';

const COMMANDS = ['synth', 'deploy', 'diff', 'destroy'] as const;
type Command = (typeof COMMANDS)[number];

const ROOT = path.resolve(__dirname, '..');
export const OUTPUTS_FILE = 'cdk-outputs.json';

const USAGE = `Usage: npm run <synth|deploy|diff|destroy> -- [stack…] [cdk options…]

Runs the project's AWS CDK CLI on the Riffle app (infra/app.ts) with telemetry and notices off.
Without stack names every stack is used (one stack per input source: Riffle-<source>).

  npm run synth                                  synthesize cdk.out/ (offline, no AWS account needed)
  npm run synth -- -c riffle:jobs=sensor-averages only this job's stack
  npm run deploy                                 deploy; outputs go to ${OUTPUTS_FILE}
  npm run deploy -- Riffle-clickstream           deploy one stack
  npm run diff                                   compare with what is deployed
  npm run destroy                                delete the stacks (asks first; -f to skip)

Context:
  -c riffle:jobs=a,b                             jobs to deploy (default: cdk.json "riffle:jobs")
  -c riffle:config.<job>.<setting>=<value>       override one setting, e.g. riffle:config.sensor-averages.inputShards=2
Settings, defaults and ranges: infra/README.md. Every other option goes to cdk unchanged
(see npx cdk <command> --help).`;

/** The cdk argument list for a command and the user's extra arguments. */
export function cdkArgs(command: Command, extra: readonly string[]): string[] {
  const args = [command, '--no-notices', ...extra];
  // Positional arguments are stack names; the cdk options below take the next word as their value.
  const takesValue = new Set(['-c', '--context', '-o', '--output', '--outputs-file', '--require-approval', '--profile', '--role-arn', '-e', '--exclusively', '--method', '--concurrency', '--asset-parallelism', '--progress', '--app', '-a', '--toolkit-stack-name', '--change-set-name', '--parameters', '--tags', '-t', '--rollback', '--hotswap-fallback']);
  const stacks: string[] = [];
  for (let i = 0; i < extra.length; i++) {
    const arg = extra[i] as string;
    if (arg.startsWith('-')) {
      if (!arg.includes('=') && takesValue.has(arg)) i++;
    } else stacks.push(arg);
  }
  // deploy and destroy refuse to guess with several stacks; synth and diff take all by default.
  if ((command === 'deploy' || command === 'destroy') && stacks.length === 0 && !extra.includes('--all')) args.push('--all');
  if (command === 'deploy' && !extra.some((a) => a === '--outputs-file' || a.startsWith('--outputs-file='))) {
    args.push('--outputs-file', OUTPUTS_FILE);
  }
  // synth prints the whole template of a single stack to stdout; the files in cdk.out are the product.
  if (command === 'synth' && stacks.length === 0 && !extra.some((a) => a === '-q' || a === '--quiet')) args.push('--quiet');
  return args;
}

/** The jobs a deploy with these arguments selects: `-c riffle:jobs=…`, else cdk.json's. */
export function selectedJobs(extra: readonly string[], root = ROOT): string[] {
  let raw: unknown;
  for (let i = 0; i < extra.length; i++) {
    const arg = extra[i] as string;
    const value = arg === '-c' || arg === '--context' ? extra[i + 1] : arg.startsWith('--context=') ? arg.slice('--context='.length) : undefined;
    if (value?.startsWith(`${JOBS_CONTEXT}=`)) raw = value.slice(JOBS_CONTEXT.length + 1);
  }
  if (raw === undefined) raw = (JSON.parse(readFileSync(path.join(root, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> }).context?.[JOBS_CONTEXT];
  return selectJobs(raw, Object.keys(jobs));
}

/**
 * Before `cdk deploy`: the fingerprints the deployed stacks recorded (CloudFormation's outputs; the
 * last deploy's ${OUTPUTS_FILE} when CloudFormation cannot be asked) against the jobs about to be
 * deployed (job-fingerprint.ts). Refused changes stop the deploy before anything is touched.
 */
export async function deployEvolutionCheck(extra: readonly string[], describe: (stack: string) => Promise<Record<string, string> | undefined>): Promise<DeployCheck> {
  const next = new Map<string, JobFingerprint>();
  const deployed = new Map<string, JobFingerprint>();
  const stacks = new Set<string>();
  for (const name of selectedJobs(extra)) {
    const job = jobs[name];
    if (!job) continue;
    next.set(name, jobFingerprint(job));
    stacks.add(stackName(job.source));
  }
  for (const stack of stacks) for (const [job, f] of fingerprintsIn(await describe(stack))) deployed.set(job, f);
  return checkDeploy(deployed, next);
}

async function describeDeployed(stack: string): Promise<Record<string, string> | undefined> {
  const client = new CloudFormationClient({ maxAttempts: 2 });
  try {
    const found = await client.send(new DescribeStacksCommand({ StackName: stack }), { abortSignal: AbortSignal.timeout(15_000) });
    return Object.fromEntries((found.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  } catch (error) {
    if (/does not exist/.test((error as Error).message)) return undefined;
    const file = path.join(ROOT, OUTPUTS_FILE);
    console.error(`note: could not read ${stack}'s outputs from CloudFormation (${(error as Error).message}); comparing the job definitions with ${OUTPUTS_FILE} instead`);
    try {
      return (JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>)[stack];
    } catch {
      return undefined;
    }
  } finally {
    client.destroy();
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const [command, ...extra] = argv;
  if (command === undefined || command === '--help' || command === '-h' || extra.includes('--help') || extra.includes('-h')) {
    console.log(USAGE);
    process.exit(command === undefined ? 1 : 0);
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    console.error(`unknown command '${command}'; use one of ${COMMANDS.join(', ')}\n\n${USAGE}`);
    process.exit(1);
  }
  const bin = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'cdk.cmd' : 'cdk');
  if (!existsSync(bin)) {
    console.error(`the AWS CDK CLI is not installed (${bin} is missing); run npm ci first`);
    process.exit(1);
  }
  if (command === 'deploy') {
    let check: DeployCheck;
    try {
      check = await deployEvolutionCheck(extra, describeDeployed);
    } catch (error) {
      console.error(`deploy: ${(error as Error).message}`);
      process.exit(1);
    }
    if (check.refused.length > 0) {
      console.error(`deploy refused:\n  ${check.refused.join('\n  ')}`);
      process.exit(1);
    }
  }
  const child = spawn(bin, cdkArgs(command as Command, extra), {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  child.on('error', (error) => {
    console.error(`could not run ${bin}: ${error.message}`);
    process.exit(1);
  });
}

if (require.main === module) void main(process.argv.slice(2));
