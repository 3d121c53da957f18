import { createServer, connect, type Socket } from 'node:net';

export interface RoundTripProxy {
  /** The loopback port to connect to instead of the server's. */
  readonly port: number;
  /** Request/response exchanges since the last reset, over every connection. */
  readonly roundTrips: number;
  reset(): void;
  close(): Promise<void>;
}

/**
 * A loopback TCP proxy in front of a database server that counts round trips: on each connection,
 * every time the client sends after the server last spoke (or first) is one. A request split over
 * several TCP segments, or an answer of several result sets, still counts once; a pipeline of
 * requests sent before any answer too.
 */
export async function roundTripProxy(serverPort: number): Promise<RoundTripProxy> {
  let roundTrips = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(serverPort, '127.0.0.1');
    let lastSpoke: 'client' | 'server' | undefined;
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('data', (chunk) => {
      if (lastSpoke !== 'client') roundTrips++;
      lastSpoke = 'client';
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      lastSpoke = 'server';
      client.write(chunk);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP port');
  return {
    port: address.port,
    get roundTrips() {
      return roundTrips;
    },
    reset() {
      roundTrips = 0;
    },
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
