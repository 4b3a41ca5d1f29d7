// The job a Lambda entry bundles. There is no such module on disk: each function's esbuild bundle
// aliases 'riffle:job' to jobs/<name>.ts (infra/constructs/riffle-function.ts), so a function
// contains its own job and no other — editing one job changes only that job's functions.
declare module 'riffle:job' {
  const job: import('../core/job').Job;
  export default job;
}
