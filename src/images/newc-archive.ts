// Writes a cpio archive in the kernel's initramfs format ("newc"), deterministically: sorted paths, fixed inode
// numbers, owner root, one mtime. Device nodes are written as headers, so no root is needed to make /dev/console.

export type NewcEntry =
  | { path: string; type: 'dir'; mode?: number }
  | { path: string; type: 'file'; data: Buffer; mode?: number }
  | { path: string; type: 'symlink'; target: string }
  | { path: string; type: 'char'; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`cpio field ${n} does not fit in 32 bits`);
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): Buffer {
  return Buffer.alloc((4 - (n % 4)) % 4);
}

function header(f: { ino: number; mode: number; nlink: number; mtime: number; size: number; rmaj?: number; rmin?: number }, name: string): Buffer[] {
  const nameBuf = Buffer.from(`${name}\0`, 'utf8');
  const h = Buffer.from(
    '070701' +
      [f.ino, f.mode, 0, 0, f.nlink, f.mtime, f.size, 0, 0, f.rmaj ?? 0, f.rmin ?? 0, nameBuf.length, 0].map(hex8).join(''),
    'ascii',
  );
  return [h, nameBuf, pad4(h.length + nameBuf.length)];
}

/** The archive bytes for these entries (paths relative, no leading slash), sorted so parents come first. */
export function newcArchive(entries: NewcEntry[], mtime = 0): Buffer {
  const seen = new Set<string>();
  for (const e of entries) {
    if (e.path === '' || e.path.startsWith('/') || e.path.split('/').includes('..')) throw new Error(`cpio path ${JSON.stringify(e.path)} must be relative`);
    if (seen.has(e.path)) throw new Error(`cpio path ${e.path} given twice`);
    seen.add(e.path);
  }
  // byte order, not locale order: the same entries give the same archive everywhere
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of sorted) {
    const common = { ino: ino++, mtime };
    switch (e.type) {
      case 'dir':
        parts.push(...header({ ...common, mode: S_IFDIR | (e.mode ?? 0o755), nlink: 2, size: 0 }, e.path));
        break;
      case 'file':
        parts.push(...header({ ...common, mode: S_IFREG | (e.mode ?? 0o644), nlink: 1, size: e.data.length }, e.path), e.data, pad4(e.data.length));
        break;
      case 'symlink': {
        const t = Buffer.from(e.target, 'utf8');
        parts.push(...header({ ...common, mode: S_IFLNK | 0o777, nlink: 1, size: t.length }, e.path), t, pad4(t.length));
        break;
      }
      case 'char':
        parts.push(...header({ ...common, mode: S_IFCHR | (e.mode ?? 0o600), nlink: 1, size: 0, rmaj: e.major, rmin: e.minor }, e.path));
        break;
    }
  }
  parts.push(...header({ ino: 0, mode: 0, nlink: 1, mtime: 0, size: 0 }, 'TRAILER!!!'));
  return Buffer.concat(parts);
}
