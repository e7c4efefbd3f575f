/**
 * Natural batching: a call goes out at once while fewer than `concurrency`
 * batches are in flight; calls that arrive meanwhile wait and go out together
 * in the next free slot. Idle latency is unchanged, and under load one round
 * trip (and one commit) serves many callers. Each caller still gets its own
 * result. Measured: on Postgres one batch in flight was best; on Redis,
 * whose client pipelines, no batching at all (max 1, unlimited in flight).
 */
export class Batcher<I, O> {
  readonly #run: (inputs: I[]) => Promise<O[]>;
  readonly #max: number;
  #pending: Array<{ input: I; resolve: (o: O) => void; reject: (e: unknown) => void }> = [];
  readonly #concurrency: number;
  #running = 0;

  constructor(run: (inputs: I[]) => Promise<O[]>, max: number, concurrency = 1) {
    this.#run = run;
    this.#max = max;
    this.#concurrency = concurrency;
  }

  push(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#pending.push({ input, resolve, reject });
      if (this.#running < this.#concurrency) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#running++;
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#max);
      try {
        const out = await this.#run(batch.map((b) => b.input));
        batch.forEach((b, i) => b.resolve(out[i]!));
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.#running--;
  }
}
