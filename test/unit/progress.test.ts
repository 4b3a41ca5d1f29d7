// The job watermark from the progress partition: in-band per bucket, idle shards, and the
// recorded floor that keeps decisions from going back when an idle shard wakes up.
import { PROGRESS_SK, progressPk } from '../../functions/contract';
import { advanceBuckets, jobWatermark, parseProgressItems } from '../../functions/core/progress';

const WATERMARK_SK = PROGRESS_SK.watermark;

const opts = { outOfOrdernessMs: 1_000, idleTimeoutMs: 60_000 };
const NOW = 1_767_225_600_000;

describe('job watermark', () => {
  const items = [
    { pk: progressPk('j'), sk: 'M#shard-a', maxEventTime: 50_000, updatedAt: NOW, pendingEnds: [{ end: '7', watermark: 3 }] },
    { pk: progressPk('j'), sk: 'M#shard-b', maxEventTime: 90_000, updatedAt: NOW, pendingEnds: [] },
    { pk: progressPk('j'), sk: 'R#0', applied: { 'shard-a': 40_000, 'shard-b': 90_000 }, updatedAt: NOW },
    { pk: progressPk('j'), sk: 'R#1', applied: { 'shard-a': 50_000, 'shard-b': 80_000 }, updatedAt: NOW },
  ];

  it('is the min over active shards of what every bucket has applied, minus the bound', () => {
    const { mappers, buckets, floor } = parseProgressItems(items);
    expect(mappers[0]!.pendingEnds).toEqual([{ end: '7', watermark: 3, maxEventTime: null }]);
    expect(floor).toBe(Number.NEGATIVE_INFINITY);
    expect(jobWatermark(mappers, buckets, 2, NOW, opts)).toBe(39_000);
    // A bucket that has not seen a shard yet holds it at −∞.
    expect(jobWatermark(mappers, buckets, 3, NOW, opts)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('never goes below the recorded floor, even when a shard wakes up behind it', () => {
    const { mappers, buckets, floor } = parseProgressItems([...items, { pk: progressPk('j'), sk: WATERMARK_SK, watermark: 45_000 }]);
    expect(floor).toBe(45_000);
    expect(jobWatermark(mappers, buckets, 2, NOW, opts, floor)).toBe(45_000);
    expect(jobWatermark(mappers, buckets, 2, NOW, opts)).toBe(39_000);
  });

  it('advanceBuckets only raises applied progress and reports the buckets it changed', () => {
    const { buckets } = parseProgressItems(items);
    const changed = advanceBuckets(buckets, [
      { bucket: 0, shardId: 'shard-a', progress: 30_000 }, // older: ignored
      { bucket: 1, shardId: 'shard-a', progress: 60_000 },
      { bucket: 2, shardId: 'shard-b', progress: 95_000 },
      { bucket: 0, shardId: 'shard-b', progress: null },
    ], NOW + 1);
    expect(changed.map((b) => [b.bucket, b.applied])).toEqual([
      [1, { 'shard-a': 60_000, 'shard-b': 80_000 }],
      [2, { 'shard-b': 95_000 }],
    ]);
  });
});
