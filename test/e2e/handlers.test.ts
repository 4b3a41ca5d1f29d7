// The mapper, reducer and closer handlers against real emulators (kinesalite, dynalite, S3 and
// the Firehose emulator), with deliveries shaped by hand to reproduce every failure the
// exactly-once protocol must survive. Results are compared with an independent oracle.
import type { KinesisStreamEvent } from 'aws-lambda';
import sensorAverages from '../../jobs/sensor-averages';
import { defineJob, type Job } from '../../functions/core/job';
import { PipelineHarness } from '../support/pipeline-harness';
import { sensorEvents } from '../support/factories';
import { diffSensorResults, expectedSensorAverages } from '../support/oracle';

jest.setTimeout(120_000);

const job: Job = sensorAverages;
// Recent event times, so the future-skew check (1h) never rejects them.
const START = Math.floor((Date.now() - 3 * 3_600_000) / 300_000) * 300_000;
const EVENTS = sensorEvents(1_500, { sensors: 12, startMs: START, spanMs: 40 * 60_000, maxDisorderMs: 20_000, seed: 7 });
const EXPECTED = expectedSensorAverages(EVENTS);

async function withHarness(j: Job, fn: (h: PipelineHarness) => Promise<void>): Promise<void> {
  const h = await new PipelineHarness({ job: j, inputShards: 2, shuffleBuckets: 4 }).start();
  try {
    await fn(h);
  } finally {
    await h.stop();
  }
}

function byKey(e: unknown): string {
  return (e as { sensorId: string }).sensorId;
}

describe('handlers on emulators', () => {
  it('produce → map → reduce → close gives exactly the oracle results', async () => {
    await withHarness(job, async (h) => {
      await h.produce(EVENTS, byKey);
      const summary = await h.runToEnd({ mapperBatch: 100, reducerBatch: 50 });
      expect(summary.closed).toBe(EXPECTED.size);
      const raw = await h.output('results');
      expect(raw).toHaveLength(EXPECTED.size); // one emission per window when nothing fails
      expect(diffSensorResults(await h.results(), EXPECTED)).toEqual([]);
      expect(raw.every((r) => r.final === true)).toBe(true);
    });
  });

  it('the same batch delivered twice leaves state and output unchanged', async () => {
    await withHarness(job, async (h) => {
      await h.produce(EVENTS, byKey);
      const twice = async (_event: KinesisStreamEvent, invoke: () => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>) => {
        await invoke();
        return invoke(); // at-least-once: the same records again after a success
      };
      await h.pump('mapper', { batchSize: 100, intercept: twice });
      await h.pump('reducer', { batchSize: 50, intercept: twice });
      await h.closer({ drain: true });
      const raw = await h.output('results');
      expect(raw).toHaveLength(EXPECTED.size);
      expect(diffSensorResults(await h.results(), EXPECTED)).toEqual([]);
    });
  });

  it('a mapper that fails after emitting some partials, is retried, then bisected, ends exact', async () => {
    await withHarness(job, async (h) => {
      await h.produce(EVENTS, byKey);
      const kinesis = h.clients.kinesis;
      const realSend = kinesis.send.bind(kinesis);
      let calls = 0;
      let bisected = 0;
      const intercept = async (event: KinesisStreamEvent, invoke: () => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>) => {
        calls++;
        if (calls % 3 === 1) {
          // Crash mid-emission: half of the shuffle records go out, then the process dies.
          (kinesis as unknown as { send: unknown }).send = async (command: { input: { Records?: unknown[] } }) => {
            if (command.constructor.name === 'PutRecordsCommand' && command.input.Records) {
              command.input.Records = command.input.Records.slice(0, Math.ceil(command.input.Records.length / 2));
              await realSend(command as never);
              throw new Error('injected crash after a partial PutRecords');
            }
            return realSend(command as never);
          };
          try {
            return await invoke();
          } finally {
            (kinesis as unknown as { send: unknown }).send = realSend;
          }
        }
        if (calls % 3 === 2 && event.Records.length > 1) {
          // Bisect: the retry covers only the first half; the rest is redelivered afterwards.
          bisected++;
          const half = event.Records.slice(0, Math.ceil(event.Records.length / 2));
          await h.mapper({ Records: half }, (await import('../support/factories')).fakeContext());
          return { batchItemFailures: [{ itemIdentifier: event.Records[half.length]!.kinesis.sequenceNumber }] };
        }
        return invoke();
      };
      await h.pump('mapper', { batchSize: 120, intercept });
      expect(bisected).toBeGreaterThan(0);
      await h.pump('reducer', { batchSize: 50 });
      await h.closer({ drain: true });
      expect(diffSensorResults(await h.results(), EXPECTED)).toEqual([]);
    });
  });

  it('a reducer that dies between the state write and the emission ends exact (update mode)', async () => {
    const updating: Job = defineJob({ ...sensorAverages, name: 'sensor-updates', emit: 'update' });
    await withHarness(updating, async (h) => {
      await h.produce(EVENTS, byKey);
      await h.pump('mapper', { batchSize: 100 });
      const firehose = h.clients.firehose;
      const realSend = firehose.send.bind(firehose);
      let failed = 0;
      (firehose as unknown as { send: unknown }).send = async (command: { input: { DeliveryStreamName?: string } }) => {
        if (failed < 2 && command.input.DeliveryStreamName === h.names.results) {
          failed++;
          throw new Error('injected crash before the update emission');
        }
        return realSend(command as never);
      };
      await h.pump('reducer', { batchSize: 50 });
      (firehose as unknown as { send: unknown }).send = realSend;
      expect(failed).toBe(2);
      const updates = (await h.output('results')).filter((r) => r.final === false);
      // Every window got an update emitted despite the crashes (re-emitted on redelivery).
      expect(new Set(updates.map((r) => r.resultId)).size).toBe(EXPECTED.size);
      await h.closer({ drain: true });
      const results = await h.results();
      expect(results.every((r) => r.final === true)).toBe(true);
      expect(diffSensorResults(results, EXPECTED)).toEqual([]);
    });
  });

  it('a closer that dies between emitting and closing re-emits; one result per resultId remains', async () => {
    await withHarness(job, async (h) => {
      await h.produce(EVENTS, byKey);
      await h.pump('mapper', { batchSize: 100 });
      await h.pump('reducer', { batchSize: 50 });
      const dynamo = h.clients.dynamo;
      const realSend = dynamo.send.bind(dynamo);
      let puts = 0;
      (dynamo as unknown as { send: unknown }).send = async (command: object) => {
        if (command.constructor.name === 'PutCommand' && ++puts > 5) throw new Error('injected closer crash');
        return realSend(command as never);
      };
      await expect(h.closer({ drain: true })).rejects.toThrow('injected closer crash');
      (dynamo as unknown as { send: unknown }).send = realSend;
      const second = await h.closer({ drain: true });
      expect(second.closed).toBeGreaterThan(0);
      expect(second.closed).toBeLessThan(EXPECTED.size);
      expect((await h.closer({ drain: true })).due).toBe(0); // nothing left open
      const raw = await h.output('results');
      expect(raw.length).toBeGreaterThan(EXPECTED.size); // windows emitted twice …
      expect(diffSensorResults(await h.results(), EXPECTED)).toEqual([]); // … collapse to one each
    });
  });

  it('poison records are rejected with a reason, the rest processed, no retry', async () => {
    await withHarness(job, async (h) => {
      const good = EVENTS.slice(0, 200);
      const poison = ['{not json', JSON.stringify({ sensorId: 's', ts: START, temperature: 'hot' }), Buffer.from([0xff, 0xfe, 0x00])];
      await h.produce([...good.slice(0, 100), ...poison, ...good.slice(100)], (_e, i) => `k${i}`);
      const invocations = await h.pump('mapper', { batchSize: 1000 });
      expect(invocations).toBe(2); // one per shard: nothing was retried
      await h.pump('reducer', { batchSize: 1000 });
      await h.closer({ drain: true });
      const rejected = await h.output('rejected');
      expect(rejected.map((r) => r.reason).sort()).toEqual([
        expect.stringMatching(/^payload is not JSON/),
        expect.stringMatching(/^payload is not valid UTF-8/),
        expect.stringMatching(/^schema: temperature: /),
      ].sort((a, b) => String(a).localeCompare(String(b))) as unknown as string[]);
      expect(rejected.every((r) => typeof r.sequenceNumber === 'string' && typeof r.payload === 'string' && r.job === job.name)).toBe(true);
      expect(diffSensorResults(await h.results(), expectedSensorAverages(good))).toEqual([]);
    });
  });

  it('a late event goes to late/ with the window it missed, and is not counted', async () => {
    await withHarness(job, async (h) => {
      const early = EVENTS.filter((e) => e.ts < START + 5 * 60_000);
      // Later events for every sensor: every input shard's progress moves past the first window.
      const later = Array.from({ length: 12 }, (_, i) => ({ sensorId: `sensor-${String(i).padStart(4, '0')}`, ts: START + 30 * 60_000, temperature: 20 }));
      await h.produce([...early, ...later], byKey);
      await h.pump('mapper');
      await h.pump('reducer');
      const summary = await h.closer();
      expect(summary.closed).toBeGreaterThan(0);
      const straggler = { sensorId: 'sensor-0001', ts: START + 60_000, temperature: 99 };
      await h.produce([straggler], byKey);
      await h.pump('mapper');
      await h.pump('reducer');
      await h.closer({ drain: true });
      const late = await h.output('late');
      expect(late).toHaveLength(1);
      expect(late[0]).toMatchObject({ kind: 'event', key: 'sensor-0001', windowStart: new Date(START).toISOString(), event: straggler });
      expect(String(late[0]?.reason)).toMatch(/closed/);
      expect(diffSensorResults(await h.results(), expectedSensorAverages([...early, ...later]))).toEqual([]);
    });
  });
});
