// The local cloud endpoint alone, in its own process, for the upload-memory bench: its RSS is what
// is measured, so it must not share a process with the clients. Prints {"endpoint","pid"} once
// listening; stops on SIGTERM. Usage: tsx upload-memory-server.ts <dataDir>
import { startLocalServer } from '../../local/server';

void (async () => {
  const dataDir = process.argv[2];
  if (!dataDir) {
    console.error('usage: upload-memory-server.ts <dataDir>');
    process.exit(2);
  }
  const server = await startLocalServer({ port: 0, dataDir, ttlSweepIntervalMs: 0 });
  process.stdout.write(`${JSON.stringify({ endpoint: server.endpoint, pid: process.pid })}\n`);
  process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
})();
