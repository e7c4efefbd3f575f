/**
 * An AbortController made only when someone reads its signal. Most handlers never
 * look at theirs, and creating a controller per job was ~2% of a no-op drain's CPU.
 */
export class LazyAbort {
  #controller: AbortController | null = null;
  #aborted = false;
  #reason: unknown;

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}
