// The console next to a running embedded cloud (`npm run local`, `npm start -- --keep-running`):
// the same server `npm run console` starts, pointed at the cloud's endpoint and stack outputs, on
// port 4580 (or a free port when that one is taken), so the commands can print a link to it.
import { resolveTarget, type StackOutputs } from '../scripts/lib/targets';
import { startConsole, type ConsoleServer } from './server';

export const DEFAULT_CONSOLE_PORT = 4580;

export async function attachConsole(cloud: { endpoint: string; outputs: StackOutputs }, port = DEFAULT_CONSOLE_PORT): Promise<ConsoleServer> {
  const target = resolveTarget('local', { endpoint: cloud.endpoint, outputs: cloud.outputs });
  try {
    return await startConsole({ target, port });
  } catch (error) {
    if (port === 0 || !/already in use/.test((error as Error).message)) throw error;
    return startConsole({ target, port: 0 });
  }
}
