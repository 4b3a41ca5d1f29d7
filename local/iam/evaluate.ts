// The IAM policy evaluator: pure, synchronous, no AWS calls. It implements the identity-based
// part of AWS's documented evaluation logic (“Policy evaluation logic”, same account):
//   1. every request starts denied;
//   2. a matching Deny statement in any policy wins (explicit deny);
//   3. otherwise a matching Allow statement allows;
//   4. otherwise the request stays denied (implicit deny).
// A statement matches when its Action (or NotAction) matches the action, its Resource (or
// NotResource) matches the resource ARN, and every condition holds.
//
// Not evaluated, on purpose: resource-based policies (a bucket policy can only add grants for a
// same-account role, and the ones CDK writes deny plain HTTP, which the local endpoint always
// is), permissions boundaries, session policies and SCPs (none exist locally).
//
// Hand-written: the one maintained npm simulator (@cloud-copilot/iam-simulate) is AGPL-3.0,
// which this Apache-2.0 project cannot embed, and the rules needed here are short.
import { conditionHolds } from './conditions';
import type { RequestContext } from './context';
import { actionMatches, arnMatches, substituteVariables } from './match';
import type { Policy, Statement } from './policy';

export interface AuthorizationRequest {
  /** `service:Operation`, e.g. `kinesis:PutRecords`. */
  readonly action: string;
  /** The resource ARN, or `*` for actions that take no resource (ListStreams…). */
  readonly resource: string;
  readonly context: RequestContext;
}

export type Decision =
  | { readonly effect: 'Allow'; readonly policy: string; readonly statement: Statement }
  | { readonly effect: 'ExplicitDeny'; readonly policy: string; readonly statement: Statement }
  | { readonly effect: 'ImplicitDeny' };

function resourceMatches(pattern: string, resource: string, policy: Policy, context: RequestContext): boolean {
  const expanded = policy.variables ? substituteVariables(pattern, context) : pattern;
  if (expanded === undefined) return false;
  // An action without a resource is requested on "*": only a "*" pattern covers it.
  if (resource === '*') return expanded === '*';
  return arnMatches(expanded, resource);
}

/** Whether `statement` (from `policy`) applies to the request, ignoring its effect. */
export function statementMatches(statement: Statement, policy: Policy, request: AuthorizationRequest): boolean {
  const action = statement.actions
    ? statement.actions.some((a) => actionMatches(a, request.action))
    : !(statement.notActions ?? []).some((a) => actionMatches(a, request.action));
  if (!action) return false;
  const resource = statement.resources
    ? statement.resources.some((r) => resourceMatches(r, request.resource, policy, request.context))
    : !(statement.notResources ?? []).some((r) => resourceMatches(r, request.resource, policy, request.context));
  if (!resource) return false;
  return statement.conditions.every((c) => conditionHolds(c, request.context, policy.variables));
}

/** AWS's decision for `request` given the principal's identity-based policies. */
export function evaluate(request: AuthorizationRequest, policies: readonly Policy[]): Decision {
  let allow: Decision | undefined;
  for (const policy of policies) {
    for (const statement of policy.statements) {
      if (!statementMatches(statement, policy, request)) continue;
      if (statement.effect === 'Deny') return { effect: 'ExplicitDeny', policy: policy.name, statement };
      allow ??= { effect: 'Allow', policy: policy.name, statement };
    }
  }
  return allow ?? { effect: 'ImplicitDeny' };
}
