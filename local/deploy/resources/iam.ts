// AWS::IAM::Role, AWS::IAM::Policy, AWS::IAM::RolePolicy and AWS::IAM::ManagedPolicy: their
// policy documents (resolved like any property, so the ARNs they grant are this deployment's)
// go into the IAM registry the endpoint's gate enforces. A document IAM would reject fails the
// deployment, as it fails CloudFormation. Nothing is created: there is no IAM API locally.
import { parsePolicy, type Policy } from '../../iam/policy';
import { physicalName } from '../names';
import type { DeployedResource, Handler, HandlerArgs } from '../types';
import { isRecord, str } from './common';

/** `/`, or a path like `/service-role/` (IAM paths start and end with a slash). */
function iamPath(value: unknown): string {
  const p = str(value) ?? '/';
  return p.endsWith('/') ? p : `${p}/`;
}

function roleNames(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string').map((v) => v.split('/').pop() ?? v) : [];
}

function document(a: HandlerArgs, name: string, value: unknown): Policy {
  if (value === undefined) throw new Error(`${a.logicalId}: PolicyDocument is missing`);
  return parsePolicy(name, value);
}

function registered(a: HandlerArgs, physicalId: string, attributes: Record<string, unknown>): DeployedResource {
  return { logicalId: a.logicalId, type: a.resource.Type, physicalId, status: 'registered', attributes };
}

export const iamRole: Handler = async (a) => {
  const name = str(a.props['RoleName']) ?? physicalName('iam', a.st.scope, a.logicalId);
  const arn = `arn:aws:iam::${a.st.scope.accountId}:role${iamPath(a.props['Path'])}${name}`;
  const inline = (Array.isArray(a.props['Policies']) ? a.props['Policies'] : []).filter(isRecord).map((p) => document(a, `${name}/${str(p['PolicyName']) ?? 'inline'}`, p['PolicyDocument']));
  const managed = Array.isArray(a.props['ManagedPolicyArns']) ? a.props['ManagedPolicyArns'].filter((v): v is string => typeof v === 'string') : [];
  a.opts.iam?.defineRole(arn, inline, managed);
  return registered(a, name, { Arn: arn, RoleId: `AROA${a.logicalId.toUpperCase().replace(/[^A-Z0-9]/g, '').slice(0, 16)}` });
};

/** AWS::IAM::Policy (Roles: names) and AWS::IAM::RolePolicy (RoleName). */
export const iamPolicy: Handler = async (a) => {
  const name = str(a.props['PolicyName']) ?? a.logicalId;
  const policy = document(a, name, a.props['PolicyDocument']);
  const roles = a.resource.Type === 'AWS::IAM::RolePolicy' ? roleNames([a.props['RoleName']]) : roleNames(a.props['Roles']);
  for (const role of roles) a.opts.iam?.attachPolicy(role, policy);
  return registered(a, name, {});
};

export const iamManagedPolicy: Handler = async (a) => {
  const name = str(a.props['ManagedPolicyName']) ?? physicalName('iam', a.st.scope, a.logicalId);
  // Ref of a managed policy is its ARN.
  const arn = `arn:aws:iam::${a.st.scope.accountId}:policy${iamPath(a.props['Path'])}${name}`;
  const policy = document(a, name, a.props['PolicyDocument']);
  a.opts.iam?.defineManagedPolicy(arn, policy);
  for (const role of roleNames(a.props['Roles'])) a.opts.iam?.attachManagedPolicy(role, arn);
  return registered(a, arn, { PolicyArn: arn, PolicyId: `ANPA${a.logicalId.toUpperCase().replace(/[^A-Z0-9]/g, '').slice(0, 16)}` });
};
