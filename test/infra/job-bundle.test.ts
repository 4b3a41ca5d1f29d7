// Each function bundles its own job and no other: RiffleFunction aliases the entry's 'riffle:job'
// import to one job file, so the bundle's sources hold that file and none of jobs/; the bundled
// handler serves that job and refuses an environment naming another. Real esbuild bundles, in-process.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { RiffleFunction } from '../../infra/constructs/riffle-function';
import { jobModule, jobNames } from '../../jobs';

jest.setTimeout(60_000);

let outdir: string;
let bundles: Record<string, string>;

beforeAll(() => {
  outdir = mkdtempSync(path.join(os.tmpdir(), 'riffle-job-bundle-'));
  const app = new App({ outdir });
  const stack = new Stack(app, 'Bundles');
  const fixture = new RiffleFunction(stack, 'FixtureMapper', { entry: 'functions/lambda/mapper.ts', job: 'test/fixtures/jobs/fixture-orders.ts' });
  const real = new RiffleFunction(stack, 'ClickstreamCloser', { entry: 'functions/lambda/closer.ts', job: jobModule('clickstream') });
  const assembly = app.synth();
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, { Type: string; Properties: { Code?: { S3Key?: string } } }>;
  const assetOf = (fn: RiffleFunction): string => {
    const key = resources[stack.getLogicalId(fn.node.defaultChild as never)]!.Properties.Code!.S3Key!;
    return path.join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`);
  };
  bundles = { fixture: assetOf(fixture), clickstream: assetOf(real) };
});

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

function bundledJobFiles(asset: string): string[] {
  const map = JSON.parse(readFileSync(path.join(asset, 'index.js.map'), 'utf8')) as { sources: string[] };
  return map.sources.filter((s) => /\/jobs\//.test(s)).map((s) => s.slice(s.lastIndexOf('/jobs/') + 1)).sort();
}

test('a bundle holds its own job file and no other', () => {
  expect(bundledJobFiles(bundles.fixture!)).toEqual(['jobs/fixture-orders.ts']);
  expect(bundledJobFiles(bundles.clickstream!)).toEqual(['jobs/clickstream.ts']);
  expect(jobNames().length).toBeGreaterThan(1); // there were others to leave out
});

/** Run the bundle's handler on an empty batch in a fresh Node process; its result or error message. */
async function invokeBundle(asset: string, env: Record<string, string>): Promise<string> {
  const script = `require(${JSON.stringify(path.join(asset, 'index.js'))}).handler({ Records: [] }, { functionName: 'f', awsRequestId: 'r', getRemainingTimeInMillis: () => 1000 }).then((r) => console.log(JSON.stringify(r)), (e) => console.log('error: ' + e.message))`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env: { PATH: process.env.PATH ?? '', ...env } });
  return stdout.trim().split('\n').at(-1) ?? '';
}

test('the bundled handler serves its job, and refuses an environment that names another', async () => {
  const env = { RIFFLE_STATE_TABLE: 't', RIFFLE_SHUFFLE_STREAM: 's', RIFFLE_SHUFFLE_BUCKETS: '4', RIFFLE_LATE_DELIVERY: 'l', RIFFLE_REJECTED_DELIVERY: 'r', AWS_REGION: 'us-east-1', POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'ERROR' };
  // An empty batch touches no AWS service: configuration and the job binding are all it exercises.
  expect(await invokeBundle(bundles.fixture!, { ...env, RIFFLE_JOB: 'fixture-orders' })).toBe('{"batchItemFailures":[]}');
  expect(await invokeBundle(bundles.fixture!, { ...env, RIFFLE_JOB: 'clickstream' })).toBe(
    "error: RIFFLE_JOB is 'clickstream', but this function bundles job 'fixture-orders'; redeploy the stack (each job's functions bundle only their own job)",
  );
});
