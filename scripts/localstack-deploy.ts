// `npm run localstack:deploy` — deploy Riffle's stacks to LocalStack with cdklocal (aws-cdk-local):
// check that LocalStack runs (`npm run localstack:up`), `cdklocal bootstrap`, then `cdklocal deploy
// --outputs-file .riffle/localstack-outputs.json`, which `produce`, `query` and `localstack:e2e`
// read with --target localstack. The app is the same CDK app as on AWS; what LocalStack community
// ignores (Glue/Athena, bisect, Firehose buffering/prefixes/GZIP…) is listed at the end of a deploy.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type CommandSpec, type Parsed, runMain, UsageError } from './lib/cli';
import { localstackStatus, readOutputs, TARGET_INFO } from './lib/targets';

const ROOT = path.resolve(__dirname, '..');
export const LOCALSTACK_OUTPUTS = TARGET_INFO.localstack.outputsFile;
/** A cloud assembly of its own, so a deploy does not overwrite cdk.out while `npm run local` uses it. */
export const LOCALSTACK_ASSEMBLY = 'cdk.out.localstack';
/** LocalStack's fixed account. */
const ACCOUNT = '000000000000';

export const deploySpec: CommandSpec = {
  name: 'npm run localstack:deploy --',
  summary: "deploy Riffle's stacks to LocalStack with cdklocal and write .riffle/localstack-outputs.json",
  usage: 'npm run localstack:deploy -- [Riffle-<source> …] [--jobs a,b] [--region us-east-1] [--endpoint http://localhost:4566] [--skip-bootstrap]',
  positionals: { name: '[stack …]', description: 'stacks to deploy (default: all of riffle:jobs in cdk.json, one Riffle-<source> per input stream)' },
  options: {
    jobs: { type: 'string', description: 'comma-separated jobs to deploy instead of cdk.json "riffle:jobs"' },
    region: { type: 'string', description: 'region to deploy to', default: 'us-east-1' },
    endpoint: { type: 'string', description: 'LocalStack endpoint', default: 'http://localhost:4566' },
    'skip-bootstrap': { type: 'boolean', description: 'skip `cdklocal bootstrap` (already bootstrapped in this LocalStack)' },
  },
  examples: ['npm run localstack:deploy', 'npm run localstack:deploy -- Riffle-clickstream', 'npm run localstack:deploy -- --jobs sensor-averages,clickstream'],
};

/**
 * The environment cdklocal runs with. Endpoints are set explicitly to the LocalStack URL, S3
 * included, with path-style addressing: cdklocal's own default (localhost.localstack.cloud) needs
 * public DNS. cdklocal (≥ 3, with aws-cdk ≥ 2.177) strips every other AWS_* variable unless it is
 * in AWS_ENVAR_ALLOWLIST — a leftover AWS_PROFILE must never send this deploy to a real account.
 */
export function cdklocalEnv(env: NodeJS.ProcessEnv, endpoint: string, region: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith('AWS_') && !k.startsWith('CDK_DEFAULT_')) out[k] = v;
  return {
    ...out,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_S3_FORCE_PATH_STYLE: '1',
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENVAR_ALLOWLIST: 'AWS_REGION,AWS_DEFAULT_REGION,AWS_S3_FORCE_PATH_STYLE,AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY',
    CDK_DISABLE_CLI_TELEMETRY: 'true',
  };
}

export interface DeployPlan {
  bootstrap?: string[];
  deploy: string[];
}

/** The cdklocal argument lists for a deploy. */
export function cdklocalArgs(parsed: Parsed): DeployPlan {
  const region = typeof parsed.values.region === 'string' ? parsed.values.region : 'us-east-1';
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) throw new UsageError(`--region '${region}' is not an AWS region name; e.g. --region us-east-1`);
  const context: string[] = [];
  const jobsOption = parsed.values.jobs;
  if (typeof jobsOption === 'string') {
    const names = jobsOption.split(',').map((s) => s.trim()).filter(Boolean);
    if (names.length === 0) throw new UsageError('--jobs is empty; list jobs like --jobs sensor-averages,clickstream');
    context.push('-c', `riffle:jobs=${names.join(',')}`);
  }
  for (const stack of parsed.positionals) {
    if (!/^Riffle-[a-z][a-z0-9-]*$/.test(stack)) throw new UsageError(`'${stack}' is not a Riffle stack name; stacks are Riffle-<source>, e.g. Riffle-clickstream (or pass no stack for all)`);
  }
  const common = ['--no-notices', '--output', LOCALSTACK_ASSEMBLY, ...context];
  return {
    ...(parsed.values['skip-bootstrap'] === true ? {} : { bootstrap: ['bootstrap', `aws://${ACCOUNT}/${region}`, ...common] }),
    deploy: ['deploy', ...(parsed.positionals.length ? parsed.positionals : ['--all']), '--require-approval', 'never', '--outputs-file', LOCALSTACK_OUTPUTS, ...common],
  };
}

/** What LocalStack community does differently, and why Riffle's results stay correct there. */
export const LOCALSTACK_NOTES = [
  'LocalStack community ignores, and Riffle stays correct because:',
  '  - ESM BisectBatchOnFunctionError and ParallelizationFactor: the mapper reports batch item failures and the reducer fences by sequence range, so whole-batch retries are harmless',
  '  - Firehose buffering hints: each PutRecordBatch becomes its own object (many small objects; query reads them all)',
  '  - Firehose prefix expressions and dynamic partitioning: objects land under the literal prefix (dt=!{partitionKeyFromQuery:dt}/…) — query filters rows by time in SQL instead of by partition',
  '  - Firehose GZIP: objects are plain JSON lines — query detects GZIP by its magic bytes, not by name',
  '  - Glue and Athena (Pro only): not created (CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES=1); use `npm run query`',
];

function run(bin: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  console.log(`$ cdklocal ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: ROOT, env, stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('error', (error) => reject(new Error(`could not run ${bin}: ${error.message}; run \`npm install\` first (aws-cdk-local is a dev dependency)`)));
    child.on('close', (code) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? 1);
    });
  });
}

async function main(parsed: Parsed): Promise<number> {
  const endpoint = typeof parsed.values.endpoint === 'string' ? parsed.values.endpoint : 'http://localhost:4566';
  const region = typeof parsed.values.region === 'string' ? parsed.values.region : 'us-east-1';
  const plan = cdklocalArgs(parsed);
  const status = await localstackStatus(endpoint);
  if (!status.ok) throw new UsageError(status.message);
  console.log(status.message);
  const bin = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'cdklocal.cmd' : 'cdklocal');
  if (!existsSync(bin)) throw new UsageError(`cdklocal is not installed (${path.relative(ROOT, bin)} is missing); run \`npm install\` (aws-cdk-local is a dev dependency)`);
  mkdirSync(path.join(ROOT, path.dirname(LOCALSTACK_OUTPUTS)), { recursive: true });
  const env = cdklocalEnv(process.env, endpoint, region);
  if (plan.bootstrap) {
    const code = await run(bin, plan.bootstrap, env);
    if (code !== 0) throw new UsageError(`cdklocal bootstrap failed (exit ${code}); see its output above. Is LocalStack healthy? (docker compose logs localstack)`);
  }
  const code = await run(bin, plan.deploy, env);
  if (code !== 0) throw new UsageError(`cdklocal deploy failed (exit ${code}); see its output above (docker compose logs localstack shows LocalStack's side)`);
  const { outputs } = readOutputs('localstack', ROOT);
  console.log('');
  console.log(`deployed to LocalStack (${endpoint}, ${region}); outputs in ${LOCALSTACK_OUTPUTS}:`);
  for (const [stack, values] of Object.entries(outputs)) console.log(`  ${stack}: jobs ${values.Jobs ?? '?'}`);
  console.log('');
  console.log(LOCALSTACK_NOTES.join('\n'));
  console.log('');
  console.log('Next:');
  console.log('  npm run produce -- --job clickstream --count 10000 --target localstack');
  console.log('  npm run query -- "SELECT * FROM results LIMIT 10" --target localstack');
  console.log('  npm run localstack:e2e');
  return 0;
}

if (require.main === module) runMain(deploySpec, main);
