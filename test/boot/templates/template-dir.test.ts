// Loading templates from a folder: caching, reload on change, and a traversal corpus that never escapes it.

import { mkdtempSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TemplateDir } from '../../../src/boot/templates/template-dir.js';
import { RackhandError } from '../../../src/errors.js';

describe('TemplateDir', () => {
  let base: string;
  let root: string;

  beforeAll(() => {
    base = mkdtempSync(path.join(tmpdir(), `rackhand-tpl-${process.pid}-`));
    root = path.join(base, 'templates');
    mkdirSync(path.join(root, 'ipxe'), { recursive: true });
    writeFileSync(path.join(root, 'ipxe', 'a.ipxe'), '#!ipxe\necho {{ x }}\n');
    writeFileSync(path.join(base, 'secret.txt'), 'outside {{ x }}');
    symlinkSync(path.join(base, 'secret.txt'), path.join(root, 'escape.txt'));
    symlinkSync(base, path.join(root, 'updir'));
    mkdirSync(path.join(root, 'sub.d'));
  });

  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('loads, caches and reloads a changed template', () => {
    const dir = new TemplateDir(root);
    const t1 = dir.load('ipxe/a.ipxe');
    expect(t1.render({ x: 'hi' })).toBe('#!ipxe\necho hi\n');
    expect(dir.load('ipxe/a.ipxe')).toBe(t1);
    const file = path.join(root, 'ipxe', 'a.ipxe');
    writeFileSync(file, '#!ipxe\necho {{ x }} again\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(dir.load('ipxe/a.ipxe').render({ x: 'hi' })).toBe('#!ipxe\necho hi again\n');
  });

  it('a missing template or folder is TEMPLATE_ERROR', () => {
    expect(() => new TemplateDir(root).load('ipxe/none.ipxe')).toThrow(RackhandError);
    expect(() => new TemplateDir(path.join(base, 'nope')).load('a')).toThrow(/folder/);
    expect(() => new TemplateDir(root).load('sub.d')).toThrow(/regular file/);
  });

  it('never escapes the folder (traversal corpus)', () => {
    const dir = new TemplateDir(root);
    const corpus = [
      '../secret.txt', '/etc/passwd', 'ipxe/../../secret.txt', 'ipxe/../a.ipxe', './ipxe/a.ipxe', '%2e%2e/secret.txt',
      '..%2fsecret.txt', 'ipxe\\..\\..\\secret.txt', 'ipxe/a.ipxe\0.txt', 'escape.txt', 'updir/secret.txt',
      '.hidden', 'ipxe//a.ipxe', 'ipxe/', '', ' ipxe/a.ipxe', 'ipxe/a.ipxe\n', `${'a/'.repeat(20)}x`, 'a'.repeat(5000),
      'C:\\windows', '~/x', 'ipxe/.', '..', '.',
    ];
    for (const name of corpus) {
      let err: unknown;
      try {
        dir.load(name);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(name)).toBeInstanceOf(RackhandError);
      expect((err as RackhandError).code).toBe('TEMPLATE_ERROR');
    }
    expect((() => { try { dir.load('escape.txt'); } catch (e) { return (e as RackhandError).details?.reason; } })()).toBe('outside-root');
  });

  it('random names either load a file inside the folder or fail with TEMPLATE_ERROR (fuzz)', () => {
    const dir = new TemplateDir(root);
    const unit = fc.constantFrom('.', '/', '\\', '%', '2', 'e', 'f', 'a', 'ipxe', 'a.ipxe', '..', '\0', '~', 'updir', 'escape.txt', 'secret.txt');
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 12 }), (parts) => {
        const name = parts.join('');
        try {
          const t = dir.load(name);
          return name === 'ipxe/a.ipxe' && t.name === name;
        } catch (e) {
          return e instanceof RackhandError && e.code === 'TEMPLATE_ERROR';
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('the shipped pxe-templates folder compiles completely', () => {
    const dir = new TemplateDir();
    for (const name of ['ipxe/local-disk.ipxe', 'grub/local-disk.cfg', 'pxelinux/local-disk.cfg']) {
      expect(dir.has(name), name).toBe(true);
    }
  });
});
