// functions/contract: the handlers' environment (zod-validated, every problem named at once, with
// the variable and the allowed range), the variables the stack writes, and the table's key formats.
import { EnvironmentError, parseProgressSk, PROGRESS_SK, progressPk, readRoleSettings, roleEnvironment, SHUFFLE_BUCKETS, windowSk } from '../../functions/contract';

const mapperEnv = {
  RIFFLE_JOB: 'clickstream',
  RIFFLE_STATE_TABLE: 'state',
  RIFFLE_SHUFFLE_STREAM: 'shuffle',
  RIFFLE_SHUFFLE_BUCKETS: '16',
  RIFFLE_LATE_DELIVERY: 'late',
  RIFFLE_REJECTED_DELIVERY: 'rejected',
};

describe('readRoleSettings', () => {
  it("reads a role's variables into typed settings; optional ones may be absent, defaults fill in", () => {
    expect(readRoleSettings('mapper', mapperEnv)).toEqual({ job: 'clickstream', stateTable: 'state', shuffleStream: 'shuffle', shuffleBuckets: 16, lateDelivery: 'late', rejectedDelivery: 'rejected' });
    const reducer = readRoleSettings('reducer', { ...mapperEnv, RIFFLE_RESULTS_DELIVERY: 'results' });
    expect(reducer.closerFunction).toBeUndefined();
    expect(readRoleSettings('closer', { ...mapperEnv, RIFFLE_RESULTS_DELIVERY: 'results' }).closedRetentionDays).toBe(7);
  });

  it('names every problem with its variable and what is allowed', () => {
    const error = (() => {
      try {
        readRoleSettings('mapper', { ...mapperEnv, RIFFLE_SHUFFLE_BUCKETS: String(SHUFFLE_BUCKETS.max + 1), RIFFLE_STATE_TABLE: undefined });
      } catch (e) {
        return e as EnvironmentError;
      }
      throw new Error('expected an EnvironmentError');
    })();
    expect(error).toBeInstanceOf(EnvironmentError);
    expect(error.problems).toEqual([
      'RIFFLE_STATE_TABLE is not set; the Riffle CDK stack (infra/constructs/riffle-job.ts) sets it for the mapper',
      `RIFFLE_SHUFFLE_BUCKETS: '${SHUFFLE_BUCKETS.max + 1}' must be a whole number ${SHUFFLE_BUCKETS.min}–${SHUFFLE_BUCKETS.max}`,
    ]);
    expect(() => readRoleSettings('mapper', { ...mapperEnv, RIFFLE_SHUFFLE_BUCKETS: 'eight' })).toThrow("RIFFLE_SHUFFLE_BUCKETS: 'eight' must be a whole number 1–1024");
  });
});

describe('roleEnvironment', () => {
  it('writes the variables a role reads back, and refuses numbers the role would refuse', () => {
    const settings = { job: 'j', stateTable: 't', shuffleStream: 's', shuffleBuckets: 8, lateDelivery: 'l', rejectedDelivery: 'r' };
    expect(readRoleSettings('mapper', roleEnvironment('mapper', settings))).toEqual(settings);
    expect(() => roleEnvironment('mapper', { ...settings, shuffleBuckets: 5000 })).toThrow("RIFFLE_SHUFFLE_BUCKETS: '5000' must be a whole number 1–1024");
    expect(roleEnvironment('reducer', { job: 'j', stateTable: 't', shuffleBuckets: 8, resultsDelivery: 'x', lateDelivery: 'l', closerFunction: undefined })).not.toHaveProperty('RIFFLE_CLOSER_FUNCTION');
  });
});

describe('table layout', () => {
  it('progress sort keys parse back to what they name', () => {
    expect(progressPk('sensor-averages')).toBe('J#sensor-averages#PROGRESS');
    expect(parseProgressSk(PROGRESS_SK.mapper('shardId-000000000001'))).toEqual({ kind: 'mapper', shardId: 'shardId-000000000001' });
    expect(parseProgressSk(PROGRESS_SK.bucket(12))).toEqual({ kind: 'bucket', bucket: 12 });
    expect(parseProgressSk(PROGRESS_SK.watermark)).toEqual({ kind: 'watermark' });
    expect(parseProgressSk('X#1')).toEqual({ kind: 'unknown' });
  });

  it("window sort keys order a key's windows by start", () => {
    expect([windowSk(600_000, 900_000), windowSk(60_000, 360_000)].sort()).toEqual([windowSk(60_000, 360_000), windowSk(600_000, 900_000)]);
  });
});
