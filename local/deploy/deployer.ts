// Deploys a CDK cloud assembly onto the embedded cloud, like a (much smaller) CloudFormation:
// resolves intrinsics, names resources as CloudFormation would, creates them in dependency order
// (Kinesis streams, DynamoDB tables with GSIs and TTL, S3 buckets, Firehose delivery streams,
// Lambda functions, Kinesis event source mappings, EventBridge schedules), skips what has no
// local meaning (IAM, alarms, dashboards, Glue, Athena, log groups, KMS, custom resources…) with
// a one-line summary, and WARNs about any property that would change behaviour but is not
// honoured. Re-deploying onto an existing data directory reuses what exists. Outputs are returned
// and written to <dataDir>/outputs.json in `cdk deploy --outputs-file` shape.
import { CreateTableCommand, DescribeTableCommand, UpdateTimeToLiveCommand, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { CreateDeliveryStreamCommand, type CreateDeliveryStreamCommandInput } from '@aws-sdk/client-firehose';
import { CreateStreamCommand, DescribeStreamSummaryCommand, IncreaseStreamRetentionPeriodCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Faults } from '../faults';
import type { EventSourceMappings, KinesisEsmConfig, StartingPosition } from '../esm';
import type { LambdaRuntime } from '../lambda/runtime';
import { functionCodeDir, readAssembly, type StackArtifact, type TemplateResource } from './assembly';
import type { LocalClients } from './clients';
import { evaluateCondition, IntrinsicError, references, resolveValue, type ResolveContext } from './intrinsics';
import { physicalName, stableUuid, type NameKind, type NameScope } from './names';
import type { Scheduler } from './schedule';

/** The Firehose emulator's programmatic API (it accepts CloudFormation-shaped properties). */
export interface FirehoseControl {
  createDeliveryStream(input: Record<string, unknown>): { DeliveryStreamARN: string };
  hasDeliveryStream(name: string): boolean;
}

export interface DeployOptions {
  /** A cdk.out directory, or stacks already read from one. */
  readonly assembly: string | readonly StackArtifact[];
  /** Stack names or artifact IDs (`*` wildcards allowed); default: every stack. Dependencies are added. */
  readonly stacks?: readonly string[];
  readonly region: string;
  readonly accountId: string;
  readonly clients: Pick<LocalClients, 'kinesis' | 'dynamodb' | 's3' | 'firehose'>;
  /** When given, delivery streams are created through it instead of the Firehose API. */
  readonly firehose?: FirehoseControl;
  readonly runtime: LambdaRuntime;
  readonly mappings: EventSourceMappings;
  readonly scheduler?: Scheduler;
  readonly faults?: Faults;
  /** Holds inline function code and outputs.json. */
  readonly dataDir?: string;
  /** Shards for ON_DEMAND streams (which have no shard count). Default 2. */
  readonly onDemandShards?: number;
  readonly log?: (line: string) => void;
  readonly warn?: (line: string) => void;
}

export type ResourceStatus = 'created' | 'reused' | 'registered' | 'skipped';

export interface DeployedResource {
  readonly logicalId: string;
  readonly type: string;
  readonly physicalId: string;
  readonly status: ResourceStatus;
  readonly attributes: Readonly<Record<string, unknown>>;
}

export interface StackDeployment {
  readonly stackName: string;
  readonly resources: Readonly<Record<string, DeployedResource>>;
  readonly outputs: Readonly<Record<string, string>>;
  /** Resource types skipped, with counts. */
  readonly skipped: Readonly<Record<string, number>>;
  readonly summary: string;
}

export interface DeployResult {
  readonly stacks: readonly StackDeployment[];
  /** `cdk deploy --outputs-file` shape: { "<StackName>": { "<OutputKey>": "value" } }. */
  readonly outputs: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly warnings: readonly string[];
}

/** Types with no local behaviour: skipped silently (counted in the summary line). */
const SKIP_SILENTLY = [
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

interface StackState {
  readonly stack: StackArtifact;
  readonly scope: NameScope;
  readonly deployed: Map<string, DeployedResource>;
  readonly skipped: Map<string, number>;
  readonly counts: Map<string, number>;
  ctx: ResolveContext;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return undefined;
}

function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  return undefined;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function errorName(e: unknown): string {
  return e instanceof Error ? e.name : '';
}

function wildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** Stacks to deploy (requested ones plus their dependencies), dependencies first. */
export function selectStacks(all: readonly StackArtifact[], names?: readonly string[]): StackArtifact[] {
  const byId = new Map(all.map((s) => [s.id, s]));
  const wanted = new Set<string>();
  if (!names || names.length === 0) all.forEach((s) => wanted.add(s.id));
  else {
    for (const n of names) {
      const re = wildcard(n);
      const hits = all.filter((s) => re.test(s.stackName) || re.test(s.id) || re.test(s.displayName));
      if (hits.length === 0) throw new Error(`no stack matches "${n}" in the assembly (stacks: ${all.map((s) => s.stackName).join(', ') || 'none'})`);
      hits.forEach((s) => wanted.add(s.id));
    }
  }
  const ordered: StackArtifact[] = [];
  const visiting = new Set<string>();
  const visit = (id: string) => {
    const s = byId.get(id);
    if (!s || ordered.includes(s)) return;
    if (visiting.has(id)) throw new Error(`stack dependency cycle at ${id}`);
    visiting.add(id);
    s.dependencies.forEach(visit);
    ordered.push(s);
  };
  [...wanted].forEach(visit);
  return ordered;
}

/** Resource logical IDs in creation order (references and DependsOn first). */
export function creationOrder(resources: Readonly<Record<string, TemplateResource>>, parameters: ReadonlySet<string>): string[] {
  const deps = new Map<string, Set<string>>();
  for (const [id, r] of Object.entries(resources)) {
    const d = references(r.Properties ?? {}, parameters);
    const dependsOn = typeof r.DependsOn === 'string' ? [r.DependsOn] : (r.DependsOn ?? []);
    dependsOn.forEach((x) => d.add(x));
    d.delete(id);
    deps.set(id, new Set([...d].filter((x) => x in resources)));
  }
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, trail: string[]) => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') throw new Error(`circular dependency between resources: ${[...trail, id].join(' → ')}`);
    state.set(id, 'visiting');
    for (const d of deps.get(id) ?? []) visit(d, [...trail, id]);
    state.set(id, 'done');
    order.push(id);
  };
  Object.keys(resources).forEach((id) => visit(id, []));
  return order;
}

export async function deployAssembly(opts: DeployOptions): Promise<DeployResult> {
  const all = typeof opts.assembly === 'string' ? readAssembly(opts.assembly) : [...opts.assembly];
  const stacks = selectStacks(all, opts.stacks);
  const warnings: string[] = [];
  const log = opts.log ?? ((l: string) => console.log(l));
  const warnSink = opts.warn ?? ((l: string) => console.warn(l));
  const exports = new Map<string, unknown>();
  const results: StackDeployment[] = [];
  const outputs: Record<string, Record<string, string>> = {};
  for (const stack of stacks) {
    const warn = (msg: string) => {
      const line = `WARN ${stack.stackName}: ${msg}`;
      warnings.push(line);
      warnSink(line);
    };
    const deployment = await deployStack(stack, opts, exports, warn);
    log(deployment.summary);
    results.push(deployment);
    outputs[stack.stackName] = { ...deployment.outputs };
  }
  if (opts.dataDir) writeOutputs(path.join(opts.dataDir, 'outputs.json'), outputs);
  return { stacks: results, outputs, warnings };
}

function writeOutputs(file: string, outputs: Record<string, Record<string, string>>): void {
  let existing: Record<string, Record<string, string>> = {};
  try {
    existing = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  } catch {
    // first deploy
  }
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ ...existing, ...outputs }, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

async function deployStack(stack: StackArtifact, opts: DeployOptions, exports: Map<string, unknown>, warn: (m: string) => void): Promise<StackDeployment> {
  const template = stack.template;
  const region = opts.region;
  const accountId = opts.accountId;
  if (stack.region && stack.region !== region) warn(`the stack targets ${stack.region}; deploying into the local region ${region}`);
  const scope: NameScope = { accountId, region, stackName: stack.stackName };
  const resources = template.Resources ?? {};
  const parameters: Record<string, unknown> = {};
  for (const [name, p] of Object.entries(template.Parameters ?? {})) parameters[name] = p.Default;
  const conditionCache = new Map<string, boolean>();
  const evaluating = new Set<string>();
  const st: StackState = {
    stack,
    scope,
    deployed: new Map(),
    skipped: new Map(),
    counts: new Map(),
    ctx: undefined as unknown as ResolveContext,
  };
  st.ctx = {
    region,
    accountId,
    stackName: stack.stackName,
    parameters,
    ...(template.Mappings ? { mappings: template.Mappings } : {}),
    condition(name) {
      const cached = conditionCache.get(name);
      if (cached !== undefined) return cached;
      const expr = template.Conditions?.[name];
      if (expr === undefined) throw new IntrinsicError(`unknown condition ${name}`, `Conditions.${name}`);
      if (evaluating.has(name)) throw new IntrinsicError(`condition ${name} refers to itself`, `Conditions.${name}`);
      evaluating.add(name);
      const v = evaluateCondition(expr, st.ctx, `Conditions.${name}`);
      evaluating.delete(name);
      conditionCache.set(name, v);
      return v;
    },
    ref(id) {
      const r = st.deployed.get(id);
      if (!r) throw new IntrinsicError(`Ref to ${id}, which is not deployed (unknown or conditioned out)`, id);
      return r.physicalId;
    },
    getAtt(id, attr) {
      const r = st.deployed.get(id);
      if (!r) throw new IntrinsicError(`Fn::GetAtt ${id}.${attr}: ${id} is not deployed`, id);
      if (attr in r.attributes) return r.attributes[attr];
      if (r.status === 'skipped') return `${r.physicalId}.${attr}`;
      throw new IntrinsicError(`Fn::GetAtt ${id}.${attr}: attribute not available locally (${r.type})`, id);
    },
    importValue: (name) => exports.get(name),
  };

  const order = creationOrder(resources, new Set(Object.keys(parameters)));
  for (const logicalId of order) {
    const resource = resources[logicalId] as TemplateResource;
    if (resource.Condition && !st.ctx.condition(resource.Condition)) continue;
    try {
      const deployed = await deployResource(st, opts, logicalId, resource, warn);
      st.deployed.set(logicalId, deployed);
      if (deployed.status === 'skipped') st.skipped.set(resource.Type, (st.skipped.get(resource.Type) ?? 0) + 1);
      else st.counts.set(resource.Type, (st.counts.get(resource.Type) ?? 0) + 1);
    } catch (e) {
      throw new Error(`deploying ${stack.stackName}: ${resource.Type} ${logicalId} failed: ${errorText(e)}`, { cause: e });
    }
  }

  const outputs: Record<string, string> = {};
  for (const [key, out] of Object.entries(template.Outputs ?? {})) {
    if (out.Condition && !st.ctx.condition(out.Condition)) continue;
    try {
      const v = resolveValue(out.Value, st.ctx, `Outputs.${key}`);
      outputs[key] = typeof v === 'string' ? v : JSON.stringify(v);
      if (out.Export) {
        const name = resolveValue(out.Export.Name, st.ctx, `Outputs.${key}.Export`);
        if (typeof name === 'string') exports.set(name, v);
      }
    } catch (e) {
      warn(`output ${key} could not be resolved: ${errorText(e)}`);
    }
  }

  const statusCount = (s: ResourceStatus) => [...st.deployed.values()].filter((r) => r.status === s).length;
  const made = [...st.counts.entries()].map(([t, n]) => `${n} ${t.replace(/^AWS::/, '')}`).join(', ');
  const skippedTotal = [...st.skipped.values()].reduce((a, b) => a + b, 0);
  const skippedList = [...st.skipped.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([t, n]) => `${n} ${t.replace(/^AWS::/, '')}`)
    .join(', ');
  const summary =
    `deployed ${stack.stackName}: ${made || 'nothing'} (created ${statusCount('created')}, reused ${statusCount('reused')}, ` +
    `registered ${statusCount('registered')})${skippedTotal ? ` · skipped ${skippedTotal} with no local behaviour: ${skippedList}` : ''}`;
  return { stackName: stack.stackName, resources: Object.fromEntries(st.deployed), outputs, skipped: Object.fromEntries(st.skipped), summary };
}

function skippedResource(st: StackState, logicalId: string, resource: TemplateResource): DeployedResource {
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
    case 'AWS::SNS::Topic': {
      const arn = `arn:aws:sns:${region}:${accountId}:${name}`;
      return { logicalId, type: resource.Type, physicalId: arn, status: 'skipped', attributes: { TopicArn: arn, TopicName: name } };
    }
    default:
      attributes['Arn'] = `arn:aws:${service}:${region}:${accountId}:${logicalId}/${name}`;
  }
  return { logicalId, type: resource.Type, physicalId: name, status: 'skipped', attributes };
}

async function deployResource(st: StackState, opts: DeployOptions, logicalId: string, resource: TemplateResource, warn: (m: string) => void): Promise<DeployedResource> {
  const type = resource.Type;
  const handler = HANDLERS[type];
  if (!handler) {
    if (!SKIP_SILENTLY.some((re) => re.test(type))) {
      warn(`${type} ${logicalId} is not emulated locally and was skipped`);
    } else if (/^Custom::|^AWS::CloudFormation::CustomResource$/.test(type) && !/^Custom::(S3AutoDeleteObjects|CDKBucketDeployment|LogRetention|CrossRegion)/.test(type)) {
      warn(`custom resource ${type} ${logicalId} is not run locally`);
    }
    return skippedResource(st, logicalId, resource);
  }
  const props = resolveValue(resource.Properties ?? {}, st.ctx, `${logicalId}.Properties`);
  return handler({ st, opts, logicalId, resource, props: isRecord(props) ? props : {}, warn });
}

interface HandlerArgs {
  readonly st: StackState;
  readonly opts: DeployOptions;
  readonly logicalId: string;
  readonly resource: TemplateResource;
  readonly props: Record<string, unknown>;
  readonly warn: (m: string) => void;
}

type Handler = (a: HandlerArgs) => Promise<DeployedResource>;

function nameFor(a: HandlerArgs, kind: NameKind, prop: string): string {
  return str(a.props[prop]) ?? physicalName(kind, a.st.scope, a.logicalId);
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const HANDLERS: Record<string, Handler> = {
  'AWS::Kinesis::Stream': async (a) => {
    const { kinesis } = a.opts.clients;
    const name = nameFor(a, 'kinesis', 'Name');
    const mode = isRecord(a.props['StreamModeDetails']) ? str(a.props['StreamModeDetails']['StreamMode']) : undefined;
    const onDemand = mode === 'ON_DEMAND';
    const shards = onDemand ? (a.opts.onDemandShards ?? 2) : (num(a.props['ShardCount']) ?? 1);
    if (onDemand) (a.opts.log ?? console.log)(`note ${a.st.stack.stackName}: stream ${name} is ON_DEMAND; created locally with ${shards} shards`);
    let status: ResourceStatus = 'created';
    try {
      await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
    } catch (e) {
      if (errorName(e) !== 'ResourceInUseException') throw e;
      status = 'reused';
    }
    let open = 0;
    await waitUntil(async () => {
      const s = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
      open = s.StreamDescriptionSummary?.OpenShardCount ?? 0;
      return s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE';
    }, `stream ${name} to become ACTIVE`);
    if (status === 'reused' && open !== shards) a.warn(`existing stream ${name} has ${open} open shards, the template asks for ${shards} (kept as is)`);
    const retention = num(a.props['RetentionPeriodHours']);
    if (status === 'created' && retention !== undefined && retention > 24) {
      await kinesis.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: name, RetentionPeriodHours: retention })).catch((e: unknown) => {
        a.warn(`stream ${name}: retention ${retention} h not applied (${errorText(e)}); records older than 24 h are trimmed`);
      });
    }
    const arn = `arn:aws:kinesis:${a.st.scope.region}:${a.st.scope.accountId}:stream/${name}`;
    return { logicalId: a.logicalId, type: a.resource.Type, physicalId: name, status, attributes: { Arn: arn } };
  },

  'AWS::DynamoDB::Table': (a) => deployTable(a, false),
  'AWS::DynamoDB::GlobalTable': (a) => deployTable(a, true),

  'AWS::S3::Bucket': async (a) => {
    const name = nameFor(a, 's3', 'BucketName');
    let status: ResourceStatus = 'created';
    // HeadBucket first: in us-east-1 CreateBucket on a bucket you own succeeds silently.
    const exists = await a.opts.clients.s3.send(new HeadBucketCommand({ Bucket: name })).then(
      () => true,
      () => false,
    );
    if (exists) status = 'reused';
    else {
      try {
        await a.opts.clients.s3.send(new CreateBucketCommand({ Bucket: name }));
      } catch (e) {
        if (errorName(e) !== 'BucketAlreadyOwnedByYou' && errorName(e) !== 'BucketAlreadyExists') throw e;
        status = 'reused';
      }
    }
    if (a.props['NotificationConfiguration'] !== undefined) a.warn(`bucket ${name}: NotificationConfiguration is not emulated (no events are sent)`);
    if (a.props['ReplicationConfiguration'] !== undefined) a.warn(`bucket ${name}: ReplicationConfiguration is not emulated`);
    const region = a.st.scope.region;
    return {
      logicalId: a.logicalId,
      type: a.resource.Type,
      physicalId: name,
      status,
      attributes: {
        Arn: `arn:aws:s3:::${name}`,
        DomainName: `${name}.s3.amazonaws.com`,
        RegionalDomainName: `${name}.s3.${region}.amazonaws.com`,
        DualStackDomainName: `${name}.s3.dualstack.${region}.amazonaws.com`,
        WebsiteURL: `http://${name}.s3-website-${region}.amazonaws.com`,
      },
    };
  },

  'AWS::KinesisFirehose::DeliveryStream': async (a) => {
    const name = nameFor(a, 'firehose', 'DeliveryStreamName');
    const input: Record<string, unknown> = { ...a.props, DeliveryStreamName: name };
    let status: ResourceStatus = 'created';
    if (a.opts.firehose) {
      if (a.opts.firehose.hasDeliveryStream(name)) status = 'reused';
      else a.opts.firehose.createDeliveryStream(input);
    } else {
      try {
        await a.opts.clients.firehose.send(new CreateDeliveryStreamCommand(input as unknown as CreateDeliveryStreamCommandInput));
      } catch (e) {
        if (errorName(e) !== 'ResourceInUseException') throw e;
        status = 'reused';
      }
    }
    const arn = `arn:aws:firehose:${a.st.scope.region}:${a.st.scope.accountId}:deliverystream/${name}`;
    return { logicalId: a.logicalId, type: a.resource.Type, physicalId: name, status, attributes: { Arn: arn } };
  },

  'AWS::Lambda::Function': async (a) => {
    const name = nameFor(a, 'lambda', 'FunctionName');
    const runtimeName = str(a.props['Runtime']) ?? '';
    const arn = a.opts.runtime.functionArn(name);
    const skipped = (why: string): DeployedResource => {
      a.warn(`function ${name} (${a.logicalId}) is not run locally: ${why}`);
      return { logicalId: a.logicalId, type: a.resource.Type, physicalId: name, status: 'skipped', attributes: { Arn: arn } };
    };
    if (str(a.props['PackageType']) === 'Image') return skipped('container image functions are not supported');
    if (runtimeName && !runtimeName.startsWith('nodejs')) return skipped(`runtime ${runtimeName} (only Node.js runs in worker threads)`);
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
    });
    a.opts.faults?.alias(a.logicalId, name);
    return { logicalId: a.logicalId, type: a.resource.Type, physicalId: name, status: 'registered', attributes: { Arn: arn } };
  },

  'AWS::Lambda::EventInvokeConfig': async (a) => {
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
  },

  'AWS::Lambda::EventSourceMapping': async (a) => {
    const uuid = stableUuid(a.st.scope, a.logicalId);
    const arn = `arn:aws:lambda:${a.st.scope.region}:${a.st.scope.accountId}:event-source-mapping:${uuid}`;
    const result = (status: ResourceStatus): DeployedResource => ({
      logicalId: a.logicalId,
      type: a.resource.Type,
      physicalId: uuid,
      status,
      attributes: { Id: uuid, EventSourceMappingArn: arn },
    });
    let source = str(a.props['EventSourceArn']) ?? '';
    if (!/^arn:[^:]+:kinesis:/.test(source)) {
      a.warn(`event source mapping ${a.logicalId} (${source || 'no EventSourceArn'}) is not polled locally: only Kinesis sources are`);
      return result('skipped');
    }
    if (source.includes('/consumer/')) {
      a.warn(`event source mapping ${a.logicalId} uses an enhanced fan-out consumer; polled locally with a shared-throughput iterator`);
      source = source.slice(0, source.indexOf('/consumer/'));
    }
    const fnName = a.opts.runtime.resolve(str(a.props['FunctionName']) ?? '');
    if (!fnName) {
      a.warn(`event source mapping ${a.logicalId}: function ${String(a.props['FunctionName'])} is not running locally; mapping skipped`);
      return result('skipped');
    }
    for (const [prop, what] of [
      ['FilterCriteria', 'records are not filtered: the function receives every record'],
      ['TumblingWindowInSeconds', 'tumbling windows (state passing) are not emulated'],
      ['ScalingConfig', 'ignored'],
      ['KmsKeyArn', 'ignored'],
    ] as const) {
      if (a.props[prop] !== undefined && !(prop === 'TumblingWindowInSeconds' && num(a.props[prop]) === 0)) a.warn(`event source mapping ${a.logicalId}: ${prop}: ${what}`);
    }
    const dest = isRecord(a.props['DestinationConfig']) && isRecord(a.props['DestinationConfig']['OnFailure']) ? str(a.props['DestinationConfig']['OnFailure']['Destination']) : undefined;
    if (dest && !/^arn:[^:]+:s3:::/.test(dest)) a.warn(`event source mapping ${a.logicalId}: on-failure destination ${dest} is not emulated (only S3); failed batches are discarded`);
    const position = (str(a.props['StartingPosition']) ?? 'LATEST') as StartingPosition;
    const responseTypes = Array.isArray(a.props['FunctionResponseTypes']) ? a.props['FunctionResponseTypes'] : [];
    const def = a.opts.runtime.get(fnName);
    const ts = num(a.props['StartingPositionTimestamp']);
    const config: KinesisEsmConfig = {
      uuid,
      logicalId: a.logicalId,
      functionName: fnName,
      functionArn: a.opts.runtime.functionArn(fnName),
      streamName: source.slice(source.indexOf(':stream/') + ':stream/'.length),
      streamArn: source,
      batchSize: num(a.props['BatchSize']) ?? 100,
      maxBatchingWindowSeconds: num(a.props['MaximumBatchingWindowInSeconds']) ?? 0,
      startingPosition: position,
      ...(ts !== undefined ? { startingPositionTimestamp: ts } : {}),
      parallelizationFactor: num(a.props['ParallelizationFactor']) ?? 1,
      bisectBatchOnFunctionError: bool(a.props['BisectBatchOnFunctionError']) ?? false,
      maximumRetryAttempts: num(a.props['MaximumRetryAttempts']) ?? -1,
      maximumRecordAgeSeconds: num(a.props['MaximumRecordAgeInSeconds']) ?? -1,
      reportBatchItemFailures: responseTypes.includes('ReportBatchItemFailures'),
      ...(dest ? { onFailureDestination: dest } : {}),
      ...(def?.roleArn ? { invokeIdentityArn: def.roleArn } : {}),
    };
    const enabled = bool(a.props['Enabled']) ?? true;
    await a.opts.mappings.add(config, { enabled });
    a.opts.faults?.alias(a.logicalId, uuid);
    return result('registered');
  },

  'AWS::Events::Rule': async (a) => {
    const name = nameFor(a, 'events', 'Name');
    const arn = `arn:aws:events:${a.st.scope.region}:${a.st.scope.accountId}:rule/${name}`;
    const done = (status: ResourceStatus): DeployedResource => ({ logicalId: a.logicalId, type: a.resource.Type, physicalId: name, status, attributes: { Arn: arn } });
    const expression = str(a.props['ScheduleExpression']);
    if (!expression) {
      a.warn(`rule ${a.logicalId}: event-pattern rules are not emulated (only schedules)`);
      return done('skipped');
    }
    if ((str(a.props['State']) ?? 'ENABLED') !== 'ENABLED') return done('skipped');
    const targets = scheduleTargets(a, Array.isArray(a.props['Targets']) ? a.props['Targets'] : []);
    return addSchedule(a, { name, arn, expression, targets }, done);
  },

  'AWS::Scheduler::Schedule': async (a) => {
    const name = nameFor(a, 'events', 'Name');
    const arn = `arn:aws:scheduler:${a.st.scope.region}:${a.st.scope.accountId}:schedule/${str(a.props['GroupName']) ?? 'default'}/${name}`;
    const done = (status: ResourceStatus): DeployedResource => ({ logicalId: a.logicalId, type: a.resource.Type, physicalId: name, status, attributes: { Arn: arn } });
    const expression = str(a.props['ScheduleExpression']) ?? '';
    if ((str(a.props['State']) ?? 'ENABLED') !== 'ENABLED') return done('skipped');
    const targets = scheduleTargets(a, isRecord(a.props['Target']) ? [a.props['Target']] : []);
    return addSchedule(a, { name, arn, expression, targets, scheduler: true }, done);
  },
};

function scheduleTargets(a: HandlerArgs, raw: unknown[]): { functionName: string; input?: string }[] {
  const out: { functionName: string; input?: string }[] = [];
  for (const t of raw) {
    if (!isRecord(t)) continue;
    const fn = a.opts.runtime.resolve(str(t['Arn']) ?? '');
    if (!fn) {
      a.warn(`schedule ${a.logicalId}: target ${String(t['Arn'])} is not a local function; ignored`);
      continue;
    }
    if (t['InputPath'] !== undefined || t['InputTransformer'] !== undefined) a.warn(`schedule ${a.logicalId}: InputPath/InputTransformer are not emulated; the target gets the default event`);
    const input = str(t['Input']);
    out.push({ functionName: fn, ...(input !== undefined ? { input } : {}) });
  }
  return out;
}

function addSchedule(
  a: HandlerArgs,
  rule: { name: string; arn: string; expression: string; targets: { functionName: string; input?: string }[]; scheduler?: boolean },
  done: (s: ResourceStatus) => DeployedResource,
): Promise<DeployedResource> {
  if (!a.opts.scheduler) {
    a.warn(`schedule ${a.logicalId} (${rule.expression}) not started: no scheduler`);
    return Promise.resolve(done('skipped'));
  }
  try {
    a.opts.scheduler.add(rule);
  } catch (e) {
    a.warn(`schedule ${a.logicalId}: ${errorText(e)}; skipped`);
    return Promise.resolve(done('skipped'));
  }
  return Promise.resolve(done('registered'));
}

async function deployTable(a: HandlerArgs, global: boolean): Promise<DeployedResource> {
  const { dynamodb } = a.opts.clients;
  const name = nameFor(a, 'dynamodb', 'TableName');
  const p = a.props;
  const billing = str(p['BillingMode']) ?? 'PROVISIONED'; // CloudFormation's default for both table types
  const payPerRequest = billing === 'PAY_PER_REQUEST';
  const throughput = (v: unknown) =>
    isRecord(v) ? { ReadCapacityUnits: num(v['ReadCapacityUnits']) ?? 5, WriteCapacityUnits: num(v['WriteCapacityUnits']) ?? 5 } : { ReadCapacityUnits: 5, WriteCapacityUnits: 5 };
  const gsis = Array.isArray(p['GlobalSecondaryIndexes']) ? p['GlobalSecondaryIndexes'].filter(isRecord) : [];
  const lsis = Array.isArray(p['LocalSecondaryIndexes']) ? p['LocalSecondaryIndexes'].filter(isRecord) : [];
  const input = {
    TableName: name,
    AttributeDefinitions: p['AttributeDefinitions'],
    KeySchema: p['KeySchema'],
    BillingMode: billing,
    ...(payPerRequest ? {} : { ProvisionedThroughput: throughput(p['ProvisionedThroughput']) }),
    ...(gsis.length
      ? {
          GlobalSecondaryIndexes: gsis.map((g) => ({
            IndexName: g['IndexName'],
            KeySchema: g['KeySchema'],
            Projection: g['Projection'],
            ...(payPerRequest ? {} : { ProvisionedThroughput: throughput(g['ProvisionedThroughput']) }),
          })),
        }
      : {}),
    ...(lsis.length ? { LocalSecondaryIndexes: lsis.map((l) => ({ IndexName: l['IndexName'], KeySchema: l['KeySchema'], Projection: l['Projection'] })) } : {}),
  } as unknown as CreateTableCommandInput;
  let status: ResourceStatus = 'created';
  try {
    await dynamodb.send(new CreateTableCommand(input));
  } catch (e) {
    if (errorName(e) !== 'ResourceInUseException') throw e;
    status = 'reused';
  }
  await waitUntil(async () => (await dynamodb.send(new DescribeTableCommand({ TableName: name }))).Table?.TableStatus === 'ACTIVE', `table ${name} to become ACTIVE`);
  const ttl = isRecord(p['TimeToLiveSpecification']) ? p['TimeToLiveSpecification'] : undefined;
  if (ttl && bool(ttl['Enabled']) !== false && str(ttl['AttributeName'])) {
    try {
      await dynamodb.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: str(ttl['AttributeName']), Enabled: true } }));
    } catch (e) {
      // Re-enabling TTL on an existing table is an error in DynamoDB too; anything else is worth a warning.
      if (!(status === 'reused' && /already enabled/i.test(errorText(e)))) a.warn(`table ${name}: TTL on ${String(ttl['AttributeName'])} not enabled (${errorText(e)}); expired items are kept`);
    }
  }
  const streamSpec = p['StreamSpecification'];
  if (streamSpec !== undefined) a.warn(`table ${name}: DynamoDB Streams are not emulated (StreamSpecification ignored)`);
  if (p['KinesisStreamSpecification'] !== undefined) a.warn(`table ${name}: KinesisStreamSpecification is not emulated`);
  if (global && Array.isArray(p['Replicas']) && p['Replicas'].length > 1) a.warn(`global table ${name}: only the local region's replica exists`);
  const arn = `arn:aws:dynamodb:${a.st.scope.region}:${a.st.scope.accountId}:table/${name}`;
  return {
    logicalId: a.logicalId,
    type: a.resource.Type,
    physicalId: name,
    status,
    attributes: {
      Arn: arn,
      TableId: name,
      ...(streamSpec !== undefined ? { StreamArn: `${arn}/stream/1970-01-01T00:00:00.000` } : {}),
    },
  };
}
