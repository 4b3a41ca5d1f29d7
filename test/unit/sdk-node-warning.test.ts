// No command a user runs prints the AWS SDK's Node-version warning ("NodeVersionSupportWarning …
// will require node >=22"): every package.json script that starts a TypeScript tool sets the
// SDK's own switch, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED (Node's --disable-warning
// cannot match it: the SDK emits it as a plain 'Warning'). The query case runs the script line
// exactly as npm would, on the Node running this test (Node 20 in CI's second pass, where the
// SDK would warn).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const scripts = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
const SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true';

test('every script that runs a tool of this repo on tsx turns the SDK warning off', () => {
  const runners = Object.entries(scripts).filter(([, line]) => /(^|\s)tsx\s/.test(line));
  expect(runners.map(([name]) => name)).toEqual(expect.arrayContaining(['local', 'start', 'produce', 'query', 'console', 'verify', 'bench', 'synth']));
  for (const [name, line] of runners) expect(`${name}: ${line}`).toContain(`${name}: ${SWITCH} `);
});

test('npm run query against an unreachable endpoint prints its one-line error and no SDK warning', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'riffle-sdk-warning-'));
  try {
    // `node` on PATH is the Node running this test (npm would put node_modules/.bin first).
    mkdirSync(path.join(dir, 'bin'));
    symlinkSync(process.execPath, path.join(dir, 'bin', 'node'));
    mkdirSync(path.join(dir, '.riffle'));
    writeFileSync(path.join(dir, '.riffle', 'outputs.json'), JSON.stringify({ 'Riffle-sensor-averages': { Jobs: 'sensor-averages', SensorAveragesBucket: 'results' } }));
    const line = (scripts['query'] ?? '').replace('scripts/query.ts', path.join(ROOT, 'scripts', 'query.ts'));
    const run = spawnSync('sh', ['-c', `${line} "$@"`, 'query', 'SELECT 1 FROM results', '--endpoint', 'http://127.0.0.1:9'], {
      cwd: dir,
      env: { ...process.env, PATH: [path.join(dir, 'bin'), path.join(ROOT, 'node_modules', '.bin'), process.env.PATH].join(path.delimiter) },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.stderr).toContain('cannot reach the embedded local cloud endpoint http://127.0.0.1:9');
    expect(run.stderr).not.toContain('NodeVersionSupportWarning');
    expect(run.status).not.toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
