// scripts/cdk.ts: the arguments npm run synth | deploy | diff | destroy pass to the cdk CLI.
import { cdkArgs } from '../../scripts/cdk';

test('synth: notices off, quiet unless a stack is named', () => {
  expect(cdkArgs('synth', [])).toEqual(['synth', '--no-notices', '--quiet']);
  expect(cdkArgs('synth', ['Riffle-clickstream'])).toEqual(['synth', '--no-notices', 'Riffle-clickstream']);
  expect(cdkArgs('synth', ['-c', 'riffle:jobs=clickstream'])).toEqual(['synth', '--no-notices', '-c', 'riffle:jobs=clickstream', '--quiet']);
});

test('deploy: every stack unless named, outputs to cdk-outputs.json unless given', () => {
  expect(cdkArgs('deploy', [])).toEqual(['deploy', '--no-notices', '--all', '--outputs-file', 'cdk-outputs.json']);
  expect(cdkArgs('deploy', ['-c', 'riffle:jobs=clickstream', 'Riffle-clickstream'])).toEqual(['deploy', '--no-notices', '-c', 'riffle:jobs=clickstream', 'Riffle-clickstream', '--outputs-file', 'cdk-outputs.json']);
  expect(cdkArgs('deploy', ['--outputs-file', 'out.json'])).toEqual(['deploy', '--no-notices', '--outputs-file', 'out.json', '--all']);
});

test('destroy takes every stack; diff passes through', () => {
  expect(cdkArgs('destroy', ['-f'])).toEqual(['destroy', '--no-notices', '-f', '--all']);
  expect(cdkArgs('diff', [])).toEqual(['diff', '--no-notices']);
});
