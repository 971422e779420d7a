// The strict template renderer: syntax, strictness, no code execution, guards, and fuzzing of the parser.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compileTemplate, render } from '../../../src/boot/templates/render.js';
import { RackhandError } from '../../../src/errors.js';

function templateError(fn: () => unknown): RackhandError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RackhandError);
    expect((e as RackhandError).code).toBe('TEMPLATE_ERROR');
    return e as RackhandError;
  }
  throw new Error('expected a TEMPLATE_ERROR');
}

describe('render', () => {
  it('substitutes variables and dotted fields', () => {
    expect(render('a {{ x }} b {{y}} {{ o.k }}', { x: 'X', y: 3, o: { k: 'K' } })).toBe('a X b 3 K');
  });

  it('if / else / unless with defined truthiness', () => {
    const t = '{{#if v}}T{{else}}F{{/if}}';
    for (const [v, want] of [[true, 'T'], [false, 'F'], ['', 'F'], ['s', 'T'], [0, 'F'], [2, 'T'], [[], 'F'], [['a'], 'T']] as const) {
      expect(render(t, { v: v as never })).toBe(want);
    }
    expect(render('{{#unless v}}U{{/unless}}', { v: false })).toBe('U');
    expect(render('{{#unless v}}U{{else}}E{{/unless}}', { v: 'x' })).toBe('E');
  });

  it('each binds the alias only inside the block, nested each works', () => {
    const t = '{{#each xs as x}}[{{ x }}{{#each ys as y}}{{ x }}{{ y }}{{/each}}]{{/each}}';
    expect(render(t, { xs: ['a', 'b'], ys: ['1', '2'] })).toBe('[aa1a2][bb1b2]');
    templateError(() => render('{{#each xs as x}}{{/each}}{{ x }}', { xs: ['a'] }));
    expect(render('{{#each xs as x}}{{ x.n }},{{/each}}', { xs: [{ n: 'p' }, { n: 'q' }] })).toBe('p,q,');
  });

  it('an undefined variable is an error naming the variable, template and line', () => {
    const e = templateError(() => render('line1\n{{ missing }}', {}, { name: 'ipxe/x.ipxe' }));
    expect(e.message).toContain('missing');
    expect(e.message).toContain('ipxe/x.ipxe');
    expect(e.details).toMatchObject({ variable: 'missing', template: 'ipxe/x.ipxe', line: 2 });
    templateError(() => render('{{ v }}', { v: undefined }));
    templateError(() => render('{{#if nope}}x{{/if}}', {}));
    templateError(() => render('{{#each nope as n}}x{{/each}}', {}));
    templateError(() => render('{{ o.missing }}', { o: { k: 'v' } }));
    templateError(() => render('{{ s.length }}', { s: 'abc' }));
  });

  it('does not reach inherited properties or prototypes', () => {
    templateError(() => render('{{ constructor }}', {}));
    templateError(() => render('{{ toString }}', {}));
    templateError(() => render('{{ o.__proto__ }}', { o: {} }));
    templateError(() => render('{{ o.constructor }}', { o: {} }));
  });

  it('never evaluates anything: expressions are syntax errors, values are inserted verbatim', () => {
    templateError(() => render('{{ 1+1 }}', {}));
    templateError(() => render('{{ process.exit() }}', {}));
    templateError(() => render('{{ a b }}', { a: 'x' }));
    templateError(() => render('{{#if a == b}}x{{/if}}', { a: 'x' }));
    expect(render('{{ v }}', { v: '{{ other }} ${process.pid} `id`' })).toBe('{{ other }} ${process.pid} `id`');
  });

  it('lists, objects and booleans cannot be printed as text', () => {
    templateError(() => render('{{ v }}', { v: ['a'] }));
    templateError(() => render('{{ v }}', { v: { a: 'b' } }));
    templateError(() => render('{{ v }}', { v: true }));
    templateError(() => render('{{ v }}', { v: Number.NaN }));
  });

  it('rejects malformed templates', () => {
    for (const bad of ['{{ x', '{{#if x}}', '{{/if}}', '{{#if x}}{{/each}}', '{{else}}', '{{#each xs}}{{/each}}',
      '{{#each xs as 1x}}{{/each}}', '{{#if x}}{{else}}{{else}}{{/if}}', '{{ {{x}} }}', '{{#each x as y}}{{else}}{{/each}}', '{{}}']) {
      templateError(() => compileTemplate(bad, 'bad'));
    }
  });

  it('block and comment tags alone on a line take the line with them', () => {
    const t = 'a\n{{! doc\n  more doc }}\n  {{#if x}}\nin\n  {{/if}}\nb {{#if x}}inline{{/if}} c\n';
    expect(render(t, { x: true })).toBe('a\nin\nb inline c\n');
    expect(render(t, { x: false })).toBe('a\nb  c\n');
    expect(render('{{#each xs as x}}\n- {{ x }}\n{{/each}}\n', { xs: ['1', '2'] })).toBe('- 1\n- 2\n');
  });

  it('reports the root variables a template uses', () => {
    const c = compileTemplate('{{ a }}{{#each bs as b}}{{ b.x }}{{ c }}{{/each}}{{#if d.e}}{{/if}}');
    expect([...c.variables].sort()).toEqual(['a', 'bs', 'c', 'd']);
  });

  it('the guard sees every printed value and can veto it', () => {
    const seen: string[] = [];
    render('{{ a }} {{#each l as i}}{{ i }}{{/each}}', { a: 'x', l: ['y', 'z'] }, { guard: (p, v) => seen.push(`${p}=${v}`) });
    expect(seen).toEqual(['a=x', 'i=y', 'i=z']);
    const e = templateError(() => render('k {{ a }}', { a: 'x\ny' }, {
      name: 't',
      guard: (_p, v) => {
        if (v.includes('\n')) throw new Error('newline');
      },
    }));
    expect(e.details).toMatchObject({ variable: 'a' });
  });

  it('text without tags is returned unchanged (fuzz)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }).filter((s) => !s.includes('{{')), (s) => render(s, {}) === s),
      { numRuns: 3000 },
    );
  });

  it('random and truncated templates either render or throw TEMPLATE_ERROR, never anything else (fuzz)', () => {
    const pieces = fc.constantFrom('{{', '}}', '{{ a }}', '{{#if a}}', '{{/if}}', '{{else}}', '{{#each l as i}}', '{{ i }}',
      '{{/each}}', '{{#unless a}}', '{{/unless}}', '{{! c }}', '\n', ' ', 'x', '{', '}', '#', '/', '{{ o.k }}');
    const vars = { a: 'A', l: ['1', '2'], o: { k: 'K' } };
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 40 }), fc.nat(400), (parts, cut) => {
        const full = parts.join('');
        for (const t of [full, full.slice(0, cut % (full.length + 1))]) {
          try {
            const out = render(t, vars);
            if (typeof out !== 'string') return false;
          } catch (e) {
            if (!(e instanceof RackhandError) || e.code !== 'TEMPLATE_ERROR') return false;
          }
        }
        return true;
      }),
      { numRuns: 5000 },
    );
  });
});
