// Where `produce`, `query` and the LocalStack scripts send their requests: --target local (the
// embedded local cloud), localstack, or aws. A target is an endpoint (none for AWS), a region,
// credentials (dummy ones locally, the SDK's standard chain on AWS) and the resource names from
// the deploy outputs file each target writes in `cdk deploy --outputs-file` shape. Every failure
// here says which command fixes it.
import { existsSync, readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import path from 'node:path';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { outputKey, stackName, type JobOutput } from '../../infra/outputs';
import { jobs } from '../../jobs';
import { UsageError } from './cli';

export const TARGET_NAMES = ['local', 'localstack', 'aws'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

/** `{ "<stack>": { "<OutputKey>": "value" } }`, as `cdk deploy --outputs-file` writes it. */
export type StackOutputs = Record<string, Record<string, string>>;

interface TargetInfo {
  outputsFile: string;
  defaultEndpoint?: string;
  /** What creates the outputs file. */
  deploy: string;
  /** What starts the target (local ones only). */
  start?: string;
}

export const TARGET_INFO: Readonly<Record<TargetName, TargetInfo>> = {
  local: {
    outputsFile: '.riffle/outputs.json',
    // The embedded cloud listens on 127.0.0.1; an IP (not `localhost`, which may resolve to ::1
    // first) also makes the S3 SDK use path-style addressing by itself.
    defaultEndpoint: 'http://127.0.0.1:4566',
    deploy: 'run `npm run local` (in another terminal; it deploys every stack and writes .riffle/outputs.json)',
    start: 'start it with `npm run local` in another terminal',
  },
  localstack: {
    outputsFile: '.riffle/localstack-outputs.json',
    defaultEndpoint: 'http://localhost:4566',
    deploy: 'start LocalStack with `npm run localstack:up`, then deploy with `npm run localstack:deploy` (it writes .riffle/localstack-outputs.json)',
    start: 'start it with `npm run localstack:up` (Docker), then `npm run localstack:deploy`',
  },
  aws: {
    outputsFile: 'cdk-outputs.json',
    deploy: 'deploy with `npm run deploy` (it writes cdk-outputs.json)',
  },
};

/** A problem with the target the user can fix; printed without a stack trace. */
export class TargetError extends UsageError {}

export interface ClientConfig {
  region?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  forcePathStyle?: boolean;
  requestHandler: NodeHttpHandler;
  maxAttempts: number;
}

export interface Target {
  readonly name: TargetName;
  /** Undefined for AWS (the SDK's own endpoint resolution). */
  readonly endpoint: string | undefined;
  /** Undefined on AWS when neither AWS_REGION nor --region is set (the SDK reads the profile). */
  readonly region: string | undefined;
  readonly outputsFile: string;
  readonly outputs: StackOutputs;
  /**
   * SDK client configuration. Always an explicit HTTP/1.1 NodeHttpHandler: the Kinesis client's
   * default HTTP/2 handler hangs against plain-HTTP endpoints.
   */
  clientConfig(): ClientConfig;
}

export interface ResolveOptions {
  /** Project directory the outputs file is relative to (default: cwd). */
  cwd?: string;
  /** Overrides the target's default endpoint (local, localstack). */
  endpoint?: string;
  region?: string;
  env?: NodeJS.ProcessEnv;
  /** Use these outputs instead of reading the file (tests). */
  outputs?: StackOutputs;
  /** Read this outputs file instead of the target's default one. */
  outputsFile?: string;
}

export function isTargetName(value: string): value is TargetName {
  return (TARGET_NAMES as readonly string[]).includes(value);
}

/**
 * Reads the target's outputs file (or `outputsFile`, e.g. for `npm run local -- --data-dir`);
 * throws TargetError naming the command that creates it.
 */
export function readOutputs(name: TargetName, cwd = process.cwd(), outputsFile?: string): { file: string; outputs: StackOutputs } {
  const info = TARGET_INFO[name];
  const file = path.resolve(cwd, outputsFile ?? info.outputsFile);
  if (!existsSync(file)) {
    if (outputsFile !== undefined) throw new TargetError(`--outputs ${outputsFile}: no such file; point it at the outputs.json of your deployment, or leave it out to use ${info.outputsFile}`);
    throw new TargetError(`${info.outputsFile} not found (--target ${name} reads resource names from it): ${info.deploy}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new TargetError(`${info.outputsFile} is not valid JSON (${(error as Error).message}); delete it and ${info.deploy}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new TargetError(`${info.outputsFile} should map stack names to their outputs; delete it and ${info.deploy}`);
  }
  const outputs: StackOutputs = {};
  for (const [stack, values] of Object.entries(parsed as Record<string, unknown>)) {
    if (!values || typeof values !== 'object') continue;
    outputs[stack] = Object.fromEntries(Object.entries(values as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
  }
  return { file, outputs };
}

export function resolveTarget(name: TargetName, options: ResolveOptions = {}): Target {
  const env = options.env ?? process.env;
  const info = TARGET_INFO[name];
  const { file, outputs } = options.outputs ? { file: path.resolve(options.cwd ?? process.cwd(), info.outputsFile), outputs: options.outputs } : readOutputs(name, options.cwd, options.outputsFile);
  const endpoint = name === 'aws' ? undefined : (options.endpoint ?? info.defaultEndpoint);
  if (endpoint !== undefined) checkEndpoint(endpoint);
  // On AWS an unset region is left to the SDK, which also reads it from the profile (~/.aws/config).
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? (name === 'aws' ? undefined : 'us-east-1');
  let handler: NodeHttpHandler | undefined;
  return {
    name,
    endpoint,
    region,
    outputsFile: file,
    outputs,
    clientConfig(): ClientConfig {
      // One keep-alive pool per target, shared by its clients (callers destroy the clients).
      handler ??= new NodeHttpHandler({
        httpAgent: new Agent({ keepAlive: true, maxSockets: 32 }),
        httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 32 }),
        connectionTimeout: 5_000,
        requestTimeout: 60_000,
      });
      return {
        ...(region !== undefined ? { region } : {}),
        requestHandler: handler,
        maxAttempts: 3,
        ...(endpoint !== undefined
          ? // Local targets accept any credentials; fixed ones keep a user's real AWS profile out of it.
            { endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, forcePathStyle: true }
          : {}),
      };
    },
  };
}

function checkEndpoint(endpoint: string): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new TargetError(`--endpoint '${endpoint}' is not a URL; write it like http://localhost:4566`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TargetError(`--endpoint '${endpoint}' must start with http:// or https:// (e.g. http://localhost:4566)`);
  }
}

/** Names of the jobs deployed on a target: the union of every stack's `Jobs` output. */
export function deployedJobs(target: Pick<Target, 'outputs'>): string[] {
  const names: string[] = [];
  for (const values of Object.values(target.outputs)) {
    for (const job of (values.Jobs ?? '').split(',').map((s) => s.trim()).filter(Boolean)) if (!names.includes(job)) names.push(job);
  }
  // Outputs written without a Jobs list: recognise the registry's jobs by their keys.
  for (const name of Object.keys(jobs)) {
    if (!names.includes(name) && Object.values(target.outputs).some((v) => v[outputKey(name, 'InputStream')] !== undefined)) names.push(name);
  }
  return names;
}

/**
 * One output of a job. Jobs of one source share the input stream and the bucket, so a job that is
 * not deployed itself (clickstream-sessions next to clickstream) still finds those through its
 * source's stack.
 */
export function jobOutput(target: Pick<Target, 'name' | 'outputs'>, job: string, output: JobOutput): string {
  const key = outputKey(job, output);
  for (const values of Object.values(target.outputs)) if (values[key] !== undefined) return values[key] as string;
  const definition = jobs[job];
  const shared: readonly JobOutput[] = ['InputStream', 'Bucket', 'StateTable'];
  if (definition && shared.includes(output)) {
    const stack = target.outputs[stackName(definition.source)];
    const value = stack && Object.entries(stack).find(([k]) => k.endsWith(output))?.[1];
    if (value !== undefined) return value;
  }
  const deployed = deployedJobs(target);
  const known = Object.keys(jobs);
  const what = definition ? `job '${job}' is not deployed` : `there is no job '${job}' (jobs in jobs/: ${known.join(', ')})`;
  const fix = definition
    ? target.name === 'aws'
      ? `add it to "riffle:jobs" in cdk.json (or -c riffle:jobs=${job}) and run \`npm run deploy\``
      : target.name === 'local'
        ? `add it to "riffle:jobs" in cdk.json and restart \`npm run local\``
        : `add it to "riffle:jobs" in cdk.json and run \`npm run localstack:deploy\``
    : 'check the name';
  throw new TargetError(`${what} on --target ${target.name} (${TARGET_INFO[target.name].outputsFile} has ${deployed.length ? `jobs: ${deployed.join(', ')}` : 'no jobs'}); ${fix}`);
}

/** Every bucket of the target with the jobs whose output it holds. */
export function buckets(target: Pick<Target, 'name' | 'outputs'>): { bucket: string; jobs: string[] }[] {
  const byBucket = new Map<string, string[]>();
  for (const job of deployedJobs(target)) {
    const bucket = jobOutput(target, job, 'Bucket');
    byBucket.set(bucket, [...(byBucket.get(bucket) ?? []), job]);
  }
  return [...byBucket.entries()].map(([bucket, names]) => ({ bucket, jobs: names }));
}

/**
 * A readable explanation of a request error against a target, or undefined when it is nothing
 * target-specific (connection refused, missing stream or bucket, missing AWS credentials).
 */
export function explainError(target: Pick<Target, 'name' | 'endpoint'>, error: unknown): string | undefined {
  const e = error as { name?: string; code?: string; message?: string; errors?: { code?: string }[] };
  const codes = [e.code, e.name, ...(e.errors ?? []).map((x) => x.code)];
  const message = e.message ?? String(error);
  const info = TARGET_INFO[target.name];
  if (codes.some((c) => c === 'ECONNREFUSED' || c === 'ECONNRESET' || c === 'ENOTFOUND' || c === 'EHOSTUNREACH') || /ECONNREFUSED|socket hang up/.test(message)) {
    return target.name === 'aws'
      ? `cannot reach AWS (${message}); check your network or proxy settings`
      : `cannot reach the ${target.name === 'local' ? 'embedded local cloud' : 'LocalStack'} endpoint ${target.endpoint} (${message}): ${info.start ?? ''}${target.name === 'local' ? ', or pass --endpoint if it runs on another port' : ''}`;
  }
  if (e.name === 'ResourceNotFoundException' || e.name === 'NoSuchBucket') {
    return `${message} — ${info.outputsFile} names a resource that does not exist on --target ${target.name}; it is stale: ${info.deploy}`;
  }
  if (e.name === 'CredentialsProviderError' || /Could not load credentials/.test(message)) {
    return `no AWS credentials found (${message}): set AWS_PROFILE, run \`aws sso login\`, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY`;
  }
  if (/Region is missing/i.test(message)) {
    return 'no AWS region configured: export AWS_REGION (e.g. AWS_REGION=eu-west-1), set a region in your AWS profile, or pass --region';
  }
  if (e.name === 'ExpiredTokenException' || e.name === 'ExpiredToken') {
    return `your AWS session has expired (${message}): run \`aws sso login\` (or refresh your credentials) and try again`;
  }
  return undefined;
}

/** The SDK reads AWS_ENDPOINT_URL by itself: against AWS that is almost always a leftover local setting. */
export function endpointWarning(name: TargetName, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (name === 'aws' && env.AWS_ENDPOINT_URL) {
    return `warning: AWS_ENDPOINT_URL=${env.AWS_ENDPOINT_URL} is set, so the AWS SDK sends --target aws requests there; unset it to reach AWS`;
  }
  return undefined;
}

export interface LocalStackStatus {
  ok: boolean;
  /** What is wrong and what to run (when not ok), or a note (when ok). */
  message: string;
  edition?: string;
  version?: string;
  services?: Record<string, string>;
}

/** The LocalStack image docker-compose.yml pins: the last community release that needs no auth token. */
export const LOCALSTACK_VERSION = '4.14.0';

/**
 * Asks LocalStack's health endpoint whether it runs and which services it has. Tells the embedded
 * local cloud apart (both listen on :4566 by default), since deploying to it with cdklocal fails
 * in confusing ways.
 */
export async function localstackStatus(endpoint: string, fetchImpl: typeof fetch = fetch): Promise<LocalStackStatus> {
  const get = async (p: string): Promise<{ status: number; body: string } | undefined> => {
    try {
      const response = await fetchImpl(new URL(p, endpoint), { signal: AbortSignal.timeout(3_000) });
      return { status: response.status, body: await response.text() };
    } catch {
      return undefined;
    }
  };
  const health = await get('/_localstack/health');
  if (!health) {
    return { ok: false, message: `LocalStack is not reachable at ${endpoint}: start it with \`npm run localstack:up\` (Docker; first start pulls localstack/localstack:${LOCALSTACK_VERSION}), or pass --endpoint` };
  }
  let parsed: { services?: Record<string, string>; edition?: string; version?: string } | undefined;
  try {
    parsed = JSON.parse(health.body) as typeof parsed;
  } catch {
    parsed = undefined;
  }
  if (health.status !== 200 || !parsed?.services) {
    const riffle = await get('/_riffle/health');
    const what = riffle?.status === 200 ? 'the embedded local cloud (`npm run local`)' : 'something that is not LocalStack';
    return { ok: false, message: `${endpoint} is ${what}; stop it first (LocalStack uses the same port) and run \`npm run localstack:up\`` };
  }
  const missing = ['cloudformation', 'kinesis', 'dynamodb', 's3', 'firehose', 'lambda', 'iam', 'sts', 'ssm', 'events', 'logs'].filter((s) => {
    const state = parsed?.services?.[s];
    return state === undefined || state === 'disabled' || state === 'error';
  });
  if (missing.length > 0) {
    return { ok: false, message: `LocalStack at ${endpoint} lacks services Riffle needs: ${missing.join(', ')}; remove SERVICES= from its environment (docker-compose.yml enables all) and restart with \`npm run localstack:down && npm run localstack:up\`` };
  }
  const note = parsed.version && !parsed.version.startsWith(LOCALSTACK_VERSION) ? ` (version ${parsed.version}; Riffle targets ${LOCALSTACK_VERSION}, the image docker-compose.yml pins)` : '';
  return { ok: true, message: `LocalStack ${parsed.edition ?? ''} ${parsed.version ?? ''} at ${endpoint}${note}`.replace(/\s+/g, ' '), ...(parsed.edition ? { edition: parsed.edition } : {}), ...(parsed.version ? { version: parsed.version } : {}), services: parsed.services };
}
