// Typed test factories (Powertools style): Kinesis records as the mapper sees them, Kinesis
// Lambda events exactly as the ESM delivers them, a fake Lambda Context, and sensor events.
import type { Context, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import type { InputRecord } from '../../functions/core/input-decoding';

/** A realistic 56-digit Kinesis sequence number base; `seq(i)` is strictly increasing in i. */
const SEQ_BASE = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n;
export function seq(i: number): string {
  return (SEQ_BASE + BigInt(i) * 1_000n).toString();
}

export function inputRecord(i: number, value: unknown, shardId = 'shardId-000000000000'): InputRecord {
  const data = Buffer.isBuffer(value) ? value : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8');
  return { shardId, sequenceNumber: seq(i), partitionKey: `pk-${i}`, data, arrivalTime: 1_767_225_600_000 + i };
}

export function kinesisStreamRecord(args: {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  data: Buffer;
  arrivalMs?: number;
  streamArn?: string;
}): KinesisStreamRecord {
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: args.partitionKey,
      sequenceNumber: args.sequenceNumber,
      data: args.data.toString('base64'),
      approximateArrivalTimestamp: (args.arrivalMs ?? Date.now()) / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${args.shardId}:${args.sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::000000000000:role/riffle-test',
    awsRegion: 'us-east-1',
    eventSourceARN: args.streamArn ?? 'arn:aws:kinesis:us-east-1:000000000000:stream/riffle-test',
  };
}

export function kinesisEvent(records: KinesisStreamRecord[]): KinesisStreamEvent {
  return { Records: records };
}

export function fakeContext(overrides: Partial<Context> = {}): Context {
  const deadline = Date.now() + 60_000;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'riffle-test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:riffle-test',
    memoryLimitInMB: '1024',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    logGroupName: '/aws/lambda/riffle-test',
    logStreamName: '2026/01/01/[$LATEST]test',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
    ...overrides,
  };
}

export interface SensorEvent {
  sensorId: string;
  ts: number;
  temperature: number;
  humidity?: number;
}

/** Deterministic pseudo-random sensor events (xorshift), `count` over `spanMs` from `startMs`, with disorder. */
export function sensorEvents(count: number, options: { sensors?: number; startMs?: number; spanMs?: number; maxDisorderMs?: number; seed?: number } = {}): SensorEvent[] {
  const sensors = options.sensors ?? 10;
  const start = options.startMs ?? 1_767_225_600_000;
  const span = options.spanMs ?? 3_600_000;
  const disorder = options.maxDisorderMs ?? 0;
  let state = options.seed ?? 42;
  const rand = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4_294_967_296;
  };
  return Array.from({ length: count }, (_, i) => {
    const ts = Math.max(start, Math.round(start + (i / count) * span - rand() * disorder));
    const event: SensorEvent = {
      sensorId: `sensor-${String(Math.floor(rand() * sensors)).padStart(4, '0')}`,
      ts,
      temperature: Math.round((15 + rand() * 15) * 100) / 100,
    };
    if (rand() < 0.8) event.humidity = Math.round(rand() * 1000) / 10;
    return event;
  });
}
