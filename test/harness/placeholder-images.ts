// Placeholder images for tests that arm hosts but never boot them: tiny files under the names the built-in
// catalogue needs, imported the way an operator imports (so arming passes its IMAGE_MISSING check).
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ImageStore } from '../../src/images/image-store.js';
import { importNetboot } from '../../src/images/image-import.js';

/** Image → its two files, as the built-in catalogue's kernel and initrd paths name them. */
export const PLACEHOLDER_IMAGES: Record<string, [string, string]> = {
  'rackhand-ramdisk': ['vmlinuz', 'initramfs.cpio.gz'],
  'debian-12-netboot': ['linux', 'initrd.gz'],
};

/** The CLI arguments that import one placeholder image (kernel and initrd files written to a temp dir). */
export function placeholderImportArgs(name: string): string[] {
  const [kernel, initrd] = PLACEHOLDER_IMAGES[name] ?? ['linux', 'initrd.gz'];
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'rh-placeholder-')), name);
  mkdirSync(dir);
  const file = (n: string) => {
    const p = path.join(dir, n);
    writeFileSync(p, `placeholder ${name}/${n}\n`);
    return { p, sha: createHash('sha256').update(`placeholder ${name}/${n}\n`).digest('hex') };
  };
  const k = file(kernel);
  const i = file(initrd);
  return ['images', 'import', name, '--kernel', k.p, '--kernel-sha256', k.sha, '--initrd', i.p, '--initrd-sha256', i.sha];
}

/** The same, straight into an in-process agent's image store. */
export async function importPlaceholders(store: ImageStore, names: string[]): Promise<void> {
  for (const name of names) {
    const a = placeholderImportArgs(name);
    const arg = (flag: string) => a[a.indexOf(flag) + 1];
    await importNetboot(store, name, { kernel: arg('--kernel'), kernelSha256: arg('--kernel-sha256'), initrd: arg('--initrd'), initrdSha256: arg('--initrd-sha256') });
  }
}
