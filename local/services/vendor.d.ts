// Type declarations for the untyped emulators the local cloud embeds (kinesalite, dynalite).
// Only the surface local/services uses is declared: the factories return plain Node HTTP
// servers, and two helpers from their db modules (shard iterator key, item size).

declare module 'kinesalite' {
  import type { Server } from 'node:http';
  interface KinesaliteOptions {
    /** LevelDB directory; in-memory when omitted. */
    path?: string;
    createStreamMs?: number;
    deleteStreamMs?: number;
    updateStreamMs?: number;
    shardLimit?: number;
  }
  function kinesalite(options?: KinesaliteOptions): Server;
  export = kinesalite;
}

declare module 'kinesalite/db' {
  /** AES-256-CBC key and IV kinesalite encrypts shard iterators with. */
  export const ITERATOR_PWD_KEY: Buffer;
  export const ITERATOR_PWD_IV: Buffer;
}

declare module 'dynalite' {
  import type { Server } from 'node:http';
  interface DynaliteOptions {
    /** LevelDB directory; in-memory when omitted. */
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
  }
  function dynalite(options?: DynaliteOptions): Server;
  export = dynalite;
}

declare module 'dynalite/db' {
  /** DynamoDB's item size in bytes (attribute names + values), as dynalite computes it. */
  export function itemSize(item: Record<string, unknown>): number;
}
