// AWS::Events::Rule (schedule expressions) and AWS::Scheduler::Schedule: their Lambda targets
// are invoked asynchronously by the local scheduler; event-pattern rules and targets that are
// not local functions are reported as not emulated.
import type { DeployedResource, Handler, HandlerArgs, ResourceStatus } from '../types';
import { errorText, isRecord, nameFor, str } from './common';

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

export const eventsRule: Handler = async (a) => {
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
};

export const schedulerSchedule: Handler = async (a) => {
  const name = nameFor(a, 'events', 'Name');
  const arn = `arn:aws:scheduler:${a.st.scope.region}:${a.st.scope.accountId}:schedule/${str(a.props['GroupName']) ?? 'default'}/${name}`;
  const done = (status: ResourceStatus): DeployedResource => ({ logicalId: a.logicalId, type: a.resource.Type, physicalId: name, status, attributes: { Arn: arn } });
  const expression = str(a.props['ScheduleExpression']) ?? '';
  if ((str(a.props['State']) ?? 'ENABLED') !== 'ENABLED') return done('skipped');
  const targets = scheduleTargets(a, isRecord(a.props['Target']) ? [a.props['Target']] : []);
  return addSchedule(a, { name, arn, expression, targets, scheduler: true }, done);
};
