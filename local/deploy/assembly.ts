// Reads a CDK cloud assembly (cdk.out): manifest.json → stacks (template, environment,
// dependencies) and their file assets (<stack>.assets.json: asset hash → directory), including
// nested assemblies (CDK Stages). Also finds a Lambda function's code directory from either the
// `aws:asset:path` resource metadata or the asset hash in Code.S3Key.
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

export interface Template {
  readonly AWSTemplateFormatVersion?: string;
  readonly Parameters?: Record<string, { Type?: string; Default?: unknown }>;
  readonly Mappings?: Record<string, Record<string, Record<string, unknown>>>;
  readonly Conditions?: Record<string, unknown>;
  readonly Resources?: Record<string, TemplateResource>;
  readonly Outputs?: Record<string, { Value: unknown; Condition?: string; Export?: { Name: unknown }; Description?: string }>;
}

export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DependsOn?: string | string[];
  readonly Condition?: string;
  readonly Metadata?: Record<string, unknown>;
}

export interface StackArtifact {
  /** Artifact ID in the manifest (usually the stack name). */
  readonly id: string;
  /** The CloudFormation stack name. */
  readonly stackName: string;
  readonly displayName: string;
  readonly assemblyDir: string;
  readonly template: Template;
  /** From `aws://account/region`; undefined when environment-agnostic. */
  readonly account?: string;
  readonly region?: string;
  /** Other stacks (artifact IDs) this one depends on. */
  readonly dependencies: readonly string[];
  /** Asset hash → absolute path of the asset (directory or file). */
  readonly assets: ReadonlyMap<string, string>;
}

interface ManifestArtifact {
  type?: string;
  environment?: string;
  properties?: { templateFile?: string; stackName?: string; file?: string; directoryName?: string };
  dependencies?: string[];
  displayName?: string;
}

interface AssetManifest {
  files?: Record<string, { source?: { path?: string; packaging?: string } }>;
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** Every stack in the assembly (and nested assemblies), in manifest order. */
export function readAssembly(dir: string): StackArtifact[] {
  const assemblyDir = path.resolve(dir);
  const manifestFile = path.join(assemblyDir, 'manifest.json');
  if (!existsSync(manifestFile)) throw new Error(`no cloud assembly at ${assemblyDir} (manifest.json missing; run the synth first)`);
  const manifest = readJson<{ artifacts?: Record<string, ManifestArtifact> }>(manifestFile);
  const artifacts = manifest.artifacts ?? {};
  const assetsByArtifact = new Map<string, Map<string, string>>();
  for (const [id, a] of Object.entries(artifacts)) {
    if (a.type !== 'cdk:asset-manifest' || !a.properties?.file) continue;
    const files = readJson<AssetManifest>(path.join(assemblyDir, a.properties.file)).files ?? {};
    const map = new Map<string, string>();
    for (const [hash, f] of Object.entries(files)) if (f.source?.path) map.set(hash, path.join(assemblyDir, f.source.path));
    assetsByArtifact.set(id, map);
  }
  const stacks: StackArtifact[] = [];
  for (const [id, a] of Object.entries(artifacts)) {
    if (a.type === 'cdk:cloud-assembly' && a.properties?.directoryName) {
      stacks.push(...readAssembly(path.join(assemblyDir, a.properties.directoryName)));
      continue;
    }
    if (a.type !== 'aws:cloudformation:stack' || !a.properties?.templateFile) continue;
    const env = /^aws:\/\/([^/]+)\/(.+)$/.exec(a.environment ?? '');
    const account = env?.[1] && !env[1].startsWith('unknown-') ? env[1] : undefined;
    const region = env?.[2] && !env[2].startsWith('unknown-') ? env[2] : undefined;
    const assets = new Map<string, string>();
    for (const dep of a.dependencies ?? []) for (const [h, p] of assetsByArtifact.get(dep) ?? []) assets.set(h, p);
    stacks.push({
      id,
      stackName: a.properties.stackName ?? id,
      displayName: a.displayName ?? id,
      assemblyDir,
      template: readJson<Template>(path.join(assemblyDir, a.properties.templateFile)),
      ...(account ? { account } : {}),
      ...(region ? { region } : {}),
      dependencies: (a.dependencies ?? []).filter((d) => artifacts[d]?.type === 'aws:cloudformation:stack'),
      assets,
    });
  }
  return stacks;
}

/**
 * The directory holding a function's bundled code: the `aws:asset:path` metadata CDK adds when
 * asset metadata is on, else the asset whose hash names Code.S3Key (`<hash>.zip`).
 */
export function functionCodeDir(stack: StackArtifact, resource: TemplateResource, resolvedS3Key: unknown): string | undefined {
  const meta = resource.Metadata?.['aws:asset:path'];
  const candidates: string[] = [];
  if (typeof meta === 'string') candidates.push(path.resolve(stack.assemblyDir, meta));
  if (typeof resolvedS3Key === 'string') {
    const hash = path.basename(resolvedS3Key).replace(/\.(zip|jar)$/, '');
    const asset = stack.assets.get(hash);
    if (asset) candidates.push(asset);
    candidates.push(path.join(stack.assemblyDir, `asset.${hash}`));
  }
  return candidates.find((c) => existsSync(c) && statSync(c).isDirectory());
}
