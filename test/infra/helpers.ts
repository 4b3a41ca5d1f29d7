// Shared fixtures of the infra tests: apps built like `cdk synth` builds them (cdk.json's feature
// flags), but without bundling (the `aws:cdk:bundling-stacks` context lists no stack, so
// NodejsFunction skips esbuild) and without CDK's built-in CloudFormation validation (slow WASM,
// and not what these tests check); a small job registry with a shared source and an update job.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { JobDescriptor } from '../../infra/config';
import { buildRiffleApp } from '../../infra/riffle-app';
import type { RiffleStack } from '../../infra/stack';

const ROOT = path.resolve(__dirname, '..', '..');

/** The context of cdk.json: feature flags and the default riffle:jobs. */
export function cdkJsonContext(): Record<string, unknown> {
  return (JSON.parse(readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
}

/** Jobs shaped like jobs/: a standalone job, and two jobs sharing the source 'clicks' (one in update mode). */
export const REGISTRY: Readonly<Record<string, JobDescriptor>> = {
  'sensor-averages': {
    name: 'sensor-averages',
    source: 'sensor-averages',
    emit: 'final',
    aggregates: { count: { kind: 'count' }, temperature_avg: { kind: 'mean' }, temperature_p95: { kind: 'quantile' }, top: { kind: 'topK' } },
  },
  clicks: { name: 'clicks', source: 'clicks', emit: 'final', aggregates: { clicks: { kind: 'count' } } },
  'click-sessions': {
    name: 'click-sessions',
    source: 'clicks',
    emit: 'update',
    aggregates: { clicks: { kind: 'count' }, entry_page: { kind: 'first' }, duration_ms: { kind: 'eventTimeSpan' } },
  },
};

export interface TestAppOptions {
  readonly jobs?: unknown;
  readonly config?: unknown;
  readonly extraContext?: Record<string, unknown>;
  readonly registry?: Readonly<Record<string, JobDescriptor>>;
  /** Register cdk-nag on the app (synth then fails on findings). @default false */
  readonly nag?: boolean;
}

export function buildTestApp(options: TestAppOptions = {}): { app: App; stacks: RiffleStack[] } {
  const app = new App({
    builtinCloudFormationValidation: false,
    context: {
      ...cdkJsonContext(),
      'aws:cdk:bundling-stacks': [],
      ...(options.jobs === undefined ? {} : { 'riffle:jobs': options.jobs }),
      ...(options.config === undefined ? {} : { 'riffle:config': options.config }),
      ...options.extraContext,
    },
  });
  const stacks = buildRiffleApp(app, options.registry ?? REGISTRY, { nag: options.nag ?? false });
  return { app, stacks };
}

/** cdk-nag AwsSolutions findings that are not acknowledged, as 'RuleId @ construct path' lines. */
export function nagFindings(scope: IConstruct): string[] {
  const report = new AwsSolutionsChecks(undefined, { verbose: false }).validateScope(scope);
  return report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} @ ${r.constructPath ?? '?'}`));
}
