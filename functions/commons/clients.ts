// SDK clients, created once per module (reused across warm invocations). Endpoints come only
// from the SDK's standard configuration (AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>), so the
// same code talks to AWS, LocalStack or the embedded cloud. Kinesis uses the HTTP/1.1 handler:
// its default HTTP/2 handler (for SubscribeToShard) hangs against plain-HTTP endpoints, and
// Riffle never uses SubscribeToShard.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { FirehoseClient } from '@aws-sdk/client-firehose';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';


export interface Clients {
  kinesis: KinesisClient;
  dynamo: DynamoDBDocumentClient;
  firehose: FirehoseClient;
  lambda: LambdaClient;
}

/** One set of clients sharing one keep-alive connection pool; `destroy()` on any closes the pool. */
export function createClients(): Clients {
  const requestHandler = new NodeHttpHandler({
    httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
  });
  return {
    kinesis: new KinesisClient({ requestHandler }),
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient({ requestHandler }), {
      marshallOptions: { removeUndefinedValues: true },
    }),
    firehose: new FirehoseClient({ requestHandler }),
    lambda: new LambdaClient({ requestHandler }),
  };
}
