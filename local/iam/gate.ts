// The one check the local endpoint runs on every request before a service sees it
// (local/server.ts calls check()):
//  1. Region: resources live in the region they were deployed to. A Kinesis, DynamoDB, Firehose
//     or Lambda request signed for another region sees an empty region — empty lists,
//     ResourceNotFoundException — instead of this region's resources. (S3 bucket names are
//     global and CloudWatch is not scoped.)
//  2. IAM: a request signed with a function's access key is evaluated against the policies of
//     the function's execution role, as the deployer registered them; a denial is answered with
//     AWS's AccessDenied error in the service's protocol and logged once per call site (with a
//     count of repeats). Keys no function owns — the default credentials of scripts, tests and
//     the user's CLI — are the account's administrator and are not checked; nor are functions
//     whose role no deployed template defines (the deployer warns about those).
// Requests from the administrator to this region — nearly all traffic — take the fast path:
// one regex on the Authorization header and a map lookup.
import { classifyCall, type ServiceCall } from './calls';
import { requestContext, mergeContexts } from './context';
import { signatureScope } from './credentials';
import { evaluate } from './evaluate';
import { IamRegistry, type FunctionPrincipal } from './registry';
import { accessDenied, emptyRegion } from './responses';
import type { GateRequest } from './calls';
import type { ServiceResponse } from '../services/http';

const REGIONAL_SIGNING_SERVICES = new Set(['kinesis', 'dynamodb', 'firehose', 'lambda']);
/** A repeated denial at the same call site is logged again at most this often. */
const RELOG_MS = 10_000;

export interface Denial {
  readonly functionName: string;
  readonly roleArn: string;
  readonly action: string;
  readonly resource: string;
  readonly explicit: boolean;
  readonly at: number;
}

export interface IamGateOptions {
  readonly region: string;
  readonly accountId: string;
  /** Where denials are reported (the server's warning log). */
  readonly log: (line: string) => void;
}

export interface IamStats {
  readonly enforcing: boolean;
  /** Requests evaluated against a function's policies. */
  readonly checked: number;
  readonly denied: number;
  /** Requests answered as from an empty region. */
  readonly otherRegion: number;
}

export class IamGate {
  readonly registry: IamRegistry;
  private checked = 0;
  private denied = 0;
  private otherRegion = 0;
  private readonly recent: Denial[] = [];
  private readonly logged = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly options: IamGateOptions) {
    this.registry = new IamRegistry(options.accountId);
  }

  /** An answer to send instead of the service's, or undefined to let the request through. */
  check(req: GateRequest): ServiceResponse | undefined {
    const scope = signatureScope(req.headers, req.query);
    if (!scope) return undefined;
    const principal = this.registry.principal(scope.accessKeyId);
    const foreign = scope.region !== this.options.region && REGIONAL_SIGNING_SERVICES.has(scope.service);
    if (!principal && !foreign) return undefined;
    const call = classifyCall(req, scope.service, {
      region: scope.region,
      accountId: this.options.accountId,
      hashKeyOf: (table) => this.registry.hashKeyOf(table),
    });
    if (!call) return undefined;
    if (foreign) {
      const answer = emptyRegion(call, this.options.accountId, scope.region, this.options.region);
      if (answer) {
        this.otherRegion++;
        return answer;
      }
    }
    if (!principal || !this.registry.enforcing) return undefined;
    return this.authorize(call, principal, scope.region);
  }

  stats(): IamStats {
    return { enforcing: this.registry.enforcing, checked: this.checked, denied: this.denied, otherRegion: this.otherRegion };
  }

  /** The latest denials (at most 100), oldest first. */
  denials(): readonly Denial[] {
    return [...this.recent];
  }

  private authorize(call: ServiceCall, principal: FunctionPrincipal, region: string): ServiceResponse | undefined {
    const policies = this.registry.policiesOf(principal.roleArn);
    if (!policies) return undefined;
    this.checked++;
    const now = new Date();
    const base = requestContext({
      'aws:PrincipalArn': principal.roleArn,
      'aws:PrincipalAccount': this.options.accountId,
      'aws:PrincipalType': 'AssumedRole',
      'aws:userid': `AROA${principal.accessKeyId.slice(4)}:${principal.functionName}`,
      'aws:RequestedRegion': region,
      'aws:ResourceAccount': this.options.accountId,
      'aws:CurrentTime': now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      'aws:EpochTime': String(Math.floor(now.getTime() / 1000)),
      // Functions reach AWS over TLS; the local endpoint's plain HTTP is not what a policy should see.
      'aws:SecureTransport': 'true',
      'aws:PrincipalIsAWSService': 'false',
      'lambda:SourceFunctionArn': principal.functionArn,
    });
    for (const auth of call.authorizations) {
      const context = auth.context ? mergeContexts(base, requestContext(auth.context)) : base;
      const decision = evaluate({ action: auth.action, resource: auth.resource, context }, policies);
      if (decision.effect === 'Allow') continue;
      const explicit = decision.effect === 'ExplicitDeny';
      this.denied++;
      this.remember({ functionName: principal.functionName, roleArn: principal.roleArn, action: auth.action, resource: auth.resource, explicit, at: now.getTime() });
      const why = explicit
        ? `denied by ${decision.statement.sid ? `statement ${decision.statement.sid} of ` : ''}${decision.policy} (explicit deny)`
        : `no statement of its role's policies allows it`;
      this.report(
        `${principal.functionName}|${auth.action}|${auth.resource}`,
        `IAM denied ${auth.action} on ${auth.resource} to function ${principal.functionName} (role ${principal.roleName}): ${why}. ` +
          `AWS would refuse this call too: grant it in the stack (infra/), or run the local cloud with --no-iam`,
      );
      return accessDenied(call, principal.sessionArn, auth.action, auth.resource, explicit);
    }
    return undefined;
  }

  private remember(denial: Denial): void {
    this.recent.push(denial);
    if (this.recent.length > 100) this.recent.shift();
  }

  private report(site: string, line: string): void {
    const now = Date.now();
    const previous = this.logged.get(site);
    if (previous && now - previous.at < RELOG_MS) {
      previous.suppressed++;
      return;
    }
    const repeats = previous?.suppressed ? ` (${previous.suppressed} more time${previous.suppressed === 1 ? '' : 's'} since the last report)` : '';
    this.logged.set(site, { at: now, suppressed: 0 });
    this.options.log(`${line}${repeats}`);
  }
}
