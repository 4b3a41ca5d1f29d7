// SDK clients the deployer and pollers use against the local endpoint. Always the HTTP/1.1
// NodeHttpHandler (the Kinesis client's default HTTP/2 handler hangs against plain-HTTP
// emulators), dummy credentials, path-style S3.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { FirehoseClient } from '@aws-sdk/client-firehose';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';

export interface LocalClients {
  readonly kinesis: KinesisClient;
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
  readonly firehose: FirehoseClient;
  destroy(): void;
}

/** One endpoint for every service, or one per service (tests running separate emulators). */
export type Endpoints = string | { readonly kinesis: string; readonly dynamodb?: string; readonly s3?: string; readonly firehose?: string };

export function localClients(endpoints: Endpoints, region: string): LocalClients {
  const pick = (svc: 'kinesis' | 'dynamodb' | 's3' | 'firehose'): string =>
    typeof endpoints === 'string' ? endpoints : (endpoints[svc] ?? endpoints.kinesis);
  const requestHandler = new NodeHttpHandler({
    httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }),
    connectionTimeout: 5_000,
    requestTimeout: 60_000,
  });
  const common = { region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, requestHandler, maxAttempts: 3 };
  const kinesis = new KinesisClient({ ...common, endpoint: pick('kinesis') });
  const dynamodb = new DynamoDBClient({ ...common, endpoint: pick('dynamodb') });
  const s3 = new S3Client({ ...common, endpoint: pick('s3'), forcePathStyle: true });
  const firehose = new FirehoseClient({ ...common, endpoint: pick('firehose') });
  return {
    kinesis,
    dynamodb,
    s3,
    firehose,
    destroy() {
      kinesis.destroy();
      dynamodb.destroy();
      s3.destroy();
      firehose.destroy();
      requestHandler.destroy();
    },
  };
}
