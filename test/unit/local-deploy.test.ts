// The local deployer's pure parts: CloudFormation-style physical names, stable ESM UUIDs,
// resource creation order, stack selection, and EventBridge schedule expressions.
import { creationOrder, selectStacks } from '../../local/deploy/deployer';
import type { StackArtifact } from '../../local/deploy/assembly';
import { physicalName, stableUuid } from '../../local/deploy/names';
import { Scheduler, nextCronTime, parseSchedule, type CronFields } from '../../local/deploy/schedule';

const scope = { accountId: '000000000000', region: 'us-east-1', stackName: 'Riffle-sensors' };

describe('physical names', () => {
  test('<stack>-<logicalId>-<SUFFIX>, stable across deploys', () => {
    const n = physicalName('kinesis', scope, 'InputStream1A2B3C4D');
    expect(n).toMatch(/^Riffle-sensors-InputStream1A2B3C4D-[A-Z0-9]{12}$/);
    expect(physicalName('kinesis', scope, 'InputStream1A2B3C4D')).toBe(n);
    expect(physicalName('kinesis', { ...scope, stackName: 'Riffle-clicks' }, 'InputStream1A2B3C4D')).not.toBe(n);
  });

  test('respects each service limit and alphabet', () => {
    const longId = `VeryLongLogicalIdForAFunctionThatGoesOnAndOn${'X'.repeat(40)}`;
    const fn = physicalName('lambda', { ...scope, stackName: `Riffle-${'y'.repeat(60)}` }, longId);
    expect(fn.length).toBeLessThanOrEqual(64);
    expect(fn).toMatch(/^[A-Za-z0-9_.-]+-[A-Z0-9]{12}$/);
    const bucket = physicalName('s3', scope, `Results_Bucket${'Z'.repeat(80)}`);
    expect(bucket.length).toBeLessThanOrEqual(63);
    expect(bucket).toMatch(/^[a-z0-9][a-z0-9.-]*$/);
    expect(physicalName('firehose', scope, 'ResultsDelivery').length).toBeLessThanOrEqual(64);
    expect(physicalName('dynamodb', scope, 'State').length).toBeLessThanOrEqual(255);
  });

  test('stable ESM UUIDs look like v4 UUIDs', () => {
    const u = stableUuid(scope, 'MapperKinesisEventSource');
    expect(u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(stableUuid(scope, 'MapperKinesisEventSource')).toBe(u);
    expect(stableUuid(scope, 'ReducerKinesisEventSource')).not.toBe(u);
  });
});

describe('creation order', () => {
  test('references and DependsOn come first', () => {
    const order = creationOrder(
      {
        Esm: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { FunctionName: { Ref: 'Fn' }, EventSourceArn: { 'Fn::GetAtt': ['Stream', 'Arn'] } } },
        Fn: { Type: 'AWS::Lambda::Function', Properties: { Environment: { Variables: { T: { 'Fn::Sub': '${Table}' } } } }, DependsOn: ['Role'] },
        Role: { Type: 'AWS::IAM::Role' },
        Stream: { Type: 'AWS::Kinesis::Stream' },
        Table: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: { Ref: 'NameParam' } } },
      },
      new Set(['NameParam']),
    );
    const pos = (id: string) => order.indexOf(id);
    expect(order).toHaveLength(5);
    expect(pos('Fn')).toBeGreaterThan(pos('Role'));
    expect(pos('Fn')).toBeGreaterThan(pos('Table'));
    expect(pos('Esm')).toBeGreaterThan(pos('Fn'));
    expect(pos('Esm')).toBeGreaterThan(pos('Stream'));
  });

  test('cycles are reported', () => {
    expect(() =>
      creationOrder({ A: { Type: 'X', Properties: { p: { Ref: 'B' } } }, B: { Type: 'X', Properties: { p: { Ref: 'A' } } } }, new Set()),
    ).toThrow(/circular dependency/);
  });
});

describe('stack selection', () => {
  const stack = (id: string, dependencies: string[] = []): StackArtifact => ({
    id,
    stackName: id,
    displayName: id,
    assemblyDir: '/tmp',
    template: {},
    dependencies,
    assets: new Map(),
  });
  const all = [stack('Riffle-sensors', ['Riffle-shared']), stack('Riffle-clicks', ['Riffle-shared']), stack('Riffle-shared')];

  test('all stacks, dependencies first', () => {
    expect(selectStacks(all).map((s) => s.id)).toEqual(['Riffle-shared', 'Riffle-sensors', 'Riffle-clicks']);
  });

  test('named stacks (wildcards allowed) bring their dependencies', () => {
    expect(selectStacks(all, ['Riffle-clicks']).map((s) => s.id)).toEqual(['Riffle-shared', 'Riffle-clicks']);
    expect(selectStacks(all, ['Riffle-s*']).map((s) => s.id)).toEqual(['Riffle-shared', 'Riffle-sensors']);
    expect(() => selectStacks(all, ['Nope'])).toThrow(/no stack matches "Nope"/);
  });
});

describe('schedule expressions', () => {
  test('rate()', () => {
    expect(parseSchedule('rate(1 minute)')).toEqual({ kind: 'rate', everyMs: 60_000 });
    expect(parseSchedule('rate(5 minutes)')).toEqual({ kind: 'rate', everyMs: 300_000 });
    expect(parseSchedule('rate(2 hours)')).toEqual({ kind: 'rate', everyMs: 7_200_000 });
    expect(() => parseSchedule('rate(5 minute)')).toThrow();
    expect(() => parseSchedule('at(2025-01-01T00:00:00)')).toThrow(/unsupported/);
  });

  test('cron(): every 15 minutes on weekdays, last day of the month, names', () => {
    const s = parseSchedule('cron(0/15 * ? * MON-FRI *)');
    if (s.kind !== 'cron') throw new Error('expected cron');
    // Saturday 2025-01-04 10:07 UTC → Monday 2025-01-06 00:00.
    expect(new Date(nextCronTime(s.fields, Date.UTC(2025, 0, 4, 10, 7)) ?? 0).toISOString()).toBe('2025-01-06T00:00:00.000Z');
    // Monday 10:07 → 10:15.
    expect(new Date(nextCronTime(s.fields, Date.UTC(2025, 0, 6, 10, 7)) ?? 0).toISOString()).toBe('2025-01-06T10:15:00.000Z');
    const last = parseSchedule('cron(30 23 L FEB ? 2028)');
    if (last.kind !== 'cron') throw new Error('expected cron');
    expect(new Date(nextCronTime(last.fields, Date.UTC(2025, 0, 1)) ?? 0).toISOString()).toBe('2028-02-29T23:30:00.000Z');
    const fields: CronFields = last.fields;
    expect(fields.lastDayOfMonth).toBe(true);
    expect(() => parseSchedule('cron(0 12 * * * *)')).toThrow(/exactly one of day-of-month and day-of-week/);
    expect(() => parseSchedule('cron(0 12 ? * 2#1 *)')).toThrow(/not supported/);
  });

  test('the scheduler fires rate() targets asynchronously with a Scheduled Event, sped up by timeScale', async () => {
    const calls: { fn: string; payload: Record<string, unknown> }[] = [];
    const scheduler = new Scheduler({
      region: 'us-east-1',
      accountId: '000000000000',
      timeScale: 1200, // rate(1 minute) → every 50 ms
      invokeAsync: (fn, payload) => calls.push({ fn, payload: JSON.parse(payload) as Record<string, unknown> }),
    });
    scheduler.add({ name: 'tick', arn: 'arn:aws:events:us-east-1:000000000000:rule/tick', expression: 'rate(1 minute)', targets: [{ functionName: 'closer' }] });
    scheduler.add({ name: 'with-input', arn: 'arn:x', expression: 'rate(1 minute)', targets: [{ functionName: 'other', input: '{"mode":"sweep"}' }] });
    scheduler.start();
    const deadline = Date.now() + 5000;
    while (calls.filter((c) => c.fn === 'closer').length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    scheduler.stop();
    expect(calls.filter((c) => c.fn === 'closer').length).toBeGreaterThanOrEqual(3);
    expect(calls.find((c) => c.fn === 'closer')?.payload).toMatchObject({
      version: '0',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '000000000000',
      region: 'us-east-1',
      resources: ['arn:aws:events:us-east-1:000000000000:rule/tick'],
      detail: {},
    });
    expect(calls.find((c) => c.fn === 'other')?.payload).toEqual({ mode: 'sweep' });
  });
});
