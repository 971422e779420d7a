// TFTP server against the real tftp-hpa and atftp clients: byte-exact files, options, errors, concurrency.

import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TftpServer } from '../../../src/boot/tftp/tftp-server.js';
import { ENGINES, atftpGet, hpaGet, makeTree, rawGet, runCmd, sha256, waitFor } from './tftp-test-kit.js';

const SIZES = [0, 511, 512, 513, 1468 * 3, 16 * 1468 * 2, 3 * 1024 * 1024 + 7];

describe.each(ENGINES)('TFTP conformance with tftp-hpa and atftp (%s engine)', (engine) => {
  const tree = makeTree('conf');
  const files = new Map<string, Buffer>();
  let server: TftpServer;
  let port: number;
  let seq = 0;
  // A pino-shaped recorder: what the server negotiated is visible here, not in the clients' output.
  const events: { msg?: string; obj: Record<string, unknown> }[] = [];
  const rec = (obj: object, msg?: string) => void events.push({ msg, obj: obj as Record<string, unknown> });
  const logger = { debug: rec, info: rec, warn: rec, error: rec };
  const doneEvents = (file: string) => events.filter((e) => e.msg === 'tftp transfer done' && e.obj.file === file);
  const lastDone = async (file: string, count: number) => {
    await waitFor(() => doneEvents(file).length >= count);
    return doneEvents(file).at(-1);
  };
  const out = () => path.join(tree.dir, `out-${seq++}`);

  beforeAll(async () => {
    for (const size of SIZES) {
      const b = randomBytes(size);
      files.set(`f-${size}.bin`, b);
      tree.write(`f-${size}.bin`, b);
    }
    tree.write('sub/dir/nested.txt', 'nested\n');
    fs.mkdirSync(path.join(tree.root, 'adir'));
    // Files up to 1 MiB come from the memory cache, the 3 MiB one through the chunked reader: both paths.
    server = new TftpServer({
      address: '127.0.0.1',
      port: 0,
      roots: [tree.root],
      maxTransfers: 150,
      maxTransfersPerClient: 150, // every client here comes from 127.0.0.1
      engine,
      cacheMaxFileBytes: 1024 * 1024,
      logger,
    });
    ({ port } = await server.start());
  });
  afterAll(async () => {
    await server?.stop();
    tree.cleanup();
  });

  it.each(SIZES)('tftp-hpa plain get, %i bytes, byte-exact', async (size) => {
    const o = out();
    const r = await hpaGet('127.0.0.1', port, `f-${size}.bin`, o);
    expect(r.code, r.out).toBe(0);
    expect(fs.readFileSync(o).equals(files.get(`f-${size}.bin`)!)).toBe(true);
  });

  it.each(SIZES)('atftp blksize 1468 + tsize 0, %i bytes, byte-exact', async (size) => {
    const o = out();
    const n = doneEvents(`f-${size}.bin`).length;
    const r = await atftpGet('127.0.0.1', port, `f-${size}.bin`, o, ['blksize 1468', 'tsize 0']);
    expect(r.code, r.out).toBe(0);
    expect((await lastDone(`f-${size}.bin`, n + 1))?.obj).toMatchObject({ blksize: 1468, windowsize: 1, size });
    expect(fs.readFileSync(o).equals(files.get(`f-${size}.bin`)!)).toBe(true);
  });

  it.each(SIZES)('atftp windowsize 16 + blksize 1468, %i bytes, byte-exact', async (size) => {
    const o = out();
    const n = doneEvents(`f-${size}.bin`).length;
    const r = await atftpGet('127.0.0.1', port, `f-${size}.bin`, o, ['blksize 1468', 'windowsize 16']);
    expect(r.code, r.out).toBe(0);
    expect((await lastDone(`f-${size}.bin`, n + 1))?.obj).toMatchObject({ blksize: 1468, windowsize: 16, size });
    expect(fs.readFileSync(o).equals(files.get(`f-${size}.bin`)!)).toBe(true);
  });

  it('atftp default options and a nested path with a leading slash', async () => {
    const o = out();
    const r = await atftpGet('127.0.0.1', port, '/sub/dir/nested.txt', o);
    expect(r.code, r.out).toBe(0);
    expect(fs.readFileSync(o, 'utf8')).toBe('nested\n');
  });

  it('negotiates exactly: blksize clamped to the cap, tiny blksize ignored, tsize, timeout, windowsize', async () => {
    const size = 513;
    let r = await rawGet(port, `f-${size}.bin`, {
      options: { blksize: '9000', tsize: '0', timeout: '3', windowsize: '500', 'x-unknown': '1' },
    });
    expect(r.oack).toEqual(
      new Map([
        ['blksize', '1468'],
        ['tsize', String(size)],
        ['timeout', '3'],
        ['windowsize', '64'],
      ]),
    );
    expect(r.data?.equals(files.get(`f-${size}.bin`)!)).toBe(true);
    r = await rawGet(port, `f-${size}.bin`, { options: { blksize: '7', timeout: '0', windowsize: 'abc' } });
    expect(r.oack).toBeUndefined(); // nothing acceptable: plain RFC 1350, DATA 1 directly
    expect(r.data?.equals(files.get(`f-${size}.bin`)!)).toBe(true);
    r = await rawGet(port, `f-${size}.bin`, { options: { BlkSize: '8' } });
    expect(r.oack).toEqual(new Map([['blksize', '8']]));
    expect(r.data?.equals(files.get(`f-${size}.bin`)!)).toBe(true);
  });

  it('file not found: error 1 to both clients', async () => {
    const a = await hpaGet('127.0.0.1', port, 'no-such-file', out());
    expect(a.out).toMatch(/Error code 1: File not found/);
    const b = await atftpGet('127.0.0.1', port, 'no-such-file', out());
    expect(b.code).not.toBe(0);
    expect(b.out).toMatch(/File not found/);
    expect((await rawGet(port, 'no-such-file')).error?.code).toBe(1);
  });

  it('access errors: traversal, a directory, a write request', async () => {
    const a = await hpaGet('127.0.0.1', port, '../outside/x', out());
    expect(a.out).toMatch(/Error code 2: Access violation/);
    const b = await atftpGet('127.0.0.1', port, 'adir', out());
    expect(b.code).not.toBe(0);
    expect(b.out).toMatch(/Access violation/);
    const src = tree.write('upload.bin', 'data', tree.dir);
    const w = await runCmd('atftp', ['--put', '-r', 'upload.bin', '-l', src, '127.0.0.1', String(port)]);
    expect(w.code).not.toBe(0);
    expect(w.out).toMatch(/read-only/);
    expect(fs.existsSync(path.join(tree.root, 'upload.bin'))).toBe(false);
    expect((await rawGet(port, 'f-0.bin', { mode: 'mail' })).error?.code).toBe(4);
  });

  it('100 concurrent transfers from real clients, all byte-exact', async () => {
    const names = [...files.keys()];
    const before = server.stats();
    const jobs = Array.from({ length: 100 }, (_, i) => {
      const name = names[i % names.length];
      const o = out();
      const kind = i % 3;
      const run =
        kind === 0
          ? hpaGet('127.0.0.1', port, name, o)
          : atftpGet('127.0.0.1', port, name, o, kind === 1 ? ['blksize 1468'] : ['blksize 1468', 'windowsize 16']);
      return run.then((r) => ({ r, o, name }));
    });
    const results = await Promise.all(jobs);
    for (const { r, o, name } of results) {
      expect(r.code, `${name}: ${r.out}`).toBe(0);
      expect(sha256(fs.readFileSync(o))).toBe(sha256(files.get(name)!));
    }
    await waitFor(() => server.stats().activeTransfers === 0);
    const after = server.stats();
    expect(after.transfersOk - before.transfersOk).toBe(100);
    expect(after.transfersFailed).toBe(before.transfersFailed);
    expect(after.activeTransfers).toBe(0);
  });

  it('counts requests, transfers and bytes', () => {
    const s = server.stats();
    expect(s.requests).toBeGreaterThan(100);
    expect(s.transfersOk).toBeGreaterThan(100);
    expect(s.refused).toBeGreaterThanOrEqual(6);
    expect(s.bytesSent).toBeGreaterThan(3 * 1024 * 1024 * 3);
    expect(s.activeTransfers).toBe(0);
  });
});
