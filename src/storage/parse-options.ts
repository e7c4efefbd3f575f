import type { z } from 'zod';
import { ConfigError } from './errors.js';

/** Validates options with a zod schema; every problem is listed with the path to fix. */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
  throw new ConfigError(`invalid ${what}: ${problems.join('; ')}`);
}
