// Parameter schemas shared by the facades: form-encoded values arrive as strings, JSON ones as numbers.
import { z } from 'zod';

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

export const pageQuery = {
  limit: intParam.pipe(z.number().max(10_000)).optional(),
  offset: intParam.optional(),
};
