// What the local cloud knows about identities, filled by the deployer as it walks templates:
// roles (by name, as IAM keys them) with their inline policies, the AWS::IAM::Policy and
// AWS::IAM::ManagedPolicy documents attached to them, customer managed policies by ARN, and
// each function's access key id → its function and execution role. A role's policies are
// composed when a request is checked, so a grant deployed after the function (or in another
// stack) still counts, as it does on AWS.
//
// Access keys that are not registered here — the default `test`/`riffle` keys of scripts,
// tests and the user's own CLI — are the account's administrator: never checked.
import { requestContext } from './context';
import { functionAccessKeyId } from './credentials';
import { evaluate } from './evaluate';
import { awsManagedPolicy, isAwsManagedPolicyArn } from './managed-policies';
import type { Policy } from './policy';

export interface FunctionPrincipal {
  readonly accessKeyId: string;
  readonly functionName: string;
  readonly functionArn: string;
  readonly roleArn: string;
  readonly roleName: string;
  /** `arn:aws:sts::<account>:assumed-role/<role>/<function>` — what AWS names the caller in errors. */
  readonly sessionArn: string;
}

interface RoleEntry {
  readonly arn: string;
  /** Policies by a stable identity (inline: `role/<PolicyName>`, AWS::IAM::Policy: its name). */
  readonly policies: Map<string, Policy>;
  readonly managedArns: Set<string>;
}

/** The role name of a role ARN (`arn:aws:iam::123:role/path/name` → `name`). */
export function roleNameOf(roleArn: string): string | undefined {
  const m = /^arn:[^:]+:iam::[^:]*:role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  return m?.[1];
}

export class IamRegistry {
  /** When false (`--no-iam`), the gate lets every call through; everything is still recorded. */
  enforcing = true;
  private readonly roles = new Map<string, RoleEntry>();
  private readonly managed = new Map<string, Policy>();
  private readonly principals = new Map<string, FunctionPrincipal>();
  private readonly tableHashKeys = new Map<string, string>();

  constructor(readonly accountId: string) {}

  /** Defines (or redefines, on redeploy) a role with its inline policies and managed policy ARNs. */
  defineRole(roleArn: string, inline: readonly Policy[], managedPolicyArns: readonly string[]): void {
    const name = roleNameOf(roleArn);
    if (!name) throw new Error(`not a role ARN: ${roleArn}`);
    const existing = this.roles.get(name);
    const policies = new Map<string, Policy>();
    // Keep what AWS::IAM::Policy resources attached; replace the role's own inline policies.
    for (const [id, p] of existing?.policies ?? []) if (!id.startsWith('inline/')) policies.set(id, p);
    for (const p of inline) policies.set(`inline/${p.name}`, p);
    const managedArns = new Set([...(existing?.managedArns ?? []), ...managedPolicyArns]);
    this.roles.set(name, { arn: roleArn, policies, managedArns });
  }

  /** An AWS::IAM::Policy attached to a role (by role name, as its Roles property lists them). */
  attachPolicy(roleName: string, policy: Policy): void {
    this.role(roleName).policies.set(`policy/${policy.name}`, policy);
  }

  /** A customer managed policy (AWS::IAM::ManagedPolicy) by its ARN. */
  defineManagedPolicy(arn: string, policy: Policy): void {
    this.managed.set(arn, policy);
  }

  attachManagedPolicy(roleName: string, arn: string): void {
    this.role(roleName).managedArns.add(arn);
  }

  hasRole(roleArn: string): boolean {
    const name = roleNameOf(roleArn);
    return name !== undefined && this.roles.has(name);
  }

  /** Managed policy ARNs attached to a role that are neither in a template nor known AWS managed policies. */
  unknownManagedPolicies(roleArn: string): string[] {
    const entry = this.roles.get(roleNameOf(roleArn) ?? '');
    if (!entry) return [];
    return [...entry.managedArns].filter((arn) => !this.managed.has(arn) && !(isAwsManagedPolicyArn(arn) && awsManagedPolicy(arn)));
  }

  /** Every policy that applies to the role now, or undefined for a role no template defined. */
  policiesOf(roleArn: string): Policy[] | undefined {
    const entry = this.roles.get(roleNameOf(roleArn) ?? '');
    if (!entry) return undefined;
    const out = [...entry.policies.values()];
    for (const arn of entry.managedArns) {
      const policy = this.managed.get(arn) ?? awsManagedPolicy(arn);
      if (policy) out.push(policy);
    }
    return out;
  }

  /**
   * Whether the role may perform `action` on `resource` (a request with no condition keys beyond
   * the principal's); undefined for a role no template defined.
   */
  allows(roleArn: string, action: string, resource: string): boolean | undefined {
    const policies = this.policiesOf(roleArn);
    if (!policies) return undefined;
    const context = requestContext({ 'aws:PrincipalArn': roleArn, 'aws:PrincipalAccount': this.accountId, 'aws:PrincipalType': 'AssumedRole' });
    return evaluate({ action, resource, context }, policies).effect === 'Allow';
  }

  /** Registers a function's identity; returns the access key id its environment signs with. */
  registerFunction(functionArn: string, functionName: string, roleArn: string): FunctionPrincipal {
    const roleName = roleNameOf(roleArn) ?? roleArn.split('/').pop() ?? roleArn;
    const principal: FunctionPrincipal = {
      accessKeyId: functionAccessKeyId(functionArn),
      functionName,
      functionArn,
      roleArn,
      roleName,
      sessionArn: `arn:aws:sts::${this.accountId}:assumed-role/${roleName}/${functionName}`,
    };
    this.principals.set(principal.accessKeyId, principal);
    return principal;
  }

  principal(accessKeyId: string): FunctionPrincipal | undefined {
    return this.principals.get(accessKeyId);
  }

  /** Records a table's partition key attribute (for the dynamodb:LeadingKeys condition key). */
  defineTable(tableName: string, hashKey: string): void {
    this.tableHashKeys.set(tableName, hashKey);
  }

  hashKeyOf(tableName: string): string | undefined {
    return this.tableHashKeys.get(tableName);
  }

  private role(name: string): RoleEntry {
    let entry = this.roles.get(name);
    if (!entry) {
      // A grant on a role defined later (or elsewhere): keep it until the role shows up.
      entry = { arn: `arn:aws:iam::${this.accountId}:role/${name}`, policies: new Map(), managedArns: new Set() };
      this.roles.set(name, entry);
    }
    return entry;
  }
}
