// Every shard of a stream (open and closed), page by page: what the tools that read a stream back
// (reprocess, the crash verifier, KPL grouping) start from.
import { ListShardsCommand, type KinesisClient, type Shard } from '@aws-sdk/client-kinesis';

export async function listShards(kinesis: KinesisClient, stream: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  let token: string | undefined;
  do {
    const page = await kinesis.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: stream }));
    shards.push(...(page.Shards ?? []));
    token = page.NextToken;
  } while (token);
  return shards;
}
