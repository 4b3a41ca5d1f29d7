// IAM policy documents as the evaluator reads them: a JSON policy (as written in a template's
// AWS::IAM::Role / AWS::IAM::Policy / AWS::IAM::ManagedPolicy, already resolved by the deployer)
// parsed once into normalized statements — single values turned into lists, condition
// operators split into their base operator, `…IfExists` and `ForAllValues:`/`ForAnyValue:`
// qualifiers, condition keys lower-cased (IAM compares them case-insensitively).
//
// Parsing is strict where IAM itself is strict: a policy IAM would reject at deployment
// (no Effect, an unknown condition operator, Action and NotAction together…) throws
// PolicyError, so a broken grant fails the local deployment just as CloudFormation would.

export type Effect = 'Allow' | 'Deny';

/** Set qualifiers for multivalued condition keys. */
export type SetOperator = 'ForAllValues' | 'ForAnyValue';

export interface ConditionClause {
  /** Base operator, e.g. `StringLike` (without IfExists or a set qualifier). */
  readonly operator: string;
  readonly ifExists: boolean;
  readonly set: SetOperator | undefined;
  /** Lower-cased condition key, e.g. `aws:requestedregion`. */
  readonly key: string;
  readonly values: readonly string[];
}

export interface Statement {
  readonly sid: string | undefined;
  readonly effect: Effect;
  /** Exactly one of actions / notActions is set. */
  readonly actions: readonly string[] | undefined;
  readonly notActions: readonly string[] | undefined;
  /** Exactly one of resources / notResources is set. */
  readonly resources: readonly string[] | undefined;
  readonly notResources: readonly string[] | undefined;
  readonly conditions: readonly ConditionClause[];
}

export interface Policy {
  /** Where the policy comes from (shown in denial logs and errors), e.g. `MapperRoleDefaultPolicy`. */
  readonly name: string;
  /** Policy variables (`${aws:username}`) are only substituted under 2012-10-17. */
  readonly variables: boolean;
  readonly statements: readonly Statement[];
}

export class PolicyError extends Error {
  constructor(policy: string, message: string) {
    super(`policy ${policy}: ${message}`);
    this.name = 'PolicyError';
  }
}

/** Every condition operator IAM accepts (before IfExists / set qualifiers). */
export const CONDITION_OPERATORS: ReadonlySet<string> = new Set([
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
  'NumericEquals',
  'NumericNotEquals',
  'NumericLessThan',
  'NumericLessThanEquals',
  'NumericGreaterThan',
  'NumericGreaterThanEquals',
  'DateEquals',
  'DateNotEquals',
  'DateLessThan',
  'DateLessThanEquals',
  'DateGreaterThan',
  'DateGreaterThanEquals',
  'Bool',
  'BinaryEquals',
  'IpAddress',
  'NotIpAddress',
  'ArnEquals',
  'ArnLike',
  'ArnNotEquals',
  'ArnNotLike',
  'Null',
]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A policy field that may be one string or a list of strings. */
function stringList(policy: string, field: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new PolicyError(policy, `${field} is an empty list`);
  return list.map((v) => {
    if (typeof v !== 'string') throw new PolicyError(policy, `${field} must hold strings, got ${JSON.stringify(v)}`);
    return v;
  });
}

/** Condition values: strings, numbers and booleans all compare as their text. */
function conditionValues(policy: string, where: string, value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new PolicyError(policy, `${where}: condition values must be strings, numbers or booleans, got ${JSON.stringify(v)}`);
  });
}

function parseConditions(policy: string, sid: string, block: unknown): ConditionClause[] {
  if (block === undefined) return [];
  if (!isRecord(block)) throw new PolicyError(policy, `statement ${sid}: Condition must be an object`);
  const clauses: ConditionClause[] = [];
  for (const [rawOperator, keys] of Object.entries(block)) {
    let operator = rawOperator;
    let set: SetOperator | undefined;
    const colon = operator.indexOf(':');
    if (colon >= 0) {
      const qualifier = operator.slice(0, colon);
      if (qualifier !== 'ForAllValues' && qualifier !== 'ForAnyValue') throw new PolicyError(policy, `statement ${sid}: unknown condition qualifier ${qualifier}`);
      set = qualifier;
      operator = operator.slice(colon + 1);
    }
    let ifExists = false;
    if (operator.endsWith('IfExists')) {
      ifExists = true;
      operator = operator.slice(0, -'IfExists'.length);
    }
    if (!CONDITION_OPERATORS.has(operator) || (operator === 'Null' && ifExists)) {
      throw new PolicyError(policy, `statement ${sid}: unknown condition operator ${rawOperator}`);
    }
    if (!isRecord(keys)) throw new PolicyError(policy, `statement ${sid}: Condition ${rawOperator} must map keys to values`);
    for (const [key, value] of Object.entries(keys)) {
      clauses.push({ operator, ifExists, set, key: key.toLowerCase(), values: conditionValues(policy, `statement ${sid} ${rawOperator} ${key}`, value) });
    }
  }
  return clauses;
}

/**
 * Parses a policy document (an object, or its JSON text as in AWS::IAM::ManagedPolicy exports).
 * Throws PolicyError for what IAM would reject.
 */
export function parsePolicy(name: string, document: unknown): Policy {
  const doc: unknown = typeof document === 'string' ? JSON.parse(document) : document;
  if (!isRecord(doc)) throw new PolicyError(name, 'the policy document is not an object');
  const version = doc['Version'];
  if (version !== undefined && version !== '2012-10-17' && version !== '2008-10-17') throw new PolicyError(name, `unknown Version ${JSON.stringify(version)}`);
  const rawStatements = doc['Statement'];
  if (rawStatements === undefined) throw new PolicyError(name, 'the policy has no Statement');
  const list = Array.isArray(rawStatements) ? rawStatements : [rawStatements];
  const statements = list.map((raw, i): Statement => {
    if (!isRecord(raw)) throw new PolicyError(name, `statement ${i} is not an object`);
    const sid = typeof raw['Sid'] === 'string' ? raw['Sid'] : undefined;
    const label = sid ?? String(i);
    const effect = raw['Effect'];
    if (effect !== 'Allow' && effect !== 'Deny') throw new PolicyError(name, `statement ${label}: Effect must be Allow or Deny, got ${JSON.stringify(effect)}`);
    if (raw['Principal'] !== undefined || raw['NotPrincipal'] !== undefined) {
      throw new PolicyError(name, `statement ${label}: an identity-based policy cannot have Principal or NotPrincipal`);
    }
    const actions = stringList(name, `statement ${label} Action`, raw['Action']);
    const notActions = stringList(name, `statement ${label} NotAction`, raw['NotAction']);
    if ((actions === undefined) === (notActions === undefined)) throw new PolicyError(name, `statement ${label}: needs exactly one of Action and NotAction`);
    const resources = stringList(name, `statement ${label} Resource`, raw['Resource']);
    const notResources = stringList(name, `statement ${label} NotResource`, raw['NotResource']);
    if ((resources === undefined) === (notResources === undefined)) throw new PolicyError(name, `statement ${label}: needs exactly one of Resource and NotResource`);
    return { sid, effect, actions, notActions, resources, notResources, conditions: parseConditions(name, label, raw['Condition']) };
  });
  return { name, variables: version === '2012-10-17', statements };
}
