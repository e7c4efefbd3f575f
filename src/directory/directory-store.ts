import { DirectoryUnavailableError, isJobshardError } from '../storage/errors.js';
import type { Backend, Storage } from '../storage/storage.js';
import { directoryRecordSchema, type DirectoryRecord } from './directory-record.js';

/** The reserved namespace: tenant ids cannot contain '.', so no tenant can name it. */
export const DIRECTORY_NAMESPACE = 'jobshard.directory';

const HASH = 'directory';
const LOCK = 'directory';
/** A writer that dies holding the lock blocks others this long at most. */
export const DIRECTORY_LOCK_TTL_MS = 10_000;

/**
 * The directory's durable home: one hash in the reserved namespace of a
 * backend, with fields `epoch` (polled) and `record` (the JSON). Writes are
 * serialised by a lock of that namespace and committed in one transaction,
 * so a reader sees a whole record or the one before it.
 */
export class DirectoryStore {
  readonly storage: Storage;

  constructor(readonly backend: Backend) {
    this.storage = backend.storage(DIRECTORY_NAMESPACE);
  }

  /** The stored epoch alone (cheap: what followers poll), 0 when the directory is empty. */
  async epoch(): Promise<number> {
    const v = await this.#reading(() => this.storage.data.hashGet(HASH, 'epoch'));
    return v === null ? 0 : Number(v);
  }

  async read(): Promise<DirectoryRecord | null> {
    const json = await this.#reading(() => this.storage.data.hashGet(HASH, 'record'));
    if (json === null) return null;
    let parsed;
    try {
      parsed = directoryRecordSchema.safeParse(JSON.parse(json));
    } catch (err) {
      throw new DirectoryUnavailableError(`the stored record is not JSON (${(err as Error).message})`, { cause: err });
    }
    if (!parsed.success)
      throw new DirectoryUnavailableError(`the stored record is malformed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return parsed.data as DirectoryRecord;
  }

  /**
   * Runs fn with the current record (null: empty) while holding the
   * directory lock, so that writers never interleave. fn writes with `write`.
   */
  async locked<T>(fn: (current: DirectoryRecord | null) => Promise<T>): Promise<T> {
    const lock = await this.#reading(() => this.storage.locks.acquire(LOCK, { timeoutMs: DIRECTORY_LOCK_TTL_MS * 2, ttlMs: DIRECTORY_LOCK_TTL_MS }));
    try {
      return await fn(await this.read());
    } finally {
      await lock.release().catch(() => {});
    }
  }

  /** Writes a whole record; only call it inside `locked`. */
  async write(record: DirectoryRecord): Promise<void> {
    await this.storage.transaction((tx) => tx.hashSet(HASH, { epoch: String(record.epoch), record: JSON.stringify(record) }));
    await this.backend.signal(DIRECTORY_NAMESPACE).catch(() => {}); // followers also poll
  }

  /** Calls fn when any process writes the directory (best effort; polling covers a lost signal). */
  watch(fn: () => void): () => void {
    return this.backend.watch(DIRECTORY_NAMESPACE, fn);
  }

  async #reading<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (err) {
      if (isJobshardError(err, 'SHARD_UNAVAILABLE') || isJobshardError(err, 'CLOSED')) {
        throw new DirectoryUnavailableError((err as Error).message, { cause: err });
      }
      throw err;
    }
  }
}
