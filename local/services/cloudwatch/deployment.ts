// What the local CloudWatch takes from a deployed stack: its AWS::CloudWatch::Alarm resources
// (the deployer skips them: alarms have no other local behaviour) with their intrinsics resolved
// against the deployed resources, and the request-metrics filters of its buckets (AWS/S3
// PutRequests per prefix, which the stack's failed-batch and delivery-error alarms read).
import type { StackArtifact } from '../../deploy/assembly';
import type { DeployResult } from '../../deploy/deployer';
import { evaluateCondition, resolveValue, type ResolveContext } from '../../deploy/intrinsics';
import type { AlarmDefinition } from './alarms';
import type { BucketFilter } from './service-metrics';

export interface StackMonitoring {
  readonly alarms: AlarmDefinition[];
  readonly filters: BucketFilter[];
  /** Alarms that could not be resolved locally, with the reason. */
  readonly skipped: string[];
}

export function monitoringOf(stacks: readonly StackArtifact[], result: DeployResult, region: string, accountId: string): StackMonitoring {
  const out: StackMonitoring = { alarms: [], filters: [], skipped: [] };
  for (const deployed of result.stacks) {
    const stack = stacks.find((s) => s.stackName === deployed.stackName);
    const template = stack?.template;
    if (!template?.Resources) continue;
    const parameters = Object.fromEntries(Object.entries(template.Parameters ?? {}).map(([k, v]) => [k, v.Default]));
    const ctx: ResolveContext = {
      region,
      accountId,
      stackName: deployed.stackName,
      parameters,
      ...(template.Mappings ? { mappings: template.Mappings } : {}),
      condition: (name) => evaluateCondition(template.Conditions?.[name], ctx, `Conditions.${name}`),
      ref: (id) => deployed.resources[id]?.physicalId ?? parameters[id],
      getAtt: (id, attr) => deployed.resources[id]?.attributes[attr] ?? `${deployed.resources[id]?.physicalId ?? id}.${attr}`,
    };
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      if (resource.Condition && !ctx.condition(resource.Condition)) continue;
      try {
        if (resource.Type === 'AWS::CloudWatch::Alarm') {
          const props = resolveValue(resource.Properties ?? {}, ctx, logicalId) as Record<string, unknown>;
          out.alarms.push({ ...props, AlarmName: (props.AlarmName as string | undefined) ?? `${deployed.stackName}-${logicalId}` } as unknown as AlarmDefinition);
        } else if (resource.Type === 'AWS::S3::Bucket') {
          const configs = resource.Properties?.MetricsConfigurations;
          if (!Array.isArray(configs)) continue;
          const bucket = deployed.resources[logicalId]?.physicalId;
          if (!bucket) continue;
          for (const c of resolveValue(configs, ctx, logicalId) as { Id?: string; Prefix?: string }[]) {
            if (c.Id) out.filters.push({ bucket, id: c.Id, prefix: c.Prefix ?? '' });
          }
        }
      } catch (error) {
        out.skipped.push(`${deployed.stackName}/${logicalId}: ${(error as Error).message}`);
      }
    }
  }
  return out;
}
