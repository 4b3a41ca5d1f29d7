// The local deployer's CloudFormation intrinsic resolver and condition evaluator.
import { IntrinsicError, NO_VALUE, evaluateCondition, references, resolveValue, type ResolveContext } from '../../local/deploy/intrinsics';

const resources: Record<string, { ref: string; atts: Record<string, unknown> }> = {
  Stream1: { ref: 'stack-Stream1-ABC', atts: { Arn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/stack-Stream1-ABC' } },
  Table1: { ref: 'stack-Table1-DEF', atts: { Arn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/stack-Table1-DEF', StreamArn: 'tbl/stream/x' } },
};

function context(conditions: Record<string, unknown> = {}, parameters: Record<string, unknown> = {}): ResolveContext {
  const ctx: ResolveContext = {
    region: 'eu-west-1',
    accountId: '123456789012',
    stackName: 'Riffle-test',
    parameters: { Env: 'dev', Count: 3, ...parameters },
    mappings: { Sizes: { dev: { shards: 1 }, prod: { shards: 4 } } },
    condition: (name) => evaluateCondition(conditions[name], ctx, name),
    ref: (id) => {
      const r = resources[id];
      if (!r) throw new IntrinsicError(`no ${id}`, id);
      return r.ref;
    },
    getAtt: (id, attr) => resources[id]?.atts[attr],
    importValue: (name) => (name === 'Shared-Bucket' ? 'shared-bucket' : undefined),
  };
  return ctx;
}

test('Ref: pseudo parameters, parameters and resources', () => {
  const ctx = context();
  expect(resolveValue({ Ref: 'AWS::Region' }, ctx)).toBe('eu-west-1');
  expect(resolveValue({ Ref: 'AWS::AccountId' }, ctx)).toBe('123456789012');
  expect(resolveValue({ Ref: 'AWS::Partition' }, ctx)).toBe('aws');
  expect(resolveValue({ Ref: 'AWS::StackName' }, ctx)).toBe('Riffle-test');
  expect(resolveValue({ Ref: 'AWS::URLSuffix' }, ctx)).toBe('amazonaws.com');
  expect(resolveValue({ Ref: 'AWS::StackId' }, ctx)).toMatch(/^arn:aws:cloudformation:eu-west-1:123456789012:stack\/Riffle-test\//);
  expect(resolveValue({ Ref: 'Env' }, ctx)).toBe('dev');
  expect(resolveValue({ Ref: 'Stream1' }, ctx)).toBe('stack-Stream1-ABC');
});

test('Fn::GetAtt in list and dotted-string form', () => {
  const ctx = context();
  expect(resolveValue({ 'Fn::GetAtt': ['Stream1', 'Arn'] }, ctx)).toBe(resources['Stream1']?.atts['Arn']);
  expect(resolveValue({ 'Fn::GetAtt': 'Table1.StreamArn' }, ctx)).toBe('tbl/stream/x');
});

test('Fn::Join, Fn::Select, Fn::Split compose', () => {
  const ctx = context();
  expect(resolveValue({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::', { Ref: 'Stream1' }, '/*']] }, ctx)).toBe('arn:aws:s3:::stack-Stream1-ABC/*');
  const streamName = { 'Fn::Select': [1, { 'Fn::Split': ['/', { 'Fn::GetAtt': ['Stream1', 'Arn'] }] }] };
  expect(resolveValue(streamName, ctx)).toBe('stack-Stream1-ABC');
  expect(resolveValue({ 'Fn::Join': [',', { 'Fn::Split': [':', 'a:b:c'] }] }, ctx)).toBe('a,b,c');
  expect(() => resolveValue({ 'Fn::Select': [5, ['a']] }, ctx)).toThrow(IntrinsicError);
});

test('Fn::Sub: pseudo, parameters, resources, attributes, literals and variables', () => {
  const ctx = context();
  expect(resolveValue({ 'Fn::Sub': 'cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}' }, ctx)).toBe('cdk-hnb659fds-assets-123456789012-eu-west-1');
  expect(resolveValue({ 'Fn::Sub': '${Stream1}|${Stream1.Arn}|${Env}|${!Literal}' }, ctx)).toBe(
    `stack-Stream1-ABC|${resources['Stream1']?.atts['Arn'] as string}|dev|\${Literal}`,
  );
  expect(resolveValue({ 'Fn::Sub': ['${Name}-${AWS::Region}', { Name: { Ref: 'Table1' } }] }, ctx)).toBe('stack-Table1-DEF-eu-west-1');
});

test('conditions: Fn::If, Fn::Equals, Fn::And, Fn::Or, Fn::Not, Condition — as CDK synthesizes them', () => {
  const ctx = context({
    // The condition CDK adds to every encrypted Kinesis stream.
    AwsCdkKinesisEncryptedStreamsUnsupportedRegions: {
      'Fn::Or': [{ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'cn-north-1'] }, { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'cn-northwest-1'] }],
    },
    IsDev: { 'Fn::Equals': [{ Ref: 'Env' }, 'dev'] },
    DevInEurope: { 'Fn::And': [{ Condition: 'IsDev' }, { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] }] }] },
    CountIsThree: { 'Fn::Equals': [{ Ref: 'Count' }, '3'] },
  });
  const encryption = {
    'Fn::If': ['AwsCdkKinesisEncryptedStreamsUnsupportedRegions', { Ref: 'AWS::NoValue' }, { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' }],
  };
  expect(resolveValue({ ShardCount: 2, StreamEncryption: encryption }, ctx)).toEqual({ ShardCount: 2, StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' } });
  expect(ctx.condition('DevInEurope')).toBe(true);
  expect(ctx.condition('CountIsThree')).toBe(true); // numbers and strings compare by value
  expect(resolveValue({ 'Fn::If': ['IsDev', 'small', 'large'] }, ctx)).toBe('small');
});

test('AWS::NoValue removes object properties and list elements', () => {
  const ctx = context({ No: false });
  const v = resolveValue({ A: { Ref: 'AWS::NoValue' }, B: [1, { 'Fn::If': ['No', 2, { Ref: 'AWS::NoValue' }] }, 3], C: 'kept' }, ctx);
  expect(v).toEqual({ B: [1, 3], C: 'kept' });
  expect(resolveValue({ Ref: 'AWS::NoValue' }, ctx)).toBe(NO_VALUE);
});

test('Fn::FindInMap (with DefaultValue), Fn::Base64, Fn::GetAZs, Fn::ImportValue, Fn::ToJsonString, Fn::Length', () => {
  const ctx = context();
  expect(resolveValue({ 'Fn::FindInMap': ['Sizes', { Ref: 'Env' }, 'shards'] }, ctx)).toBe(1);
  expect(resolveValue({ 'Fn::FindInMap': ['Sizes', 'test', 'shards', { DefaultValue: 2 }] }, ctx)).toBe(2);
  expect(resolveValue({ 'Fn::Base64': 'hi' }, ctx)).toBe('aGk=');
  expect(resolveValue({ 'Fn::Select': [0, { 'Fn::GetAZs': '' }] }, ctx)).toBe('eu-west-1a');
  expect(resolveValue({ 'Fn::ImportValue': 'Shared-Bucket' }, ctx)).toBe('shared-bucket');
  expect(() => resolveValue({ 'Fn::ImportValue': 'Missing' }, ctx)).toThrow(/no stack deployed so far exports/);
  expect(resolveValue({ 'Fn::ToJsonString': { a: { Ref: 'Env' } } }, ctx)).toBe('{"a":"dev"}');
  expect(resolveValue({ 'Fn::Length': [1, 2, 3] }, ctx)).toBe(3);
});

test('unsupported intrinsics fail with the path of the value', () => {
  expect(() => resolveValue({ Props: { Cidr: { 'Fn::Cidr': ['10.0.0.0/16', 2, 8] } } }, context())).toThrow(/Fn::Cidr is not supported.*Props\.Cidr/);
});

test('references() finds Ref, GetAtt and Sub dependencies, not pseudo parameters or parameters', () => {
  const refs = references(
    {
      A: { Ref: 'Stream1' },
      B: { 'Fn::GetAtt': ['Table1', 'Arn'] },
      C: { 'Fn::GetAtt': 'Role1.Arn' },
      D: { 'Fn::Sub': '${Bucket1}/${Fn1.Arn}/${AWS::Region}/${!NotARef}/${Env}' },
      E: { 'Fn::Sub': ['${X}', { X: { Ref: 'Queue1' } }] },
      F: { Ref: 'AWS::NoValue' },
    },
    new Set(['Env']),
  );
  expect([...refs].sort()).toEqual(['Bucket1', 'Fn1', 'Queue1', 'Role1', 'Stream1', 'Table1']);
});
