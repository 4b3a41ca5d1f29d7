// IAM in the embedded local cloud: the policy evaluator, the registry of roles and function
// identities the deployer fills, and the gate the endpoint runs before every service.
export { IamGate } from './gate';
export type { Denial, IamGateOptions, IamStats } from './gate';
export { IamRegistry, roleNameOf } from './registry';
export type { FunctionPrincipal } from './registry';
export { evaluate, statementMatches } from './evaluate';
export type { AuthorizationRequest, Decision } from './evaluate';
export { parsePolicy, PolicyError } from './policy';
export type { Policy, Statement, ConditionClause } from './policy';
export { requestContext } from './context';
export type { RequestContext } from './context';
export { functionAccessKeyId, functionCredentials, signatureScope } from './credentials';
export { awsManagedPolicy, isAwsManagedPolicyArn } from './managed-policies';
export { classifyCall } from './calls';
