// parseInput (core/validate.ts): the parsed value, or one INVALID_INPUT naming the field of the first problem.
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { parseInput } from '../../src/core/validate.js';
import { RackhandError } from '../../src/errors.js';

const schema = z
  .object({
    name: z.string().min(1),
    bmc: z.object({ port: z.number().int().max(65535) }).strict().optional(),
    tags: z.array(z.object({ tag: z.string() })).default([]),
  })
  .strict();

function invalid(input: unknown, what?: string): RackhandError {
  try {
    parseInput(schema, input, what);
  } catch (e) {
    expect(e).toBeInstanceOf(RackhandError);
    expect((e as RackhandError).code).toBe('INVALID_INPUT');
    expect((e as RackhandError).status).toBe(400);
    return e as RackhandError;
  }
  throw new Error('expected INVALID_INPUT, the input was accepted');
}

describe('parseInput', () => {
  it('returns the parsed value, defaults filled in', () => {
    expect(parseInput(schema, { name: 'a' })).toEqual({ name: 'a', tags: [] });
  });

  it('names a top-level field', () => {
    const e = invalid({ name: '' });
    expect(e.details).toEqual({ field: 'name' });
    expect(e.message).toMatch(/^name: /);
  });

  it('names a nested field by its dotted path, array indexes included', () => {
    expect(invalid({ name: 'a', bmc: { port: 70000 } }).details).toEqual({ field: 'bmc.port' });
    const e = invalid({ name: 'a', tags: [{ tag: 'x' }, { tag: 5 }] });
    expect(e.details).toEqual({ field: 'tags.1.tag' });
    expect(e.message).toMatch(/^tags\.1\.tag: /);
  });

  it('names unknown keys, and the first of them as the field', () => {
    const e = invalid({ name: 'a', colour: 'blue', size: 3 });
    expect(e.message).toContain('(colour, size)');
    expect(e.details).toEqual({ field: 'colour' });
    expect(invalid({ name: 'a', bmc: { port: 1, speed: 2 } }).message).toContain('(speed)');
  });

  it('names the whole input by what it is when the problem is not a field', () => {
    const e = invalid('not an object', 'server');
    expect(e.details).toEqual({ field: 'server' });
    expect(e.message).toMatch(/^server: /);
    expect(invalid(null).details).toEqual({ field: 'input' });
  });
});
