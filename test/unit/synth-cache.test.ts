// The synth cache key (scripts/lib/synth.ts): the same arguments over the same sources reuse an
// assembly; a changed source file, a new file or different context never does.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { synthCacheKey } from '../../scripts/lib/synth';

let root: string;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'riffle-synth-key-'));
  mkdirSync(path.join(root, 'infra'));
  mkdirSync(path.join(root, 'jobs'));
  writeFileSync(path.join(root, 'infra', 'stack.ts'), 'export const a = 1;');
  writeFileSync(path.join(root, 'jobs', 'j.ts'), 'export const j = 1;');
  writeFileSync(path.join(root, 'cdk.json'), '{}');
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

it('is stable for the same arguments and sources', () => {
  expect(synthCacheKey(['-c', 'riffle:jobs=x'], root)).toBe(synthCacheKey(['-c', 'riffle:jobs=x'], root));
});

it('changes with the context, an edited source, a new file and a file outside the inputs does not count', () => {
  const before = synthCacheKey(['-c', 'riffle:jobs=x'], root);
  expect(synthCacheKey(['-c', 'riffle:jobs=y'], root)).not.toBe(before);
  writeFileSync(path.join(root, 'README.md'), 'not read by synth');
  expect(synthCacheKey(['-c', 'riffle:jobs=x'], root)).toBe(before);
  writeFileSync(path.join(root, 'jobs', 'j.ts'), 'export const j = 2;');
  const edited = synthCacheKey(['-c', 'riffle:jobs=x'], root);
  expect(edited).not.toBe(before);
  writeFileSync(path.join(root, 'jobs', 'k.ts'), '');
  expect(synthCacheKey(['-c', 'riffle:jobs=x'], root)).not.toBe(edited);
});
