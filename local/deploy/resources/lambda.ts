// AWS::Lambda::Function and AWS::Lambda::EventInvokeConfig: Node.js functions are registered with
// the local runtime (code from the assembly's asset or inline ZipFile, handler, environment,
// timeout, memory, reserved concurrency, architectures, tags, execution role) and their identity
// with the IAM registry, so their AWS calls are checked against the role's policies. Other
// runtimes and container images are skipped with a warning.
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { functionCodeDir } from '../assembly';
import type { DeployedResource, Handler, HandlerArgs } from '../types';
import { isRecord, nameFor, num, str, tagMap } from './common';

/** Registers the function's identity; warns when its role's policies cannot be known locally. */
function registerIdentity(a: HandlerArgs, name: string, functionArn: string, roleArn: string | undefined): void {
  const iam = a.opts.iam;
  if (!iam) return;
  if (!roleArn) {
    a.warn(`function ${name} has no execution role; its AWS calls are not checked`);
    return;
  }
  iam.registerFunction(functionArn, name, roleArn);
  if (!iam.hasRole(roleArn)) a.warn(`function ${name}: its role ${roleArn} is not defined in a deployed template, so its AWS calls are not checked`);
  for (const arn of iam.unknownManagedPolicies(roleArn)) {
    a.warn(`function ${name}: managed policy ${arn} is not known locally; what it grants is denied here`);
  }
}

export const lambdaFunction: Handler = async (a) => {
  const name = nameFor(a, 'lambda', 'FunctionName');
  const runtimeName = str(a.props['Runtime']) ?? '';
  const arn = a.opts.runtime.functionArn(name);
  const skipped = (why: string): DeployedResource => {
    a.warn(`function ${name} (${a.logicalId}) is not run locally: ${why}`);
    return { logicalId: a.logicalId, type: a.resource.Type, physicalId: name, status: 'skipped', attributes: { Arn: arn } };
  };
  if (str(a.props['PackageType']) === 'Image') return skipped('container image functions are not supported');
  if (runtimeName && !runtimeName.startsWith('nodejs')) return skipped(`runtime ${runtimeName} (only Node.js runtimes run locally)`);
  const code = isRecord(a.props['Code']) ? a.props['Code'] : {};
  let assetDir = functionCodeDir(a.st.stack, a.resource, code['S3Key']);
  if (!assetDir && typeof code['ZipFile'] === 'string') {
    assetDir = path.join(a.opts.dataDir ?? tmpdir(), 'inline-code', name);
    mkdirSync(assetDir, { recursive: true });
    writeFileSync(path.join(assetDir, 'index.js'), code['ZipFile']);
  }
  if (!assetDir) return skipped(`its code asset (${JSON.stringify(code['S3Key'] ?? code)}) is not in the assembly`);
  for (const prop of ['Layers', 'VpcConfig', 'FileSystemConfigs', 'DeadLetterConfig', 'ImageConfig', 'CodeSigningConfigArn']) {
    if (a.props[prop] !== undefined) a.warn(`function ${name}: ${prop} is not honoured locally`);
  }
  const env = isRecord(a.props['Environment']) && isRecord(a.props['Environment']['Variables']) ? a.props['Environment']['Variables'] : {};
  const environment: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) environment[k] = typeof v === 'string' ? v : JSON.stringify(v);
  const reserved = num(a.props['ReservedConcurrentExecutions']);
  if (reserved === 0) a.warn(`function ${name}: ReservedConcurrentExecutions 0 (every invocation throttled) is not honoured locally`);
  const timeout = num(a.props['Timeout']);
  const memory = num(a.props['MemorySize']);
  const role = str(a.props['Role']);
  const architectures = Array.isArray(a.props['Architectures']) ? a.props['Architectures'].filter((x): x is string => typeof x === 'string') : [];
  const tags = tagMap(a.props['Tags']);
  registerIdentity(a, name, arn, role);
  a.opts.runtime.register({
    name,
    assetDir,
    handler: str(a.props['Handler']) ?? 'index.handler',
    ...(runtimeName ? { runtime: runtimeName } : {}),
    environment,
    ...(timeout !== undefined ? { timeoutSeconds: timeout } : {}),
    ...(memory !== undefined ? { memoryMb: memory } : {}),
    ...(reserved !== undefined ? { reservedConcurrency: reserved } : {}),
    ...(role ? { roleArn: role } : {}),
    // Lambda's default is x86_64; the local processes run whatever the host is.
    architectures: architectures.length ? architectures : ['x86_64'],
    tags,
  });
  a.opts.faults?.alias(a.logicalId, name);
  return { logicalId: a.logicalId, type: a.resource.Type, physicalId: name, status: 'registered', attributes: { Arn: arn } };
};

export const lambdaEventInvokeConfig: Handler = async (a) => {
  const fn = a.opts.runtime.resolve(str(a.props['FunctionName']) ?? '');
  if (!fn) throw new Error(`EventInvokeConfig for unknown function ${String(a.props['FunctionName'])}`);
  const maxRetries = num(a.props['MaximumRetryAttempts']);
  const maxAge = num(a.props['MaximumEventAgeInSeconds']);
  a.opts.runtime.configureAsync(fn, {
    ...(maxRetries !== undefined ? { maxRetries } : {}),
    ...(maxAge !== undefined ? { maxEventAgeSeconds: maxAge } : {}),
  });
  if (a.props['DestinationConfig'] !== undefined) a.warn(`function ${fn}: asynchronous invocation destinations are not emulated`);
  return { logicalId: a.logicalId, type: a.resource.Type, physicalId: `${fn}-invoke-config`, status: 'registered', attributes: {} };
};
