// Enhanced fan-out on the local Kinesis: stream consumers (Register/Describe/List/Deregister
// StreamConsumer, the calls CloudFormation and the SDK make; kinesalite has none) and push
// subscriptions. A subscription is told when PutRecord(s) has stored records on its stream, after
// AWS's documented propagation delay (~70 ms), the way SubscribeToShard pushes records to a
// consumer — the local event source mapping on a consumer ARN reads on that signal instead of
// polling. Records stored while a push is on its way go with it (so a record waits 0–70 ms: one
// read per propagation delay per stream, not one per PutRecord). SubscribeToShard itself (an HTTP/2 event stream) is not served to SDK clients.
// Consumers live in memory: the deployer registers a template's consumers again at every start.
import { jsonError, jsonResponse } from './http';
import type { ServiceResponse } from './http';

/** Kinesis enhanced fan-out: "records are pushed … with an average propagation delay of 70 ms". */
export const PUSH_PROPAGATION_MS = 70;

export const CONSUMER_OPERATIONS = new Set(['RegisterStreamConsumer', 'DescribeStreamConsumer', 'ListStreamConsumers', 'DeregisterStreamConsumer']);

interface Consumer {
  readonly name: string;
  readonly arn: string;
  readonly streamArn: string;
  readonly created: number;
}

/** The stream name in a stream ARN, consumer ARN or plain name. */
export function streamNameOf(nameOrArn: string): string {
  const at = nameOrArn.indexOf(':stream/');
  const name = at >= 0 ? nameOrArn.slice(at + ':stream/'.length) : nameOrArn;
  const consumer = name.indexOf('/consumer/');
  return consumer >= 0 ? name.slice(0, consumer) : name;
}

/** Adds `listener` to the set of `stream` (name or ARN); returns its removal. */
function addListener(sets: Map<string, Set<() => void>>, stream: string, listener: () => void): () => void {
  const name = streamNameOf(stream);
  let set = sets.get(name);
  if (!set) sets.set(name, (set = new Set()));
  set.add(listener);
  return () => set.delete(listener);
}

export class StreamConsumers {
  private readonly consumers = new Map<string, Consumer>();
  private readonly listeners = new Map<string, Set<() => void>>();
  private readonly watchers = new Map<string, Set<() => void>>();
  /** Streams with a push on its way: records stored meanwhile ride along (one read per delay, not per PutRecord). */
  private readonly pending = new Set<string>();

  /** Calls `listener` ~70 ms after records are stored on `stream` (name or ARN); returns the unsubscribe. */
  subscribe(stream: string, listener: () => void): () => void {
    return addListener(this.listeners, stream, listener);
  }

  /**
   * Calls `listener` synchronously whenever records are stored on `stream` — not a push: polling
   * mappings use it only to know that the tip of the shard moved since their last empty read, so
   * "idle" (LocalCloud.waitForIdle) never holds while stored records wait for the next poll.
   */
  watch(stream: string, listener: () => void): () => void {
    return addListener(this.watchers, stream, listener);
  }

  /** PutRecord(s) stored records on `stream`: tell its watchers now, push to its subscriptions after the delay. */
  stored(stream: string | undefined): void {
    if (stream === undefined) return;
    const name = streamNameOf(stream);
    for (const watcher of [...(this.watchers.get(name) ?? [])]) watcher();
    const set = this.listeners.get(name);
    if (!set || set.size === 0 || this.pending.has(name)) return;
    this.pending.add(name);
    const timer = setTimeout(() => {
      this.pending.delete(name);
      for (const listener of [...set]) listener();
    }, PUSH_PROPAGATION_MS);
    timer.unref();
  }

  /** The consumer with this ARN, if registered. */
  get(arn: string): { name: string; arn: string; streamArn: string } | undefined {
    return this.consumers.get(arn);
  }

  handle(operation: string, data: Record<string, unknown>): ServiceResponse {
    const streamArn = typeof data.StreamARN === 'string' ? data.StreamARN : undefined;
    const name = typeof data.ConsumerName === 'string' ? data.ConsumerName : undefined;
    const find = (): Consumer | undefined =>
      typeof data.ConsumerARN === 'string' ? this.consumers.get(data.ConsumerARN) : [...this.consumers.values()].find((c) => c.streamArn === streamArn && c.name === name);
    const describe = (c: Consumer) => ({ ConsumerName: c.name, ConsumerARN: c.arn, ConsumerStatus: 'ACTIVE', ConsumerCreationTimestamp: c.created });
    switch (operation) {
      case 'RegisterStreamConsumer': {
        if (!streamArn || !name || !/^[a-zA-Z0-9_.-]{1,128}$/.test(name)) return jsonError('ValidationException', 'StreamARN and a ConsumerName of 1–128 characters [a-zA-Z0-9_.-] are required');
        if (find()) return jsonError('ResourceInUseException', `Consumer ${name} already exists on ${streamArn}`);
        const created = Math.floor(Date.now() / 1000);
        const consumer = { name, streamArn, created, arn: `${streamArn}/consumer/${name}:${created}` };
        this.consumers.set(consumer.arn, consumer);
        return jsonResponse({ Consumer: describe(consumer) });
      }
      case 'DescribeStreamConsumer': {
        const c = find();
        if (!c) return jsonError('ResourceNotFoundException', `Consumer ${String(data.ConsumerARN ?? name)} not found`);
        return jsonResponse({ ConsumerDescription: { ...describe(c), StreamARN: c.streamArn } });
      }
      case 'ListStreamConsumers': {
        if (!streamArn) return jsonError('ValidationException', 'StreamARN is required');
        return jsonResponse({ Consumers: [...this.consumers.values()].filter((c) => c.streamArn === streamArn).map(describe) });
      }
      default: {
        const c = find();
        if (!c) return jsonError('ResourceNotFoundException', `Consumer ${String(data.ConsumerARN ?? name)} not found`);
        this.consumers.delete(c.arn);
        return jsonResponse({});
      }
    }
  }
}
