// IAM condition operators, evaluated the way the IAM documentation (“Condition operators”,
// “Single-valued vs. multivalued context keys”) describes:
//  - several values for one key in the policy are OR-ed; several keys, and several operators,
//    are AND-ed (the caller AND-s the clauses);
//  - a key absent from the request makes a positive operator false and a negated one
//    (StringNotEquals, ArnNotLike, NotIpAddress…) true; `…IfExists` makes it true either way;
//    `Null` tests presence;
//  - `ForAnyValue:` is true when some request value satisfies the operator (false when the key
//    is absent or empty), `ForAllValues:` when every request value does (true when absent).
import { BlockList, isIP } from 'node:net';
import type { RequestContext } from './context';
import { contextValues } from './context';
import { arnMatches, globMatch, substituteVariables } from './match';
import type { ConditionClause } from './policy';

/** Negated operator → its positive form. */
const NEGATED: Readonly<Record<string, string>> = {
  StringNotEquals: 'StringEquals',
  StringNotEqualsIgnoreCase: 'StringEqualsIgnoreCase',
  StringNotLike: 'StringLike',
  NumericNotEquals: 'NumericEquals',
  DateNotEquals: 'DateEquals',
  NotIpAddress: 'IpAddress',
  ArnNotEquals: 'ArnEquals',
  ArnNotLike: 'ArnLike',
};

/** Operators whose policy values may hold policy variables. */
const VARIABLE_OPERATORS = new Set(['StringEquals', 'StringEqualsIgnoreCase', 'StringLike', 'ArnEquals', 'ArnLike']);

function dateMs(text: string): number {
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text) * 1000; // epoch seconds
  return Date.parse(text);
}

function inCidr(cidr: string, ip: string): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  const [address = '', bits] = cidr.split('/');
  const cidrFamily = isIP(address);
  if (cidrFamily !== family) return false;
  const list = new BlockList();
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (bits === undefined) list.addAddress(address, type);
  else list.addSubnet(address, Number(bits), type);
  return list.check(ip, type);
}

/** The positive operator on one policy value and one request value. */
function matchesOne(operator: string, policyValue: string, requestValue: string): boolean {
  switch (operator) {
    case 'StringEquals':
      return policyValue === requestValue;
    case 'StringEqualsIgnoreCase':
      return policyValue.toLowerCase() === requestValue.toLowerCase();
    case 'StringLike':
      return globMatch(policyValue, requestValue);
    case 'NumericEquals':
    case 'NumericLessThan':
    case 'NumericLessThanEquals':
    case 'NumericGreaterThan':
    case 'NumericGreaterThanEquals':
      return compare(operator.slice('Numeric'.length), Number(requestValue), Number(policyValue));
    case 'DateEquals':
    case 'DateLessThan':
    case 'DateLessThanEquals':
    case 'DateGreaterThan':
    case 'DateGreaterThanEquals':
      return compare(operator.slice('Date'.length), dateMs(requestValue), dateMs(policyValue));
    case 'Bool':
      return policyValue.toLowerCase() === requestValue.toLowerCase();
    case 'BinaryEquals':
      return policyValue === requestValue;
    case 'IpAddress':
      return inCidr(policyValue, requestValue);
    case 'ArnEquals':
    case 'ArnLike':
      return arnMatches(policyValue, requestValue);
    default:
      return false;
  }
}

function compare(relation: string, request: number, policy: number): boolean {
  if (Number.isNaN(request) || Number.isNaN(policy)) return false;
  switch (relation) {
    case 'Equals':
      return request === policy;
    case 'LessThan':
      return request < policy;
    case 'LessThanEquals':
      return request <= policy;
    case 'GreaterThan':
      return request > policy;
    case 'GreaterThanEquals':
      return request >= policy;
    default:
      return false;
  }
}

/** Evaluates one condition clause (one operator, one key) against the request context. */
export function conditionHolds(clause: ConditionClause, context: RequestContext, variables: boolean): boolean {
  const requestValues = contextValues(context, clause.key);
  const present = requestValues !== undefined && requestValues.length > 0;
  if (clause.operator === 'Null') {
    const wantsAbsent = clause.values.some((v) => v.toLowerCase() === 'true');
    return wantsAbsent ? !present : present;
  }
  const positive = NEGATED[clause.operator] ?? clause.operator;
  const negated = positive !== clause.operator;
  if (!present) {
    if (clause.set === 'ForAllValues') return true;
    if (clause.set === 'ForAnyValue') return false;
    return clause.ifExists || negated;
  }
  const policyValues = variables && VARIABLE_OPERATORS.has(positive)
    ? clause.values.map((v) => substituteVariables(v, context)).filter((v): v is string => v !== undefined)
    : clause.values;
  // Whether one request value satisfies the clause's operator (negation included).
  const satisfies = (requestValue: string): boolean => {
    const hit = policyValues.some((p) => matchesOne(positive, p, requestValue));
    return negated ? !hit : hit;
  };
  if (clause.set === 'ForAllValues') return requestValues.every(satisfies);
  if (clause.set === 'ForAnyValue') return requestValues.some(satisfies);
  // A single-valued key (or a multivalued one without a qualifier): the positive operator holds
  // if any request value matches; the negated one if none does.
  const anyHit = requestValues.some((r) => policyValues.some((p) => matchesOne(positive, p, r)));
  return negated ? !anyHit : anyHit;
}
