// `npm run local` — the embedded local cloud, long-running: synth, start the single endpoint
// (default http://localhost:4566), deploy every Riffle stack, and keep running, so that
// `npm run produce` and `npm run query` (or any AWS SDK/CLI) can talk to it from another
// terminal. Ctrl-C stops cleanly: pollers drain, Firehose flushes its buffers to S3.
import path from 'node:path';
import { startLocalCloud } from '../local/cloud';
import { type CommandSpec, intOption, runMain } from './lib/cli';
import { synth } from './lib/synth';

const spec: CommandSpec = {
  name: 'npm run local --',
  summary: 'run the embedded local cloud with every Riffle stack deployed, until Ctrl-C',
  usage: 'npm run local -- [--port 4566] [--fresh] [--no-synth] [--stacks Riffle-clickstream,…] [--time-scale 1] [--no-iam] [--verbose]',
  options: {
    port: { type: 'string', description: 'port of the single endpoint', default: '4566', integer: { min: 0, max: 65_535 } },
    fresh: { type: 'boolean', description: 'wipe .riffle/ (streams, tables, output files, checkpoints) first' },
    'no-synth': { type: 'boolean', description: 'deploy the existing cdk.out without synthesizing again' },
    stacks: { type: 'string', description: 'comma-separated stacks to deploy', default: 'all' },
    'time-scale': { type: 'string', description: 'speed up schedules and Firehose buffering intervals by this factor', default: '1', integer: { min: 1, max: 1000 } },
    'data-dir': { type: 'string', description: 'state directory', default: '.riffle' },
    'no-iam': { type: 'boolean', description: "do not check the functions' AWS calls against their roles' IAM policies (checked by default, as on AWS)" },
    verbose: { type: 'boolean', description: "print every line the functions log (default: one summary line per invocation, errors in full; the full logs are always in <data-dir>/logs/)" },
  },
  examples: ['npm run local', 'npm run local -- --fresh', 'npm run local -- --port 4567 --stacks Riffle-clickstream'],
};

runMain(spec, async (parsed) => {
  const dataDir = path.resolve(typeof parsed.values['data-dir'] === 'string' ? parsed.values['data-dir'] : '.riffle');
  if (parsed.values['no-synth'] !== true) {
    console.log('synthesizing the CDK app (npm run synth)…');
    await synth({ log: (l) => console.log(l) });
  }
  const stacks = typeof parsed.values.stacks === 'string' ? parsed.values.stacks.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  const cloud = await startLocalCloud({
    port: intOption(parsed, 'port', 4566),
    dataDir,
    fresh: parsed.values.fresh === true,
    iam: parsed.values['no-iam'] !== true,
    timeScale: intOption(parsed, 'time-scale', 1),
    ...(stacks ? { stacks } : {}),
    log: (l) => console.log(l),
    functionLogs: parsed.values.verbose === true ? 'verbose' : 'summary',
  });
  const lines = [
    '',
    `Riffle local cloud running at ${cloud.endpoint} (Kinesis, DynamoDB, S3, Firehose, Lambda on one port)`,
    `state: ${path.relative(process.cwd(), dataDir) || '.'}/ · output objects: s3://<bucket>/ on the endpoint · outputs: ${path.relative(process.cwd(), path.join(dataDir, 'outputs.json'))}`,
    `function logs: ${path.relative(process.cwd(), cloud.functionLogs.dir)}/<function>.log (full) · here: ${parsed.values.verbose === true ? 'every line (--verbose)' : 'one line per invocation, errors in full (--verbose for every line)'}`,
    '',
    'In another terminal:',
    '  npm run produce -- --job clickstream --count 10000',
    '  npm run query -- "SELECT * FROM results LIMIT 10"',
    '',
    'For the AWS CLI or your own SDK code:',
    ...Object.entries(cloud.env).map(([k, v]) => `  export ${k}=${v}`),
    '',
    'Resources:',
  ];
  for (const [stack, outputs] of Object.entries(cloud.outputs)) {
    lines.push(`  ${stack}`);
    for (const [key, value] of Object.entries(outputs).sort()) lines.push(`    ${key.padEnd(34)} ${value}`);
  }
  lines.push('', 'Ctrl-C to stop (flushes Firehose buffers first).');
  console.log(lines.join('\n'));
  const web = await (await import('../console/attach')).attachConsole(cloud).catch((error: Error) => console.log(`(the console did not start: ${error.message})`));
  if (web) console.log(`Console: ${web.url}  (the pipeline, windows and results of every job; npm run console -- --help)`);

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      console.log('\nstopping: draining pollers, flushing Firehose…');
      void cloud.stop().then(resolve, (error: unknown) => {
        console.error(`stop failed: ${(error as Error).message}`);
        resolve();
      });
    };
    process.on('SIGINT', stop); // on, not once: a terminal's Ctrl-C reaches us twice (directly and relayed by tsx)
    process.on('SIGTERM', stop);
  });
  console.log('stopped.');
});
