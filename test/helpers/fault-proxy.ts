import { connect, createServer, type Server, type Socket } from 'node:net';

export type Fault = 'after' | 'before' | 'stall';

/**
 * A loopback TCP proxy in front of one server, for fault tests: it passes bytes through, adds
 * latency to each chunk, or cuts every connection and refuses new ones until restored.
 */
export class FaultProxy {
  #server: Server | null = null;
  #sockets = new Set<Socket>();
  #cut = false;
  #delayMs = 0;
  #cutOn: ((request: Buffer) => Fault | null) | null = null;
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
      // Each direction is one queue, written in order: a chunk never overtakes an earlier one, even
      // when the latency changes (or is removed) while chunks wait.
      const pipe = (from: Socket, to: Socket) => {
        const waiting: Array<{ at: number; chunk: Buffer }> = [];
        let timer: NodeJS.Timeout | null = null;
        const drain = () => {
          timer = null;
          while (waiting.length > 0 && waiting[0]!.at <= Date.now()) {
            const { chunk } = waiting.shift()!;
            if (to.writable) to.write(chunk);
          }
          if (waiting.length > 0) timer = setTimeout(drain, waiting[0]!.at - Date.now());
        };
        from.on('data', (chunk: Buffer) => {
          const cut = from === client ? this.#cutOn?.(chunk) : null;
          if (cut === 'after') {
            // The server gets the request and runs it; its reply never comes back.
            to.write(chunk, () => {
              client.destroy();
              upstream.destroy();
            });
            this.cuts++;
            return;
          }
          if (cut === 'before') {
            // The request is lost on the way: the server never sees it.
            client.destroy();
            upstream.destroy();
            this.cuts++;
            return;
          }
          if (cut === 'stall') this.cuts++;
          const delay = cut === 'stall' ? this.stallMs : this.#delayMs;
          if (delay === 0 && waiting.length === 0) return void to.write(chunk);
          const at = Math.max(Date.now() + delay, waiting.at(-1)?.at ?? 0);
          waiting.push({ at, chunk });
          timer ??= setTimeout(drain, at - Date.now());
        });
      };
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

  /**
   * Cuts a connection at a request that `match` picks (a chunk from client to server): 'after'
   * passes it on first, so the server runs it and its client never hears the answer; 'before'
   * drops it, so the server never sees it; 'stall' holds it (and what follows it on that
   * connection) for `stallMs`, then passes it on. `cuts` counts them. Null turns it off.
   */
  cutOn(match: ((request: Buffer) => Fault | null) | null): void {
    this.#cutOn = match;
  }
  cuts = 0;
  stallMs = 1_000;

  /** Latency added to every chunk, each way. */
  delay(ms: number): void {
    this.#delayMs = ms;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.#server?.close(() => r()) ?? r());
  }
}
