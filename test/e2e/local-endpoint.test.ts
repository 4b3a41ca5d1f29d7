// The local cloud endpoint's own defences and protocol answers (local/server.ts, local/endpoint/):
// the Host check against DNS rebinding, the Origin / Sec-Fetch-Site check against cross-site
// requests (a text/plain POST needs no CORS preflight), CORS for configured extra origins, the
// global in-flight body budget (503 SlowDown, retried by the SDKs), per-service body limits,
// header and body timeouts, the connection limit, STS GetCallerIdentity with the SDK, and awsQuery
// XML errors for query-protocol services that are not emulated (IAM).
import http from 'node:http';
import net from 'node:net';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { startLocalServer } from '../../local/server';
import type { LocalServer, LocalServerOptions } from '../../local/server';

jest.setTimeout(60_000);

const credentials = { accessKeyId: 'any', secretAccessKey: 'any' };
const quiet = { warn: () => undefined };

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function raw(server: LocalServer, opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string }): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: opts.headers ?? {}, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function withServer(options: LocalServerOptions, fn: (server: LocalServer) => Promise<void>): Promise<void> {
  const server = await startLocalServer({ port: 0, ttlSweepIntervalMs: 0, logger: quiet, ...options });
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

describe('endpoint guard', () => {
  let server: LocalServer;
  let s3: S3Client;
  const invoked: string[] = [];

  beforeAll(async () => {
    server = await startLocalServer({ port: 0, ttlSweepIntervalMs: 0, logger: quiet, allowedOrigins: ['http://localhost:5173'] });
    server.use({
      name: 'lambda',
      matches: (req) => (req.url ?? '').startsWith('/2015-03-31/functions/'),
      handle: async (req, res, body) => {
        invoked.push(body.toString());
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      },
    });
    s3 = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', credentials });
    await s3.send(new CreateBucketCommand({ Bucket: 'guarded' }));
    await s3.send(new PutObjectCommand({ Bucket: 'guarded', Key: 'keep', Body: 'kept' }));
  });

  afterAll(async () => {
    s3?.destroy();
    await server?.stop();
  });

  it('answers only requests addressed to a loopback name with its own port (DNS rebinding gets 403)', async () => {
    const port = server.port;
    for (const host of ['attacker.example', `attacker.example:${port}`, `127.0.0.1:${port + 1}`, `10.0.0.5:${port}`, 'localhost.attacker.example']) {
      const answer = await raw(server, { path: '/guarded', headers: { host } });
      expect([host, answer.status]).toEqual([host, 403]);
      expect(answer.body).not.toContain('<Key>keep</Key>');
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `guarded.localhost:${port}`]) {
      expect([host, (await raw(server, { path: host.startsWith('guarded.') ? '/' : '/guarded', headers: { host } })).status]).toEqual([host, 200]);
    }
  });

  it('refuses cross-site browser requests before any service sees them', async () => {
    const host = `127.0.0.1:${server.port}`;
    const drain = await raw(server, {
      method: 'POST',
      path: '/2015-03-31/functions/closer/invocations',
      headers: { host, origin: 'https://evil.example', 'content-type': 'text/plain' },
      body: '{"drain": true}',
    });
    expect(drain.status).toBe(403);
    expect(drain.headers['x-amzn-errortype']).toBe('ForbiddenOrigin');
    const del = await raw(server, { method: 'DELETE', path: '/guarded/keep', headers: { host, origin: 'null' } });
    expect(del.status).toBe(403);
    expect(del.body).toContain('<Code>ForbiddenOrigin</Code>');
    const img = await raw(server, { path: '/guarded/keep', headers: { host, 'sec-fetch-site': 'cross-site' } });
    expect(img.status).toBe(403);
    expect(invoked).toEqual([]);
    expect((await s3.send(new HeadObjectCommand({ Bucket: 'guarded', Key: 'keep' }))).ContentLength).toBe(4);

    // Same-origin and non-browser callers pass.
    expect((await raw(server, { path: '/guarded/keep', headers: { host, origin: `http://localhost:${server.port}`, 'sec-fetch-site': 'same-origin' } })).status).toBe(200);
    expect((await raw(server, { method: 'POST', path: '/2015-03-31/functions/closer/invocations', headers: { host }, body: '{}' })).status).toBe(200);
    expect(invoked).toEqual(['{}']);
  });

  it('serves a configured extra origin with CORS (preflight and exposed headers)', async () => {
    const host = `127.0.0.1:${server.port}`;
    const origin = 'http://localhost:5173';
    const preflight = await raw(server, {
      method: 'OPTIONS',
      path: '/guarded/keep',
      headers: { host, origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization,x-amz-date,x-amz-content-sha256' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(origin);
    expect(preflight.headers['access-control-allow-headers']).toBe('authorization,x-amz-date,x-amz-content-sha256');
    const get = await raw(server, { path: '/guarded/keep', headers: { host, origin } });
    expect(get.status).toBe(200);
    expect(get.body).toBe('kept');
    expect(get.headers['access-control-allow-origin']).toBe(origin);
    expect(get.headers['access-control-expose-headers']).toContain('etag');
    expect((await raw(server, { path: '/guarded/keep', headers: { host, origin: 'http://localhost:5174' } })).status).toBe(403);
  });
});

describe('endpoint resources', () => {
  it('refuses bodies past the in-flight budget with 503 SlowDown (streamed S3 uploads count too), then serves again', async () => {
    await withServer({ maxInFlightBodyBytes: 2 * 1024 * 1024 }, async (server) => {
      const s3 = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
      const dynamo = new DynamoDBClient({ endpoint: server.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
      try {
        await s3.send(new CreateBucketCommand({ Bucket: 'budget' }));
        await dynamo.send(
          new CreateTableCommand({ TableName: 'tbl', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }),
        );
        // A slow client: declares 1.5 MiB and sends a little of it, holding its reservation.
        const slow = net.connect(server.port, '127.0.0.1');
        await new Promise((r) => slow.once('connect', r));
        const body = `{"TableName":"tbl","Item":{"pk":{"S":"${'x'.repeat(1.5 * 1024 * 1024 - 40)}"}}}`;
        slow.write(
          `POST / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\nContent-Type: application/x-amz-json-1.0\r\n` +
            `Authorization: AWS4-HMAC-SHA256 Credential=any/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00\r\nX-Amz-Date: 20240101T000000Z\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 1000)}`,
        );
        await new Promise((r) => setTimeout(r, 200));
        expect(server.bodyBytes().inFlight).toBeGreaterThanOrEqual(1.5 * 1024 * 1024 - 40);

        const refused = await s3.send(new PutObjectCommand({ Bucket: 'budget', Key: 'k', Body: 'needs a 1 MiB stream window' })).catch((e: unknown) => e);
        expect(refused).toMatchObject({ name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
        const small = await dynamo.send(new PutItemCommand({ TableName: 'tbl', Item: { pk: { S: 'small' } } })); // fits beside it
        expect(small.$metadata.httpStatusCode).toBe(200);

        const answered = new Promise<string>((resolve) => slow.on('data', (c: Buffer) => resolve(c.toString())));
        slow.end(body.slice(1000));
        // The whole body reached DynamoDB, which judges the 1.5 MB item (over its 400 KB item limit).
        expect(await answered).toMatch(/^HTTP\/1\.1 400[\s\S]*ValidationException[\s\S]*size/);
        await new Promise((r) => setTimeout(r, 50));
        expect(server.bodyBytes().inFlight).toBe(0);
        await s3.send(new PutObjectCommand({ Bucket: 'budget', Key: 'k', Body: 'now it fits' }));
        expect(server.stats().errors.endpoint).toMatchObject({ SlowDown: 1 });
      } finally {
        s3.destroy();
        dynamo.destroy();
      }
    });
  });

  it('refuses a body over its service limit with 413 before reading it', async () => {
    await withServer({}, async (server) => {
      const answer = await raw(server, {
        method: 'POST',
        headers: { host: `127.0.0.1:${server.port}`, 'x-amz-target': 'Kinesis_20131202.PutRecords', 'content-type': 'application/x-amz-json-1.1', 'content-length': String(64 * 1024 * 1024) },
      }).catch((e: unknown) => e);
      expect(answer).toMatchObject({ status: 413, headers: { 'x-amzn-errortype': 'RequestEntityTooLarge' } });
    });
  });

  const closedAfter = (socket: net.Socket): Promise<number> => {
    const started = Date.now();
    socket.resume(); // read what the server sends, so its close is seen
    return new Promise((resolve) => socket.once('close', () => resolve(Date.now() - started)));
  };

  it('closes connections that stall in their headers or body', async () => {
    await withServer({ timeouts: { headersMs: 400, bodyIdleMs: 400 } }, async (server) => {
      await server.s3.createBucket('bucket');
      const stalledHeaders = net.connect(server.port, '127.0.0.1');
      stalledHeaders.on('error', () => undefined);
      stalledHeaders.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n`);
      expect(await closedAfter(stalledHeaders)).toBeLessThan(10_000);

      const stalledBody = net.connect(server.port, '127.0.0.1');
      stalledBody.on('error', () => undefined);
      let reply = '';
      stalledBody.on('data', (c: Buffer) => (reply += c.toString()));
      stalledBody.write(`PUT /bucket/key HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Length: 100\r\n\r\n0123456789`);
      expect(await closedAfter(stalledBody)).toBeLessThan(10_000);
      expect(reply).toMatch(/^HTTP\/1\.1 400[\s\S]*<Code>RequestTimeout<\/Code>/);
      expect(server.bodyBytes().inFlight).toBe(0);
      expect(await server.s3.listKeys('bucket')).toEqual([]); // nothing half-written became an object
    });
  });

  it('drops connections past the connection limit', async () => {
    await withServer({ maxConnections: 3 }, async (server) => {
      const held = await Promise.all(
        [1, 2, 3].map(
          () =>
            new Promise<net.Socket>((resolve) => {
              const s = net.connect(server.port, '127.0.0.1', () => resolve(s));
              s.on('error', () => undefined);
            }),
        ),
      );
      await new Promise((r) => setTimeout(r, 100));
      const extra = net.connect(server.port, '127.0.0.1');
      extra.on('error', () => undefined);
      await closedAfter(extra); // the header timeout (30 s) is far away: this is the limit
      expect(held.map((s) => s.destroyed)).toEqual([false, false, false]);
      for (const s of held) s.destroy();
    });
  });
});

describe('query-protocol services', () => {
  it('answers STS GetCallerIdentity to the SDK and IAM with an awsQuery XML error', async () => {
    await withServer({ accountId: '123456789012' }, async (server) => {
      const sts = new STSClient({ endpoint: server.endpoint, region: 'us-east-1', credentials });
      try {
        const me = await sts.send(new GetCallerIdentityCommand({}));
        expect(me).toMatchObject({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:root', UserId: '123456789012' });
      } finally {
        sts.destroy();
      }
      const iam = await raw(server, {
        method: 'POST',
        headers: {
          host: `127.0.0.1:${server.port}`,
          'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
          authorization: 'AWS4-HMAC-SHA256 Credential=any/20240101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00',
        },
        body: 'Action=ListRoles&Version=2010-05-08',
      });
      expect(iam.status).toBe(400);
      expect(iam.headers['content-type']).toBe('text/xml');
      expect(iam.body).toMatch(/<ErrorResponse><Error><Type>Sender<\/Type><Code>InvalidAction<\/Code><Message>the Riffle local cloud does not emulate service &quot;iam&quot;/);
    });
  });
});
