// Resources with no local behaviour (alarms, dashboards, Glue, Athena, log groups, KMS, custom
// resources…, and IAM when the deployment has no registry): skipped, counted in the summary,
// and given the attributes CloudFormation would (name-based Ref, ARN), so that references to
// them still resolve.
import { physicalName } from '../names';
import { resolveValue } from '../intrinsics';
import type { TemplateResource } from '../assembly';
import type { DeployedResource, StackState } from '../types';
import { isRecord } from './common';

/** Types with no local behaviour: skipped silently (counted in the summary line). */
export const SKIP_SILENTLY = [
  /^AWS::IAM::/,
  /^AWS::Lambda::Permission$/,
  /^AWS::Lambda::Url$/,
  /^AWS::Lambda::Version$/,
  /^AWS::Lambda::Alias$/,
  /^AWS::Lambda::LayerVersion/,
  /^AWS::Logs::/,
  /^AWS::CloudWatch::/,
  /^AWS::Glue::/,
  /^AWS::Athena::/,
  /^AWS::KMS::/,
  /^AWS::CDK::Metadata$/,
  /^AWS::S3::BucketPolicy$/,
  /^AWS::SQS::QueuePolicy$/,
  /^AWS::SNS::TopicPolicy$/,
  /^AWS::SSM::Parameter$/,
  /^AWS::ApplicationAutoScaling::/,
  /^AWS::CloudFormation::WaitCondition/,
  /^AWS::SecretsManager::/,
  /^AWS::EC2::/,
  /^Custom::/,
  /^AWS::CloudFormation::CustomResource$/,
];

/** Where a skipped resource's name property is (for a meaningful Ref). */
const NAME_PROPERTY: Record<string, readonly string[]> = {
  'AWS::IAM::Role': ['RoleName'],
  'AWS::IAM::Policy': ['PolicyName'],
  'AWS::IAM::ManagedPolicy': ['ManagedPolicyName'],
  'AWS::Logs::LogGroup': ['LogGroupName'],
  'AWS::SQS::Queue': ['QueueName'],
  'AWS::SNS::Topic': ['TopicName'],
  'AWS::Athena::WorkGroup': ['Name'],
  'AWS::Glue::Database': ['DatabaseInput', 'Name'],
  'AWS::Glue::Table': ['TableInput', 'Name'],
  'AWS::CloudWatch::Dashboard': ['DashboardName'],
  'AWS::CloudWatch::Alarm': ['AlarmName'],
};

export function skippedResource(st: StackState, logicalId: string, resource: TemplateResource): DeployedResource {
  const { region, accountId } = st.scope;
  let name: string | undefined;
  const namePath = NAME_PROPERTY[resource.Type];
  if (namePath) {
    try {
      let v: unknown = resource.Properties;
      for (const k of namePath) v = isRecord(v) ? v[k] : undefined;
      const resolved = v === undefined ? undefined : resolveValue(v, st.ctx);
      if (typeof resolved === 'string') name = resolved;
    } catch {
      // a name built from something unresolvable: use a generated one
    }
  }
  name ??= physicalName(resource.Type.startsWith('AWS::IAM::') ? 'iam' : 'generic', st.scope, logicalId);
  const service = (resource.Type.split('::')[1] ?? 'unknown').toLowerCase();
  const attributes: Record<string, unknown> = {};
  switch (resource.Type) {
    case 'AWS::IAM::Role':
      attributes['Arn'] = `arn:aws:iam::${accountId}:role/${name}`;
      attributes['RoleId'] = `AROA${logicalId.toUpperCase().slice(0, 16)}`;
      break;
    case 'AWS::Logs::LogGroup':
      attributes['Arn'] = `arn:aws:logs:${region}:${accountId}:log-group:${name}:*`;
      break;
    case 'AWS::SQS::Queue':
      attributes['Arn'] = `arn:aws:sqs:${region}:${accountId}:${name}`;
      attributes['QueueName'] = name;
      attributes['QueueUrl'] = `https://sqs.${region}.amazonaws.com/${accountId}/${name}`;
      return { logicalId, type: resource.Type, physicalId: attributes['QueueUrl'] as string, status: 'skipped', attributes };
    case 'AWS::IAM::ManagedPolicy': {
      // Ref of a managed policy is its ARN.
      const arn = `arn:aws:iam::${accountId}:policy/${name}`;
      return { logicalId, type: resource.Type, physicalId: arn, status: 'skipped', attributes: { PolicyArn: arn } };
    }
    case 'AWS::SNS::Topic': {
      const arn = `arn:aws:sns:${region}:${accountId}:${name}`;
      return { logicalId, type: resource.Type, physicalId: arn, status: 'skipped', attributes: { TopicArn: arn, TopicName: name } };
    }
    default:
      attributes['Arn'] = `arn:aws:${service}:${region}:${accountId}:${logicalId}/${name}`;
  }
  return { logicalId, type: resource.Type, physicalId: name, status: 'skipped', attributes };
}

