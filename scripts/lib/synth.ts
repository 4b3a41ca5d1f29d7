// Synthesizing the CDK app from a script: the project's own cdk CLI, offline (telemetry and
// notices off), quiet; the cloud assembly lands in `outdir` (default cdk.out).
import { spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

export async function synth(options: { outdir?: string; jobs?: readonly string[]; log?: (line: string) => void } = {}): Promise<string> {
  const outdir = path.resolve(ROOT, options.outdir ?? 'cdk.out');
  const args = ['synth', '--no-notices', '--quiet', '--output', outdir];
  if (options.jobs?.length) args.push('-c', `riffle:jobs=${options.jobs.join(',')}`);
  const cdk = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'cdk.cmd' : 'cdk');
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(cdk, args, { cwd: ROOT, env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (error) => reject(new Error(`could not run cdk (${error.message}); run 'npm install' first`)));
    child.on('close', (code) => {
      if (code === 0) resolve();
      // Bundler chatter is noise; a failing synth's own message is at the end.
      else reject(new Error(`cdk synth failed (exit ${code}):\n${output.split('\n').filter((l) => !/^\s*(\.\.\.|⚡|Bundling asset)/.test(l)).join('\n').trim()}`));
    });
  });
  options.log?.(`synthesized ${path.relative(ROOT, outdir)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return outdir;
}
