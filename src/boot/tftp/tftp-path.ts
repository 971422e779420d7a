// Maps a TFTP filename onto a file inside one of the configured roots, or refuses; nothing here escapes a root.

import { constants as fsc, promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';

export const TFTP_MAX_FILENAME = 512;

export type TftpPathResult =
  | { ok: true; relative: string }
  | { ok: false; reason: 'traversal' | 'invalid' | 'too-long' };

/**
 * Normalises a requested name into a root-relative path made only of plain segments.
 * Backslashes are separators (Windows-style PXE clients); a leading slash means "root of the tree"
 * (like tftpd-hpa -s); any `..` segment is refused rather than clamped so probes show up in logs.
 * Percent signs are literal: nothing is URL-decoded.
 */
export function normaliseTftpPath(requested: string): TftpPathResult {
  if (requested.length > TFTP_MAX_FILENAME) return { ok: false, reason: 'too-long' };
  // Control bytes (NUL included) and DEL never belong in a boot file name.
  if (/[\x00-\x1f\x7f]/.test(requested)) return { ok: false, reason: 'invalid' };
  const segments: string[] = [];
  for (const seg of requested.replace(/\\/g, '/').split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') return { ok: false, reason: 'traversal' };
    if (seg.length > 255) return { ok: false, reason: 'too-long' };
    segments.push(seg);
  }
  if (segments.length === 0) return { ok: false, reason: 'invalid' };
  return { ok: true, relative: segments.join('/') };
}

export type TftpOpenResult =
  | { ok: true; fd: fsp.FileHandle; size: number; realPath: string; stat: Stats }
  | { ok: false; reason: 'not-found' | 'access' | 'outside-root' | 'not-a-file' };

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/**
 * Opens `relative` from the first root that has it. realpath() resolves every symlink, and the
 * result must still lie inside that root's own realpath; the final open refuses a symlink
 * so a swap between check and open cannot redirect it.
 */
export async function openInRoots(realRoots: readonly string[], relative: string): Promise<TftpOpenResult> {
  let sawOutside = false;
  let sawAccess = false;
  for (const root of realRoots) {
    let real: string;
    try {
      real = await fsp.realpath(path.join(root, relative));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EACCES') sawAccess = true;
      continue;
    }
    if (!inside(root, real)) {
      sawOutside = true;
      continue;
    }
    let fd: fsp.FileHandle;
    try {
      fd = await fsp.open(real, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      return { ok: false, reason: code === 'ELOOP' ? 'outside-root' : 'access' };
    }
    try {
      const st = await fd.stat();
      if (!st.isFile()) {
        await fd.close();
        return { ok: false, reason: 'not-a-file' };
      }
      return { ok: true, fd, size: st.size, realPath: real, stat: st };
    } catch {
      await fd.close().catch(() => {});
      return { ok: false, reason: 'access' };
    }
  }
  if (sawOutside) return { ok: false, reason: 'outside-root' };
  if (sawAccess) return { ok: false, reason: 'access' };
  return { ok: false, reason: 'not-found' };
}

/** Resolves configured roots once at start so symlinked roots (e.g. /srv/tftp → /data/tftp) compare correctly. */
export async function realRoots(roots: readonly string[]): Promise<string[]> {
  return Promise.all(roots.map((r) => fsp.realpath(path.resolve(r))));
}
