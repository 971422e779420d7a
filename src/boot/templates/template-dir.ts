// Loads and caches compiled templates from one directory, refusing any name that could leave it.

import { readFileSync, realpathSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { RackhandError } from '../../errors.js';
import { compileTemplate, type CompiledTemplate } from './render.js';

/** Template names are relative paths of plain segments: no "..", no leading dot, no absolute paths, no escapes. */
const NAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}){0,7}$/;
const MAX_TEMPLATE_BYTES = 1024 * 1024;

/** The pxe-templates/ folder shipped with rackhand (same relative place from src/ and dist/). */
export const DEFAULT_TEMPLATE_ROOT = fileURLToPath(new URL('../../../pxe-templates/', import.meta.url));

export class TemplateDir {
  private readonly cache = new Map<string, { mtimeMs: number; size: number; compiled: CompiledTemplate }>();
  private realRoot: string | undefined;

  constructor(readonly root: string = DEFAULT_TEMPLATE_ROOT) {}

  /** Throws TEMPLATE_ERROR for an invalid name, a name resolving outside the root, or a missing file. */
  load(name: string): CompiledTemplate {
    if (typeof name !== 'string' || !NAME_RE.test(name) || name.split('/').some((s) => s === '..' || s === '.')) {
      throw new RackhandError('TEMPLATE_ERROR', `invalid template name ${JSON.stringify(String(name)).slice(0, 120)}`, {
        reason: 'invalid-name',
      });
    }
    const root = this.resolveRoot();
    let file: string;
    try {
      // realpath so a symlink inside the folder cannot point outside it
      file = realpathSync(path.join(root, name));
    } catch {
      throw new RackhandError('TEMPLATE_ERROR', `template ${name} not found`, { template: name, reason: 'not-found' });
    }
    if (!file.startsWith(root + path.sep)) {
      throw new RackhandError('TEMPLATE_ERROR', `template ${name} resolves outside the template folder`, {
        template: name,
        reason: 'outside-root',
      });
    }
    const st = statSync(file);
    if (!st.isFile() || st.size > MAX_TEMPLATE_BYTES) {
      throw new RackhandError('TEMPLATE_ERROR', `template ${name} is not a regular file under 1 MiB`, {
        template: name,
        reason: 'not-a-file',
      });
    }
    const hit = this.cache.get(name);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.compiled;
    const compiled = compileTemplate(readFileSync(file, 'utf8'), name);
    this.cache.set(name, { mtimeMs: st.mtimeMs, size: st.size, compiled });
    return compiled;
  }

  /** True when `name` loads; used to check a catalogue against the folder at start-up. */
  has(name: string): boolean {
    try {
      this.load(name);
      return true;
    } catch {
      return false;
    }
  }

  private resolveRoot(): string {
    if (this.realRoot === undefined) {
      try {
        this.realRoot = realpathSync(this.root);
      } catch {
        throw new RackhandError('TEMPLATE_ERROR', `template folder ${this.root} not found`, { reason: 'no-root' });
      }
    }
    return this.realRoot;
  }
}
