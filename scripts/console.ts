// `npm run console` — a web page on localhost for one deployment: the pipeline as a graph with
// live rates, open windows with late and rejected records, and the results as charts and tables.
// It reads everything through the public AWS APIs of the target (CloudWatch, DynamoDB, S3), so it
// shows the same on the embedded cloud, LocalStack and AWS (console/server.ts).
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { startConsole } from '../console/server';
import { type CommandSpec, intOption, runMain, UsageError } from './lib/cli';
import { endpointWarning, explainError, isTargetName, resolveTarget, TARGET_NAMES } from './lib/targets';

export const consoleSpec: CommandSpec = {
  name: 'npm run console --',
  summary: 'a live web console for one deployment: pipeline, windows and results (binds 127.0.0.1)',
  usage: 'npm run console -- [--target local|localstack|aws] [--port 4580] [--endpoint URL] [--region R] [--outputs FILE]',
  options: {
    target: { type: 'string', description: 'which deployment to show', default: 'local', choices: TARGET_NAMES },
    port: { type: 'string', description: 'port of the console on 127.0.0.1 (0 picks a free one)', default: '4580', integer: { min: 0, max: 65_535 } },
    endpoint: { type: 'string', description: 'endpoint of the local target (default http://127.0.0.1:4566; LocalStack http://localhost:4566)' },
    region: { type: 'string', description: 'AWS region (default: AWS_REGION or your profile; us-east-1 locally)' },
    outputs: { type: 'string', description: "deploy outputs file to read names from (default: the target's: .riffle/outputs.json, .riffle/localstack-outputs.json, cdk-outputs.json)" },
  },
  examples: ['npm run console', 'npm run console -- --port 0', 'npm run console -- --target aws --region eu-west-1'],
};

if (require.main === module) {
  runMain(consoleSpec, async (parsed) => {
    const str = (name: string) => (typeof parsed.values[name] === 'string' ? (parsed.values[name] as string) : undefined);
    const target = str('target') ?? 'local';
    if (!isTargetName(target)) throw new UsageError(`--target must be one of ${TARGET_NAMES.join(', ')}, got '${target}'`);
    const endpoint = str('endpoint');
    if (endpoint !== undefined && target === 'aws') throw new UsageError('--endpoint is for --target local or localstack; AWS endpoints follow the region (use --region)');
    const warning = endpointWarning(target);
    if (warning) console.error(warning);
    const region = str('region');
    const outputs = str('outputs');
    const resolved = resolveTarget(target, { ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}), ...(outputs ? { outputsFile: outputs } : {}) });
    const server = await startConsole({ target: resolved, port: intOption(parsed, 'port', 4580), log: (l) => console.error(l) });
    console.log(`Riffle console for --target ${target}: ${server.url}  (${[...server.deployment.jobs.keys()].join(', ') || 'no jobs deployed'}; Ctrl-C to stop)`);
    // The page says so too, but a target that cannot be reached is worth a line here.
    await server.deployment.cloudwatch.send(new DescribeAlarmsCommand({ MaxRecords: 1 })).catch((error: unknown) => {
      console.error(`warning: ${explainError(resolved, error) ?? (error as Error).message}; the page will show data once it answers`);
    });
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        void server.close().then(resolve, resolve);
      };
      process.on('SIGINT', stop); // on, not once: a terminal's Ctrl-C reaches us twice (directly and relayed by tsx)
      process.on('SIGTERM', stop);
    });
  });
}
