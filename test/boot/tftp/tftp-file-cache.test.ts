// The in-memory file cache and the chunked file reader: never stale, bounded, byte-exact in any read order.

import fc from 'fast-check';
import fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBlockSource } from '../../../src/boot/tftp/tftp-block-source.js';
import { TftpFileCache } from '../../../src/boot/tftp/tftp-file-cache.js';
import { TftpServer } from '../../../src/boot/tftp/tftp-server.js';
import { atftpGet, makeTree, rawGet } from './tftp-test-kit.js';

const pattern = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) % 256));

describe('TftpFileCache', () => {
  const tree = makeTree('cache');
  afterAll(() => tree.cleanup());

  async function get(cache: TftpFileCache, rel: string) {
    const fd = await fsp.open(path.join(tree.root, rel), 'r');
    try {
      return await cache.get(fd, await fd.stat());
    } finally {
      await fd.close();
    }
  }

  it('hits on the same file, misses again once the file is rewritten (same size) or replaced', async () => {
    const cache = new TftpFileCache(1 << 20, 1 << 20);
    const a = tree.write('a.bin', pattern(1000, 1));
    fs.utimesSync(a, 1_000_000_000, 1_000_000_000); // a whole second, so it can be put back exactly
    expect((await get(cache, 'a.bin'))?.equals(pattern(1000, 1))).toBe(true);
    expect((await get(cache, 'a.bin'))?.equals(pattern(1000, 1))).toBe(true);
    expect([cache.hits, cache.misses]).toEqual([1, 1]);
    // Rewritten in place with the same size, mtime forced back: ctime still moves.
    await new Promise((r) => setTimeout(r, 20));
    fs.writeFileSync(a, pattern(1000, 2));
    fs.utimesSync(a, 1_000_000_000, 1_000_000_000);
    expect((await get(cache, 'a.bin'))?.equals(pattern(1000, 2))).toBe(true);
    // Replaced by rename (how package upgrades write files): a new inode.
    tree.write('a.new', pattern(1000, 3));
    fs.renameSync(path.join(tree.root, 'a.new'), path.join(tree.root, 'a.bin'));
    expect((await get(cache, 'a.bin'))?.equals(pattern(1000, 3))).toBe(true);
    expect(cache.misses).toBe(3);
  });

  it('refuses files over the per-file limit and evicts least recently used entries to stay in budget', async () => {
    const cache = new TftpFileCache(2500, 1000);
    tree.write('big.bin', pattern(1001, 0));
    expect(await get(cache, 'big.bin')).toBeUndefined();
    for (const n of ['x', 'y', 'z']) tree.write(`${n}.bin`, pattern(1000, n.charCodeAt(0)));
    await get(cache, 'x.bin');
    await get(cache, 'y.bin');
    await get(cache, 'x.bin'); // x is now the most recent
    await get(cache, 'z.bin'); // over budget: y goes
    const misses = cache.misses;
    await get(cache, 'x.bin');
    await get(cache, 'z.bin');
    expect(cache.misses).toBe(misses);
    await get(cache, 'y.bin');
    expect(cache.misses).toBe(misses + 1);
  });

  it('concurrent misses for one file share a single read', async () => {
    const cache = new TftpFileCache(1 << 20, 1 << 20);
    tree.write('c.bin', pattern(50_000, 9));
    const got = await Promise.all(Array.from({ length: 10 }, () => get(cache, 'c.bin')));
    for (const g of got) expect(g?.equals(pattern(50_000, 9))).toBe(true);
    expect(cache.misses).toBe(1);
  });
});

describe('FileBlockSource', () => {
  const tree = makeTree('chunks');
  afterAll(() => tree.cleanup());

  it('any sequence of block reads (forward, go-back-N, across chunks, past the end) matches the file', async () => {
    const content = pattern(10_000 + 17, 5);
    tree.write('f.bin', content);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 8, max: 700 }),
        fc.array(fc.nat({ max: 40 }), { minLength: 1, maxLength: 60 }),
        async (blksize, blocks) => {
          const fd = await fsp.open(path.join(tree.root, 'f.bin'), 'r');
          const src = new FileBlockSource(fd, content.length, blksize, 1024);
          try {
            for (const b of blocks) {
              const off = b * blksize;
              const got = await src.read(off, blksize);
              expect(got.equals(content.subarray(off, Math.min(off + blksize, content.length)))).toBe(true);
            }
          } finally {
            await src.close();
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('TFTP server with and without the file cache', () => {
  const tree = makeTree('srvcache');
  const content = pattern(3 * 256 * 1024 + 99, 7); // several read chunks at any block size
  const servers: TftpServer[] = [];
  beforeAll(() => {
    tree.write('ipxe.efi', pattern(200_000, 4));
    tree.write('large.bin', content);
    tree.write('secret', 'outside', tree.outside);
    fs.symlinkSync(path.join(tree.outside, 'secret'), path.join(tree.root, 'link-out'));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    tree.cleanup();
  });
  async function start(opts: { cacheBytes?: number; cacheMaxFileBytes?: number }) {
    const s = new TftpServer({ address: '127.0.0.1', port: 0, roots: [tree.root], ...opts });
    servers.push(s);
    return { s, port: (await s.start()).port };
  }

  it('serves hot files from memory, still confined, and a changed file at once', async () => {
    const { s, port } = await start({});
    for (let i = 0; i < 3; i++) {
      const r = await rawGet(port, 'ipxe.efi', { options: { blksize: '1468', windowsize: '8' } });
      expect(r.data?.equals(pattern(200_000, 4))).toBe(true);
    }
    expect(s.stats()).toMatchObject({ cacheMisses: 1, cacheHits: 2 });
    expect((await rawGet(port, 'link-out')).error?.code).toBe(2);
    expect((await rawGet(port, '../outside/secret')).error?.code).toBe(2);
    tree.write('ipxe.efi', pattern(200_000, 5));
    expect((await rawGet(port, 'ipxe.efi')).data?.equals(pattern(200_000, 5))).toBe(true);
    expect(s.stats().cacheMisses).toBe(2);
  });

  it.each([
    ['cache off', { cacheBytes: 0 }],
    ['file above the per-file limit', { cacheMaxFileBytes: 64 * 1024 }],
  ])('%s: the chunked reader serves byte-exact, lockstep and windowed', async (_label, opts) => {
    const { s, port } = await start(opts);
    const lock = path.join(tree.dir, `out-lock-${Math.random()}`);
    const win = path.join(tree.dir, `out-win-${Math.random()}`);
    const [a, b] = await Promise.all([
      atftpGet('127.0.0.1', port, 'large.bin', lock, ['blksize 1468']),
      atftpGet('127.0.0.1', port, 'large.bin', win, ['blksize 1000', 'windowsize 16']),
    ]);
    expect(a.code, a.out).toBe(0);
    expect(b.code, b.out).toBe(0);
    expect(fs.readFileSync(lock).equals(content)).toBe(true);
    expect(fs.readFileSync(win).equals(content)).toBe(true);
    expect(s.stats()).toMatchObject({ cacheHits: 0, cacheMisses: 0 });
  });
});
