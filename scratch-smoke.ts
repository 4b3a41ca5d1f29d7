import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { startLocalServer } from './local/server';
import { runProduce } from './scripts/produce';
import { resolveTarget } from './scripts/lib/targets';
(async () => {
  const server = await startLocalServer({ port: 0 });
  const target = resolveTarget('local', { endpoint: server.endpoint, outputs: { 'Riffle-clickstream': { ClickstreamInputStream: 'in', ClickstreamBucket: 'b', Jobs: 'clickstream' } } });
  const k = new KinesisClient(target.clientConfig());
  await k.send(new CreateStreamCommand({ StreamName: 'in', ShardCount: 2 }));
  for (;;) { const s = await k.send(new DescribeStreamSummaryCommand({ StreamName: 'in' })); if (s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break; await new Promise(r => setTimeout(r, 20)); }
  for (const extra of [[], ['--concurrency', '4'], ['--aggregate'], ['--rate', '2000/s', '--count', '5000']]) {
    const argv = ['--job', 'clickstream', '--count', '50000', '--seed', '1', '--late-fraction', '1%', '--bad-fraction', '1%', '--duplicate-fraction', '1%', '--log', '/tmp/smoke/log.jsonl', ...extra];
    const t = Date.now();
    const code = await runProduce(argv, { stdout: process.stdout, stderr: process.stderr, target });
    console.log('exit', code, extra.join(' '), Date.now() - t, 'ms');
  }
  k.destroy();
  await server.stop();
})();
