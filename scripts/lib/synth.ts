// Synthesizing the CDK app from a script: the project's own cdk CLI, offline (telemetry and
// notices off), quiet; the cloud assembly lands in `outdir` (default cdk.out).
//
// With RIFFLE_SYNTH_CACHE=<dir> (the jest setup sets it) an assembly is reused when the same
// arguments were synthesized from the same sources before: the key hashes the cdk arguments and
// every file synth reads (infra/, functions/, jobs/, events/, cdk.json, tsconfig.json and the
// lockfile). Several e2e suites deploy the same stack; each synth costs tens of seconds of esbuild.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
/** What a synth reads: a change in any of these is a different assembly. */
const SYNTH_INPUTS = ['infra', 'functions', 'jobs', 'events', 'cdk.json', 'cdk.context.json', 'tsconfig.json', 'package-lock.json'];

export interface SynthOptions {
  readonly outdir?: string;
  /** Only these jobs (`riffle:jobs` context). */
  readonly jobs?: readonly string[];
  /** Further `-c name=value` context, e.g. `riffle:config.<job>.reducerBatchingWindow`. */
  readonly context?: Readonly<Record<string, string | number>>;
  readonly log?: (line: string) => void;
}

export async function synth(options: SynthOptions = {}): Promise<string> {
  const outdir = path.resolve(ROOT, options.outdir ?? 'cdk.out');
  const context: string[] = [];
  if (options.jobs?.length) context.push('-c', `riffle:jobs=${options.jobs.join(',')}`);
  for (const [name, value] of Object.entries(options.context ?? {})) context.push('-c', `${name}=${value}`);
  const started = Date.now();
  const cacheDir = process.env.RIFFLE_SYNTH_CACHE;
  if (cacheDir) {
    mkdirSync(cacheDir, { recursive: true });
    const cached = path.join(cacheDir, synthCacheKey(context));
    if (!existsSync(cached)) {
      const building = `${cached}.${process.pid}.tmp`;
      await runCdk([...context, '--output', building]);
      try {
        renameSync(building, cached);
      } catch {
        rmSync(building, { recursive: true, force: true }); // another worker finished the same key first
      }
      pruneCache(cacheDir);
    }
    rmSync(outdir, { recursive: true, force: true });
    cpSync(cached, outdir, { recursive: true });
  } else {
    await runCdk([...context, '--output', outdir]);
  }
  options.log?.(`synthesized ${path.relative(ROOT, outdir)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return outdir;
}

function runCdk(args: readonly string[]): Promise<void> {
  const cdk = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'cdk.cmd' : 'cdk');
  return new Promise<void>((resolve, reject) => {
    const child = spawn(cdk, ['synth', '--no-notices', '--quiet', ...args], { cwd: ROOT, env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
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
}

/** The cache key of a synth: its cdk arguments and the content of every input under `root`. */
export function synthCacheKey(context: readonly string[], root = ROOT): string {
  const hash = createHash('sha256').update(JSON.stringify(context));
  const visit = (file: string): void => {
    const stat = statSync(file, { throwIfNoEntry: false });
    if (!stat) return;
    if (stat.isDirectory()) {
      for (const name of readdirSync(file).sort()) visit(path.join(file, name));
    } else {
      hash.update(`\u0000${path.relative(root, file)}\u0000`).update(readFileSync(file));
    }
  };
  for (const input of SYNTH_INPUTS) visit(path.join(root, input));
  return hash.digest('hex').slice(0, 24);
}

/** Keeps the newest assemblies: an edit to any source makes every older key unreachable. */
const CACHE_ENTRIES = 12;

function pruneCache(cacheDir: string): void {
  const entries = readdirSync(cacheDir)
    .filter((name) => !name.endsWith('.tmp'))
    .map((name) => ({ name, mtime: statSync(path.join(cacheDir, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const old of entries.slice(CACHE_ENTRIES)) rmSync(path.join(cacheDir, old.name), { recursive: true, force: true });
}
