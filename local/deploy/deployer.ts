// Deploys a CDK cloud assembly onto the embedded cloud, like a (much smaller) CloudFormation:
// resolves intrinsics, names resources as CloudFormation would, creates them in dependency order
// with one handler per resource type (resources/*.ts: Kinesis streams, DynamoDB tables with GSIs,
// TTL, encryption and tags, S3 buckets, Firehose delivery streams, Lambda functions, Kinesis
// event source mappings, EventBridge schedules, IAM roles and policies), skips what has no local
// meaning (alarms, dashboards, Glue, Athena, log groups, KMS, custom resources…) with a one-line
// summary, and WARNs about any property that would change behaviour but is not honoured.
// Re-deploying onto an existing data directory reuses what exists. Outputs are returned and
// written to <dataDir>/outputs.json in `cdk deploy --outputs-file` shape.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { checkDeploy, fingerprintsIn, type JobFingerprint } from '../../functions/core/job-fingerprint';
import * as path from 'node:path';
import { readAssembly, type StackArtifact, type TemplateResource } from './assembly';
import { evaluateCondition, IntrinsicError, references, resolveValue, type ResolveContext } from './intrinsics';
import type { NameScope } from './names';
import { errorText, isRecord } from './resources/common';
import { HANDLERS, IAM_HANDLERS } from './resources';
import { SKIP_SILENTLY, skippedResource } from './resources/skipped';
import type { DeployOptions, DeployResult, DeployedResource, ResourceStatus, StackDeployment, StackState } from './types';

export type { DeployOptions, DeployResult, DeployedResource, FirehoseControl, ResourceStatus, StackDeployment } from './types';

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
  if (opts.dataDir) checkJobEvolution(stacks, readOutputs(path.join(opts.dataDir, 'outputs.json')));
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

function readOutputs(file: string): Record<string, Record<string, string>> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  } catch {
    return {}; // first deploy
  }
}

/** A job's deploy is refused when its state-relevant definition changed over the one deployed (job-fingerprint.ts). */
export class JobEvolutionError extends Error {
  override readonly name = 'JobEvolutionError';
  constructor(message: string) {
    super(message);
    // What to do is the whole message: `npm run local` prints the stack of what fails, and a trace adds nothing here.
    this.stack = message;
  }
}

/** Compares the fingerprints the templates record with those of the last deploy on this data directory. */
function checkJobEvolution(stacks: readonly StackArtifact[], deployed: Record<string, Record<string, string>>): void {
  const before = new Map<string, JobFingerprint>();
  const after = new Map<string, JobFingerprint>();
  for (const stack of stacks) {
    for (const [job, f] of fingerprintsIn(deployed[stack.stackName])) before.set(job, f);
    const literal = Object.fromEntries(Object.entries(stack.template.Outputs ?? {}).flatMap(([key, out]) => (typeof out.Value === 'string' ? [[key, out.Value]] : [])));
    for (const [job, f] of fingerprintsIn(literal)) after.set(job, f);
  }
  const check = checkDeploy(before, after);
  if (check.refused.length > 0) throw new JobEvolutionError(`deploy refused:\n  ${check.refused.join('\n  ')}`);
}

function writeOutputs(file: string, outputs: Record<string, Record<string, string>>): void {
  const existing = readOutputs(file);
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

async function deployResource(st: StackState, opts: DeployOptions, logicalId: string, resource: TemplateResource, warn: (m: string) => void): Promise<DeployedResource> {
  const type = resource.Type;
  const handler = HANDLERS[type] ?? (opts.iam ? IAM_HANDLERS[type] : undefined);
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
