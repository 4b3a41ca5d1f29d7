// AWS managed policies a template can attach by ARN (`arn:aws:iam::aws:policy/service-role/
// AWSLambdaBasicExecutionRole`): their documents are AWS's, not in the template, so the ones a
// serverless stack commonly attaches are written out here, as AWS publishes them. A managed
// policy not listed is reported by the deployer (its grants are then missing locally, which
// shows up as a denial, never as a silent allow).
import { parsePolicy, type Policy } from './policy';

const LOGS = ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'];

const DOCUMENTS: Readonly<Record<string, unknown>> = {
  AdministratorAccess: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
  AWSLambdaBasicExecutionRole: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: LOGS, Resource: '*' }] },
  AWSLambdaKinesisExecutionRole: {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'kinesis:DescribeStream',
          'kinesis:DescribeStreamSummary',
          'kinesis:GetRecords',
          'kinesis:GetShardIterator',
          'kinesis:ListShards',
          'kinesis:ListStreams',
          'kinesis:SubscribeToShard',
          ...LOGS,
        ],
        Resource: '*',
      },
    ],
  },
  AWSLambdaDynamoDBExecutionRole: {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams', ...LOGS], Resource: '*' }],
  },
  AWSLambdaSQSQueueExecutionRole: {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', ...LOGS], Resource: '*' }],
  },
  AWSLambdaVPCAccessExecutionRole: {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          ...LOGS,
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        Resource: '*',
      },
    ],
  },
  AWSLambdaExecute: {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['logs:*'], Resource: 'arn:aws:logs:*:*:*' },
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: 'arn:aws:s3:::*' },
    ],
  },
  AWSXRayDaemonWriteAccess: {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets', 'xray:GetSamplingStatisticSummaries'],
        Resource: ['*'],
      },
    ],
  },
  CloudWatchLambdaInsightsExecutionRolePolicy: {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'logs:CreateLogGroup', Resource: '*' },
      { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: 'arn:aws:logs:*:*:log-group:/aws/lambda-insights:*' },
    ],
  },
  AmazonKinesisFullAccess: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kinesis:*', Resource: '*' }] },
  AmazonKinesisReadOnlyAccess: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['kinesis:Get*', 'kinesis:List*', 'kinesis:Describe*'], Resource: '*' }] },
  AmazonS3FullAccess: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:*', 's3-object-lambda:*'], Resource: '*' }] },
  AmazonS3ReadOnlyAccess: {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['s3:Get*', 's3:List*', 's3:Describe*', 's3-object-lambda:Get*', 's3-object-lambda:List*'], Resource: '*' }],
  },
};

/** `arn:aws:iam::aws:policy/<path/>Name` → the policy, or undefined when it is not an AWS managed policy known here. */
export function awsManagedPolicy(arn: string): Policy | undefined {
  const m = /^arn:[^:]+:iam::aws:policy\/(?:.*\/)?([^/]+)$/.exec(arn);
  const name = m?.[1];
  const document = name === undefined ? undefined : DOCUMENTS[name];
  return document === undefined || name === undefined ? undefined : parsePolicy(name, document);
}

/** Whether `arn` names an AWS managed policy (known here or not). */
export function isAwsManagedPolicyArn(arn: string): boolean {
  return /^arn:[^:]+:iam::aws:policy\//.test(arn);
}
