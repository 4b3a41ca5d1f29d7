// Jest runs TypeScript through @swc/jest, compiled to CommonJS. middy >= 5, hyparquet and
// hyparquet-writer ship ESM only, so their packages are transformed too (transformIgnorePatterns
// lets them through) instead of running the whole suite under --experimental-vm-modules.
const swc = ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }];
const common = {
  transform: { '^.+\\.(t|j|mj)s$': swc },
  transformIgnorePatterns: ['/node_modules/(?!(@middy|hyparquet|hyparquet-writer)/)'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  testEnvironment: 'node',
  // One fast-check seed for the whole run; synthesized assemblies shared between suites.
  setupFiles: ['<rootDir>/test/support/fast-check-seed.ts', '<rootDir>/test/support/synth-cache.ts'],
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'infra', testMatch: ['<rootDir>/test/infra/**/*.test.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
  ],
};
