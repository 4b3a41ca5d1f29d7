// Fault injection at the service level of the local cloud (tests, chaos runs): throttle DynamoDB
// or Kinesis requests and fail Firehose records, the way AWS does under load. Function-level
// faults (crashes, timeouts, duplicate batches) live in local/faults.ts.
//
// Each hook arms a fault for the next `times` matching requests (Infinity allowed) and returns
// a handle to inspect or cancel it. Record selection (`fraction`, `everyNth`) is deterministic
// so tests can assert exact counts: `fraction: 0.5` fails records 2, 4, 6… of each request.

export interface ThrottleDynamoOptions {
  /** Only requests touching this table (any table when omitted). */
  readonly table?: string;
  /** Only these operations, e.g. ['PutItem', 'UpdateItem'] (all when omitted). */
  readonly operations?: readonly string[];
  readonly times: number;
}

export interface RecordSelection {
  /** Fail this fraction of each request's records, spread evenly (1 = all). */
  readonly fraction?: number;
  /** Fail every Nth record of each request (N, 2N, …). */
  readonly everyNth?: number;
}

export interface ThrottleKinesisOptions {
  /** Only requests for this stream (name or ARN; GetRecords is matched through its shard iterator). */
  readonly stream?: string;
  /** Only this operation or these operations, e.g. 'GetRecords' (all when omitted). */
  readonly operation?: string | readonly string[];
  readonly times: number;
  /**
   * PutRecords only: instead of failing the whole request, answer 200 with these records failed
   * (`ErrorCode: ProvisionedThroughputExceededException`) and the others written — Kinesis's real
   * partial-failure behaviour.
   */
  readonly perRecord?: RecordSelection;
}

export interface FailFirehoseOptions extends RecordSelection {
  /** Only this delivery stream (any when omitted). */
  readonly stream?: string;
  /** Number of PutRecordBatch requests affected. */
  readonly times: number;
}

export type ServiceFaultKind = 'throttleDynamo' | 'throttleKinesis' | 'failFirehoseRecords';

export interface ArmedServiceFault {
  readonly kind: ServiceFaultKind;
  /** Requests this fault has hit so far. */
  readonly fired: number;
  /** Requests it will still hit (Infinity for an unbounded fault). */
  readonly remaining: number;
  cancel(): void;
}

export interface FiredServiceFault {
  readonly kind: ServiceFaultKind;
  readonly target: string;
  readonly operation: string;
  /** Records failed (Firehose, Kinesis per-record); undefined when the whole request failed. */
  readonly records?: number;
  readonly time: number;
}

/** Returns true for the records (0-based index within a request) a selection fails. */
export type RecordSelector = (index: number) => boolean;

export function recordSelector(selection: RecordSelection): RecordSelector {
  const { fraction, everyNth } = selection;
  if (everyNth !== undefined) {
    if (!Number.isInteger(everyNth) || everyNth < 1) throw new Error(`everyNth must be a positive integer, got ${everyNth}`);
    return (i) => (i + 1) % everyNth === 0;
  }
  if (fraction !== undefined) {
    if (!(fraction >= 0 && fraction <= 1)) throw new Error(`fraction must be between 0 and 1, got ${fraction}`);
    return (i) => Math.floor((i + 1) * fraction) > Math.floor(i * fraction);
  }
  return () => true;
}

class Armed implements ArmedServiceFault {
  fired = 0;
  private cancelled = false;
  constructor(
    readonly kind: ServiceFaultKind,
    private readonly times: number,
  ) {
    if (!(times >= 1) || (!Number.isInteger(times) && times !== Infinity)) throw new Error(`times must be a positive integer or Infinity, got ${times}`);
  }
  get remaining(): number {
    return this.cancelled ? 0 : this.times - this.fired;
  }
  cancel(): void {
    this.cancelled = true;
  }
}

interface DynamoFault {
  readonly armed: Armed;
  readonly options: ThrottleDynamoOptions;
}

interface KinesisFault {
  readonly armed: Armed;
  readonly options: ThrottleKinesisOptions;
  readonly operations?: readonly string[];
  readonly selector?: RecordSelector;
}

interface FirehoseFault {
  readonly armed: Armed;
  readonly options: FailFirehoseOptions;
  readonly selector: RecordSelector;
}

export type KinesisFaultDecision = { readonly kind: 'request' } | { readonly kind: 'records'; readonly selector: RecordSelector };

function streamNameOf(nameOrArn: string): string {
  const i = nameOrArn.indexOf(':stream/');
  return i >= 0 ? nameOrArn.slice(i + ':stream/'.length) : nameOrArn;
}

export class ServiceFaults {
  private dynamo: DynamoFault[] = [];
  private kinesis: KinesisFault[] = [];
  private firehose: FirehoseFault[] = [];
  private readonly fired: FiredServiceFault[] = [];

  /** The next `times` matching DynamoDB requests fail with HTTP 400 ProvisionedThroughputExceededException. */
  throttleDynamo(options: ThrottleDynamoOptions): ArmedServiceFault {
    const armed = new Armed('throttleDynamo', options.times);
    this.dynamo.push({ armed, options });
    return armed;
  }

  /** The next `times` matching Kinesis requests fail with ProvisionedThroughputExceededException. */
  throttleKinesis(options: ThrottleKinesisOptions): ArmedServiceFault {
    const armed = new Armed('throttleKinesis', options.times);
    const operations = options.operation === undefined ? undefined : typeof options.operation === 'string' ? [options.operation] : options.operation;
    this.kinesis.push({
      armed,
      options,
      ...(operations ? { operations } : {}),
      ...(options.perRecord ? { selector: recordSelector(options.perRecord) } : {}),
    });
    return armed;
  }

  /** The next `times` PutRecordBatch requests report some records failed (ServiceUnavailableException). */
  failFirehoseRecords(options: FailFirehoseOptions): ArmedServiceFault {
    const armed = new Armed('failFirehoseRecords', options.times);
    this.firehose.push({ armed, options, selector: recordSelector(options) });
    return armed;
  }

  /** Cancels every armed fault (the fired log is kept). */
  clear(): void {
    for (const f of [...this.dynamo, ...this.kinesis, ...this.firehose]) f.armed.cancel();
    this.dynamo = [];
    this.kinesis = [];
    this.firehose = [];
  }

  /** Faults that fired, oldest first. */
  log(): readonly FiredServiceFault[] {
    return [...this.fired];
  }

  /** True when some fault is armed for Kinesis (the router only parses Kinesis bodies then). */
  get kinesisArmed(): boolean {
    this.kinesis = this.kinesis.filter((f) => f.armed.remaining > 0);
    return this.kinesis.length > 0;
  }

  // ---- used by the services ---------------------------------------------------------------------

  /** Consumes a DynamoDB throttle matching this request, if any. */
  takeDynamo(operation: string, tables: readonly string[]): boolean {
    this.dynamo = this.dynamo.filter((f) => f.armed.remaining > 0);
    const hit = this.dynamo.find(
      ({ options }) =>
        (options.table === undefined || tables.includes(options.table)) && (options.operations === undefined || options.operations.includes(operation)),
    );
    if (!hit) return false;
    hit.armed.fired++;
    this.fired.push({ kind: 'throttleDynamo', target: tables.join(',') || '*', operation, time: Date.now() });
    return true;
  }

  /** Consumes a Kinesis throttle matching this request, if any. */
  takeKinesis(operation: string, stream: string | undefined): KinesisFaultDecision | undefined {
    this.kinesis = this.kinesis.filter((f) => f.armed.remaining > 0);
    const hit = this.kinesis.find(
      (f) =>
        (f.options.stream === undefined || (stream !== undefined && streamNameOf(f.options.stream) === streamNameOf(stream))) &&
        (f.operations === undefined || f.operations.includes(operation)),
    );
    if (!hit) return undefined;
    hit.armed.fired++;
    if (hit.selector && operation === 'PutRecords') return { kind: 'records', selector: hit.selector };
    this.fired.push({ kind: 'throttleKinesis', target: stream ?? '*', operation, time: Date.now() });
    return { kind: 'request' };
  }

  /** Consumes a Firehose record fault for this PutRecordBatch, if any. */
  takeFirehose(stream: string): RecordSelector | undefined {
    this.firehose = this.firehose.filter((f) => f.armed.remaining > 0);
    const hit = this.firehose.find((f) => f.options.stream === undefined || f.options.stream === stream);
    if (!hit) return undefined;
    hit.armed.fired++;
    return hit.selector;
  }

  /** Services report per-record faults here once they know how many records failed. */
  recordFired(kind: ServiceFaultKind, target: string, operation: string, records: number): void {
    this.fired.push({ kind, target, operation, records, time: Date.now() });
  }
}
