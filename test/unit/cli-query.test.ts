// `npm run query` argument handling and target resolution: every mistake is a UsageError whose
// message says what to do — including a missing deploy outputs file (which command writes it)
// and a job that is not deployed on the target.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseCommand, UsageError } from '../../scripts/lib/cli';
import { buckets, deployedJobs, endpointWarning, explainError, jobOutput, readOutputs, resolveTarget, TargetError } from '../../scripts/lib/targets';
import { executeQuery, parseTimeOption, queryOptions, querySpec } from '../../scripts/query';

const NOW = Date.parse('2026-06-01T12:00:00Z');

function options(...argv: string[]) {
  return queryOptions(parseCommand(querySpec, argv), NOW);
}

function error(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('no error');
}

describe('query arguments', () => {
  it('defaults: table, local target, cache on', () => {
    expect(options('SELECT 1')).toEqual({ sql: 'SELECT 1', format: 'table', target: 'local', cache: true, athena: false });
  });

  it('takes every option; --since accepts ISO-8601, a UTC date or an age', () => {
    expect(options('SELECT * FROM late', '--format', 'csv', '--job', 'clickstream', '--since', '2026-05-31', '--until', '2026-06-01T06:00:00+02:00', '--target', 'localstack', '--endpoint', 'http://localhost:4567', '--no-cache')).toEqual({
      sql: 'SELECT * FROM late',
      format: 'csv',
      job: 'clickstream',
      sinceMs: Date.parse('2026-05-31T00:00:00Z'),
      untilMs: Date.parse('2026-06-01T04:00:00Z'),
      target: 'localstack',
      endpoint: 'http://localhost:4567',
      cache: false,
      athena: false,
    });
    expect(parseTimeOption('since', '2h', NOW)).toBe(NOW - 7_200_000);
  });

  it.each([
    [[], /give the SQL to run as one quoted argument, e\.g\. npm run query -- "SELECT \* FROM results LIMIT 10"/],
    [['SELECT', '*', 'FROM', 'results'], /got 4 arguments .* quote the whole SQL as one argument/],
    [['  '], /the SQL is empty; e\.g\./],
    [['SELECT 1', '--format', 'xml'], /--format must be one of table, csv, json, got 'xml'/],
    [['SELECT 1', '--job', 'nope'], /unknown job 'nope'; jobs \(defined in jobs\/\): /],
    [['SELECT 1', '--since', 'yesterday'], /--since 'yesterday' is not a time; write an ISO-8601 time with a zone \(--since 2026-01-01T12:00:00Z\), a UTC date \(--since 2026-01-01\) or an age \(--since 2h\)/],
    [['SELECT 1', '--since', '2026-02-30'], /--since '2026-02-30' is not a date/],
    [['SELECT 1', '--until', '2026-01-01T10:00:00'], /--until '2026-01-01T10:00:00': .*zone/],
    [['SELECT 1', '--since', '2026-06-01', '--until', '2026-05-01'], /--since \(2026-06-01T00:00:00\.000Z\) must be before --until/],
    [['SELECT 1', '--target', 'gcp'], /--target must be one of local, localstack, aws/],
    [['SELECT 1', '--target', 'aws', '--endpoint', 'http://x'], /--endpoint is for --target local or localstack/],
    [['SELECT 1', '--athena'], /--athena queries the Glue table on AWS; add --target aws/],
    [['SELECT 1', '--athena', '--target', 'aws'], /--athena needs --job: each job has its own Glue table \(e\.g\. --job sensor-averages\)/],
    [['SELECT 1', '--cache'], /Unknown option '--cache'.*Run 'npm run query -- --help'/s],
  ])('%j → says what to do', (argv, message) => {
    expect(error(() => options(...argv))).toMatch(message);
  });
});

describe('query --live arguments', () => {
  it('takes --job, --key, --limit, --watch and the target options; no SQL', () => {
    expect(options('--live')).toEqual({ sql: '', format: 'table', target: 'local', cache: true, athena: false, live: { limit: 1000 } });
    expect(options('--live', '--job', 'sensor-averages', '--key', 'sensor-0001', '--limit', '50', '--watch', '2', '--format', 'json', '--target', 'localstack', '--endpoint', 'http://localhost:4567')).toEqual({
      sql: '',
      format: 'json',
      job: 'sensor-averages',
      target: 'localstack',
      endpoint: 'http://localhost:4567',
      cache: true,
      athena: false,
      live: { limit: 50, key: 'sensor-0001', watchSeconds: 2 },
    });
  });

  it.each([
    [['--live', 'SELECT 1'], /--live takes no SQL \(got 'SELECT 1'\): it prints every open window's row; narrow it with --job, --key and --limit, or drop --live/],
    [['SELECT 1', '--key', 'k'], /--key goes with --live \(open windows from the state table\); in SQL over the S3 views write a WHERE or LIMIT clause instead/],
    [['SELECT 1', '--watch', '2'], /--watch goes with --live/],
    [['--live', '--key', 'k'], /--key needs --job: keys belong to a job \(e\.g\. --live --job sensor-averages --key sensor-7\)/],
    [['--live', '--since', '2h'], /--since is for SQL over the S3 views; --live reads the open windows from the state table/],
    [['--live', '--athena'], /--athena is for SQL over the S3 views/],
    [['--live', '--no-cache'], /--no-cache is for SQL over the S3 views/],
    [['--live', '--job', 'nope'], /unknown job 'nope'; jobs \(defined in jobs\/\): /],
    [['--live', '--limit', '0'], /--limit must be a whole number from 1 to 100000, got '0'/],
    [['--live', '--watch', 'soon'], /--watch must be a whole number from 1 to 3600, got 'soon'/],
    [['--live', '--target', 'aws', '--endpoint', 'http://x'], /--endpoint is for --target local or localstack/],
  ])('%j → says what to do', (argv, message) => {
    expect(error(() => options(...argv))).toMatch(message);
  });
});

describe('targets', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-targets-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['local', /\.riffle\/outputs\.json not found .*: run `npm run local` \(in another terminal/],
    ['localstack', /\.riffle\/localstack-outputs\.json not found .*: start LocalStack with `npm run localstack:up`, then deploy with `npm run localstack:deploy`/],
    ['aws', /cdk-outputs\.json not found .*: deploy with `npm run deploy`/],
  ] as const)('a missing outputs file for --target %s names the command that writes it', (name, message) => {
    expect(error(() => readOutputs(name, dir))).toMatch(message);
    expect(() => readOutputs(name, dir)).toThrow(TargetError);
  });

  it('a broken outputs file says to recreate it', () => {
    mkdirSync(path.join(dir, '.riffle'));
    writeFileSync(path.join(dir, '.riffle', 'outputs.json'), '{ nope');
    expect(error(() => readOutputs('local', dir))).toMatch(/\.riffle\/outputs\.json is not valid JSON .*; delete it and run `npm run local`/);
    writeFileSync(path.join(dir, '.riffle', 'outputs.json'), '[1]');
    expect(error(() => readOutputs('local', dir))).toMatch(/should map stack names to their outputs; delete it and run `npm run local`/);
  });

  it('reads cdk --outputs-file JSON: jobs, buckets, and the shared input stream of a source', () => {
    writeFileSync(
      path.join(dir, 'cdk-outputs.json'),
      JSON.stringify({
        'Riffle-clickstream': { Source: 'clickstream', Jobs: 'clickstream', ClickstreamInputStream: 'in-c', ClickstreamBucket: 'b-c' },
        'Riffle-sensor-averages': { Jobs: 'sensor-averages', SensorAveragesInputStream: 'in-s', SensorAveragesBucket: 'b-s' },
      }),
    );
    const target = resolveTarget('aws', { cwd: dir, env: {} });
    expect(target.endpoint).toBeUndefined();
    expect(target.region).toBeUndefined(); // left to the SDK's profile resolution
    expect(deployedJobs(target)).toEqual(['clickstream', 'sensor-averages']);
    expect(buckets(target)).toEqual([
      { bucket: 'b-c', jobs: ['clickstream'] },
      { bucket: 'b-s', jobs: ['sensor-averages'] },
    ]);
    // clickstream-sessions is not deployed, but reads clickstream's stream: produce can still send.
    expect(jobOutput(target, 'clickstream-sessions', 'InputStream')).toBe('in-c');
    expect(error(() => jobOutput(target, 'trending-hashtags', 'InputStream'))).toMatch(
      /job 'trending-hashtags' is not deployed on --target aws \(cdk-outputs\.json has jobs: clickstream, sensor-averages\); add it to "riffle:jobs" in cdk\.json .* and run `npm run deploy`/,
    );
    expect(error(() => jobOutput(target, 'clickstream-sessions', 'ResultsDelivery'))).toMatch(/job 'clickstream-sessions' is not deployed/);
  });

  it('local targets get a fixed endpoint, dummy credentials and path-style S3; bad endpoints are explained', () => {
    const local = resolveTarget('local', { outputs: {}, env: {} });
    expect(local.clientConfig()).toMatchObject({ endpoint: 'http://127.0.0.1:4566', region: 'us-east-1', credentials: { accessKeyId: 'test' }, forcePathStyle: true });
    expect(resolveTarget('localstack', { outputs: {}, env: { AWS_REGION: 'eu-west-1' } }).clientConfig()).toMatchObject({ endpoint: 'http://localhost:4566', region: 'eu-west-1' });
    expect(error(() => resolveTarget('local', { outputs: {}, endpoint: 'localhost:4566' }))).toMatch(/--endpoint 'localhost:4566' must start with http:\/\/ or https:\/\/|is not a URL; write it like http:\/\/localhost:4566/);
    expect(error(() => resolveTarget('local', { outputs: {}, endpoint: 'not a url' }))).toMatch(/is not a URL; write it like http:\/\/localhost:4566/);
  });

  it('request errors become instructions', () => {
    const local = { name: 'local' as const, endpoint: 'http://127.0.0.1:4566' };
    expect(explainError(local, Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4566'), { code: 'ECONNREFUSED' }))).toMatch(/cannot reach the embedded local cloud endpoint http:\/\/127\.0\.0\.1:4566 .*start it with `npm run local` in another terminal, or pass --endpoint/);
    expect(explainError({ name: 'localstack', endpoint: 'http://localhost:4566' }, Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toMatch(/`npm run localstack:up` .* `npm run localstack:deploy`/);
    expect(explainError(local, Object.assign(new Error('Stream in not found'), { name: 'ResourceNotFoundException' }))).toMatch(/names a resource that does not exist on --target local; it is stale: run `npm run local`/);
    expect(explainError({ name: 'aws', endpoint: undefined }, Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }))).toMatch(/set AWS_PROFILE, run `aws sso login`/);
    expect(explainError({ name: 'aws', endpoint: undefined }, new Error('Region is missing'))).toMatch(/export AWS_REGION/);
    expect(explainError(local, new Error('something else'))).toBeUndefined();
    expect(endpointWarning('aws', { AWS_ENDPOINT_URL: 'http://localhost:4566' })).toMatch(/unset it to reach AWS/);
    expect(endpointWarning('local', { AWS_ENDPOINT_URL: 'http://localhost:4566' })).toBeUndefined();
  });

  it('a query with no deployed jobs says how to deploy', async () => {
    const target = resolveTarget('localstack', { outputs: {}, env: {} });
    await expect(executeQuery({ sql: 'SELECT 1', format: 'json', target: 'localstack', cache: false, athena: false }, { target, cwd: dir })).rejects.toThrow(
      /no jobs are deployed on --target localstack .*: start LocalStack with `npm run localstack:up`, then deploy with `npm run localstack:deploy`/,
    );
  });
});
