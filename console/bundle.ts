// Builds the console page with esbuild (a dev dependency) when the console starts: the page's
// TypeScript, uPlot and the styles become one script and one stylesheet served from memory — no
// CDN, nothing fetched at run time, so the page works offline.
import path from 'node:path';
import { build } from 'esbuild';

export interface PageBundle {
  readonly js: string;
  readonly css: string;
}

export async function bundlePage(): Promise<PageBundle> {
  const result = await build({
    entryPoints: [path.join(__dirname, 'page', 'app.ts')],
    bundle: true,
    write: false,
    outdir: path.join(__dirname, 'page', 'dist'),
    format: 'iife',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const file = (ext: string) => result.outputFiles.find((f) => f.path.endsWith(ext))?.text ?? '';
  return { js: file('.js'), css: file('.css') };
}
