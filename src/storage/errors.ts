/**
 * Every error jobshard throws on purpose is a JobshardError with a stable
 * `code`; callers and the conformance suite branch on `code`, never on the
 * message, so messages can say what to fix without becoming an API.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'PAYLOAD_TOO_LARGE'
  | 'JOB_NOT_FOUND'
  | 'LOCK_TIMEOUT'
  | 'LEASE_LOST'
  | 'SERVER_GONE'
  | 'SHARD_UNAVAILABLE'
  | 'CONFIG_INVALID'
  | 'CLOSED'
  | 'UNIT_MOVED'
  | 'UNIT_FROZEN'
  | 'DIRECTORY_UNAVAILABLE'
  | 'UNIT_NOT_EMPTY'
  | 'SHARD_NOT_EMPTY'
  | 'UNIT_MOVING'
  | 'MOVE_ABORTED';

/** The base of every error jobshard throws on purpose: `code` is stable, the message says what to do. */
export class JobshardError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An argument is malformed: empty or over-long name, negative duration, non-JSON payload… */
export class InvalidArgumentError extends JobshardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options);
  }
}

/** A job's serialized arguments exceed the storage's `maxPayloadBytes`. */
export class PayloadTooLargeError extends JobshardError {
  readonly bytes: number;
  readonly limit: number;
  constructor(bytes: number, limit: number) {
    super(
      'PAYLOAD_TOO_LARGE',
      `job payload is ${bytes} bytes, over the limit of ${limit} bytes: pass a reference (an id or URL) instead of the data, or raise maxPayloadBytes`,
    );
    this.bytes = bytes;
    this.limit = limit;
  }
}

/** JOB_NOT_FOUND: an unknown, malformed, expired or another tenant's job id. */
export class JobNotFoundError extends JobshardError {
  readonly jobId: string;
  constructor(jobId: string) {
    super('JOB_NOT_FOUND', `job '${jobId}' does not exist in this storage (unknown id, expired, or another tenant's id)`);
    this.jobId = jobId;
  }
}

/** LOCK_TIMEOUT: the lock was not granted within `timeoutMs`. */
export class LockTimeoutError extends JobshardError {
  readonly resource: string;
  constructor(resource: string, timeoutMs: number) {
    super(
      'LOCK_TIMEOUT',
      `could not acquire lock '${resource}' within ${timeoutMs} ms: another holder still has it; raise timeoutMs or shorten the holder's critical section`,
    );
    this.resource = resource;
  }
}

/** A lock lease or a fetched job's invisibility lease now belongs to someone else (it expired). */
export class LeaseLostError extends JobshardError {
  constructor(what: string, options?: { cause?: unknown }) {
    super('LEASE_LOST', `${what}: the lease expired and was taken over; the work it guarded may run again elsewhere`, options);
  }
}

/** A heartbeat for a server whose record was removed (e.g. declared dead by a peer). */
export class ServerGoneError extends JobshardError {
  readonly serverId: string;
  constructor(serverId: string) {
    super('SERVER_GONE', `server '${serverId}' is not registered any more (removed as timed out?): announce it again under a new id`);
    this.serverId = serverId;
  }
}

/** SHARD_UNAVAILABLE: the shard did not answer, or its circuit is open; `shardId` names it. */
export class ShardUnavailableError extends JobshardError {
  readonly shardId: string;
  constructor(shardId: string, reason: string, options?: { cause?: unknown }) {
    super('SHARD_UNAVAILABLE', `shard '${shardId}' is unavailable: ${reason}`, options);
    this.shardId = shardId;
  }
}

/** CONFIG_INVALID: a tenant map or router config that is wrong, or contradicts the stored directory; lists every problem. */
export class ConfigError extends JobshardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFIG_INVALID', message, options);
  }
}

/** CLOSED: a call on a backend or router that was closed. */
export class ClosedError extends JobshardError {
  constructor(what: string) {
    super('CLOSED', `${what} is closed`);
  }
}

/**
 * The unit (namespace) is no longer owned by this shard: it moved to `toShard`
 * at directory epoch `epoch`. Nothing was written. A router re-reads the
 * directory and retries there; a caller using a backend directly sees this.
 */
export class UnitMovedError extends JobshardError {
  readonly namespace: string;
  readonly toShard: string;
  readonly epoch: number;
  constructor(namespace: string, toShard: string, epoch: number) {
    super(
      'UNIT_MOVED',
      `unit '${namespace}' moved to shard '${toShard}' at directory epoch ${epoch}; nothing was written here: route the call by the current directory`,
    );
    this.namespace = namespace;
    this.toShard = toShard;
    this.epoch = epoch;
  }
}

/**
 * The unit is frozen for a cutover until `until` (ms since the epoch): writes
 * and fetches are refused until then, reads still work. Nothing was written.
 */
export class UnitFrozenError extends JobshardError {
  readonly namespace: string;
  readonly until: number;
  constructor(namespace: string, until: number) {
    super(
      'UNIT_FROZEN',
      `unit '${namespace}' is frozen for a placement change for ${Math.max(0, until - Date.now())} ms more; nothing was written: retry after it`,
    );
    this.namespace = namespace;
    this.until = until;
  }
}

/** The placement directory's store cannot be reached or read. */
export class DirectoryUnavailableError extends JobshardError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('DIRECTORY_UNAVAILABLE', `the placement directory is unavailable: ${reason}`, options);
  }
}

/** A placement change that would strand data: the unit holds data where it is (or where it would go), so it needs a move. */
export class UnitNotEmptyError extends JobshardError {
  readonly unit: string;
  readonly shard: string;
  constructor(unit: string, shard: string) {
    super(
      'UNIT_NOT_EMPTY',
      `unit '${unit}' holds data on shard '${shard}'; changing its placement by a directory write would strand it: move it instead (admin.moveUnit). Nothing was changed`,
    );
    this.unit = unit;
    this.shard = shard;
  }
}

/** A shard cannot leave the directory while it still owns slots or pins. */
export class ShardNotEmptyError extends JobshardError {
  readonly shard: string;
  constructor(shard: string, slots: number, pins: number) {
    super('SHARD_NOT_EMPTY', `shard '${shard}' still owns ${slots} slots and ${pins} pins; move them off first (admin.drainShard). Nothing was changed`);
    this.shard = shard;
  }
}

/** A second move of a unit that is already moving. */
export class UnitMovingError extends JobshardError {
  readonly unit: string;
  constructor(unit: string, from: string, to: string, phase: string) {
    super(
      'UNIT_MOVING',
      `unit '${unit}' is already moving from '${from}' to '${to}' (phase ${phase}); wait for it, or run admin.resumeMoves() if its mover died. Nothing was changed`,
    );
    this.unit = unit;
  }
}

/** A move that stopped before its flip and was rolled back: the unit stays where it was, whole. */
export class MoveAbortedError extends JobshardError {
  readonly unit: string;
  constructor(unit: string, reason: string, options?: { cause?: unknown }) {
    super('MOVE_ABORTED', `the move of unit '${unit}' was rolled back (${reason}); the unit stays on its shard with all its data`, options);
    this.unit = unit;
  }
}

/** True when `err` is a jobshard error (of `code`, when given): works across copies of the package. */
export function isJobshardError(err: unknown, code?: ErrorCode): err is JobshardError {
  return err instanceof JobshardError && (code === undefined || err.code === code);
}
