import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of one server, for fault tests: it passes bytes through, adds
 * latency to each chunk, or cuts every connection and refuses new ones until restored.
 */
export class FaultProxy {
  #server: Server | null = null;
  #sockets = new Set<Socket>();
  #cut = false;
  #delayMs = 0;
  port = 0;

  constructor(readonly targetPort: number) {}

  async start(): Promise<void> {
    this.#server = createServer((client) => {
      if (this.#cut) return void client.destroy();
      const upstream = connect(this.targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {});
      }
      const pipe = (from: Socket, to: Socket) =>
        from.on('data', (chunk) => {
          if (this.#delayMs === 0) to.write(chunk);
          // Delayed in order: each chunk waits its turn behind the earlier ones.
          else setTimeout(() => to.writable && to.write(chunk), this.#delayMs);
        });
      pipe(client, upstream);
      pipe(upstream, client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r));
    this.port = (this.#server.address() as { port: number }).port;
  }

  /** Every connection dropped, new ones refused (closed at once). */
  cut(): void {
    this.#cut = true;
    for (const s of this.#sockets) s.destroy();
  }

  restore(): void {
    this.#cut = false;
    this.#delayMs = 0;
  }

  /** Latency added to every chunk, each way. */
  delay(ms: number): void {
    this.#delayMs = ms;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.#server?.close(() => r()) ?? r());
  }
}
