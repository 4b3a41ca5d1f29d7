// The functions ⇄ CDK contract checked from both sides: the limits the functions enforce at cold
// start fail the synth first, with a message naming the fix, and every variable the stack writes
// for a role is one that role's handler accepts (functions/contract/env.ts reads the template's own
// values).
import { Template } from 'aws-cdk-lib/assertions';
import { readRoleSettings, SHUFFLE_BUCKETS, type FunctionRole } from '../../functions/contract';
import { ConfigError, planDeployment } from '../../infra/config';
import { buildTestApp, REGISTRY } from './helpers';

function configError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('shuffle buckets: one limit on both sides', () => {
  test('30 shuffle shards × parallelization 10 fails at synth, naming the setting and the fix', () => {
    const config = { 'sensor-averages': { shuffleShards: 30, reducerParallelization: 10 } };
    const message = configError(() => buildTestApp({ jobs: 'sensor-averages', config }));
    expect(message).toBe(
      `riffle:config.sensor-averages.shuffleBuckets: the default, 4 × shuffleShards (30) × reducerParallelization (10) = 1200, exceeds the ${SHUFFLE_BUCKETS.max} shuffle buckets a mapper accepts ` +
        `(each mapper batch sends one bundle per bucket); set shuffleBuckets to at most ${SHUFFLE_BUCKETS.max} (e.g. "shuffleBuckets": ${SHUFFLE_BUCKETS.max}), or lower shuffleShards or reducerParallelization`,
    );
  });

  test('the same layout with shuffleBuckets set within the limit synthesizes, and the mapper accepts what it gets', () => {
    const { stacks } = buildTestApp({ jobs: 'sensor-averages', config: { 'sensor-averages': { shuffleShards: 30, reducerParallelization: 10, shuffleBuckets: SHUFFLE_BUCKETS.max } } });
    const mapper = stacks[0]!.jobs['sensor-averages']!.wiring.mapper;
    const env = Template.fromStack(stacks[0]!).toJSON().Resources[stacks[0]!.getLogicalId(mapper.node.defaultChild as never)].Properties.Environment.Variables;
    expect(env.RIFFLE_SHUFFLE_BUCKETS).toBe(String(SHUFFLE_BUCKETS.max));
  });

  test('an explicit value above the limit is out of range', () => {
    expect(configError(() => planDeployment({ jobs: 'clicks', config: { clicks: { shuffleBuckets: 2000 } } }, REGISTRY))).toBe(
      `riffle:config.clicks.shuffleBuckets: 2000 is out of range; use ${SHUFFLE_BUCKETS.min}–${SHUFFLE_BUCKETS.max}`,
    );
  });
});

test("every role's variables, as synthesized, are read by that role's handler", () => {
  const { stacks } = buildTestApp({ jobs: 'clicks,click-sessions' });
  const stack = stacks[0]!;
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, { Properties: { Environment: { Variables: Record<string, unknown> } } }>;
  for (const job of ['clicks', 'click-sessions']) {
    const wiring = stack.jobs[job]!.wiring;
    for (const role of ['mapper', 'reducer', 'closer'] as FunctionRole[]) {
      const variables = resources[stack.getLogicalId(wiring[role].node.defaultChild as never)]!.Properties.Environment.Variables;
      // References (Ref, Fn::GetAtt) stand for names resolved at deploy time: any non-empty string.
      const env = Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, typeof v === 'string' ? v : `resolved-${k}`]));
      expect(readRoleSettings(role, env)).toMatchObject({ job, shuffleBuckets: 8 });
    }
  }
});
