// Builds the Riffle CDK app: reads the `riffle:*` context, validates it against the job registry,
// creates one RiffleStack per input source and registers the cdk-nag AwsSolutions checks, so a
// synth with an unacknowledged finding fails. infra/app.ts runs it; tests call it with fixtures.
import type { App } from 'aws-cdk-lib';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Job } from '../functions/core/job';
import { CONFIG_CONTEXT, JOBS_CONTEXT, type JobDescriptor, planDeployment, type RiffleContext } from './config';
import { RiffleStack } from './stack';

/** What the infrastructure needs from each job definition of jobs/. */
export function describeJobs(registry: Readonly<Record<string, Job<unknown>>>): Record<string, JobDescriptor> {
  return Object.fromEntries(
    Object.values(registry).map((job) => [
      job.name,
      {
        name: job.name,
        source: job.source,
        emit: job.emit,
        aggregates: Object.fromEntries(Object.entries(job.aggregates).map(([field, aggregate]) => [field, { kind: aggregate.kind }])),
      },
    ]),
  );
}

/** The riffle:* context of an app, including flat `-c riffle:config.<job>.<setting>=<value>` overrides. */
export function readContext(app: App): RiffleContext {
  const all = app.node.getAllContext() as Record<string, unknown>;
  const prefix = `${CONFIG_CONTEXT}.`;
  const overrides = Object.fromEntries(
    Object.entries(all)
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, value]) => [key.slice(prefix.length), value]),
  );
  return { jobs: all[JOBS_CONTEXT], config: all[CONFIG_CONTEXT], overrides };
}

export interface BuildOptions {
  /** Register cdk-nag's AwsSolutions checks on the app. @default true */
  readonly nag?: boolean;
}

/** Add the Riffle stacks the app's context selects; throws a ConfigError for invalid context. */
export function buildRiffleApp(app: App, registry: Readonly<Record<string, JobDescriptor>>, options: BuildOptions = {}): RiffleStack[] {
  const plan = planDeployment(readContext(app), registry);
  const stacks = plan.sources.map((source) => new RiffleStack(app, source.stackName, { plan: source }));
  if (options.nag ?? true) {
    // cdk-nag 3 is a policy-validation plugin (not an Aspect): findings fail the synth unless
    // acknowledged with Validations.of(construct).acknowledge({ id, reason }); the reasons are
    // also written into the template metadata (cdk_nag.rules_to_suppress) for auditors.
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }));
  }
  return stacks;
}
