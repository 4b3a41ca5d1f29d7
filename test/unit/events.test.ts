// The Kinesis events our tests build are shaped exactly as Lambda delivers them: compared with
// the sample event in events/ (as `sam local generate-event kinesis get-records` produces it).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { KinesisStreamEvent } from 'aws-lambda';
import { toInputRecord } from '../../functions/mapper';
import { kinesisStreamRecord } from '../support/factories';

function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.length > 0 ? [shape(value[0])] : [];
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]).sort(([a], [b]) => String(a).localeCompare(String(b))));
  return typeof value;
}

const sample = JSON.parse(readFileSync(path.join(__dirname, '../../events/samples/kinesis-event.json'), 'utf8')) as KinesisStreamEvent;

describe('Kinesis sample event', () => {
  it('the test factory builds records of exactly the sample event shape', () => {
    const built = kinesisStreamRecord({ shardId: 'shardId-000000000006', sequenceNumber: '49590338271490256608559692538361571095921575989136588898', partitionKey: 'k', data: Buffer.from('{}') });
    expect(shape(built)).toEqual(shape(sample.Records[0]));
  });

  it('the mapper reads shard, sequence number, partition key and data from it', () => {
    const record = sample.Records[0]!;
    const input = toInputRecord(record);
    expect(input.sequenceNumber).toBe(record.kinesis.sequenceNumber);
    expect(input.partitionKey).toBe(record.kinesis.partitionKey);
    expect(input.data.equals(Buffer.from(record.kinesis.data, 'base64'))).toBe(true);
    expect(record.eventID.startsWith(`${input.shardId}:`)).toBe(true);
  });
});
