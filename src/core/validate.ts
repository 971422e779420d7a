// Parse input with a zod schema and turn the first issue into INVALID_INPUT naming the field.
import type { z } from 'zod';
import { RackhandError } from '../errors.js';

export function parseInput<T extends z.ZodType>(schema: T, input: unknown, what = 'input'): z.infer<T> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue.path.map(String).join('.');
  const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
  const label = field ? `${field}` : what;
  throw new RackhandError('INVALID_INPUT', `${label}: ${issue.message}${keys}`, {
    field: issue.code === 'unrecognized_keys' ? issue.keys[0] : field || what,
  });
}
