// Request bodies and the memory they may take. Every body is either read whole within its
// service's limit (JSON/query protocols: AWS's own request limits plus encoding headroom) or, for
// S3, handed over as a stream that S3 writes to disk. All in-flight bodies draw on one global
// byte budget — a buffered body for its size, a streamed one for a fixed window — so that many
// concurrent uploads cannot take the process's memory: past the budget a request is refused at
// once with 503 SlowDown, which every AWS SDK retries with backoff. A body that stops arriving for
// `idleMs` fails with RequestTimeout (S3's answer to a stalled upload) instead of holding its
// connection and reservation forever.
import { Transform, type Readable, type TransformCallback } from 'node:stream';

const MiB = 1024 * 1024;

/**
 * Largest request body per service. AWS's limits are on the payload; the JSON wire form carries
 * it base64-encoded (+33 %) with field names, hence the headroom. Kinesis PutRecords: 5 MiB;
 * Firehose PutRecordBatch: 4 MiB; DynamoDB: 16 MB requests; Lambda Invoke: 6 MB.
 */
export const SERVICE_BODY_LIMITS = {
  kinesis: 8 * MiB,
  dynamodb: 16 * MiB,
  firehose: 8 * MiB,
  /** Plug-in services without their own `maxBodyBytes` (Lambda Invoke's 6 MB payload fits). */
  plugin: 8 * MiB,
  /** awsQuery services (STS, CloudFormation) and anything not otherwise routed. */
  query: 1 * MiB,
} as const;

/** Budget charged per streamed (S3) body: what the stream pipeline may buffer on its way to disk. */
export const STREAM_WINDOW_BYTES = 1 * MiB;

export class BodyRejected extends Error {
  override readonly name = 'BodyRejected';
  constructor(
    readonly status: number,
    readonly code: 'SlowDown' | 'RequestEntityTooLarge' | 'RequestTimeout' | 'IncompleteBody',
    message: string,
  ) {
    super(message);
  }
}

export class BodyBudget {
  private used = 0;
  private peak = 0;

  constructor(readonly limit: number) {}

  get inFlight(): number {
    return this.used;
  }

  get peakInFlight(): number {
    return this.peak;
  }

  /** Takes `bytes` from the budget, or throws 503 SlowDown when they do not fit. */
  reserve(bytes: number): Reservation {
    if (this.used + bytes > this.limit) {
      throw new BodyRejected(503, 'SlowDown', `Please reduce your request rate: the local cloud already holds ${this.used} bytes of request bodies (budget ${this.limit})`);
    }
    this.used += bytes;
    this.peak = Math.max(this.peak, this.used);
    return new Reservation(this, bytes);
  }

  /** @internal */ give(bytes: number): void {
    this.used -= bytes;
  }

  /** @internal */ take(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    this.peak = Math.max(this.peak, this.used);
    return true;
  }
}

export class Reservation {
  private released = false;
  constructor(
    private readonly budget: BodyBudget,
    private bytes: number,
  ) {}

  /** Grows the reservation (a body of unknown length); false when the budget is exhausted. */
  grow(bytes: number): boolean {
    if (this.released || !this.budget.take(bytes)) return false;
    this.bytes += bytes;
    return true;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.budget.give(this.bytes);
  }
}

function declaredLength(headers: Readable & { headers: Record<string, string | string[] | undefined> }): number | undefined {
  const raw = headers.headers['content-length'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

type IncomingBody = Readable & { headers: Record<string, string | string[] | undefined> };

/**
 * Reads a whole body of at most `limit` bytes, holding it in the budget until the returned
 * reservation is released (after the response). Rejections leave the rest of the body unread:
 * the caller answers and closes the connection.
 */
export function readBody(req: IncomingBody, limit: number, budget: BodyBudget, idleMs: number): Promise<{ body: Buffer; reservation: Reservation }> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > limit) {
    return Promise.reject(new BodyRejected(413, 'RequestEntityTooLarge', `request body of ${declared} bytes is over this service's limit of ${limit} bytes`));
  }
  const GROW = 64 * 1024;
  let reservation: Reservation;
  try {
    reservation = budget.reserve(declared ?? GROW);
  } catch (err) {
    return Promise.reject(err as Error);
  }
  let reserved = declared ?? GROW;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const cleanup = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const fail = (err: Error): void => {
      cleanup();
      req.pause();
      reservation.release();
      reject(err);
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(new BodyRejected(400, 'RequestTimeout', `no request body bytes for ${idleMs} ms; the request was abandoned`)), idleMs);
    };
    const onData = (chunk: Buffer | string): void => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size > limit) return fail(new BodyRejected(413, 'RequestEntityTooLarge', `request body over this service's limit of ${limit} bytes`));
      while (size > reserved) {
        if (!reservation.grow(GROW)) return fail(new BodyRejected(503, 'SlowDown', 'Please reduce your request rate: the local cloud holds too many request bodies'));
        reserved += GROW;
      }
      chunks.push(buffer);
      arm();
    };
    const onEnd = (): void => {
      cleanup();
      resolve({ body: chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks, size), reservation });
    };
    const onError = (err: Error): void => fail(err);
    const onClose = (): void => fail(new BodyRejected(400, 'IncompleteBody', 'the client closed the connection before the body was complete'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
    arm();
  });
}

/**
 * A pass-through for a streamed body that fails with RequestTimeout when no bytes arrive for
 * `idleMs`, and with IncompleteBody when the client goes away mid-body (a plain pipe() would leave
 * the consumer waiting forever). Downstream failures do not destroy the request, so an error
 * response can still be written.
 */
export function watchedStream(req: Readable, idleMs: number): Readable {
  let timer: NodeJS.Timeout | undefined;
  const watcher = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
      arm();
      done(null, chunk);
    },
    flush(done: TransformCallback): void {
      clearTimeout(timer);
      done();
    },
  });
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => watcher.destroy(new BodyRejected(400, 'RequestTimeout', `no request body bytes for ${idleMs} ms; the upload was abandoned`)), idleMs);
    timer.unref();
  };
  const onAbort = (): void => {
    if (!(req as Readable & { complete?: boolean }).complete && !req.readableEnded) {
      watcher.destroy(new BodyRejected(400, 'IncompleteBody', 'the client closed the connection before the body was complete'));
    }
  };
  req.on('error', onAbort);
  req.on('close', onAbort);
  watcher.on('close', () => {
    clearTimeout(timer);
    req.off('error', onAbort);
    req.off('close', onAbort);
    req.unpipe(watcher);
  });
  watcher.on('error', () => undefined); // reported to whoever reads it; unread, it only ends the watch
  req.pipe(watcher);
  arm();
  return watcher;
}
