// The app as `cdk synth` runs it: the real job registry (jobs/), cdk.json's selection, context
// overrides from the command line, and infra/app.ts's handling of configuration errors.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { jobs } from '../../jobs';
import { describeJobs, readContext } from '../../infra/riffle-app';
import { buildTestApp, cdkJsonContext, nagFindings } from './helpers';

const registry = describeJobs(jobs);
const ROOT = path.resolve(__dirname, '..', '..');

test('describeJobs keeps what the infrastructure needs of each job definition', () => {
  expect(registry['clickstream-sessions']).toMatchObject({ name: 'clickstream-sessions', source: 'clickstream', emit: 'final' });
  expect(registry['sensor-averages']!.aggregates.temperature_p95).toEqual({ kind: 'quantile' });
});

describe('with cdk.json', () => {
  let stacks: ReturnType<typeof buildTestApp>['stacks'];
  beforeAll(() => {
    ({ stacks } = buildTestApp({ registry }));
  });

  test('the jobs of cdk.json, one stack per source', () => {
    expect(cdkJsonContext()['riffle:jobs']).toEqual(['sensor-averages', 'trending-hashtags', 'clickstream']);
    expect(stacks.map((s) => s.stackName)).toEqual(['Riffle-sensor-averages', 'Riffle-trending-hashtags', 'Riffle-clickstream']);
  });

  test('real aggregates become typed Glue columns', () => {
    const columns = (stackIndex: number): string[] => {
      const table = Object.values(Template.fromStack(stacks[stackIndex]!).findResources('AWS::Glue::Table')).find((r) => !String(r.Properties.TableInput.Name).endsWith('_json'))!;
      // Between the five leading and four trailing result fields.
      return (table.Properties.TableInput.StorageDescriptor.Columns as { Name: string; Type: string }[]).slice(5, -6).map((c) => `${c.Name}:${c.Type}`);
    };
    expect(columns(0)).toEqual(['count:bigint', 'temperature_avg:double', 'temperature_min:double', 'temperature_max:double', 'temperature_p95:double', 'humidity_avg:double']);
    expect(columns(1)).toEqual(['mentions:bigint', 'top_hashtags:array<struct<value:string,count:bigint>>']);
    expect(columns(2)).toEqual(['clicks:bigint', 'users:double', 'dwell_p95_ms:double']);
  });

  test('no unacknowledged cdk-nag finding', () => {
    for (const stack of stacks) expect(nagFindings(stack)).toEqual([]);
  });
});

test('-c riffle:jobs=a,b selects jobs; jobs sharing a source share a stack', () => {
  const { stacks } = buildTestApp({ registry, jobs: 'clickstream,clickstream-sessions' });
  expect(stacks.map((s) => [s.stackName, Object.keys(s.jobs)])).toEqual([['Riffle-clickstream', ['clickstream', 'clickstream-sessions']]]);
});

test('readContext collects -c riffle:config.<key>.<setting>=<value> overrides', () => {
  const app = new App({ context: { 'riffle:jobs': 'clickstream', 'riffle:config.clickstream.mapperBatchSize': '300', 'other:key': 1 } });
  expect(readContext(app)).toEqual({ jobs: 'clickstream', config: undefined, overrides: { 'clickstream.mapperBatchSize': '300' } });
});

test('infra/app.ts prints a configuration error without a stack trace and exits 1', async () => {
  const context = { ...cdkJsonContext(), 'riffle:jobs': 'sensor-averages', 'riffle:config': { 'sensor-averages': { mapperBatchSize: 20000 } } };
  const outdir = mkdtempSync(path.join(tmpdir(), 'riffle-cdk-'));
  const run = promisify(execFile)(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['infra/app.ts'], {
    cwd: ROOT,
    env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(context), CDK_OUTDIR: outdir },
  });
  await expect(run).rejects.toMatchObject({
    code: 1,
    stderr: expect.stringContaining('riffle:config.sensor-averages.mapperBatchSize: 20000 is out of range; use 1–10000'),
  });
  await run.catch((error: { stderr: string }) => expect(error.stderr).not.toMatch(/\n\s+at /));
  rmSync(outdir, { recursive: true, force: true });
}, 30_000);
