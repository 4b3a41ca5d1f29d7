// RiffleFunction: a NodejsFunction with Riffle's defaults fixed once (Powertools' examples/app
// style) — Node.js 22 on arm64, source maps, its own log group with retention, an execution role
// without AWS managed policies, and a local esbuild bundle that includes everything (AWS SDK too),
// so the very same bundle runs on AWS, on LocalStack and on the embedded local cloud (Node 20).
// A Riffle handler entry imports its job as 'riffle:job'; `job` says which file that is, so each
// function bundles its own job only and an edit to one job redeploys only that job's functions.
import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** Repository root: entries, package-lock.json and tsconfig.json are resolved from here. */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

export interface RiffleFunctionProps
  extends Omit<NodejsFunctionProps, 'runtime' | 'architecture' | 'logGroup' | 'logRetention' | 'role' | 'bundling' | 'depsLockFilePath' | 'projectRoot' | 'entry'> {
  /** Handler file, relative to the repository root (e.g. 'functions/lambda/mapper.ts'). */
  readonly entry: string;
  /** The job file the entry's 'riffle:job' import resolves to, relative to the repository root (e.g. 'jobs/clickstream.ts'). */
  readonly job?: string;
  /** Retention of the function's log group. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log group when the stack is deleted. Logs are diagnostics with a
   * retention, so by default they go with the stack. @default RemovalPolicy.DESTROY
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** @default Duration.seconds(60) */
  readonly timeout?: Duration;
  /** @default 1024 */
  readonly memorySize?: number;
}

export class RiffleFunction extends NodejsFunction {
  /** The function's log group, created explicitly (not by the logRetention custom resource). */
  public readonly functionLogGroup: logs.LogGroup;
  /** The execution role: only CloudWatch Logs for its own log group until grants add more. */
  public readonly executionRole: iam.Role;

  constructor(scope: Construct, id: string, props: RiffleFunctionProps) {
    // The log group and role are siblings of the function (created in `scope`), because a
    // subclass cannot create children before super() and the function needs both at creation.
    const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    // An explicit role instead of the default one, which would attach the AWS managed
    // AWSLambdaBasicExecutionRole (logs:* on every log group in the account).
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${id}`,
    });
    logGroup.grantWrite(role);

    const { logRetention: _retention, logRemovalPolicy: _removal, job, ...functionProps } = props;
    super(scope, id, {
      ...functionProps,
      entry: path.resolve(PROJECT_ROOT, props.entry),
      handler: props.handler ?? 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(60),
      memorySize: props.memorySize ?? 1024,
      logGroup,
      role,
      environment: {
        // Stack traces point at the TypeScript sources (the bundle carries a source map).
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      bundling: {
        // esbuild is a devDependency, so bundling runs locally; Docker is never needed.
        forceDockerBundling: false,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // node20, not node22: the target is the oldest runtime that must run the bundle, and the
        // embedded local cloud runs it under Node 20 (Lambda runs Node 22, which accepts it as is).
        target: 'node20',
        format: OutputFormat.CJS,
        // Prefer packages' ESM builds (the AWS SDK's tree-shake better); esbuild emits CJS anyway.
        mainFields: ['module', 'main'],
        // Bundle every dependency, the AWS SDK included: the embedded local cloud runs the same
        // bundle under Node 20, where no SDK is provided, and pinning the SDK keeps AWS identical.
        bundleAwsSDK: true,
        externalModules: [],
        // esbuild resolves an alias from its working directory, the project root.
        ...(job !== undefined ? { esbuildArgs: { '--alias': `riffle:job=./${job}` } } : {}),
      },
    });
    this.functionLogGroup = logGroup;
    this.executionRole = role;
  }
}
