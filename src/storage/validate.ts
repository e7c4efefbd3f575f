import { InvalidArgumentError, PayloadTooLargeError } from './errors.js';
import type { JsonValue } from './json.js';

/** Longest accepted length per kind of name; kept in one place so backends can size columns. */
export const NAME_LIMITS = {
  namespace: 200,
  queue: 100,
  key: 512,
  field: 512,
  member: 2048,
  resource: 512,
  jobType: 512,
  state: 50,
  parameter: 200,
  serverId: 200,
  jobId: 200,
} as const;

export type NameKind = keyof typeof NAME_LIMITS;

// Control characters break logs, key dumps and terminal output; nothing legit needs them in a name.
// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
const CONTROL = /[\u0000-\u001f\u007f]/;
const NAMESPACE = /^[A-Za-z0-9_.:-]+$/;

/**
 * A UTF-16 surrogate without its pair. Postgres and Redis store UTF-8, where such a string becomes
 * U+FFFD: a queue or key named with one was stored under another name (found by the fuzz tests).
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Either of the above may be in it: names are checked on every call, and almost none has either. */
// eslint-disable-next-line no-control-regex -- as CONTROL
const SUSPECT = /[\u0000-\u001f\u007f\uD800-\uDFFF]/;
/** What checkString refuses may be in it: a NUL or a surrogate. */
// eslint-disable-next-line no-control-regex -- NUL is exactly what checkString refuses
const STRING_SUSPECT = /[\u0000\uD800-\uDFFF]/;

export function checkName(kind: NameKind, value: unknown): string {
  if (typeof value !== 'string') throw new InvalidArgumentError(`${kind} must be a string, got ${describe(value)}`);
  if (value.length === 0) throw new InvalidArgumentError(`${kind} must not be empty`);
  const max = NAME_LIMITS[kind];
  if (value.length > max) throw new InvalidArgumentError(`${kind} is ${value.length} characters long; the limit is ${max}`);
  if (SUSPECT.test(value)) {
    if (CONTROL.test(value)) throw new InvalidArgumentError(`${kind} ${JSON.stringify(value)} contains a control character`);
    if (LONE_SURROGATE.test(value)) throw new InvalidArgumentError(`${kind} ${JSON.stringify(value)} is not valid Unicode (a lone surrogate)`);
  }
  if (kind === 'namespace' && !NAMESPACE.test(value)) {
    throw new InvalidArgumentError(`namespace ${JSON.stringify(value)} may only contain letters, digits and _ - . :`);
  }
  return value;
}

export function checkQueues(queues: unknown): string[] {
  if (!Array.isArray(queues) || queues.length === 0) throw new InvalidArgumentError('queues must be a non-empty array of queue names, in priority order');
  const seen = new Set<string>();
  for (const q of queues) {
    checkName('queue', q);
    if (seen.has(q)) throw new InvalidArgumentError(`queue '${q}' is listed twice`);
    seen.add(q);
  }
  return [...seen];
}

/** A list of names of one kind (possibly empty), without repeats; the list is returned as given. */
export function checkNames(kind: NameKind, names: unknown, max = 10_000): readonly string[] {
  if (!Array.isArray(names)) throw new InvalidArgumentError(`expected an array of ${kind} names, got ${describe(names)}`);
  if (names.length > max) throw new InvalidArgumentError(`at most ${max} ${kind} names at once, got ${names.length}`);
  for (const n of names) checkName(kind, n);
  return names as string[];
}

/** A duration in whole milliseconds: finite, >= min. */
export function checkMs(what: string, value: unknown, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(`${what} must be a whole number of milliseconds >= ${min}, got ${describe(value)}`);
  }
  return value;
}

export function checkInt(what: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${what} must be a whole number from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

export function checkScore(what: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new InvalidArgumentError(`${what} must be a number, got ${describe(value)}`);
  return value;
}

/** An optional on/off option: true, false or absent (= false). */
export function checkFlag(what: string, value: unknown): boolean {
  if (value !== undefined && typeof value !== 'boolean') throw new InvalidArgumentError(`${what} must be true or false, not ${JSON.stringify(value)}`);
  return value === true;
}

/** The longest string value accepted where a caller names no other limit. */
const MAX_STRING = 1 << 20;

export function checkString(what: string, value: unknown, maxLength = MAX_STRING): string {
  const problem = stringProblem(value, maxLength);
  if (problem !== null) throw new InvalidArgumentError(`${what} ${problem}`);
  return value as string;
}

/**
 * What checkString refuses in a value, as the end of its message; null when nothing. Apart, so
 * that checkStringRecord builds a field's label ("state data.<field>") only for a refusal: every
 * state and parameter record a job takes comes through it.
 */
function stringProblem(value: unknown, maxLength: number): string | null {
  if (typeof value !== 'string') return `must be a string, got ${describe(value)}`;
  if (value.length > maxLength) return `is ${value.length} characters long; the limit is ${maxLength}`;
  // The lone-surrogate pattern (with its lookbehind) only for a value that may hold one: nearly none does.
  if (STRING_SUSPECT.test(value)) {
    if (LONE_SURROGATE.test(value)) return 'is not valid Unicode (a lone surrogate)';
    // Postgres text cannot hold NUL: refused on every backend alike (found by the fuzz tests).
    if (value.includes('\u0000')) return 'contains a NUL character (\\u0000), which Postgres cannot store';
  }
  return null;
}

export function checkStringRecord(what: string, value: unknown, keyKind: NameKind): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(`${what} must be an object of string values, got ${describe(value)}`);
  }
  const out: Record<string, string> = {};
  const record = value as Record<string, unknown>;
  for (const k of Object.keys(record)) {
    const v = record[k];
    checkName(keyKind, k);
    const problem = stringProblem(v, MAX_STRING);
    if (problem !== null) throw new InvalidArgumentError(`${what}.${k} ${problem}`);
    // Assigned, out["__proto__"] would set the prototype instead of a field.
    if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v as string;
  }
  return out;
}

/**
 * Serializes job arguments, refusing anything JSON would silently change
 * (undefined, NaN, Dates, class instances, cycles…) so a job never runs with
 * arguments other than those it was given.
 */
export function serializeArgs(args: unknown, maxBytes: number): { json: string; value: JsonValue[] } {
  if (!Array.isArray(args)) throw new InvalidArgumentError(`args must be an array, got ${describe(args)}`);
  checkJson(args, 'args', new Set());
  const json = JSON.stringify(args);
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > maxBytes) throw new PayloadTooLargeError(bytes, maxBytes);
  return { json, value: args as JsonValue[] };
}

/**
 * Deepest nesting of job arguments accepted. Deeper values overflowed the checker's stack (an
 * untyped RangeError found by the fuzz tests); Redis's cjson stops at 1,000 levels too.
 */
export const MAX_ARGS_DEPTH = 500;

function checkJson(value: unknown, path: string, stack: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidArgumentError(`${path} is ${value}, which JSON cannot represent`);
      return;
    case 'object': {
      if (value === null) return;
      if (stack.has(value)) throw new InvalidArgumentError(`${path} refers back to itself (a cycle), which JSON cannot represent`);
      if (stack.size >= MAX_ARGS_DEPTH) throw new InvalidArgumentError(`args are nested deeper than ${MAX_ARGS_DEPTH} levels`);
      const proto = Object.getPrototypeOf(value);
      const isArray = Array.isArray(value);
      if (!isArray && proto !== Object.prototype && proto !== null) {
        throw new InvalidArgumentError(
          `${path} is a ${value.constructor?.name ?? 'non-plain object'}; pass plain objects, arrays, strings, numbers, booleans or null (convert Dates with toISOString())`,
        );
      }
      stack.add(value);
      if (isArray) {
        for (let i = 0; i < value.length; i++) checkJson(value[i], `${path}[${i}]`, stack);
      } else {
        for (const [k, v] of Object.entries(value)) checkJson(v, `${path}.${k}`, stack);
      }
      stack.delete(value);
      return;
    }
    default:
      throw new InvalidArgumentError(`${path} is ${describe(value)}, which JSON cannot represent`);
  }
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** A page of a listing: offset >= 0 (default 0), limit 1–1000 (default 50). */
export function checkPage(page: { offset?: number; limit?: number } | undefined): { offset: number; limit: number } {
  return {
    offset: checkInt('page offset', page?.offset ?? 0, 0),
    limit: checkInt('page limit', page?.limit ?? 50, 1, 1000),
  };
}
