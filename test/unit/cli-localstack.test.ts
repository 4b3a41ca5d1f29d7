// The LocalStack scripts without LocalStack: the cdklocal command lines and environment
// `npm run localstack:deploy` runs, and the health check both LocalStack scripts start with
// (answers faked), whose failures say what to run.
import { parseCommand, UsageError } from '../../scripts/lib/cli';
import { LOCALSTACK_VERSION, localstackStatus } from '../../scripts/lib/targets';
import { cdklocalArgs, cdklocalEnv, deploySpec, LOCALSTACK_NOTES } from '../../scripts/localstack-deploy';

function plan(...argv: string[]) {
  return cdklocalArgs(parseCommand(deploySpec, argv));
}

describe('localstack:deploy', () => {
  it('bootstraps then deploys every stack with the outputs file, into an assembly of its own', () => {
    expect(plan()).toEqual({
      bootstrap: ['bootstrap', 'aws://000000000000/us-east-1', '--no-notices', '--output', 'cdk.out.localstack'],
      deploy: ['deploy', '--all', '--require-approval', 'never', '--outputs-file', '.riffle/localstack-outputs.json', '--no-notices', '--output', 'cdk.out.localstack'],
    });
  });

  it('named stacks, --jobs, --region and --skip-bootstrap', () => {
    expect(plan('Riffle-clickstream', '--jobs', 'clickstream, clickstream-sessions', '--region', 'eu-west-1', '--skip-bootstrap')).toEqual({
      deploy: ['deploy', 'Riffle-clickstream', '--require-approval', 'never', '--outputs-file', '.riffle/localstack-outputs.json', '--no-notices', '--output', 'cdk.out.localstack', '-c', 'riffle:jobs=clickstream,clickstream-sessions'],
    });
  });

  it.each([
    [['--region', 'mars'], /--region 'mars' is not an AWS region name; e\.g\. --region us-east-1/],
    [['clickstream'], /'clickstream' is not a Riffle stack name; stacks are Riffle-<source>, e\.g\. Riffle-clickstream/],
    [['--jobs', ' , '], /--jobs is empty; list jobs like --jobs sensor-averages,clickstream/],
    [['--force'], /Unknown option '--force'.*npm run localstack:deploy -- --help/s],
  ])('%j → says what to do', (argv, message) => {
    expect(() => plan(...argv)).toThrow(UsageError);
    expect(() => plan(...argv)).toThrow(message);
  });

  it('runs cdklocal against the LocalStack URL only: AWS_* from the shell (a profile!) never reach it', () => {
    const env = cdklocalEnv({ PATH: '/bin', AWS_PROFILE: 'prod', AWS_ENDPOINT_URL: 'http://127.0.0.1:9999', AWS_SESSION_TOKEN: 't', CDK_DEFAULT_ACCOUNT: '123456789012' }, 'http://localhost:4566', 'eu-west-1');
    expect(env).toEqual({
      PATH: '/bin',
      AWS_ENDPOINT_URL: 'http://localhost:4566',
      AWS_ENDPOINT_URL_S3: 'http://localhost:4566',
      AWS_S3_FORCE_PATH_STYLE: '1',
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENVAR_ALLOWLIST: 'AWS_REGION,AWS_DEFAULT_REGION,AWS_S3_FORCE_PATH_STYLE,AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY',
      CDK_DISABLE_CLI_TELEMETRY: 'true',
    });
  });

  it('lists what LocalStack community ignores', () => {
    const text = LOCALSTACK_NOTES.join('\n');
    for (const topic of ['Bisect', 'Parallelization', 'buffering', 'prefix expressions', 'dynamic partitioning', 'GZIP', 'Glue and Athena']) expect(text).toContain(topic);
  });
});

describe('LocalStack health check', () => {
  const answer = (routes: Record<string, { status: number; body: unknown }>): typeof fetch =>
    (async (url: string | URL | Request) => {
      const route = routes[new URL(String(url)).pathname];
      if (!route) throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
      return new Response(typeof route.body === 'string' ? route.body : JSON.stringify(route.body), { status: route.status });
    }) as typeof fetch;
  const services = Object.fromEntries(['cloudformation', 'kinesis', 'dynamodb', 's3', 'firehose', 'lambda', 'iam', 'sts', 'ssm', 'events', 'logs'].map((s) => [s, 'available']));

  it('not running → start it with localstack:up', async () => {
    const status = await localstackStatus('http://localhost:4566', answer({}));
    expect(status).toMatchObject({ ok: false });
    expect(status.message).toMatch(/LocalStack is not reachable at http:\/\/localhost:4566: start it with `npm run localstack:up` \(Docker; first start pulls localstack\/localstack:4\.14\.0\), or pass --endpoint/);
  });

  it('the embedded local cloud on the same port is told apart', async () => {
    const status = await localstackStatus('http://localhost:4566', answer({ '/_localstack/health': { status: 404, body: '<Error/>' }, '/_riffle/health': { status: 200, body: { status: 'running' } } }));
    expect(status.message).toMatch(/is the embedded local cloud \(`npm run local`\); stop it first \(LocalStack uses the same port\) and run `npm run localstack:up`/);
  });

  it('missing services are named, with the fix', async () => {
    const status = await localstackStatus('http://localhost:4566', answer({ '/_localstack/health': { status: 200, body: { services: { ...services, firehose: 'disabled', lambda: undefined }, edition: 'community', version: LOCALSTACK_VERSION } } }));
    expect(status).toMatchObject({ ok: false });
    expect(status.message).toMatch(/lacks services Riffle needs: firehose, lambda; remove SERVICES= .* `npm run localstack:down && npm run localstack:up`/);
  });

  it('healthy: edition and version, with a note when the version is not the pinned one', async () => {
    expect(await localstackStatus('http://localhost:4566', answer({ '/_localstack/health': { status: 200, body: { services, edition: 'community', version: '4.14.0' } } }))).toMatchObject({ ok: true, message: 'LocalStack community 4.14.0 at http://localhost:4566', edition: 'community' });
    const other = await localstackStatus('http://localhost:4566', answer({ '/_localstack/health': { status: 200, body: { services, edition: 'community', version: '4.9.2' } } }));
    expect(other.message).toMatch(/version 4\.9\.2; Riffle targets 4\.14\.0, the image docker-compose\.yml pins/);
  });
});
