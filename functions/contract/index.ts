// The contract between Riffle's parts — functions, the CDK app, the local cloud and the scripts:
// environment variables, the state table's layout, metric names and the limits both sides check.
// Imported by every side, so a name or a limit is written once (docs/CONTRACTS.md explains them).
export * from './env';
export * from './limits';
export * from './metrics';
export * from './table';
