// STS on the local endpoint: GetCallerIdentity, which `aws sts get-caller-identity`, CDK tooling and
// many scripts call first to learn the account. Any credentials are accepted locally, so the
// caller is the account's root. Other STS actions answer an awsQuery error naming what exists.
import type { ServiceRequest, ServiceResponse } from './http';
import { el, parseQueryRequest, queryErrorResponse, queryResponse } from './query';

const NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';

export class StsService {
  constructor(private readonly accountId: string) {}

  operation(request: ServiceRequest): string {
    return parseQueryRequest(request.body, request.query).action || 'Unknown';
  }

  handle(request: ServiceRequest): ServiceResponse {
    const { action } = parseQueryRequest(request.body, request.query);
    if (action === 'GetCallerIdentity') {
      return queryResponse(
        action,
        NAMESPACE,
        el('Arn', `arn:aws:iam::${this.accountId}:root`) + el('UserId', this.accountId) + el('Account', this.accountId),
      );
    }
    return queryErrorResponse('InvalidAction', `the Riffle local cloud's STS implements GetCallerIdentity only (got ${JSON.stringify(action)})`);
  }
}
