// Where a transfer's DATA blocks come from: an in-memory buffer (dynamic files) or an open file read in chunks.

import type { promises as fsp } from 'node:fs';

export interface BlockSource {
  readonly size: number;
  /** What the native engine reads itself: the bytes, or the open file (it never closes it). */
  readonly origin: { buffer: Buffer } | { fd: number };
  /** Bytes [offset, offset+length) clipped to the size; a Promise only when the chunk is not yet in memory. */
  read(offset: number, length: number): Buffer | Promise<Buffer>;
  close(): Promise<void>;
}

export class BufferBlockSource implements BlockSource {
  readonly size: number;
  readonly origin: { buffer: Buffer };
  constructor(private readonly buf: Buffer) {
    this.size = buf.length;
    this.origin = { buffer: buf };
  }
  read(offset: number, length: number): Buffer {
    return this.buf.subarray(offset, Math.min(offset + length, this.size));
  }
  async close(): Promise<void> {}
}

/**
 * Reads a file in chunks that are whole multiples of the block size, keeping the current and the
 * next chunk (prefetched) in memory: a sequential transfer almost never waits, and a 32 MiB file
 * costs a few hundred KiB per transfer rather than 32 MiB.
 */
export class FileBlockSource implements BlockSource {
  private readonly chunks = new Map<number, Buffer | Promise<Buffer>>();
  private readonly chunkSize: number;
  private closed = false;
  /** The chunk the transfer is in: nearly every read is a subarray of it, with no map or promise work. */
  private cur: Buffer | undefined;
  private curStart = -1;

  constructor(
    private readonly fd: fsp.FileHandle,
    readonly size: number,
    blksize: number,
    minChunk = 256 * 1024,
  ) {
    this.chunkSize = Math.max(1, Math.ceil(minChunk / blksize)) * blksize;
  }

  get origin(): { fd: number } {
    return { fd: this.fd.fd };
  }

  read(offset: number, length: number): Buffer | Promise<Buffer> {
    const within = offset - this.curStart;
    if (this.cur && within >= 0 && within < this.chunkSize) return this.cur.subarray(within, within + length);
    const idx = Math.floor(offset / this.chunkSize);
    const start = idx * this.chunkSize;
    const chunk = this.chunk(idx);
    if ((idx + 1) * this.chunkSize < this.size) this.chunk(idx + 1);
    for (const k of this.chunks.keys()) if (k < idx - 1 || k > idx + 1) this.chunks.delete(k);
    if (chunk instanceof Promise) return chunk.then((b) => b.subarray(offset - start, offset - start + length));
    this.cur = chunk;
    this.curStart = start;
    return chunk.subarray(offset - start, offset - start + length);
  }

  private chunk(idx: number): Buffer | Promise<Buffer> {
    const have = this.chunks.get(idx);
    if (have) return have;
    const start = idx * this.chunkSize;
    const len = Math.max(0, Math.min(this.chunkSize, this.size - start));
    const buf = Buffer.allocUnsafe(len);
    const p = this.fill(buf, start).then(() => {
      if (this.chunks.get(idx) === p) this.chunks.set(idx, buf);
      return buf;
    });
    this.chunks.set(idx, p);
    // A prefetch that is evicted and later fails must not become an unhandled rejection.
    p.catch(() => {});
    return p;
  }

  private async fill(buf: Buffer, position: number): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      if (this.closed) throw new Error('block source closed');
      const { bytesRead } = await this.fd.read(buf, done, buf.length - done, position + done);
      // The file shrank under us: serve zeros rather than a transfer that never ends.
      if (bytesRead === 0) {
        buf.fill(0, done);
        return;
      }
      done += bytesRead;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.chunks.clear();
    this.cur = undefined;
    await this.fd.close().catch(() => {});
  }
}
