// Parameter schemas shared by the facades: form-encoded values arrive as strings, JSON ones as numbers.
import { z } from 'zod';
import { RackhandError } from '../errors.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type Page } from '../core/page.js';

/** A positive integer id given as a number or as a string of digits. */
export const intParam = z.union(
  [
    z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    z.string().regex(/^\d{1,15}$/).transform(Number),
  ],
  { error: 'expected a non-negative integer' },
);

/** 0/1 flags as the eq module sends them (also true/false). */
export const flagParam = z.union([
  z.boolean(),
  z.literal(0),
  z.literal(1),
  z.enum(['0', '1', 'true', 'false', 'on', 'off', 'yes', 'no', '']),
], { error: 'expected a 0/1 flag' }).transform((v) => v === true || v === 1 || v === '1' || v === 'true' || v === 'on' || v === 'yes');

export const idParams = z.object({ id: intParam }).strict();

/**
 * Paging, the same on every list of every face: `limit` (default DEFAULT_PAGE_SIZE, at most MAX_PAGE_SIZE) and
 * `offset`; `limit=OFFSET,COUNT` (ISPsystem style) is accepted too. Lists answer with their total.
 */
export const pageQuery = {
  limit: z
    .union([
      intParam,
      z
        .string()
        .regex(/^\d{1,15},\d{1,15}$/)
        .transform((v) => {
          const [offset, count] = v.split(',').map(Number);
          return { offset, count };
        }),
    ], { error: 'expected a count (limit=100) or offset,count (limit=200,100)' })
    .optional(),
  offset: intParam.optional(),
};

export type PageQuery = { limit?: number | { offset: number; count: number }; offset?: number };

/** The page a query names, checked: INVALID_INPUT names limit or offset. */
export function pageFrom(q: PageQuery): Page {
  const count = typeof q.limit === 'object' ? q.limit.count : q.limit;
  if (typeof q.limit === 'object' && q.offset !== undefined && q.offset !== q.limit.offset) {
    throw new RackhandError('INVALID_INPUT', 'offset: given twice (limit=OFFSET,COUNT and offset) with different values', { field: 'offset' });
  }
  if (count !== undefined && count > MAX_PAGE_SIZE) {
    throw new RackhandError('INVALID_INPUT', `limit: at most ${MAX_PAGE_SIZE} per page; page with offset`, { field: 'limit' });
  }
  return { limit: count ?? DEFAULT_PAGE_SIZE, offset: typeof q.limit === 'object' ? q.limit.offset : (q.offset ?? 0) };
}
