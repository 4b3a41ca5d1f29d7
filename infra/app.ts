// The CDK app of cdk.json (`npx tsx infra/app.ts`): the job registry from jobs/, the Riffle stacks,
// and cdk-nag. Configuration mistakes print as one clear message instead of a stack trace.
import { App } from 'aws-cdk-lib';
import { ConfigError } from './config';

async function main(): Promise<void> {
  // Imported here, not at the top, so an invalid job definition (JobDefinitionError) is reported
  // like a configuration error: it names the job, the field and the fix.
  const { jobs } = await import('../jobs');
  const { buildRiffleApp, describeJobs } = await import('./riffle-app');
  const app = new App();
  buildRiffleApp(app, describeJobs(jobs));
  app.synth();
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || (error instanceof Error && error.name === 'JobDefinitionError')) {
    console.error(`\n${error.message}\n`);
    process.exit(1);
  }
  // cdk-nag findings: the report was printed above; the stack trace adds nothing.
  if (error instanceof Error && /^Validation failed|Acknowledge with/m.test(error.message)) {
    console.error(`\n${error.message}\nFix the finding, or acknowledge it with Validations.of(construct).acknowledge({ id, reason }) and a specific reason.\n`);
    process.exit(1);
  }
  throw error;
});
