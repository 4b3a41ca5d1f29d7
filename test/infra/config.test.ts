// infra/config.ts: job selection and settings validation — defaults, grouping by source, and
// errors that name the setting as the user wrote it and say what is allowed. No synthesis.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigError, planDeployment, selectJobs, SETTINGS, settingsTable, type RiffleContext } from '../../infra/config';
import { defaultLatencyProfile, LATENCY_PROFILES } from '../../infra/latency-profiles';
import { REGISTRY } from './helpers';

const KNOWN = Object.keys(REGISTRY);

/** The message of the ConfigError that planning `context` throws. */
function problem(context: RiffleContext): string {
  try {
    planDeployment(context, REGISTRY);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('selectJobs', () => {
  test('accepts an array, a comma list (from -c) and a JSON array string, in order and without duplicates', () => {
    expect(selectJobs(['clicks', 'sensor-averages'], KNOWN)).toEqual(['clicks', 'sensor-averages']);
    expect(selectJobs(' clicks, click-sessions ,clicks', KNOWN)).toEqual(['clicks', 'click-sessions']);
    expect(selectJobs('["sensor-averages"]', KNOWN)).toEqual(['sensor-averages']);
    expect(selectJobs('*', KNOWN)).toEqual(KNOWN);
  });

  test('an unknown job is an error that lists the known jobs', () => {
    expect(() => selectJobs('clicks,sensor-avg', KNOWN)).toThrow("riffle:jobs: unknown job 'sensor-avg'; known jobs: sensor-averages, clicks, click-sessions (defined in jobs/)");
  });

  test('no selection says where to set it', () => {
    expect(() => selectJobs(undefined, KNOWN)).toThrow(/riffle:jobs: no jobs selected; set "riffle:jobs" in cdk.json or pass -c riffle:jobs=/);
    expect(() => selectJobs(' , ', KNOWN)).toThrow(/no jobs selected/);
    expect(() => selectJobs(42, KNOWN)).toThrow(/riffle:jobs: 42 is not a list of job names/);
  });
});

describe('planDeployment', () => {
  test('groups jobs by source into one stack each, with defaults', () => {
    const plan = planDeployment({ jobs: ['sensor-averages', 'click-sessions', 'clicks'] }, REGISTRY);
    expect(plan.sources.map((s) => [s.stackName, s.jobs.map((j) => j.job.name)])).toEqual([
      ['Riffle-sensor-averages', ['sensor-averages']],
      ['Riffle-clicks', ['click-sessions', 'clicks']],
    ]);
    const [sensors] = plan.sources;
    expect(sensors!.settings).toMatchObject({ streamMode: 'provisioned', inputShards: 1, streamRetention: 86_400, tableEncryption: 'aws-managed', removalPolicy: 'retain' });
    // sensor-averages emits 'final' results: the economy profile.
    expect(sensors!.jobs[0]!.settings).toMatchObject({
      latency: 'economy',
      mapperBatchSize: 10_000,
      mapperBatchingWindow: 30,
      reducerBatchSize: 10_000,
      reducerBatchingWindow: 300,
      enhancedFanOut: false,
      closerInterval: 300,
      reducerParallelization: 1,
      retryAttempts: undefined,
      maxRecordAge: undefined,
      shuffleBuckets: 8,
      closerReservedConcurrency: 1,
      firehoseBufferInterval: 300,
      firehoseBufferSizeMb: 128,
      logRetentionDays: 30,
    });
  });

  test('settings apply by job, by source and for all ("*"); a job setting beats "*"', () => {
    const plan = planDeployment(
      {
        jobs: 'clicks,click-sessions',
        config: { '*': { mapperBatchSize: 200, logLevel: 'WARN' }, clicks: { inputShards: 3, mapperBatchSize: 500 } },
      },
      REGISTRY,
    );
    const [source] = plan.sources;
    expect(source!.settings.inputShards).toBe(3);
    expect(source!.jobs.map((j) => [j.job.name, j.settings.mapperBatchSize, j.settings.logLevel])).toEqual([
      ['clicks', 500, 'WARN'],
      ['click-sessions', 200, 'WARN'],
    ]);
  });

  test('command-line overrides (-c riffle:config.<key>.<setting>=<value>) arrive as strings and are coerced', () => {
    const plan = planDeployment(
      { jobs: 'sensor-averages', overrides: { 'sensor-averages.mapperBatchSize': '250', 'sensor-averages.deletionProtection': 'true', 'sensor-averages.reducerBatchingWindow': '30s' } },
      REGISTRY,
    );
    expect(plan.sources[0]!.settings.deletionProtection).toBe(true);
    expect(plan.sources[0]!.jobs[0]!.settings).toMatchObject({ mapperBatchSize: 250, reducerBatchingWindow: 30 });
  });

  test('a JSON string for riffle:config (from -c) is parsed; invalid JSON is an error', () => {
    expect(planDeployment({ jobs: 'clicks', config: '{"clicks":{"retryAttempts":3}}' }, REGISTRY).sources[0]!.jobs[0]!.settings.retryAttempts).toBe(3);
    expect(problem({ jobs: 'clicks', config: '{clicks' })).toMatch(/^riffle:config: not valid JSON/);
  });

  test('shuffleBuckets defaults to max(8, 4 × shards × reducer parallelization)', () => {
    const settings = planDeployment({ jobs: 'clicks', config: { clicks: { shuffleShards: 2, reducerParallelization: 3 } } }, REGISTRY).sources[0]!.jobs[0]!.settings;
    expect(settings.shuffleBuckets).toBe(24);
    const onDemand = planDeployment({ jobs: 'clicks', config: { clicks: { streamMode: 'on-demand' } } }, REGISTRY).sources[0]!.jobs[0]!.settings;
    expect(onDemand.shuffleBuckets).toBe(16);
  });

  test('settings of a job that is not deployed are ignored', () => {
    expect(() => planDeployment({ jobs: 'clicks', config: { 'sensor-averages': { mapperBatchSize: 5 } } }, REGISTRY)).not.toThrow();
  });
});

describe('invalid configuration names the setting and the allowed range', () => {
  test.each([
    [{ 'sensor-averages': { mapperBatchSize: 20000 } }, "riffle:config.sensor-averages.mapperBatchSize: 20000 is out of range; use 1–10000"],
    [{ 'sensor-averages': { mapperBatchSize: 2.5 } }, 'riffle:config.sensor-averages.mapperBatchSize: 2.5 is not a whole number; use 1–10000'],
    [{ 'sensor-averages': { reducerBatchingWindow: '10m' } }, "riffle:config.sensor-averages.reducerBatchingWindow: '10m' is out of range; use 0s–5m"],
    [{ 'sensor-averages': { reducerBatchingWindow: 'soon' } }, "riffle:config.sensor-averages.reducerBatchingWindow: 'soon' is not a duration"],
    [{ 'sensor-averages': { reducerParallelization: 11 } }, 'riffle:config.sensor-averages.reducerParallelization: 11 is out of range; use 1–10'],
    [{ 'sensor-averages': { streamMode: 'fast' } }, "riffle:config.sensor-averages.streamMode: 'fast' is not allowed; use 'provisioned' or 'on-demand'"],
    [{ 'sensor-averages': { logRetentionDays: 31 } }, 'riffle:config.sensor-averages.logRetentionDays: 31 is not allowed; use 1, 3, 5, 7, 14, 30,'],
    [{ 'sensor-averages': { firehoseBufferSizeMb: 5 } }, 'riffle:config.sensor-averages.firehoseBufferSizeMb: 5 is out of range; use 64–128'],
    [{ 'sensor-averages': { firehoseBufferInterval: '10s' } }, "riffle:config.sensor-averages.firehoseBufferInterval: '10s' is out of range; use 1m–15m"],
    [{ 'sensor-averages': { maxRecordAge: '30s' } }, "riffle:config.sensor-averages.maxRecordAge: '30s' is out of range; use 1m–7d"],
    [{ 'sensor-averages': { mapperMemoryMb: 64 } }, 'riffle:config.sensor-averages.mapperMemoryMb: 64 is out of range; use 128–10240'],
    [{ 'sensor-averages': { deletionProtection: 'yes' } }, "riffle:config.sensor-averages.deletionProtection: 'yes' is not a boolean; use true or false"],
    [{ 'sensor-averages': { alarmTopicArn: 'ops-topic' } }, "riffle:config.sensor-averages.alarmTopicArn: 'ops-topic' is not an SNS topic ARN"],
    [{ 'sensor-averages': { queryStartDate: '2025-13-01' } }, "riffle:config.sensor-averages.queryStartDate: '2025-13-01' is not a date"],
    [{ 'sensor-averages': { mapperbatchsize: 5 } }, "riffle:config.sensor-averages.mapperbatchsize: unknown setting; did you mean 'mapperBatchSize'?"],
    [{ 'sensor-avg': { mapperBatchSize: 5 } }, "riffle:config.sensor-avg: 'sensor-avg' is not a known job or source; jobs: sensor-averages, clicks, click-sessions"],
    [{ 'sensor-averages': 5 }, 'riffle:config.sensor-averages: must be an object of settings'],
  ])('%j', (config, message) => {
    expect(problem({ jobs: 'sensor-averages', config })).toContain(message);
  });

  test('maxRecordAge beyond the stream retention: the records would be gone first', () => {
    expect(problem({ jobs: 'sensor-averages', config: { '*': { maxRecordAge: '2d' } } })).toBe(
      "riffle:config.*.maxRecordAge: 2d exceeds the streams' retention (streamRetention 1d); records are gone from the stream before then — lower it or raise streamRetention",
    );
    expect(() => planDeployment({ jobs: 'sensor-averages', config: { '*': { maxRecordAge: '2d', streamRetention: '3d' } } }, REGISTRY)).not.toThrow();
  });

  test('shard counts with on-demand streams', () => {
    expect(problem({ jobs: 'sensor-averages', config: { 'sensor-averages': { streamMode: 'on-demand', inputShards: 2 } } })).toMatch(
      /^riffle:config.sensor-averages.inputShards: applies only to streamMode 'provisioned'/,
    );
  });

  test('jobs sharing a source must agree on source settings', () => {
    expect(problem({ jobs: 'clicks,click-sessions', config: { clicks: { inputShards: 2 }, 'click-sessions': { inputShards: 4 } } })).toBe(
      "riffle:config.click-sessions.inputShards: 4 conflicts with riffle:config.clicks.inputShards: 2; jobs clicks and click-sessions share the stack of source 'clicks', so set it once",
    );
  });

  test('a job setting under a source that is not a deployed job', () => {
    // 'clicks' is both a job (not deployed now: its settings wait) and the source of click-sessions.
    const plan = planDeployment({ jobs: 'click-sessions', config: { clicks: { inputShards: 2, mapperBatchSize: 10 } } }, REGISTRY);
    expect(plan.sources[0]!.settings.inputShards).toBe(2);
    expect(plan.sources[0]!.jobs[0]!.settings.mapperBatchSize).toBe(1000);
    const registry = { ...REGISTRY, 'only-sessions': { ...REGISTRY['click-sessions']!, name: 'only-sessions', source: 'raw-clicks' } };
    expect(() => planDeployment({ jobs: 'only-sessions', config: { 'raw-clicks': { mapperBatchSize: 10 } } }, registry)).toThrow(
      "riffle:config.raw-clicks.mapperBatchSize: 'mapperBatchSize' is a job setting and 'raw-clicks' is only a source here; set it under the job name (riffle:config.<job>.mapperBatchSize)",
    );
  });

  test('every problem is reported at once', () => {
    const message = problem({ jobs: 'sensor-averages', config: { 'sensor-averages': { mapperBatchSize: 0, reducerBatchSize: 0 } } });
    expect(message.split('\n')).toEqual([
      'invalid Riffle configuration:',
      '  riffle:config.sensor-averages.mapperBatchSize: 0 is out of range; use 1–10000',
      '  riffle:config.sensor-averages.reducerBatchSize: 0 is out of range; use 1–10000',
    ]);
  });
});

test('the settings table documents every setting', () => {
  const table = settingsTable();
  for (const name of Object.keys(SETTINGS)) expect(table).toContain(`| \`${name}\` |`);
});

test('infra/README.md carries the current settings table', () => {
  const readme = readFileSync(path.resolve(__dirname, '..', '..', 'infra', 'README.md'), 'utf8');
  expect(readme).toContain(settingsTable());
});

describe('latency profiles', () => {
  const jobSettings = (context: RiffleContext, job: string) => {
    for (const source of planDeployment(context, REGISTRY).sources) {
      const plan = source.jobs.find((j) => j.job.name === job);
      if (plan) return plan.settings;
    }
    throw new Error(`no plan for ${job}`);
  };
  /** The settings a profile sets, as the plan holds them. */
  const asSettings = (name: keyof typeof LATENCY_PROFILES) => {
    const { closerIntervalSeconds, ...rest } = LATENCY_PROFILES[name];
    return { latency: name, closerInterval: closerIntervalSeconds, ...rest };
  };

  test("the default follows emit: 'update' jobs are balanced, 'final' jobs economy", () => {
    expect(defaultLatencyProfile('update')).toBe('balanced');
    expect(defaultLatencyProfile('final')).toBe('economy');
    expect(jobSettings({ jobs: 'clicks,click-sessions' }, 'click-sessions')).toMatchObject(asSettings('balanced'));
    expect(jobSettings({ jobs: 'clicks,click-sessions' }, 'clicks')).toMatchObject(asSettings('economy'));
  });

  test.each(['interactive', 'balanced', 'economy'] as const)('latency %s sets every setting of its profile', (name) => {
    expect(jobSettings({ jobs: 'sensor-averages', config: { 'sensor-averages': { latency: name } } }, 'sensor-averages')).toMatchObject(asSettings(name));
    // From the command line, and for every job with "*".
    expect(jobSettings({ jobs: 'sensor-averages', overrides: { 'sensor-averages.latency': name } }, 'sensor-averages')).toMatchObject(asSettings(name));
    expect(jobSettings({ jobs: 'clicks,click-sessions', config: { '*': { latency: name } } }, 'click-sessions')).toMatchObject(asSettings(name));
  });

  test('an explicit setting beats the profile, whether written for the job or for "*"; a job\'s profile beats "*"\'s', () => {
    const context: RiffleContext = {
      jobs: 'clicks,click-sessions',
      config: {
        '*': { latency: 'economy', reducerBatchingWindow: '1m' },
        clicks: { latency: 'interactive', mapperBatchSize: 200, enhancedFanOut: false, closerInterval: '2m', firehoseBufferInterval: '90s' },
      },
    };
    expect(jobSettings(context, 'clicks')).toMatchObject({
      ...asSettings('interactive'),
      mapperBatchSize: 200,
      enhancedFanOut: false,
      closerInterval: 120,
      firehoseBufferInterval: 90,
      reducerBatchingWindow: 60,
    });
    expect(jobSettings(context, 'click-sessions')).toMatchObject({ ...asSettings('economy'), reducerBatchingWindow: 60 });
  });

  test('an unknown profile, a bad fan-out flag or a closer interval EventBridge cannot run fail with what to write instead', () => {
    expect(problem({ jobs: 'clicks', config: { clicks: { latency: 'fast' } } })).toBe("riffle:config.clicks.latency: 'fast' is not allowed; use 'interactive', 'balanced' or 'economy'");
    expect(problem({ jobs: 'clicks', config: { '*': { latency: 'Interactive' } } })).toBe("riffle:config.*.latency: 'Interactive' is not allowed; use 'interactive', 'balanced' or 'economy'");
    expect(problem({ jobs: 'clicks', config: { clicks: { enhancedFanOut: 'yes' } } })).toBe("riffle:config.clicks.enhancedFanOut: 'yes' is not a boolean; use true or false");
    expect(problem({ jobs: 'clicks', config: { clicks: { closerInterval: '90s' } } })).toBe("riffle:config.clicks.closerInterval: '90s' is not a whole number of minutes (an EventBridge rate); use 1m–1h, e.g. '2m'");
    expect(problem({ jobs: 'clicks', config: { clicks: { closerInterval: '30s' } } })).toBe("riffle:config.clicks.closerInterval: '30s' is out of range; use 1m–1h");
  });

  test('every profile is within the limits its settings accept (AWS limits, Firehose minimums with dynamic partitioning)', () => {
    for (const name of Object.keys(LATENCY_PROFILES) as (keyof typeof LATENCY_PROFILES)[]) {
      const { closerIntervalSeconds, ...rest } = LATENCY_PROFILES[name];
      const written = { ...rest, closerInterval: `${closerIntervalSeconds}s`, mapperBatchingWindow: `${rest.mapperBatchingWindow}s`, reducerBatchingWindow: `${rest.reducerBatchingWindow}s`, firehoseBufferInterval: `${rest.firehoseBufferInterval}s` };
      expect(() => planDeployment({ jobs: 'clicks', config: { clicks: written } }, REGISTRY)).not.toThrow();
    }
  });
});
