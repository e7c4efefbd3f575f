import { InvalidArgumentError } from '../storage/errors.js';

/**
 * Tenant ids and queue-group names: letters, digits, `_` and `-`, 1–64
 * characters. No `:`, `/`, `.`, braces or control characters, so an id can
 * never reach into another tenant's namespace, key space or job ids.
 */
const ID = /^[A-Za-z0-9_-]{1,64}$/;

export function checkTenantId(id: unknown): string {
  return checkId('tenant id', id);
}

export function checkGroupName(name: unknown): string {
  return checkId('queue group name', name);
}

function checkId(what: string, value: unknown): string {
  if (typeof value !== 'string') throw new InvalidArgumentError(`${what} must be a string, got ${value === null ? 'null' : typeof value}`);
  if (value.length === 0) throw new InvalidArgumentError(`${what} must not be empty`);
  if (value.length > 64) throw new InvalidArgumentError(`${what} is ${value.length} characters long; the limit is 64`);
  if (!ID.test(value)) throw new InvalidArgumentError(`${what} ${JSON.stringify(value)} may only contain letters, digits, _ and -`);
  return value;
}
