import { z } from 'zod';
import { checkTenantId } from '../tenancy/tenant-id.js';
import { DashboardHttpError } from './http.js';
import { STATE_NAMES } from './states.js';

export const MAX_PAGE_SIZE = 200;

const pageSchema = z.object({
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  size: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(50),
});
const searchSchema = z.string().max(64).default('');
const stateSchema = z.enum(STATE_NAMES as [string, ...string[]]);

function first(query: URLSearchParams, name: string): string | undefined {
  return query.get(name) ?? undefined;
}

function fail(what: string, error: z.ZodError): never {
  throw new DashboardHttpError(400, `${what}: ${error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ')}`);
}

export function pageOf(query: URLSearchParams): { page: number; size: number; offset: number } {
  const parsed = pageSchema.safeParse({ page: first(query, 'page'), size: first(query, 'size') });
  if (!parsed.success) fail('bad page', parsed.error);
  return { ...parsed.data, offset: (parsed.data.page - 1) * parsed.data.size };
}

export function searchOf(query: URLSearchParams): string {
  const parsed = searchSchema.safeParse(first(query, 'q'));
  if (!parsed.success) fail('bad search', parsed.error);
  return parsed.data;
}

export function stateOf(value: string | null | undefined): string {
  const parsed = stateSchema.safeParse(value ?? undefined);
  if (!parsed.success) throw new DashboardHttpError(400, `unknown state ${JSON.stringify(value ?? '')}: one of ${STATE_NAMES.join(', ')}`);
  return parsed.data;
}

/** A tenant id from the path; in a tenant-scoped dashboard, only that tenant exists. */
export function tenantOfPath(segment: string, scope: string | null): string {
  let id: string;
  try {
    id = checkTenantId(decodeURIComponent(segment));
  } catch {
    throw new DashboardHttpError(404, 'no such tenant');
  }
  if (scope !== null && id !== scope) throw new DashboardHttpError(404, 'no such tenant');
  return id;
}

export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new DashboardHttpError(400, 'a path segment is not valid percent-encoding');
  }
}
