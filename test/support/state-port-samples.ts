// One call of every StatePort method, with arguments for a given job: the permissions tests run
// them through the production StateStore (test/unit/permissions.test.ts against a recording
// client, test/e2e/local-iam.test.ts on the embedded cloud with each role's grants). A method
// with a row in functions/contract/permissions.ts but no sample here fails those tests.
import type { StateStore } from '../../functions/commons/state-store';
import { itemPk, openPartition } from '../../functions/contract/table';

export type StatePortSample = (store: StateStore, job: string) => Promise<unknown>;
/** A port method newer (or older) than these types: called by name. */
type Loose = Record<string, (...args: unknown[]) => Promise<unknown>>;

const SHARD = 'shardId-000000000000';
const progress = { shardId: SHARD, maxEventTime: 1_000, updatedAt: 1, pendingEnds: [] };
const windowKey = (job: string) => ({ pk: itemPk(job, 'permission-sample'), sk: 'W#000000000000000#60000' });

export const STATE_PORT_SAMPLES: Readonly<Record<string, StatePortSample>> = {
  readProgress: (s, job) => s.readProgress(job),
  writeMapperProgress: (s, job) => (s as unknown as Loose).writeMapperProgress!(job, progress),
  updateMapperProgress: (s, job) => (s as unknown as Loose).updateMapperProgress!(job, SHARD, () => progress),
  writeBucketProgress: (s, job) => s.writeBucketProgress(job, [{ bucket: 0, applied: { [SHARD]: 1 }, updatedAt: 1 }]),
  raiseWatermark: (s, job) => s.raiseWatermark(job, 5_000),
  getMany: (s, job) => s.getMany([windowKey(job)]),
  get: (s, job) => s.get(windowKey(job)),
  // A conditional put that loses (the item exists at no version): still an authorized PutItem.
  putIfVersion: (s, job) => s.putIfVersion({ ...windowKey(job), version: 1 } as unknown as Parameters<StateStore['putIfVersion']>[0], 7),
  dueItems: (s, job) => s.dueItems(openPartition(job, 0), 5_000),
};
