// Small, hot boot files (iPXE binaries) kept in memory, keyed by file identity so an edited file is never served stale.

import type { Stats, promises as fsp } from 'node:fs';

/**
 * Keys are device, inode, size, mtime and ctime: any write or replace of the file changes one of
 * them (ctime even for a write that restores the mtime), so a hit is always the current content.
 * The caller has already confined and opened the file; the cache only ever reads through that fd.
 */
export class TftpFileCache {
  /** Map order is recency: the first entry is the least recently used. */
  private readonly entries = new Map<string, Buffer>();
  /** Concurrent misses for one file share a single read. */
  private readonly loading = new Map<string, Promise<Buffer>>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(
    readonly maxBytes: number,
    readonly maxFileBytes: number,
  ) {}

  /** The whole file as one Buffer, from memory or read now; undefined when the file is not cacheable. */
  async get(fd: fsp.FileHandle, st: Stats): Promise<Buffer | undefined> {
    if (st.size > this.maxFileBytes || st.size > this.maxBytes) return undefined;
    const key = identity(st);
    const have = this.entries.get(key);
    if (have) {
      this.entries.delete(key);
      this.entries.set(key, have);
      this.hits += 1;
      return have;
    }
    const inFlight = this.loading.get(key);
    if (inFlight) {
      this.hits += 1;
      return inFlight;
    }
    this.misses += 1;
    const p = this.load(fd, st, key).finally(() => this.loading.delete(key));
    this.loading.set(key, p);
    return p;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  private async load(fd: fsp.FileHandle, st: Stats, key: string): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(st.size);
    let done = 0;
    while (done < buf.length) {
      const { bytesRead } = await fd.read(buf, done, buf.length - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    if (done < buf.length) {
      // The file shrank while we read it: serve zeros like the chunked reader, and remember nothing.
      buf.fill(0, done);
      return buf;
    }
    // Written while we read? Then this copy may be torn: serve it this once, never cache it.
    if (identity(await fd.stat()) !== key) return buf;
    this.insert(key, buf);
    return buf;
  }

  private insert(key: string, buf: Buffer): void {
    for (const [k, v] of this.entries) {
      if (this.bytes + buf.length <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.length;
    }
    this.entries.set(key, buf);
    this.bytes += buf.length;
  }
}

function identity(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}
