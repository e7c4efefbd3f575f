import { JobNotFoundError } from '../storage/errors.js';
import { checkName } from '../storage/validate.js';
import type { Unit } from '../tenancy/unit.js';

const SLASH = 0x2f;

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

/** Decodes an id used through the storage of the tenant whose `home` unit is given; another tenant's id or a malformed one is not found here. */
export function decodeJobId(home: Unit, id: string, hasGroup: (group: string) => boolean, checked = false): { unit: Unit; backendId: string } {
  if (!checked) checkName('jobId', id);
  const tenant = home.tenant;
  // Parsed by position rather than split: this runs on every call that carries an id.
  const t = tenant.length;
  if (id.length <= t + 1 || id.charCodeAt(t) !== SLASH || !id.startsWith(tenant)) throw new JobNotFoundError(id);
  const second = id.indexOf('/', t + 1);
  if (second === -1) return { unit: home, backendId: id.slice(t + 1) };
  const group = id.slice(t + 1, second);
  const backendId = id.slice(second + 1);
  if (group !== '' && backendId !== '' && !backendId.includes('/') && hasGroup(group)) return { unit: { tenant, group }, backendId };
  throw new JobNotFoundError(id);
}
