/** How long to wait for a lock, how long its lease lasts, and whether it renews itself. */
export interface AcquireOptions {
  /** How long to wait for the lock before LockTimeoutError. 0 = one try. */
  timeoutMs: number;
  /** Lease length. The lease is renewed every ttl/3 while the holder lives, and lapses when it dies. Default 30 s. */
  ttlMs?: number;
  /** Default true. Turn off to hold a bare lease that lapses after ttlMs unless extended. */
  autoRenew?: boolean;
}

/** A granted lock: its fencing token (greater than every earlier grant of the resource), and a signal that fires if it is lost. */
export interface Lock {
  readonly resource: string;
  /** Fencing token: strictly greater than every earlier grant of the same resource. */
  readonly token: number;
  /** Aborts when the lease is lost (renewal failed or came too late). */
  readonly signal: AbortSignal;
  /** Extend the lease to now + ms (default ttlMs). LeaseLostError if it already lapsed and was taken. */
  extend(ms?: number): Promise<void>;
  /** Release; idempotent. Never releases a later holder's grant. */
  release(): Promise<void>;
}

/** Distributed locks with fencing tokens, per namespace. */
export interface LockManager {
  /** Waits up to `timeoutMs` for the resource; LockTimeoutError when it stays held. */
  acquire(resource: string, options: AcquireOptions): Promise<Lock>;
}
