// The deployer's IAM handlers: roles with inline and managed policies, AWS::IAM::Policy and
// AWS::IAM::RolePolicy attached by role name, customer managed policies (whose Ref is their ARN),
// policy documents CloudFormation would reject, function identities and the warnings for roles
// or managed policies the local cloud cannot know, and an event source mapping refused when its
// role cannot read the stream (as CreateEventSourceMapping is on AWS).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { functionAccessKeyId } from '../../local/iam/credentials';
import { IamRegistry } from '../../local/iam/registry';
import { eventSourceMapping } from '../../local/deploy/resources/event-source-mapping';
import { iamManagedPolicy, iamPolicy, iamRole } from '../../local/deploy/resources/iam';
import { lambdaFunction } from '../../local/deploy/resources/lambda';
import type { DeployOptions, HandlerArgs, StackState } from '../../local/deploy/types';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const STREAM = `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/input`;
let dataDir: string;

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'riffle-deploy-iam-')); // inline function code goes here
});

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function harness() {
  const registry = new IamRegistry(ACCOUNT);
  const warnings: string[] = [];
  const registered: { name: string; roleArn?: string }[] = [];
  const mappings: unknown[] = [];
  const runtime = {
    functionArn: (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`,
    register: (def: { name: string; roleArn?: string }) => registered.push(def),
    resolve: (name: string) => registered.find((d) => d.name === name)?.name,
    get: (name: string) => registered.find((d) => d.name === name),
  };
  const st = { stack: { stackName: 'Riffle-test', template: {}, assets: {} }, scope: { accountId: ACCOUNT, region: REGION, stackName: 'Riffle-test' }, deployed: new Map(), skipped: new Map(), counts: new Map() } as unknown as StackState;
  const opts = { iam: registry, runtime, mappings: { add: async (c: unknown) => void mappings.push(c) }, region: REGION, accountId: ACCOUNT, dataDir } as unknown as DeployOptions;
  const args = (logicalId: string, type: string, props: Record<string, unknown>, metadata?: Record<string, unknown>): HandlerArgs => ({
    st,
    opts,
    logicalId,
    resource: { Type: type, Properties: props, ...(metadata ? { Metadata: metadata } : {}) },
    props,
    warn: (m) => warnings.push(m),
  });
  return { registry, warnings, registered, mappings, args };
}

const readStream = { Effect: 'Allow', Action: ['kinesis:DescribeStream', 'kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:ListShards'], Resource: STREAM };

test('roles, attached policies and customer managed policies compose at evaluation time', async () => {
  const { registry, args } = harness();
  const role = await iamRole(args('MapperRole', 'AWS::IAM::Role', { RoleName: 'mapper-role', Path: '/service-role/', Policies: [{ PolicyName: 'inline', PolicyDocument: { Version: '2012-10-17', Statement: [readStream] } }] }));
  expect(role).toMatchObject({ physicalId: 'mapper-role', status: 'registered', attributes: { Arn: `arn:aws:iam::${ACCOUNT}:role/service-role/mapper-role` } });
  const roleArn = role.attributes['Arn'] as string;
  expect(registry.allows(roleArn, 'kinesis:GetRecords', STREAM)).toBe(true);
  expect(registry.allows(roleArn, 'kinesis:PutRecords', STREAM)).toBe(false);

  await iamPolicy(args('Put', 'AWS::IAM::Policy', { PolicyName: 'put', Roles: ['mapper-role'], PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kinesis:PutRecords', Resource: STREAM }] } }));
  expect(registry.allows(roleArn, 'kinesis:PutRecords', STREAM)).toBe(true);

  const managed = await iamManagedPolicy(args('Deny', 'AWS::IAM::ManagedPolicy', { ManagedPolicyName: 'no-deletes', PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'kinesis:DeleteStream', Resource: '*' }] } }));
  expect(managed.physicalId).toBe(`arn:aws:iam::${ACCOUNT}:policy/no-deletes`); // Ref of a managed policy is its ARN
  const other = await iamRole(args('OtherRole', 'AWS::IAM::Role', { ManagedPolicyArns: [managed.physicalId, 'arn:aws:iam::aws:policy/AmazonKinesisFullAccess'] }));
  const otherArn = other.attributes['Arn'] as string;
  expect(otherArn).toMatch(/^arn:aws:iam::123456789012:role\/Riffle-test-OtherRole-[A-Z0-9]{12}$/);
  expect(registry.allows(otherArn, 'kinesis:PutRecords', STREAM)).toBe(true);
  expect(registry.allows(otherArn, 'kinesis:DeleteStream', STREAM)).toBe(false);

  await iamPolicy(args('Inline2', 'AWS::IAM::RolePolicy', { RoleName: 'mapper-role', PolicyName: 'deny-put', PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'kinesis:Put*', Resource: '*' }] } }));
  expect(registry.allows(roleArn, 'kinesis:PutRecords', STREAM)).toBe(false);
});

test('a policy CloudFormation would reject fails the deployment', async () => {
  const { args } = harness();
  await expect(iamPolicy(args('Bad', 'AWS::IAM::Policy', { PolicyName: 'bad', Roles: ['r'], PolicyDocument: { Statement: [{ Effect: 'Allow', Action: '*' }] } }))).rejects.toThrow(/Resource and NotResource/);
  await expect(iamRole(args('Bad2', 'AWS::IAM::Role', { Policies: [{ PolicyName: 'p', PolicyDocument: { Statement: [{ Effect: 'Maybe', Action: '*', Resource: '*' }] } }] }))).rejects.toThrow(/Effect must be Allow or Deny/);
});

test('functions get their identity; unknown roles and managed policies are reported', async () => {
  const { registry, warnings, args } = harness();
  await iamRole(args('R', 'AWS::IAM::Role', { RoleName: 'known', ManagedPolicyArns: ['arn:aws:iam::aws:policy/SomeNewAwsPolicy'] }));
  const code = { ZipFile: 'exports.handler = async () => 1;' };
  await lambdaFunction(args('Fn', 'AWS::Lambda::Function', { FunctionName: 'fn', Runtime: 'nodejs22.x', Code: code, Role: `arn:aws:iam::${ACCOUNT}:role/known` }));
  await lambdaFunction(args('Fn2', 'AWS::Lambda::Function', { FunctionName: 'fn2', Runtime: 'nodejs22.x', Code: code, Role: `arn:aws:iam::${ACCOUNT}:role/imported` }));
  const principal = registry.principal(functionAccessKeyId(`arn:aws:lambda:${REGION}:${ACCOUNT}:function:fn`));
  expect(principal).toMatchObject({ functionName: 'fn', roleName: 'known', sessionArn: `arn:aws:sts::${ACCOUNT}:assumed-role/known/fn` });
  expect(warnings).toEqual([
    'function fn: managed policy arn:aws:iam::aws:policy/SomeNewAwsPolicy is not known locally; what it grants is denied here',
    `function fn2: its role arn:aws:iam::${ACCOUNT}:role/imported is not defined in a deployed template, so its AWS calls are not checked`,
  ]);
});

test('an event source mapping whose role cannot read the stream is refused; enforcement off lets it through', async () => {
  const { registry, mappings, args } = harness();
  await iamRole(args('R', 'AWS::IAM::Role', { RoleName: 'reader', Policies: [{ PolicyName: 'p', PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kinesis:GetRecords', Resource: STREAM }] } }] }));
  const code = { ZipFile: 'exports.handler = async () => 1;' };
  await lambdaFunction(args('Fn', 'AWS::Lambda::Function', { FunctionName: 'fn', Runtime: 'nodejs22.x', Code: code, Role: `arn:aws:iam::${ACCOUNT}:role/reader` }));
  const esm = args('Esm', 'AWS::Lambda::EventSourceMapping', { EventSourceArn: STREAM, FunctionName: 'fn', StartingPosition: 'TRIM_HORIZON' });
  await expect(eventSourceMapping(esm)).rejects.toThrow(
    `InvalidParameterValueException: Cannot access stream ${STREAM}. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListShards Actions on your stream in IAM. (Role arn:aws:iam::${ACCOUNT}:role/reader is not allowed kinesis:GetShardIterator, kinesis:DescribeStream, kinesis:ListShards;`,
  );
  expect(mappings).toHaveLength(0);
  registry.enforcing = false;
  await eventSourceMapping(esm);
  expect(mappings).toHaveLength(1);
  registry.enforcing = true;
  await iamPolicy(args('P', 'AWS::IAM::Policy', { PolicyName: 'read', Roles: ['reader'], PolicyDocument: { Version: '2012-10-17', Statement: [readStream] } }));
  await eventSourceMapping(esm);
  expect(mappings).toHaveLength(2);
});
