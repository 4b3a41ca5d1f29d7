// The local deployer: cdk.out → resources on the embedded cloud (see deployer.ts).
export { deployAssembly, creationOrder, selectStacks } from './deployer';
export type { DeployOptions, DeployResult, DeployedResource, FirehoseControl, ResourceStatus, StackDeployment } from './deployer';
export { readAssembly, functionCodeDir } from './assembly';
export type { StackArtifact, Template, TemplateResource } from './assembly';
export { resolveValue, evaluateCondition, references, NO_VALUE, IntrinsicError } from './intrinsics';
export type { ResolveContext } from './intrinsics';
export { physicalName, stableUuid } from './names';
export { Scheduler, parseSchedule, parseCron, nextCronTime } from './schedule';
export type { Schedule, ScheduledRule, ScheduleTarget } from './schedule';
export { localClients } from './clients';
export type { Endpoints, LocalClients } from './clients';
