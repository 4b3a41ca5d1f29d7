// AWS Lambda REST requests → IAM checks: Invoke (lambda:InvokeFunction), InvokeAsync, GetFunction,
// GetFunctionConfiguration and the tag operations on the function ARN (with its qualifier, as
// Lambda authorizes `function:name:alias`), ListFunctions on "*". Other Lambda paths are not
// served by the local runtime and are left to it to refuse.
import type { CallScope, GateRequest, ServiceCall } from './call';

const INVOKE = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/;
const INVOKE_ASYNC = /^\/2014-11-13\/functions\/([^/]+)\/invoke-async\/?$/;
const FUNCTION = /^\/2015-03-31\/functions\/([^/]+)(\/configuration)?\/?$/;
const LIST = /^\/2015-03-31\/functions\/?$/;
const TAGS = /^\/2017-03-31\/tags\/([^/]+)\/?$/;

/** The function ARN a path names (name, `name:qualifier`, partial or full ARN). */
export function functionArnOf(scope: CallScope, raw: string, qualifier?: string | null): { arn: string; name: string } {
  let text = raw;
  try {
    text = decodeURIComponent(raw);
  } catch {
    // keep it as sent
  }
  const full = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)(?::(.+))?$/.exec(text);
  const partial = /^(?:\d{12}:)?function:([^:]+)(?::(.+))?$/.exec(text);
  const plain = /^([^:]+)(?::(.+))?$/.exec(text);
  const m = full ?? partial ?? plain;
  const name = m?.[1] ?? text;
  const version = m?.[2] ?? qualifier ?? undefined;
  return { name, arn: `arn:aws:lambda:${scope.region}:${scope.accountId}:function:${name}${version ? `:${version}` : ''}` };
}

export function lambdaCall(req: GateRequest, scope: CallScope): ServiceCall | undefined {
  const base = { service: 'lambda', protocol: 'rest-json' } as const;
  const method = req.method;
  let m: RegExpExecArray | null;
  const on = (operation: string, action: string, raw: string): ServiceCall => {
    const fn = functionArnOf(scope, raw, req.query.get('Qualifier'));
    return { ...base, operation, reach: 'resource', target: fn.name, authorizations: [{ action: `lambda:${action}`, resource: fn.arn }] };
  };
  if (method === 'POST' && (m = INVOKE.exec(req.path))) return on('Invoke', 'InvokeFunction', m[1] ?? '');
  if (method === 'POST' && (m = INVOKE_ASYNC.exec(req.path))) return on('InvokeAsync', 'InvokeAsync', m[1] ?? '');
  if (method === 'GET' && LIST.test(req.path)) return { ...base, operation: 'ListFunctions', reach: 'list', authorizations: [{ action: 'lambda:ListFunctions', resource: '*' }] };
  if (method === 'GET' && (m = FUNCTION.exec(req.path))) return m[2] ? on('GetFunctionConfiguration', 'GetFunctionConfiguration', m[1] ?? '') : on('GetFunction', 'GetFunction', m[1] ?? '');
  if ((m = TAGS.exec(req.path))) {
    const operation = method === 'GET' ? 'ListTags' : method === 'POST' ? 'TagResource' : 'UntagResource';
    return on(operation, operation, m[1] ?? '');
  }
  return undefined;
}
