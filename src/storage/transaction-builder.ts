import { InvalidArgumentError } from './errors.js';
import type { NewState } from './job.js';
import type { StructureKind } from './data.js';
import type { FetchedJob } from './queue.js';
import type { RecordedOp, WriteTransaction } from './transaction.js';
import { checkInt, checkMs, checkName, checkScore, checkString, checkStringRecord } from './validate.js';

const KINDS: readonly StructureKind[] = ['hash', 'set', 'list', 'counter'];

/** Records and validates writes; the backend applies `ops` atomically on commit. */
export class TransactionBuilder implements WriteTransaction {
  readonly ops: RecordedOp[] = [];
  #sealed = false;

  seal(): void {
    this.#sealed = true;
  }

  #push(op: RecordedOp): void {
    if (this.#sealed) throw new InvalidArgumentError('this transaction already finished; record writes inside the transaction callback, before it returns');
    this.ops.push(op);
  }

  setJobState(jobId: string, state: NewState): void {
    this.#push({ op: 'setJobState', jobId: checkName('jobId', jobId), state: checkState(state) });
  }
  addJobState(jobId: string, state: NewState): void {
    this.#push({ op: 'addJobState', jobId: checkName('jobId', jobId), state: checkState(state) });
  }
  setJobParameter(jobId: string, name: string, value: string): void {
    this.#push({ op: 'setJobParameter', jobId: checkName('jobId', jobId), name: checkName('parameter', name), value: checkString('parameter value', value) });
  }
  expireJob(jobId: string, ms: number): void {
    this.#push({ op: 'expireJob', jobId: checkName('jobId', jobId), ms: checkMs('expireJob ms', ms) });
  }
  persistJob(jobId: string): void {
    this.#push({ op: 'persistJob', jobId: checkName('jobId', jobId) });
  }
  enqueue(queue: string, jobId: string): void {
    this.#push({ op: 'enqueue', queue: checkName('queue', queue), jobId: checkName('jobId', jobId) });
  }
  removeFromQueue(fetched: FetchedJob): void {
    if (fetched === null || typeof fetched !== 'object' || typeof fetched.jobId !== 'string' || typeof fetched.ack !== 'function') {
      throw new InvalidArgumentError('removeFromQueue needs a FetchedJob, as fetch or tryFetch returned it');
    }
    this.#push({ op: 'removeFromQueue', fetched });
  }
  hashSet(key: string, fields: Record<string, string>): void {
    this.#push({ op: 'hashSet', key: checkName('key', key), fields: checkStringRecord('fields', fields, 'field') });
  }
  hashDelete(key: string): void {
    this.#push({ op: 'hashDelete', key: checkName('key', key) });
  }
  setAdd(key: string, member: string, score: number): void {
    this.#push({ op: 'setAdd', key: checkName('key', key), member: checkName('member', member), score: checkFinite('score', score) });
  }
  setRemove(key: string, member: string): void {
    this.#push({ op: 'setRemove', key: checkName('key', key), member: checkName('member', member) });
  }
  setDelete(key: string): void {
    this.#push({ op: 'setDelete', key: checkName('key', key) });
  }
  listInsert(key: string, value: string): void {
    this.#push({ op: 'listInsert', key: checkName('key', key), value: checkString('list value', value) });
  }
  listRemove(key: string, value: string): void {
    this.#push({ op: 'listRemove', key: checkName('key', key), value: checkString('list value', value) });
  }
  listTrim(key: string, start: number, end: number): void {
    const s = checkInt('listTrim start', start, 0);
    const e = checkInt('listTrim end', end, -1);
    this.#push({ op: 'listTrim', key: checkName('key', key), start: s, end: e });
  }
  listDelete(key: string): void {
    this.#push({ op: 'listDelete', key: checkName('key', key) });
  }
  counterIncrement(key: string, by = 1, options?: { expireInMs?: number }): void {
    const expireInMs = options?.expireInMs === undefined ? null : checkMs('expireInMs', options.expireInMs, 1);
    this.#push({ op: 'counterIncrement', key: checkName('key', key), by: checkInt('counter increment', by, -Number.MAX_SAFE_INTEGER), expireInMs });
  }
  expire(kind: StructureKind, key: string, ms: number): void {
    this.#push({ op: 'expire', kind: checkKind(kind), key: checkName('key', key), ms: checkMs('expire ms', ms) });
  }
  persist(kind: StructureKind, key: string): void {
    this.#push({ op: 'persist', kind: checkKind(kind), key: checkName('key', key) });
  }
}

/**
 * Runs a transaction callback against a fresh recorder: the writes it records
 * (validated as they are recorded) and its result. Nothing is written here;
 * the caller commits `ops`. If the callback throws, so does this.
 */
export async function recordTransaction<T>(fn: (tx: WriteTransaction) => T | Promise<T>): Promise<{ result: T; ops: RecordedOp[] }> {
  if (typeof fn !== 'function') throw new InvalidArgumentError('transaction needs a callback (tx) => { ... }');
  const tx = new TransactionBuilder();
  try {
    return { result: await fn(tx), ops: tx.ops };
  } finally {
    tx.seal();
  }
}

export function checkKind(kind: unknown): StructureKind {
  if (!KINDS.includes(kind as StructureKind)) throw new InvalidArgumentError(`structure kind must be one of ${KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  return kind as StructureKind;
}

function checkFinite(what: string, value: unknown): number {
  const n = checkScore(what, value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${what} must be finite, got ${n}`);
  return n;
}

export function checkState(state: unknown): NewState {
  if (state === null || typeof state !== 'object') throw new InvalidArgumentError('state must be an object like { name: "Enqueued" }');
  const s = state as NewState;
  const out: NewState = { name: checkName('state', s.name) };
  if (s.reason !== undefined && s.reason !== null) out.reason = checkString('state reason', s.reason, 4000);
  out.data = s.data === undefined ? {} : checkStringRecord('state data', s.data, 'field');
  return out;
}
