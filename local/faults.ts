// Fault injection for the embedded cloud's functions and event source mappings (tests, chaos
// runs). Faults are armed by target name and counted from the moment they are armed: invocation
// 1 is the next invocation of that function, batch 1 the next batch the mapping delivers. The
// runtime (local/lambda) and the pollers (local/esm) ask this object at each invocation / batch.
// Throttling and Firehose faults live in local/server.ts; local/cloud.ts combines both.

/** What the runtime does to one invocation. */
export type FunctionFault =
  /** Fail before the handler runs (no side effects). The worker stays warm. */
  | { readonly kind: 'throw'; readonly message: string }
  /** Run the handler to completion, then die before reporting (side effects applied, result lost). */
  | { readonly kind: 'crashAfterHandler' }
  /** Die right after the handler's Nth completed HTTP call (mid-batch, partial side effects). */
  | { readonly kind: 'crashAfterCalls'; readonly calls: number }
  /** Kill the worker `afterMs` after the invocation starts (crash mid-work). */
  | { readonly kind: 'crashAfterMs'; readonly afterMs: number }
  /**
   * Time the invocation out: the worker is terminated `afterMs` after the start (default: at the
   * function's own Timeout, with the handler's result withheld), reported as Lambda's timeout.
   */
  | { readonly kind: 'timeout'; readonly afterMs?: number };

export interface FiredFault {
  readonly target: string;
  readonly kind: FunctionFault['kind'] | 'duplicateBatch';
  /** Invocation (or batch) number counted from when the fault was armed. */
  readonly at: number;
  readonly time: number;
}

type Numbers = number | readonly number[];

interface ArmedFunctionFault {
  readonly target: string;
  readonly at: Set<number>;
  readonly fault: FunctionFault;
  seen: number;
}

interface ArmedDuplicate {
  readonly target: string;
  readonly at: Set<number>;
  seen: number;
}

/** Identifies a mapping to `duplicateBatch` targets: any of these names selects it. */
export interface MappingIdentity {
  readonly uuid: string;
  readonly functionName: string;
  readonly logicalId?: string;
}

function toSet(n: Numbers, what: string): Set<number> {
  const list = typeof n === 'number' ? [n] : [...n];
  for (const v of list) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${what} must be positive integers (1 = the next one), got ${v}`);
  }
  return new Set(list);
}

export class Faults {
  private readonly functionFaults: ArmedFunctionFault[] = [];
  private readonly duplicates: ArmedDuplicate[] = [];
  private readonly aliases = new Map<string, string>();
  private readonly log: FiredFault[] = [];

  /**
   * Lets tests name a function or mapping by its CloudFormation logical ID (or any other alias)
   * instead of its generated physical name. Called by the deployer.
   */
  alias(alias: string, canonical: string): void {
    this.aliases.set(alias, canonical);
  }

  /** Make invocation(s) N of `fn` fail before the handler runs. */
  throwOn(fn: string, opts: { invocation: Numbers; message?: string }): this {
    const message = opts.message ?? `Injected fault: ${fn} invocation failed before the handler ran`;
    return this.armFunction(fn, opts.invocation, { kind: 'throw', message });
  }

  /**
   * Crash invocation(s) N of `fn`: by default after the handler completed (its side effects are
   * applied, its result is lost: the hard case for exactly-once); with `afterCalls`, right after
   * the handler's Nth completed AWS call; with `afterMs`, that long after the start.
   */
  crashAfter(fn: string, opts: { invocation: Numbers; afterMs?: number; afterCalls?: number }): this {
    if (opts.afterMs !== undefined && opts.afterCalls !== undefined) throw new Error('crashAfter: give afterMs or afterCalls, not both');
    const fault: FunctionFault =
      opts.afterCalls !== undefined
        ? { kind: 'crashAfterCalls', calls: Math.max(1, Math.floor(opts.afterCalls)) }
        : opts.afterMs !== undefined
          ? { kind: 'crashAfterMs', afterMs: Math.max(0, opts.afterMs) }
          : { kind: 'crashAfterHandler' };
    return this.armFunction(fn, opts.invocation, fault);
  }

  /**
   * Time out invocation(s) N of `fn`. Without `afterMs` the handler runs, its result is withheld
   * and the worker is killed at the function's configured Timeout; with `afterMs` the worker is
   * killed that long after the start (a shortcut for functions with long timeouts).
   */
  timeout(fn: string, opts: { invocation: Numbers; afterMs?: number }): this {
    return this.armFunction(fn, opts.invocation, opts.afterMs === undefined ? { kind: 'timeout' } : { kind: 'timeout', afterMs: opts.afterMs });
  }

  /**
   * Deliver batch N of a mapping twice: the second delivery follows the first's success, like an
   * at-least-once redelivery. `target` is the mapping's UUID or logical ID, or its function.
   */
  duplicateBatch(target: string, opts: { batch: Numbers }): this {
    this.duplicates.push({ target, at: toSet(opts.batch, 'duplicateBatch.batch'), seen: 0 });
    return this;
  }

  /** Disarm everything (the fired-fault log is kept). */
  clear(): void {
    this.functionFaults.length = 0;
    this.duplicates.length = 0;
  }

  /** Faults that have fired so far, in order. */
  fired(): readonly FiredFault[] {
    return [...this.log];
  }

  /** Armed faults that have not fired yet. */
  pending(): number {
    const left = (x: { at: Set<number>; seen: number }) => [...x.at].filter((n) => n > x.seen).length;
    return [...this.functionFaults, ...this.duplicates].reduce((sum, f) => sum + left(f), 0);
  }

  // ---- called by the runtime / pollers ----

  /** The runtime calls this once per invocation of `functionName` (the physical name). */
  takeFunctionFault(functionName: string, functionArn?: string): FunctionFault | undefined {
    let chosen: FunctionFault | undefined;
    for (const f of this.functionFaults) {
      if (!this.matches(f.target, [functionName, functionArn])) continue;
      f.seen += 1;
      if (chosen === undefined && f.at.has(f.seen)) {
        chosen = f.fault;
        this.log.push({ target: f.target, kind: f.fault.kind, at: f.seen, time: Date.now() });
      }
    }
    return chosen;
  }

  /** A poller calls this once per fresh batch (not retries); true = deliver it twice. */
  takeDuplicate(mapping: MappingIdentity): boolean {
    let dup = false;
    for (const d of this.duplicates) {
      if (!this.matches(d.target, [mapping.uuid, mapping.logicalId, mapping.functionName])) continue;
      d.seen += 1;
      if (d.at.has(d.seen)) {
        dup = true;
        this.log.push({ target: d.target, kind: 'duplicateBatch', at: d.seen, time: Date.now() });
      }
    }
    return dup;
  }

  private armFunction(fn: string, invocation: Numbers, fault: FunctionFault): this {
    this.functionFaults.push({ target: fn, at: toSet(invocation, 'invocation'), fault, seen: 0 });
    return this;
  }

  private matches(target: string, names: readonly (string | undefined)[]): boolean {
    const canonical = this.aliases.get(target) ?? target;
    return names.some((n) => n !== undefined && (n === target || n === canonical));
  }
}
