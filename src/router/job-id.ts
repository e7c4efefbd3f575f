import { JobNotFoundError } from '../storage/errors.js';
import { checkName } from '../storage/validate.js';
import type { Unit } from '../tenancy/unit.js';

/**
 * Router job ids carry their unit: `acme/42` (home) or `acme/heavy/42`
 * (queue group `heavy`), the last part being the backend's id. Any call with
 * an id routes without a lookup, and the id stays valid when the unit moves
 * to another shard. Tenant and group names cannot contain '/', and no
 * backend id does.
 */
export function encodeJobId(unit: Unit, backendId: string): string {
  return unit.group === null ? `${unit.tenant}/${backendId}` : `${unit.tenant}/${unit.group}/${backendId}`;
}

/** Decodes an id used through `tenant`'s storage; another tenant's id or a malformed one is not found here. */
export function decodeJobId(tenant: string, id: string, hasGroup: (group: string) => boolean): { unit: Unit; backendId: string } {
  const parts = checkName('jobId', id).split('/');
  if (parts[0] !== tenant || parts.some((p) => p === '')) throw new JobNotFoundError(String(id));
  if (parts.length === 2) return { unit: { tenant, group: null }, backendId: parts[1]! };
  if (parts.length === 3 && hasGroup(parts[1]!)) return { unit: { tenant, group: parts[1]! }, backendId: parts[2]! };
  throw new JobNotFoundError(id);
}
