// CloudFormation's read API on the local endpoint, for the stacks the local deployer created
// (local/deploy/deployer.ts): DescribeStacks (outputs included), ListStacks, DescribeStackResources,
// ListStackResources, DescribeStackResource and GetTemplate, in awsQuery XML as the AWS CLI and
// SDKs expect (`aws cloudformation describe-stacks` reads the outputs that otherwise live only in
// .riffle/outputs.json). Stacks are recorded by the cloud after each deploy (StackRegistry);
// writes (CreateStack, UpdateStack, …) answer an error pointing at `npm run local`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readAssembly, type StackArtifact, type Template } from '../deploy/assembly';
import type { DeployResult, StackDeployment } from '../deploy/deployer';
import { signingService } from './http';
import type { ServiceResponse } from './http';
import { el, members, parseQueryRequest, QueryError, queryErrorResponse, queryResponse } from './query';

const NAMESPACE = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';
const READ_ACTIONS = ['DescribeStacks', 'ListStacks', 'DescribeStackResources', 'ListStackResources', 'DescribeStackResource', 'GetTemplate'];

export interface DeployedStack {
  readonly stackName: string;
  readonly stackId: string;
  readonly deployment: StackDeployment;
  readonly template: Template | undefined;
  readonly createdAt: number;
  readonly updatedAt: number | undefined;
}

/** The stacks deployed on this local cloud, as CloudFormation would list them. */
export class StackRegistry {
  private readonly stacks = new Map<string, DeployedStack>();

  constructor(
    private readonly region: string,
    private readonly accountId: string,
  ) {}

  /** Records a deploy; templates come from the same assembly (a directory or stacks already read). */
  record(result: DeployResult, assembly: string | readonly StackArtifact[]): void {
    const artifacts = typeof assembly === 'string' ? safeRead(assembly) : assembly;
    const now = Date.now();
    for (const deployment of result.stacks) {
      const previous = this.stacks.get(deployment.stackName);
      const template = artifacts.find((a) => a.stackName === deployment.stackName)?.template;
      this.stacks.set(deployment.stackName, {
        stackName: deployment.stackName,
        stackId: previous?.stackId ?? `arn:aws:cloudformation:${this.region}:${this.accountId}:stack/${deployment.stackName}/${stackUuid(deployment.stackName)}`,
        deployment,
        template,
        createdAt: previous?.createdAt ?? now,
        updatedAt: previous ? now : undefined,
      });
    }
  }

  list(): DeployedStack[] {
    return [...this.stacks.values()].sort((a, b) => a.createdAt - b.createdAt || (a.stackName < b.stackName ? -1 : 1));
  }

  /** By stack name or stack ID (ARN). */
  get(nameOrId: string): DeployedStack | undefined {
    return this.stacks.get(nameOrId) ?? this.list().find((s) => s.stackId === nameOrId);
  }

  /** `Enabled` of the AWS::Lambda::EventSourceMapping whose physical ID (UUID) is `uuid`, when it is a literal. */
  eventSourceMappingEnabled(uuid: string): boolean | undefined {
    for (const stack of this.stacks.values()) {
      for (const resource of Object.values(stack.deployment.resources)) {
        if (resource.type !== 'AWS::Lambda::EventSourceMapping' || resource.physicalId !== uuid) continue;
        const enabled = stack.template?.Resources?.[resource.logicalId]?.Properties?.['Enabled'];
        if (typeof enabled === 'boolean') return enabled;
        if (enabled === 'true' || enabled === 'false') return enabled === 'true';
        return true;
      }
    }
    return undefined;
  }
}

function safeRead(dir: string): StackArtifact[] {
  try {
    return readAssembly(dir);
  } catch {
    return [];
  }
}

/** A stable UUID-shaped id per stack name (stack IDs end in one). */
function stackUuid(name: string): string {
  let h = 0x811c9dc5;
  const hex: string[] = [];
  for (let round = 0; round < 4; round++) {
    for (const c of `${round}:${name}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
    hex.push(h.toString(16).padStart(8, '0'));
  }
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const status = (s: DeployedStack): string => (s.updatedAt ? 'UPDATE_COMPLETE' : 'CREATE_COMPLETE');
const drift = '<DriftInformation><StackDriftStatus>NOT_CHECKED</StackDriftStatus></DriftInformation>';

function describe(s: DeployedStack): string {
  const outputs = Object.entries(s.deployment.outputs).map(([key, value]) => {
    const description = s.template?.Outputs?.[key]?.Description;
    return el('OutputKey', key) + el('OutputValue', value) + (typeof description === 'string' ? el('Description', description) : '');
  });
  const parameters = Object.entries(s.template?.Parameters ?? {}).map(([k, p]) => el('ParameterKey', k) + el('ParameterValue', p.Default === undefined ? '' : String(p.Default)));
  const description = (s.template as { Description?: unknown } | undefined)?.Description;
  return (
    el('StackId', s.stackId) +
    el('StackName', s.stackName) +
    (typeof description === 'string' ? el('Description', description) : '') +
    members('Parameters', parameters) +
    el('CreationTime', iso(s.createdAt)) +
    (s.updatedAt ? el('LastUpdatedTime', iso(s.updatedAt)) : '') +
    el('StackStatus', status(s)) +
    el('DisableRollback', false) +
    members('Outputs', outputs) +
    members('Tags', []) +
    el('EnableTerminationProtection', false) +
    drift
  );
}

function resource(s: DeployedStack, logicalId: string, withStack: boolean, timestampTag: string): string {
  const r = s.deployment.resources[logicalId];
  if (!r) return '';
  return (
    (withStack ? el('StackName', s.stackName) + el('StackId', s.stackId) : '') +
    el('LogicalResourceId', r.logicalId) +
    el('PhysicalResourceId', r.physicalId) +
    el('ResourceType', r.type) +
    el(timestampTag, iso(s.updatedAt ?? s.createdAt)) +
    el('ResourceStatus', s.updatedAt ? 'UPDATE_COMPLETE' : 'CREATE_COMPLETE') +
    (r.status === 'skipped' ? el('ResourceStatusReason', 'no local behaviour: not emulated by the Riffle local cloud') : '') +
    '<DriftInformation><StackResourceDriftStatus>NOT_CHECKED</StackResourceDriftStatus></DriftInformation>'
  );
}

function stackOrError(registry: StackRegistry, name: string | null): DeployedStack {
  if (!name) throw new QueryError('ValidationError', 'StackName is required');
  const s = registry.get(name);
  if (!s) throw new QueryError('ValidationError', `Stack with id ${name} does not exist`);
  return s;
}

/** Answers one CloudFormation request (awsQuery). */
export function cloudFormationResponse(registry: StackRegistry, body: Buffer, urlQuery: URLSearchParams): ServiceResponse {
  const { action, params } = parseQueryRequest(body, urlQuery);
  try {
    switch (action) {
      case 'DescribeStacks': {
        const name = params.get('StackName');
        const stacks = name ? [stackOrError(registry, name)] : registry.list();
        return queryResponse(action, NAMESPACE, members('Stacks', stacks.map(describe)));
      }
      case 'ListStacks': {
        const filters = [...params.entries()].filter(([k]) => k.startsWith('StackStatusFilter.member.')).map(([, v]) => v);
        const summaries = registry
          .list()
          .filter((s) => filters.length === 0 || filters.includes(status(s)))
          .map(
            (s) =>
              el('StackId', s.stackId) +
              el('StackName', s.stackName) +
              el('CreationTime', iso(s.createdAt)) +
              (s.updatedAt ? el('LastUpdatedTime', iso(s.updatedAt)) : '') +
              el('StackStatus', status(s)) +
              drift,
          );
        return queryResponse(action, NAMESPACE, members('StackSummaries', summaries));
      }
      case 'DescribeStackResources': {
        const physical = params.get('PhysicalResourceId');
        let stack: DeployedStack;
        if (physical) {
          const found = registry.list().find((s) => Object.values(s.deployment.resources).some((r) => r.physicalId === physical));
          if (!found) throw new QueryError('ValidationError', `Stack for ${physical} does not exist`);
          stack = found;
        } else stack = stackOrError(registry, params.get('StackName'));
        const logical = params.get('LogicalResourceId');
        const ids = Object.keys(stack.deployment.resources).filter((id) => !logical || id === logical);
        return queryResponse(action, NAMESPACE, members('StackResources', ids.map((id) => resource(stack, id, true, 'Timestamp'))));
      }
      case 'ListStackResources': {
        const stack = stackOrError(registry, params.get('StackName'));
        return queryResponse(action, NAMESPACE, members('StackResourceSummaries', Object.keys(stack.deployment.resources).map((id) => resource(stack, id, false, 'LastUpdatedTimestamp'))));
      }
      case 'DescribeStackResource': {
        const stack = stackOrError(registry, params.get('StackName'));
        const logical = params.get('LogicalResourceId') ?? '';
        if (!stack.deployment.resources[logical]) throw new QueryError('ValidationError', `Resource ${logical} does not exist for stack ${stack.stackName}`);
        return queryResponse(action, NAMESPACE, `<StackResourceDetail>${resource(stack, logical, true, 'LastUpdatedTimestamp')}</StackResourceDetail>`);
      }
      case 'GetTemplate': {
        const stack = stackOrError(registry, params.get('StackName'));
        if (!stack.template) throw new QueryError('ValidationError', `the template of ${stack.stackName} is no longer in the cloud assembly`);
        return queryResponse(action, NAMESPACE, el('TemplateBody', JSON.stringify(stack.template, null, 1)) + members('StagesAvailable', ['Original', 'Processed']));
      }
      default:
        throw new QueryError(
          action ? 'InvalidAction' : 'MissingAction',
          `the Riffle local cloud's CloudFormation is read-only: ${READ_ACTIONS.join(', ')} (got ${JSON.stringify(action)}); stacks are deployed by npm run local`,
        );
    }
  } catch (err) {
    if (err instanceof QueryError) return queryErrorResponse(err.code, err.message, err.status);
    throw err;
  }
}

/** The plug-in for local/server.ts: requests signed for the `cloudformation` service. */
export function cloudFormationService(registry: StackRegistry): {
  readonly name: string;
  matches(req: IncomingMessage): boolean;
  operation(req: IncomingMessage): string;
  handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void>;
} {
  return {
    name: 'cloudformation',
    matches: (req) => signingService({ headers: req.headers, url: req.url ?? '' }) === 'cloudformation',
    operation: () => 'request',
    async handle(req, res, body) {
      const url = req.url ?? '/';
      const response = cloudFormationResponse(registry, body, new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : ''));
      const payload = Buffer.from(typeof response.body === 'string' ? response.body : '');
      res.writeHead(response.status, { ...(response.headers as Record<string, string>), 'content-length': payload.length });
      res.end(payload);
    },
  };
}
