// One port, two protocols: the SDK's Kinesis client speaks cleartext HTTP/2 (prior knowledge),
// everything else HTTP/1.1. The HTTP/1.1 server itself listens — so Node enforces its header and
// request timeouts and its connection limit on every socket — and the first bytes of each
// connection decide whether it stays with that server or is handed to the HTTP/2 one.
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

const HTTP2_PREFACE = Buffer.from('PRI ');

export interface ListenerTimeouts {
  /** Time to receive a request's headers (Node's headersTimeout). */
  readonly headersMs: number;
  /** Time to receive a whole request, body included (Node's requestTimeout). */
  readonly requestMs: number;
  /** An idle keep-alive HTTP/1.1 connection is closed after this. */
  readonly keepAliveMs: number;
  /** An HTTP/2 session with no activity is closed after this. */
  readonly http2IdleMs: number;
}

export interface DualListener {
  listen(port: number, host: string): Promise<number>;
  /** Stops accepting connections (existing ones stay open). */
  stopAccepting(): void;
  /** Closes every connection and both servers. */
  closeAll(): Promise<void>;
  address(): AddressInfo;
  connections(): number;
}

type Handler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void;

export function createDualListener(handler: Handler, timeouts: ListenerTimeouts, maxConnections: number): DualListener {
  const h1 = http.createServer(
    {
      keepAliveTimeout: timeouts.keepAliveMs,
      headersTimeout: timeouts.headersMs,
      requestTimeout: timeouts.requestMs,
      connectionsCheckingInterval: Math.max(100, Math.min(timeouts.headersMs, 30_000) / 2),
    },
    handler,
  );
  h1.maxConnections = maxConnections;
  const h2 = http2.createServer({ maxSessionMemory: 64 }, handler);
  h2.setTimeout(timeouts.http2IdleMs);
  const sockets = new Set<Socket>();

  // Take over the HTTP/1.1 server's own connection handler so each socket can be sniffed first.
  const [acceptHttp1] = h1.listeners('connection') as ((socket: Socket) => void)[];
  if (!acceptHttp1) throw new Error('node:http server without a connection listener');
  h1.removeAllListeners('connection');
  h1.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    // A connection that sends nothing is closed after the header timeout.
    socket.setTimeout(timeouts.headersMs, () => socket.destroy());
    const sniff = (): void => {
      const chunk = socket.read() as Buffer | null;
      if (chunk === null) {
        socket.once('readable', sniff);
        return;
      }
      socket.unshift(chunk);
      if (chunk.length < HTTP2_PREFACE.length && HTTP2_PREFACE.subarray(0, chunk.length).equals(chunk) && !socket.readableEnded) {
        socket.once('readable', sniff); // "P" alone could still be "PRI " or "PUT"
        return;
      }
      socket.setTimeout(0);
      if (chunk.subarray(0, HTTP2_PREFACE.length).equals(HTTP2_PREFACE)) h2.emit('connection', socket);
      else acceptHttp1.call(h1, socket);
    };
    socket.once('readable', sniff);
  });

  return {
    listen: (port, host) =>
      new Promise<number>((resolve, reject) => {
        h1.once('error', reject);
        h1.listen(port, host, () => {
          h1.off('error', reject);
          resolve((h1.address() as AddressInfo).port);
        });
      }),
    stopAccepting: () => {
      // net.Server's close, not http.Server's: the latter also drops idle keep-alive connections,
      // which in-flight work (a function still writing to DynamoDB during stop) may be about to reuse.
      net.Server.prototype.close.call(h1);
    },
    async closeAll() {
      h1.close();
      h1.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => h2.close(() => resolve()));
    },
    address: () => h1.address() as AddressInfo,
    connections: () => sockets.size,
  };
}
