// The deployer's public shapes (options, results) and what a resource handler receives, shared
// by the orchestration (deployer.ts) and the per-type handlers (resources/*.ts).
import type { EventSourceMappings } from '../esm';
import type { Faults } from '../faults';
import type { IamRegistry } from '../iam/registry';
import type { LambdaRuntime } from '../lambda/runtime';
import type { StackArtifact, TemplateResource } from './assembly';
import type { LocalClients } from './clients';
import type { ResolveContext } from './intrinsics';
import type { NameScope } from './names';
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
  /**
   * Where roles, their policies and each function's identity are registered (the local
   * endpoint's IAM gate enforces them). Without it IAM resources are skipped.
   */
  readonly iam?: IamRegistry;
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

/** One stack being deployed. */
export interface StackState {
  readonly stack: StackArtifact;
  readonly scope: NameScope;
  readonly deployed: Map<string, DeployedResource>;
  readonly skipped: Map<string, number>;
  readonly counts: Map<string, number>;
  ctx: ResolveContext;
}

/** What a resource handler gets: the stack, the options, the resource and its resolved properties. */
export interface HandlerArgs {
  readonly st: StackState;
  readonly opts: DeployOptions;
  readonly logicalId: string;
  readonly resource: TemplateResource;
  readonly props: Record<string, unknown>;
  readonly warn: (m: string) => void;
}

export type Handler = (a: HandlerArgs) => Promise<DeployedResource>;
