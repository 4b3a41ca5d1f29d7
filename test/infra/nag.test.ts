// cdk-nag AwsSolutions: the stacks have no unacknowledged finding in any configuration, every
// acknowledgement carries a specific reason, and an insecure addition fails the synth.
import { App } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Template } from 'aws-cdk-lib/assertions';
import type { RiffleStack } from '../../infra/stack';
import { buildTestApp, nagFindings } from './helpers';

// The variant also turns the input archive on: its archiver and delivery stream must be clean too.
const VARIANT = {
  '*': { streamMode: 'on-demand', logRetentionDays: 7, closerReservedConcurrency: null },
  'sensor-averages': { tableEncryption: 'customer-managed', deletionProtection: true, removalPolicy: 'destroy', alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:riffle-ops', inputArchive: true },
};

describe('no unacknowledged findings', () => {
  test.each([
    ['defaults', undefined],
    ['on-demand, customer-managed key, alarm topic, destroy', VARIANT],
  ])('%s', (_name, config) => {
    const { stacks } = buildTestApp({ jobs: 'sensor-averages,clicks,click-sessions', config });
    for (const stack of stacks) expect(nagFindings(stack)).toEqual([]);
  });
});

describe('acknowledgements', () => {
  let stacks: RiffleStack[];
  beforeAll(() => {
    ({ stacks } = buildTestApp({ jobs: 'clicks,click-sessions', nag: true }));
  });

  /** Acknowledged rules as written into the template metadata (cdk_nag.rules_to_suppress). */
  function acknowledged(stack: RiffleStack): { id: string; reason: string }[] {
    const resources = Template.fromStack(stack).toJSON().Resources as Record<string, { Metadata?: { cdk_nag?: { rules_to_suppress: { id: string; reason: string }[] } } }>;
    return Object.values(resources).flatMap((r) => r.Metadata?.cdk_nag?.rules_to_suppress ?? []);
  }

  test('only the intended rules are acknowledged: L1 (runtime pin), IAM5 on S3 object prefixes whose names Lambda or Firehose choose, S1 on the log bucket', () => {
    const ids = new Set(acknowledged(stacks[0]!).map((a) => a.id.replace(/<[A-Za-z0-9]+\.Arn>/, '<ARN>')));
    expect([...ids].sort()).toEqual([
      'AwsSolutions-IAM5[Resource::<ARN>/aws/lambda/*]',
      'AwsSolutions-IAM5[Resource::<ARN>/errors/late/*]',
      'AwsSolutions-IAM5[Resource::<ARN>/errors/rejected/*]',
      'AwsSolutions-IAM5[Resource::<ARN>/errors/results/*]',
      'AwsSolutions-IAM5[Resource::<ARN>/late/job=click-sessions/*]',
      'AwsSolutions-IAM5[Resource::<ARN>/late/job=clicks/*]',
      'AwsSolutions-IAM5[Resource::<ARN>/rejected/job=click-sessions/*]',
      'AwsSolutions-IAM5[Resource::<ARN>/rejected/job=clicks/*]',
      'AwsSolutions-IAM5[Resource::<ARN>/results/job=click-sessions/*]',
      'AwsSolutions-IAM5[Resource::<ARN>/results/job=clicks/*]',
      'AwsSolutions-L1',
      'AwsSolutions-S1',
    ]);
  });

  test('a customer-managed table key adds no acknowledgement: the functions get kms:Decrypt on that key, no action family', () => {
    const variant = buildTestApp({ jobs: 'sensor-averages', config: VARIANT, nag: true });
    const ids = acknowledged(variant.stacks[0]!).map((a) => a.id);
    expect(ids.filter((id) => /kms|index/i.test(id))).toEqual([]);
    expect(nagFindings(variant.stacks[0]!)).toEqual([]);
  });

  test('every acknowledgement has a specific reason', () => {
    for (const { id, reason } of acknowledged(stacks[0]!)) {
      expect({ id, long: reason.length >= 60 }).toEqual({ id, long: true });
    }
  });
});

describe('an insecure variant fails', () => {
  test('an unencrypted-in-transit, unlogged bucket: S1 and S10', () => {
    const { stacks } = buildTestApp({ jobs: 'sensor-averages' });
    new s3.Bucket(stacks[0]!, 'Insecure');
    expect(nagFindings(stacks[0]!)).toEqual(['AwsSolutions-S1 @ Riffle-sensor-averages/Insecure/Resource', 'AwsSolutions-S10 @ Riffle-sensor-averages/Insecure/Resource']);
  });

  test('a wildcard grant and an AWS managed policy on a function role: IAM5 and IAM4', () => {
    const { stacks } = buildTestApp({ jobs: 'sensor-averages' });
    const mapper = stacks[0]!.jobs['sensor-averages']!.wiring.mapper;
    mapper.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    mapper.executionRole.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaBasicExecutionRole'));
    expect(nagFindings(stacks[0]!).map((f) => f.replace(/ @ .*/, '')).sort()).toEqual([
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AwsSolutions-IAM5[Action::s3:*]',
      'AwsSolutions-IAM5[Resource::*]',
    ]);
  });

  test('the app synth fails (as `cdk synth` does) when a finding is not acknowledged, and passes otherwise', () => {
    const good = buildTestApp({ jobs: 'sensor-averages', nag: true });
    expect(() => good.app.synth()).not.toThrow();
    const bad = buildTestApp({ jobs: 'sensor-averages', nag: true });
    new s3.Bucket(bad.stacks[0]!, 'Insecure', { enforceSSL: false });
    expect(() => (bad.app as App).synth()).toThrow(/AwsSolutions-S10/);
  });
});
