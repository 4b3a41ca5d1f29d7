// The local cloud's IAM policy evaluator against AWS's documented evaluation logic: implicit deny
// by default, Allow when a statement matches, an explicit Deny always wins; Action / NotAction
// and Resource / NotResource with wildcards; ARN segment matching; condition operators with
// missing keys, IfExists, Null and the ForAllValues / ForAnyValue set qualifiers; policy
// variables; and the parse errors CloudFormation would refuse a template for.
import fc from 'fast-check';
import { evaluate, type AuthorizationRequest } from '../../local/iam/evaluate';
import { requestContext } from '../../local/iam/context';
import { arnMatches } from '../../local/iam/match';
import { awsManagedPolicy } from '../../local/iam/managed-policies';
import { parsePolicy, PolicyError, type Policy } from '../../local/iam/policy';

const STREAM = 'arn:aws:kinesis:us-east-1:123456789012:stream/Riffle-input';
const TABLE = 'arn:aws:dynamodb:us-east-1:123456789012:table/Riffle-state';

function policy(...statements: Record<string, unknown>[]): Policy {
  return parsePolicy('TestPolicy', { Version: '2012-10-17', Statement: statements });
}

function request(action: string, resource: string, context: Record<string, string | string[]> = {}): AuthorizationRequest {
  return { action, resource, context: requestContext(context) };
}

function effect(req: AuthorizationRequest, ...policies: Policy[]): string {
  return evaluate(req, policies).effect;
}

describe('decision', () => {
  test('no policy, or no matching statement: implicit deny', () => {
    expect(effect(request('kinesis:PutRecords', STREAM))).toBe('ImplicitDeny');
    expect(effect(request('kinesis:PutRecords', STREAM), policy({ Effect: 'Allow', Action: 'kinesis:GetRecords', Resource: STREAM }))).toBe('ImplicitDeny');
    expect(effect(request('kinesis:PutRecords', STREAM), policy({ Effect: 'Allow', Action: 'kinesis:PutRecords', Resource: `${STREAM}-other` }))).toBe('ImplicitDeny');
  });

  test('a matching Allow allows', () => {
    const p = policy({ Effect: 'Allow', Action: ['kinesis:ListShards', 'kinesis:PutRecords'], Resource: STREAM });
    const decision = evaluate(request('kinesis:PutRecords', STREAM), [p]);
    expect(decision.effect).toBe('Allow');
    expect(decision.effect === 'Allow' && decision.policy).toBe('TestPolicy');
  });

  test('an explicit Deny wins over any Allow, in any policy and order', () => {
    const allow = policy({ Effect: 'Allow', Action: '*', Resource: '*' });
    const deny = parsePolicy('Guard', { Version: '2012-10-17', Statement: [{ Sid: 'NoDeletes', Effect: 'Deny', Action: 'dynamodb:Delete*', Resource: TABLE }] });
    for (const order of [[allow, deny], [deny, allow]]) {
      const decision = evaluate(request('dynamodb:DeleteItem', TABLE), order);
      expect(decision.effect).toBe('ExplicitDeny');
      expect(decision.effect === 'ExplicitDeny' && decision.statement.sid).toBe('NoDeletes');
    }
    expect(effect(request('dynamodb:PutItem', TABLE), allow, deny)).toBe('Allow');
  });

  test('property: with a matching Deny the answer is ExplicitDeny whatever Allows exist', () => {
    const actions = ['kinesis:PutRecords', 'kinesis:GetRecords', 'dynamodb:Query', 'firehose:PutRecordBatch'];
    const statement = fc.record({
      Effect: fc.constantFrom('Allow', 'Deny'),
      Action: fc.constantFrom('*', 'kinesis:*', 'dynamodb:Query', 'kinesis:Put*', 'firehose:PutRecord?atch'),
      Resource: fc.constantFrom('*', STREAM, TABLE, 'arn:aws:kinesis:*:*:stream/Riffle-*'),
    });
    fc.assert(
      fc.property(fc.array(statement, { minLength: 1, maxLength: 6 }), fc.constantFrom(...actions), fc.constantFrom(STREAM, TABLE), (statements, action, resource) => {
        const p = policy(...statements);
        const req = request(action, resource);
        const decision = evaluate(req, [p]).effect;
        const matching = p.statements.filter((s) => evaluate(req, [{ ...p, statements: [s] }]).effect !== 'ImplicitDeny');
        if (matching.some((s) => s.effect === 'Deny')) return decision === 'ExplicitDeny';
        if (matching.length > 0) return decision === 'Allow';
        return decision === 'ImplicitDeny';
      }),
    );
  });
});

describe('actions', () => {
  test('wildcards and case-insensitive matching', () => {
    const p = (action: string) => policy({ Effect: 'Allow', Action: action, Resource: '*' });
    expect(effect(request('kinesis:PutRecords', STREAM), p('kinesis:*'))).toBe('Allow');
    expect(effect(request('kinesis:PutRecords', STREAM), p('kinesis:Put*'))).toBe('Allow');
    expect(effect(request('kinesis:PutRecords', STREAM), p('Kinesis:putrecords'))).toBe('Allow');
    expect(effect(request('kinesis:PutRecord', STREAM), p('kinesis:PutRecord?'))).toBe('ImplicitDeny');
    expect(effect(request('kinesis:PutRecords', STREAM), p('kinesis:PutRecord?'))).toBe('Allow');
    expect(effect(request('kinesis:PutRecords', STREAM), p('*'))).toBe('Allow');
    expect(effect(request('firehose:PutRecords', STREAM), p('kinesis:*'))).toBe('ImplicitDeny');
  });

  test('NotAction allows everything but the listed actions (and Deny with NotAction denies everything else)', () => {
    const p = policy({ Effect: 'Allow', NotAction: ['dynamodb:Delete*'], Resource: '*' });
    expect(effect(request('dynamodb:PutItem', TABLE), p)).toBe('Allow');
    expect(effect(request('dynamodb:DeleteItem', TABLE), p)).toBe('ImplicitDeny');
    const onlyKinesis = policy({ Effect: 'Allow', Action: '*', Resource: '*' }, { Effect: 'Deny', NotAction: 'kinesis:*', Resource: '*' });
    expect(effect(request('kinesis:GetRecords', STREAM), onlyKinesis)).toBe('Allow');
    expect(effect(request('s3:GetObject', 'arn:aws:s3:::b/k'), onlyKinesis)).toBe('ExplicitDeny');
  });
});

describe('resources', () => {
  test('ARN segments, wildcards and the index sub-resource', () => {
    const p = policy({ Effect: 'Allow', Action: 'dynamodb:Query', Resource: [TABLE, `${TABLE}/index/*`] });
    expect(effect(request('dynamodb:Query', TABLE), p)).toBe('Allow');
    expect(effect(request('dynamodb:Query', `${TABLE}/index/open-windows`), p)).toBe('Allow');
    // A grant on the table alone does not cover its indexes.
    expect(effect(request('dynamodb:Query', `${TABLE}/index/open-windows`), policy({ Effect: 'Allow', Action: 'dynamodb:Query', Resource: TABLE }))).toBe('ImplicitDeny');
    expect(effect(request('dynamodb:Query', `${TABLE}-v2`), p)).toBe('ImplicitDeny');
  });

  test('ARN matching is case-sensitive and segment by segment', () => {
    expect(arnMatches('arn:aws:kinesis:*:123456789012:stream/Riffle-*', STREAM)).toBe(true);
    expect(arnMatches('arn:aws:kinesis:*:123456789012:stream/riffle-*', STREAM)).toBe(false);
    expect(arnMatches('arn:aws:kinesis:us-east-?:123456789012:stream/*', STREAM)).toBe(true);
    expect(arnMatches('arn:aws:kinesis:us-west-2:123456789012:stream/*', STREAM)).toBe(false);
    // `*` in one segment does not reach into the next...
    expect(arnMatches('arn:aws:kinesis:us-*:stream/Riffle-input', STREAM)).toBe(false);
    // ...except as the pattern's last character.
    expect(arnMatches('arn:aws:kinesis:*', STREAM)).toBe(true);
    expect(arnMatches('arn:aws:s3:::bucket/*', 'arn:aws:s3:::bucket/a:b/c.json')).toBe(true);
    expect(arnMatches('arn:aws:s3:::bucket/results/*', 'arn:aws:s3:::bucket/late/x')).toBe(false);
  });

  test('NotResource', () => {
    const p = policy({ Effect: 'Allow', Action: 's3:*', NotResource: 'arn:aws:s3:::secret/*' });
    expect(effect(request('s3:GetObject', 'arn:aws:s3:::public/a'), p)).toBe('Allow');
    expect(effect(request('s3:GetObject', 'arn:aws:s3:::secret/a'), p)).toBe('ImplicitDeny');
  });

  test('an action without resource-level permissions is requested on "*": only Resource "*" covers it', () => {
    expect(effect(request('kinesis:ListStreams', '*'), policy({ Effect: 'Allow', Action: 'kinesis:ListStreams', Resource: STREAM }))).toBe('ImplicitDeny');
    expect(effect(request('kinesis:ListStreams', '*'), policy({ Effect: 'Allow', Action: 'kinesis:ListStreams', Resource: '*' }))).toBe('Allow');
  });

  test('policy variables in 2012-10-17 policies, literal in 2008-10-17 ones', () => {
    const statement = { Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::bucket/${aws:userid}/*' };
    const ctx = { 'aws:userid': 'AROAEXAMPLE:mapper' };
    expect(effect(request('s3:PutObject', 'arn:aws:s3:::bucket/AROAEXAMPLE:mapper/x', ctx), policy(statement))).toBe('Allow');
    expect(effect(request('s3:PutObject', 'arn:aws:s3:::bucket/someone-else/x', ctx), policy(statement))).toBe('ImplicitDeny');
    const old = parsePolicy('Old', { Version: '2008-10-17', Statement: [statement] });
    expect(effect(request('s3:PutObject', 'arn:aws:s3:::bucket/AROAEXAMPLE:mapper/x', ctx), old)).toBe('ImplicitDeny');
    // A variable with no value in the request (and no default) matches nothing.
    expect(effect(request('s3:PutObject', 'arn:aws:s3:::bucket/x/y'), policy(statement))).toBe('ImplicitDeny');
    const withDefault = policy({ Effect: 'Allow', Action: 's3:PutObject', Resource: "arn:aws:s3:::bucket/${aws:username, 'anonymous'}/*" });
    expect(effect(request('s3:PutObject', 'arn:aws:s3:::bucket/anonymous/x'), withDefault)).toBe('Allow');
  });
});

describe('conditions', () => {
  const allowIf = (condition: Record<string, unknown>) => policy({ Effect: 'Allow', Action: '*', Resource: '*', Condition: condition });
  const check = (condition: Record<string, unknown>, context: Record<string, string | string[]> = {}) => effect(request('dynamodb:GetItem', TABLE, context), allowIf(condition));

  test('string operators: values OR-ed, keys AND-ed, keys case-insensitive', () => {
    expect(check({ StringEquals: { 'aws:RequestedRegion': ['eu-west-1', 'us-east-1'] } }, { 'aws:requestedregion': 'us-east-1' })).toBe('Allow');
    expect(check({ StringEquals: { 'aws:RequestedRegion': 'eu-west-1' } }, { 'aws:RequestedRegion': 'us-east-1' })).toBe('ImplicitDeny');
    expect(check({ StringEquals: { 'aws:RequestedRegion': 'us-east-1', 'dynamodb:Select': 'ALL_ATTRIBUTES' } }, { 'aws:RequestedRegion': 'us-east-1', 'dynamodb:Select': 'COUNT' })).toBe('ImplicitDeny');
    expect(check({ StringEqualsIgnoreCase: { 'dynamodb:Select': 'count' } }, { 'dynamodb:Select': 'COUNT' })).toBe('Allow');
    expect(check({ StringLike: { 's3:prefix': 'results/*' } }, { 's3:prefix': 'results/job=a/' })).toBe('Allow');
    expect(check({ StringNotLike: { 's3:prefix': 'results/*' } }, { 's3:prefix': 'results/job=a/' })).toBe('ImplicitDeny');
  });

  test('a missing key: positive operators false, negated true, IfExists true, Null tests presence', () => {
    expect(check({ StringEquals: { 'dynamodb:Select': 'COUNT' } })).toBe('ImplicitDeny');
    expect(check({ StringNotEquals: { 'dynamodb:Select': 'COUNT' } })).toBe('Allow');
    expect(check({ StringEqualsIfExists: { 'dynamodb:Select': 'COUNT' } })).toBe('Allow');
    expect(check({ StringEqualsIfExists: { 'dynamodb:Select': 'COUNT' } }, { 'dynamodb:Select': 'ALL_ATTRIBUTES' })).toBe('ImplicitDeny');
    expect(check({ Null: { 'dynamodb:Select': 'true' } })).toBe('Allow');
    expect(check({ Null: { 'dynamodb:Select': 'false' } })).toBe('ImplicitDeny');
    expect(check({ Null: { 'dynamodb:Select': 'false' } }, { 'dynamodb:Select': 'COUNT' })).toBe('Allow');
  });

  test('ForAllValues / ForAnyValue over a multivalued key (dynamodb:LeadingKeys)', () => {
    const allOwn = { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['W#sensor-averages', 'S#sensor-averages'] } };
    expect(check(allOwn, { 'dynamodb:LeadingKeys': ['W#sensor-averages'] })).toBe('Allow');
    expect(check(allOwn, { 'dynamodb:LeadingKeys': ['W#sensor-averages', 'W#clickstream'] })).toBe('ImplicitDeny');
    expect(check(allOwn)).toBe('Allow'); // ForAllValues over nothing is vacuously true
    const anyOwn = { 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': 'W#*' } };
    expect(check(anyOwn, { 'dynamodb:LeadingKeys': ['X', 'W#a'] })).toBe('Allow');
    expect(check(anyOwn, { 'dynamodb:LeadingKeys': ['X'] })).toBe('ImplicitDeny');
    expect(check(anyOwn)).toBe('ImplicitDeny');
  });

  test('numeric, date, bool, ARN and IP operators', () => {
    expect(check({ NumericLessThanEquals: { 's3:max-keys': '10' } }, { 's3:max-keys': '10' })).toBe('Allow');
    expect(check({ NumericLessThan: { 's3:max-keys': 10 } }, { 's3:max-keys': '10' })).toBe('ImplicitDeny');
    expect(check({ NumericEquals: { 's3:max-keys': '10' } }, { 's3:max-keys': 'ten' })).toBe('ImplicitDeny');
    expect(check({ DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } }, { 'aws:CurrentTime': '2026-06-01T12:00:00Z' })).toBe('Allow');
    expect(check({ DateGreaterThan: { 'aws:EpochTime': '1700000000' } }, { 'aws:EpochTime': '1600000000' })).toBe('ImplicitDeny');
    expect(check({ Bool: { 'aws:SecureTransport': 'false' } }, { 'aws:SecureTransport': 'true' })).toBe('ImplicitDeny');
    expect(check({ Bool: { 'aws:SecureTransport': true } }, { 'aws:SecureTransport': 'true' })).toBe('Allow');
    expect(check({ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/Riffle-*' } }, { 'aws:PrincipalArn': 'arn:aws:iam::123456789012:role/Riffle-Mapper' })).toBe('Allow');
    expect(check({ ArnNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/Riffle-*' } }, { 'aws:PrincipalArn': 'arn:aws:iam::123456789012:role/Riffle-Mapper' })).toBe('ImplicitDeny');
    expect(check({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, { 'aws:SourceIp': '10.1.2.3' })).toBe('Allow');
    expect(check({ NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '2001:db8::/32'] } }, { 'aws:SourceIp': '2001:db8::1' })).toBe('ImplicitDeny');
  });

  test('a conditional Deny only denies when its condition holds', () => {
    const p = policy({ Effect: 'Allow', Action: 's3:*', Resource: '*' }, { Effect: 'Deny', Action: 's3:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    expect(effect(request('s3:GetObject', 'arn:aws:s3:::b/k', { 'aws:SecureTransport': 'true' }), p)).toBe('Allow');
    expect(effect(request('s3:GetObject', 'arn:aws:s3:::b/k', { 'aws:SecureTransport': 'false' }), p)).toBe('ExplicitDeny');
  });

  test('condition values may use policy variables', () => {
    const p = allowIf({ StringEquals: { 'dynamodb:LeadingKeys': '${aws:userid}' } });
    expect(effect(request('dynamodb:GetItem', TABLE, { 'aws:userid': 'u1', 'dynamodb:LeadingKeys': 'u1' }), p)).toBe('Allow');
    expect(effect(request('dynamodb:GetItem', TABLE, { 'aws:userid': 'u1', 'dynamodb:LeadingKeys': 'u2' }), p)).toBe('ImplicitDeny');
  });
});

describe('parsing', () => {
  test('what IAM rejects, the parser rejects', () => {
    const bad = (statement: Record<string, unknown>) => () => policy(statement);
    expect(bad({ Action: '*', Resource: '*' })).toThrow(PolicyError);
    expect(bad({ Effect: 'Allow', Action: '*', NotAction: 's3:*', Resource: '*' })).toThrow(/exactly one of Action and NotAction/);
    expect(bad({ Effect: 'Allow', Action: '*' })).toThrow(/Resource and NotResource/);
    expect(bad({ Effect: 'Allow', Action: '*', Resource: '*', Condition: { StringMaybe: { k: 'v' } } })).toThrow(/unknown condition operator StringMaybe/);
    expect(bad({ Effect: 'Allow', Action: '*', Resource: '*', Principal: '*' })).toThrow(/Principal/);
    expect(() => parsePolicy('P', { Version: '2012-10-17' })).toThrow(/no Statement/);
  });

  test('single values and JSON text are accepted', () => {
    const p = parsePolicy('P', JSON.stringify({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'kinesis:PutRecords', Resource: STREAM } }));
    expect(p.statements).toHaveLength(1);
    expect(effect(request('kinesis:PutRecords', STREAM), p)).toBe('Allow');
  });

  test('AWS managed policies are known by name', () => {
    const basic = awsManagedPolicy('arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole');
    expect(basic).toBeDefined();
    expect(effect(request('logs:PutLogEvents', 'arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/x:*'), basic as Policy)).toBe('Allow');
    expect(effect(request('kinesis:PutRecords', STREAM), basic as Policy)).toBe('ImplicitDeny');
    const kinesisExec = awsManagedPolicy('arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole') as Policy;
    expect(effect(request('kinesis:GetRecords', STREAM), kinesisExec)).toBe('Allow');
    expect(effect(request('kinesis:PutRecords', STREAM), kinesisExec)).toBe('ImplicitDeny');
    expect(awsManagedPolicy('arn:aws:iam::aws:policy/SomethingElse')).toBeUndefined();
    expect(awsManagedPolicy('arn:aws:iam::123456789012:policy/AWSLambdaBasicExecutionRole')).toBeUndefined();
  });
});
