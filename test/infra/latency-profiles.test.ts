// The latency profiles reach the template: for each profile, the event source mappings' BatchSize
// and MaximumBatchingWindowInSeconds, enhanced fan-out consumers (and the mappings on them), the
// closer's schedule and the Firehose buffering hints — and settings written explicitly win.
import { Stack, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { LATENCY_PROFILES, type LatencyProfile } from '../../infra/latency-profiles';
import type { RiffleStack } from '../../infra/stack';
import { buildTestApp } from './helpers';

let sensors: RiffleStack;
let clicks: RiffleStack;
let st: Template;
let ct: Template;

beforeAll(() => {
  const { stacks } = buildTestApp({
    jobs: 'sensor-averages,clicks,click-sessions',
    config: {
      'sensor-averages': { latency: 'interactive' },
      // clicks ('final') keeps its default profile, economy, with two settings of its own.
      clicks: { reducerBatchingWindow: '2m', closerInterval: '10m' },
      'click-sessions': { latency: 'balanced', firehoseBufferSizeMb: 100 },
    },
  });
  [sensors, clicks] = stacks as [RiffleStack, RiffleStack];
  st = Template.fromStack(sensors);
  ct = Template.fromStack(clicks);
});

const idOf = (construct: { node: { defaultChild?: unknown } }): string => {
  const element = construct.node.defaultChild as CfnElement;
  return Stack.of(element).getLogicalId(element);
};

/** The mapper's and reducer's ESMs, the schedule and the Firehose hints of a job, as `profile` says. */
function expectProfile(t: Template, stack: RiffleStack, job: string, profile: LatencyProfile): void {
  const { wiring, delivery } = stack.jobs[job]!;
  for (const [fn, batchSize, window] of [
    [wiring.mapper, profile.mapperBatchSize, profile.mapperBatchingWindow],
    [wiring.reducer, profile.reducerBatchSize, profile.reducerBatchingWindow],
  ] as const) {
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionName: { Ref: idOf(fn) }, BatchSize: batchSize, MaximumBatchingWindowInSeconds: window });
  }
  const minutes = profile.closerIntervalSeconds / 60;
  t.hasResourceProperties('AWS::Events::Rule', {
    ScheduleExpression: `rate(${minutes} ${minutes === 1 ? 'minute' : 'minutes'})`,
    Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [idOf(wiring.closer), 'Arn'] } })],
  });
  for (const stream of Object.values(delivery.deliveryStreams)) {
    const props = t.toJSON().Resources[Stack.of(stream).getLogicalId(stream)].Properties;
    expect(props.ExtendedS3DestinationConfiguration.BufferingHints).toEqual({ IntervalInSeconds: profile.firehoseBufferInterval, SizeInMBs: profile.firehoseBufferSizeMb });
  }
}

test('interactive: no batching windows, a closer every minute, 60 s / 64 MiB buffers, and both functions on enhanced fan-out consumers', () => {
  expectProfile(st, sensors, 'sensor-averages', LATENCY_PROFILES.interactive);
  const { wiring, shuffle } = sensors.jobs['sensor-averages']!;
  st.resourceCountIs('AWS::Kinesis::StreamConsumer', 2);
  st.hasResourceProperties('AWS::Kinesis::StreamConsumer', { ConsumerName: 'riffle-sensor-averages-mapper', StreamARN: { 'Fn::GetAtt': [idOf(sensors.input.stream), 'Arn'] } });
  st.hasResourceProperties('AWS::Kinesis::StreamConsumer', { ConsumerName: 'riffle-sensor-averages-reducer', StreamARN: { 'Fn::GetAtt': [idOf(shuffle.stream), 'Arn'] } });
  // Each mapping reads its consumer (pushed records), not the stream (polling).
  for (const [fn, consumer] of [[wiring.mapper, wiring.consumers!.mapper], [wiring.reducer, wiring.consumers!.reducer]] as const) {
    st.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionName: { Ref: idOf(fn) }, EventSourceArn: { 'Fn::GetAtt': [idOf(consumer), 'ConsumerARN'] }, ParallelizationFactor: 1 });
    // CDK's consumer grant: the function may subscribe to the consumer's shards.
    const policies = Object.values(st.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: idOf(fn.executionRole) }]));
    const subscribe = policies.flatMap((p) => p.Properties.PolicyDocument.Statement).filter((s: { Action: string | string[] }) => [s.Action].flat().includes('kinesis:SubscribeToShard'));
    expect(subscribe.flatMap((s: { Resource: unknown }) => [s.Resource].flat())).toContainEqual({ 'Fn::GetAtt': [idOf(consumer), 'ConsumerARN'] });
  }
});

test('a job without a profile gets the default of its emit mode; settings written explicitly beat the profile', () => {
  // clicks: economy, but its own reducer window and closer interval.
  expectProfile(ct, clicks, 'clicks', { ...LATENCY_PROFILES.economy, reducerBatchingWindow: 120, closerIntervalSeconds: 600 });
  // click-sessions: balanced (also its emit default), with its own buffer size.
  expectProfile(ct, clicks, 'click-sessions', { ...LATENCY_PROFILES.balanced, firehoseBufferSizeMb: 100 });
  // Neither profile uses enhanced fan-out: the mappings poll the streams themselves.
  ct.resourceCountIs('AWS::Kinesis::StreamConsumer', 0);
  for (const job of ['clicks', 'click-sessions']) {
    const { wiring, shuffle } = clicks.jobs[job]!;
    expect(wiring.consumers).toBeUndefined();
    ct.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionName: { Ref: idOf(wiring.mapper) }, EventSourceArn: { 'Fn::GetAtt': [idOf(clicks.input.stream), 'Arn'] } });
    ct.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionName: { Ref: idOf(wiring.reducer) }, EventSourceArn: { 'Fn::GetAtt': [idOf(shuffle.stream), 'Arn'] } });
  }
});

test('a bad profile fails the synth with a message naming the setting and the profiles', () => {
  expect(() => buildTestApp({ jobs: 'clicks', config: { clicks: { latency: 'realtime' } } })).toThrow("riffle:config.clicks.latency: 'realtime' is not allowed; use 'interactive', 'balanced' or 'economy'");
});

test('cdk-nag finds nothing new in the interactive profile (consumers and the grants on them)', () => {
  const { app } = buildTestApp({ jobs: 'sensor-averages', config: { 'sensor-averages': { latency: 'interactive' } }, nag: true });
  expect(() => app.synth()).not.toThrow();
});
