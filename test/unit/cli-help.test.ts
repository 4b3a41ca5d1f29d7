// --help on the tool commands (produce, query, localstack:deploy, localstack:e2e): the
// text lists every option with its default and examples, and the scripts print it and exit 0 —
// or exit 2 with the message, not a stack trace, on a usage error.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { jobNames } from '../../jobs';
import { helpText, type CommandSpec } from '../../scripts/lib/cli';
import { deploySpec } from '../../scripts/localstack-deploy';
import { e2eSpec } from '../../scripts/localstack-e2e';
import { produceSpec } from '../../scripts/produce';
import { querySpec } from '../../scripts/query';

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const SPECS: [string, CommandSpec][] = [
  ['scripts/produce.ts', produceSpec],
  ['scripts/query.ts', querySpec],
  ['scripts/localstack-deploy.ts', deploySpec],
  ['scripts/localstack-e2e.ts', e2eSpec],
];

async function run(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(TSX, [script, ...args], { cwd: ROOT, env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('--help', () => {
  it.each(SPECS)('%s: every option, its default and examples', (_script, spec) => {
    const text = helpText(spec);
    expect(text).toContain(`Usage: ${spec.usage}`);
    for (const [name, option] of Object.entries(spec.options)) {
      expect(text).toContain(`--${name}`);
      expect(text).toContain(option.description);
      if (option.default !== undefined) expect(text).toContain(`default: ${String(option.default)}`);
    }
    for (const example of spec.examples ?? []) expect(text).toContain(example);
    expect(text).toContain('--help');
  });

  it('each script prints its help and exits 0; a usage error exits 2 with the message only', async () => {
    const results = await Promise.all([...SPECS.map(([script]) => run(script, ['--help'])), run('scripts/produce.ts', ['--job', 'nope', '--count', '1']), run('scripts/query.ts', [])]);
    SPECS.forEach(([, spec], i) => {
      const r = results[i] as { code: number; stdout: string };
      expect({ code: r.code, head: r.stdout.split('\n')[0] }).toEqual({ code: 0, head: `${spec.name} — ${spec.summary}` });
    });
    const badJob = results[SPECS.length] as { code: number; stderr: string };
    expect(badJob.code).toBe(2);
    expect(badJob.stderr.trim()).toBe(`npm run produce --: unknown job 'nope'; jobs (defined in jobs/): ${jobNames().join(', ')}`);
    const noSql = results[SPECS.length + 1] as { code: number; stderr: string };
    expect(noSql.code).toBe(2);
    expect(noSql.stderr).toMatch(/^npm run query --: give the SQL to run as one quoted argument/);
  });
});
