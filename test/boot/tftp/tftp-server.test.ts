// TFTP server behaviour over real UDP: confinement, transfer IDs, retransmits, probes, limits, dynamic files.

import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { normaliseTftpPath } from '../../../src/boot/tftp/tftp-path.js';
import type { BootEvent } from '../../../src/boot/boot-event.js';
import { TftpServer, type TftpServerOptions } from '../../../src/boot/tftp/tftp-server.js';
import {
  TftpDecodeError,
  serializeAck,
  serializeError,
  serializeRequest,
} from '../../../src/boot/tftp/tftp-packet.js';
import { ENGINES, RawClient, atftpGet, hpaGet, makeTree, portIsFree, rawGet, waitFor, type Datagram } from './tftp-test-kit.js';

const SECRET = 'TOP-SECRET-OUTSIDE-THE-ROOT';
const rrq = (filename: string, options: Record<string, string> = {}, mode = 'octet') =>
  serializeRequest({ op: 'RRQ', filename, mode, options: new Map(Object.entries(options)) });

describe('normaliseTftpPath', () => {
  it.each([
    ['pxelinux.0', 'pxelinux.0'],
    ['/pxelinux.0', 'pxelinux.0'],
    ['//a///b/./c', 'a/b/c'],
    ['\\boot\\x86\\wdsnbp.com', 'boot/x86/wdsnbp.com'],
    ['%2e%2e/secret', '%2e%2e/secret'],
    ['....//x', '..../x'],
  ])('%j → %j', (input, rel) => {
    expect(normaliseTftpPath(input)).toEqual({ ok: true, relative: rel });
  });
  it.each([
    ['../x', 'traversal'],
    ['a/../../x', 'traversal'],
    ['a/..', 'traversal'],
    ['..\\..\\x', 'traversal'],
    ['/', 'invalid'],
    ['', 'invalid'],
    ['a\x00b', 'invalid'],
    ['a\nb', 'invalid'],
    ['x'.repeat(1000), 'too-long'],
    [`${'y'.repeat(300)}/z`, 'too-long'],
  ])('%j refused (%s)', (input, reason) => {
    expect(normaliseTftpPath(input)).toEqual({ ok: false, reason });
  });
});

describe.each(ENGINES)('TFTP server over UDP (%s engine)', (engine) => {
  const tree = makeTree('srv');
  const servers: TftpServer[] = [];
  const clients: RawClient[] = [];
  let main: TftpServer;
  let port: number;
  const dynamicCalls: { path: string; client: string }[] = [];

  async function start(opts: Partial<TftpServerOptions> = {}) {
    const s = new TftpServer({ address: '127.0.0.1', port: 0, roots: [tree.root], engine, ...opts });
    servers.push(s);
    const a = await s.start();
    return { s, port: a.port, address: a.address };
  }
  async function client(address = '127.0.0.1') {
    const c = await RawClient.open(address);
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    tree.write('boot.bin', Buffer.alloc(5000, 7));
    tree.write('big.bin', Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251)));
    tree.write('secret', SECRET, tree.outside);
    tree.write('sub/ok.txt', 'inside');
    fs.symlinkSync(path.join(tree.outside, 'secret'), path.join(tree.root, 'link-out'));
    fs.symlinkSync(tree.outside, path.join(tree.root, 'dirlink'));
    fs.symlinkSync('sub/ok.txt', path.join(tree.root, 'link-in'));
    fs.symlinkSync('/etc/passwd', path.join(tree.root, 'passwd-link'));
    ({ s: main, port } = await start({
      resolveDynamic: (p, c) => {
        dynamicCalls.push({ path: p, client: c });
        if (p === 'pxelinux.cfg/01-52-54-00-00-01-01') return Buffer.from(`DEFAULT install # for ${c}\n`);
        if (p === 'boom') throw new Error('generator broke');
        return undefined;
      },
    }));
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    tree.cleanup();
  });

  const corpus = [
    '../outside/secret',
    '../../../../../../etc/passwd',
    '/etc/passwd',
    '/../outside/secret',
    '..\\outside\\secret',
    '..\\..\\..\\etc\\passwd',
    'sub/../../outside/secret',
    'sub\\..\\..\\outside\\secret',
    '%2e%2e/outside/secret',
    '%2e%2e%2foutside%2fsecret',
    '..%2foutside%2fsecret',
    '..%5coutside%5csecret',
    '\xc0\xae\xc0\xae/outside/secret', // overlong UTF-8 dots, as raw bytes
    '....//outside/secret',
    './../outside/secret',
    'x'.repeat(1000),
    `${'../'.repeat(300)}etc/passwd`,
    `${'a/'.repeat(400)}b`,
    'link-out',
    'dirlink/secret',
    'passwd-link',
    '/link-out',
    'sub\n../outside/secret',
    'file\x01name',
  ];

  it.each(corpus)('traversal corpus %j: an error, never data', async (name) => {
    const r = await rawGet(port, name);
    expect(r.data).toBeUndefined();
    expect([1, 2]).toContain(r.error?.code);
  });

  it('a NUL inside the name cannot smuggle a path: no DATA ever comes', async () => {
    const c = await client();
    for (const raw of [
      Buffer.from('\x00\x01link-in\x00../outside/secret\x00octet\x00', 'latin1'),
      Buffer.from('\x00\x01../outside/secret\x00octet\x00', 'latin1'),
      Buffer.from('\x00\x01sub/ok.txt\x00\x00octet\x00', 'latin1'),
    ]) {
      await c.send(raw, port);
    }
    const got = await c.drain(400);
    for (const d of got) {
      expect(d.pkt instanceof TftpDecodeError ? 'decode' : d.pkt.op).toBe('ERROR');
      expect(d.raw.toString('latin1')).not.toContain(SECRET);
    }
  });

  it('the corpus through the real tftp-hpa client never writes the secret', async () => {
    for (const name of ['../outside/secret', 'link-out', 'dirlink/secret', '..\\outside\\secret']) {
      const o = path.join(tree.dir, `hpa-${Math.random()}`);
      const r = await hpaGet('127.0.0.1', port, name, o);
      expect(r.out).toMatch(/Error code [12]/);
      const content = fs.existsSync(o) ? fs.readFileSync(o, 'utf8') : '';
      expect(content).not.toContain(SECRET);
    }
  });

  it('symlinks that stay inside the root are served', async () => {
    expect((await rawGet(port, 'link-in')).data?.toString()).toBe('inside');
  });

  it('serves from the second root when the first lacks the file; first root wins otherwise', async () => {
    const t2 = makeTree('root2');
    try {
      t2.write('only-in-2.txt', 'two');
      t2.write('boot.bin', 'shadowed');
      const { port: p2 } = await start({ roots: [tree.root, t2.root] });
      expect((await rawGet(p2, 'only-in-2.txt')).data?.toString()).toBe('two');
      expect((await rawGet(p2, 'boot.bin')).data?.equals(Buffer.alloc(5000, 7))).toBe(true);
    } finally {
      t2.cleanup();
    }
  });

  it('dynamic files: generated per client, the hook sees the normalised path, a throwing hook is error 0', async () => {
    const o = path.join(tree.dir, 'dyn-out');
    const r = await atftpGet('127.0.0.1', port, '/pxelinux.cfg/01-52-54-00-00-01-01', o);
    expect(r.code, r.out).toBe(0);
    expect(fs.readFileSync(o, 'utf8')).toBe('DEFAULT install # for 127.0.0.1\n');
    expect(dynamicCalls).toContainEqual({ path: 'pxelinux.cfg/01-52-54-00-00-01-01', client: '127.0.0.1' });
    expect((await rawGet(port, 'boom')).error?.code).toBe(0);
    // Traversal is refused before the hook is ever asked.
    const before = dynamicCalls.length;
    await rawGet(port, '../outside/secret');
    expect(dynamicCalls.length).toBe(before);
  });

  // Transfer sockets are connected to their client, as tftpd-hpa's are: the kernel keeps strangers
  // out (ICMP port unreachable instead of RFC 1350's optional error 5), so they can neither inject
  // into a transfer nor make the server send anything.
  it('packets from another port never reach the transfer: the kernel refuses them, the transfer carries on', async () => {
    const a = await client();
    const stranger = await client();
    const unknownBefore = main.stats().unknownTid;
    await a.send(rrq('boot.bin'), port);
    const d1 = await a.next();
    expect(d1?.pkt).toMatchObject({ op: 'DATA', block: 1 });
    const tid = d1!.port;
    expect(tid).not.toBe(port);
    // The stranger acknowledges block 1 and even sends an error: no TFTP answer, no effect.
    await stranger.send(serializeAck(1), tid);
    await stranger.send(serializeError(0, 'go away'), tid);
    // A connected stranger sees the kernel's port unreachable as ECONNREFUSED.
    const refused = await new Promise<string | undefined>((resolve) => {
      const s = dgram.createSocket('udp4');
      const t = setTimeout(() => done(undefined), 5000);
      const done = (code: string | undefined) => {
        clearTimeout(t);
        s.close();
        resolve(code);
      };
      s.on('error', (e: NodeJS.ErrnoException) => done(e.code));
      s.on('message', () => done('tftp-reply'));
      s.bind(0, '127.0.0.1', () => s.connect(tid, '127.0.0.1', () => s.send(serializeAck(1))));
    });
    expect(refused).toBe('ECONNREFUSED');
    expect(await stranger.drain(300)).toEqual([]);
    expect(await a.drain(300)).toEqual([]); // no block 2 until the real client acks
    const parts = [(d1!.pkt as { data: Buffer }).data];
    for (let block = 1; ; block++) {
      await a.send(serializeAck(block), tid);
      const d = await a.next();
      expect(d?.pkt).toMatchObject({ op: 'DATA', block: block + 1 });
      const data = (d!.pkt as { data: Buffer }).data;
      parts.push(data);
      if (data.length < 512) {
        await a.send(serializeAck(block + 1), tid);
        break;
      }
    }
    expect(Buffer.concat(parts).equals(Buffer.alloc(5000, 7))).toBe(true);
    expect(main.stats().unknownTid).toBe(unknownBefore);
  });

  it('a vanished client (ICMP port unreachable) does not end the transfer early: the retry limit does', async () => {
    const warnings: Record<string, unknown>[] = [];
    const quiet = () => {};
    const logger = { debug: quiet, info: quiet, error: quiet, warn: (o: object) => void warnings.push(o as Record<string, unknown>) };
    const { s, port: p } = await start({ timeoutMs: 100, retries: 2, logger });
    const a = await client();
    await a.send(rrq('boot.bin'), p);
    expect((await a.next())?.pkt).toMatchObject({ op: 'DATA', block: 1 });
    await a.close(); // every retransmit now draws an ICMP port unreachable
    await waitFor(() => s.stats().transfersFailed === 1);
    expect(s.stats().retransmits).toBe(2);
    expect(warnings).toEqual([expect.objectContaining({ reason: 'timeout' })]);
  });

  it('duplicate ACKs never cause duplicate DATA (no Sorcerer’s Apprentice)', async () => {
    const { port: p } = await start({ timeoutMs: 5000 });
    const a = await client();
    await a.send(rrq('boot.bin'), p);
    const d1 = await a.next();
    const tid = d1!.port;
    await a.send(serializeAck(1), tid);
    expect((await a.next())?.pkt).toMatchObject({ op: 'DATA', block: 2 });
    for (let i = 0; i < 5; i++) await a.send(serializeAck(1), tid); // stale duplicates
    await a.send(serializeAck(0), tid); // older still
    expect(await a.drain(400)).toEqual([]);
    await a.send(serializeAck(2), tid);
    expect((await a.next())?.pkt).toMatchObject({ op: 'DATA', block: 3 });
    await a.send(serializeError(0, 'enough'), tid);
  });

  it('retransmits with growing backoff, then gives up after the retry limit and closes the socket', async () => {
    const { s, port: p } = await start({ timeoutMs: 100, retries: 3 });
    const a = await client();
    await a.send(rrq('boot.bin'), p);
    const seen: { at: number; pkt: unknown; port: number }[] = [];
    for (;;) {
      const d = await a.next(5000);
      expect(d).toBeDefined();
      seen.push({ at: Date.now(), pkt: d!.pkt, port: d!.port });
      if (!(d!.pkt instanceof TftpDecodeError) && d!.pkt.op === 'ERROR') break;
    }
    const data = seen.filter((x) => (x.pkt as { op: string }).op === 'DATA');
    expect(data.map((x) => (x.pkt as { block: number }).block)).toEqual([1, 1, 1, 1]); // first + 3 retries
    expect(seen.at(-1)!.pkt).toMatchObject({ op: 'ERROR', code: 0 });
    // Backoff 100, 200, 400 ms: a timer never fires early, so the last gap is at least ~400 ms.
    expect(data[3].at - data[2].at).toBeGreaterThanOrEqual(380);
    await waitFor(() => s.stats().transfersFailed === 1 && s.stats().activeTransfers === 0);
    expect(await portIsFree(seen[0].port)).toBe(true);
  });

  it('resends a lost block when the client ACKs inside a window (RFC 7440)', async () => {
    const { port: p } = await start({ timeoutMs: 5000 });
    const a = await client();
    await a.send(rrq('big.bin', { blksize: '1000', windowsize: '4' }), p);
    const o = await a.next();
    expect(o?.pkt).toMatchObject({ op: 'OACK' });
    const tid = o!.port;
    await a.send(serializeAck(0), tid);
    const w1 = [await a.next(), await a.next(), await a.next(), await a.next()].map((d) => (d!.pkt as { block: number }).block);
    expect(w1).toEqual([1, 2, 3, 4]);
    // Pretend block 3 was lost: acknowledge 2; the next window starts at 3.
    await a.send(serializeAck(2), tid);
    const w2 = [await a.next(), await a.next(), await a.next(), await a.next()].map((d) => (d!.pkt as { block: number }).block);
    expect(w2).toEqual([3, 4, 5, 6]);
    await a.send(serializeError(0, 'enough'), tid);
  });

  it('block numbers roll over past 65535', async () => {
    const size = 8 * 65540 + 3; // 65541 eight-byte blocks
    const content = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7) % 256));
    tree.write('rollover.bin', content);
    const { port: p } = await start({ maxWindowsize: 256 });
    const r = await rawGet(p, 'rollover.bin', { options: { blksize: '8', windowsize: '256' } });
    expect(r.data?.equals(content)).toBe(true);
  });

  it('size probe then error 8: the transfer closes cleanly and its socket is released', async () => {
    const { s, port: p } = await start();
    const a = await client();
    await a.send(rrq('boot.bin', { tsize: '0', blksize: '1468', windowsize: '4' }), p);
    const o = await a.next();
    expect(o?.pkt).toMatchObject({ op: 'OACK' });
    expect((o!.pkt as { options: Map<string, string> }).options.get('tsize')).toBe('5000');
    await a.send(serializeError(8, 'tsize probe'), o!.port);
    await waitFor(() => s.stats().activeTransfers === 0);
    expect(s.stats()).toMatchObject({ transfersAborted: 1, transfersFailed: 0 });
    expect(await portIsFree(o!.port)).toBe(true);
    // Then the real download from the same client port, as OVMF does.
    const r = await rawGet(p, 'boot.bin', { options: { blksize: '1468', windowsize: '4' }, client: a });
    expect(r.data?.equals(Buffer.alloc(5000, 7))).toBe(true);
  });

  it('bounded concurrency: beyond maxTransfers of acknowledged transfers the request gets error 0 busy', async () => {
    const { s, port: p } = await start({ maxTransfers: 2, timeoutMs: 5000 });
    const a = await client();
    const b = await client();
    const c = await client();
    await a.send(rrq('boot.bin'), p);
    await b.send(rrq('boot.bin'), p);
    const da = await a.next();
    const db = await b.next();
    expect(da?.pkt).toMatchObject({ op: 'DATA' });
    expect(db?.pkt).toMatchObject({ op: 'DATA' });
    // Both clients answer, so neither transfer may be evicted (tftp-bounds.test.ts covers eviction).
    await a.send(serializeAck(1), da!.port);
    await b.send(serializeAck(1), db!.port);
    expect((await a.next())?.pkt).toMatchObject({ op: 'DATA', block: 2 });
    expect((await b.next())?.pkt).toMatchObject({ op: 'DATA', block: 2 });
    await c.send(rrq('boot.bin'), p);
    expect((await c.next())?.pkt).toMatchObject({ op: 'ERROR', code: 0, message: expect.stringMatching(/busy/i) });
    await a.send(serializeError(0, 'bye'), da!.port);
    await waitFor(() => s.stats().activeTransfers === 1);
    await c.send(rrq('boot.bin'), p);
    expect((await c.next())?.pkt).toMatchObject({ op: 'DATA', block: 1 });
  });

  it('a retransmitted RRQ does not start a second transfer', async () => {
    const { s, port: p } = await start({ timeoutMs: 5000 });
    const a = await client();
    await a.send(rrq('boot.bin'), p);
    await a.send(rrq('boot.bin'), p);
    const got = await a.drain(400);
    expect(got.length).toBe(1);
    expect(s.stats()).toMatchObject({ transfersStarted: 1, duplicateRequests: 1 });
  });

  it('WRQ and mail mode are refused; stray packets to the listen port are ignored', async () => {
    const a = await client();
    await a.send(serializeRequest({ op: 'WRQ', filename: 'new.bin', mode: 'octet' }), port);
    expect((await a.next())?.pkt).toMatchObject({ op: 'ERROR', code: 2 });
    await a.send(rrq('boot.bin', {}, 'mail'), port);
    expect((await a.next())?.pkt).toMatchObject({ op: 'ERROR', code: 4 });
    await a.send(serializeAck(1), port);
    await a.send(Buffer.from([0, 3, 0, 1, 1, 2, 3]), port);
    expect(await a.drain(300)).toEqual([]);
  });

  it('transfer sockets bind to the configured listen address, not the wildcard', async () => {
    const { port: p, address } = await start({ address: '127.0.0.2' });
    expect(address).toBe('127.0.0.2');
    const r = await rawGet(p, 'sub/ok.txt', { host: '127.0.0.2' });
    expect(r.data?.toString()).toBe('inside');
    expect([...r.sources].every((s) => s.startsWith('127.0.0.2:'))).toBe(true);
  });

  it('IPv6 loopback works end to end', async () => {
    const { port: p } = await start({ address: '::1' });
    const r = await rawGet(p, 'boot.bin', { host: '::1', options: { blksize: '1468', tsize: '0' } });
    expect(r.data?.equals(Buffer.alloc(5000, 7))).toBe(true);
    expect([...r.sources].every((s) => s.startsWith('::1:'))).toBe(true);
  });

  it('stop() ends running transfers and releases every socket', async () => {
    const t = new TftpServer({ address: '127.0.0.1', port: 0, roots: [tree.root], timeoutMs: 5000, engine });
    const { port: p } = await t.start();
    const a = await client();
    await a.send(rrq('big.bin'), p);
    const d = await a.next();
    expect(d?.pkt).toMatchObject({ op: 'DATA', block: 1 });
    await t.stop();
    expect(t.stats().activeTransfers).toBe(0);
    expect((await a.next())?.pkt).toMatchObject({ op: 'ERROR', code: 0 });
    expect(await portIsFree(d!.port)).toBe(true);
    expect(await portIsFree(p)).toBe(true);
  });

  it('reports each transfer end and each refusal as a boot event, and a throwing sink changes nothing', async () => {
    const events: BootEvent[] = [];
    const { s, port: p } = await start({
      timeoutMs: 100,
      retries: 1,
      onBootEvent: (e) => {
        events.push(e);
        throw new Error('history store is down');
      },
    });
    expect((await rawGet(p, 'boot.bin')).data?.length).toBe(5000);
    expect((await rawGet(p, 'nope.bin')).error?.code).toBe(1);
    const a = await client();
    await a.send(rrq('boot.bin', { tsize: '0' }), p);
    const o = await a.next();
    await a.send(serializeError(8, 'tsize probe'), o!.port);
    await a.send(rrq('big.bin'), p); // never acknowledged: times out
    await waitFor(() => events.length >= 4);
    const seen = events.map(({ kind, ip, detail }) => ({ kind, ip, detail }));
    expect(seen).toEqual(
      expect.arrayContaining([
        { kind: 'tftp-read', ip: '127.0.0.1', detail: expect.stringMatching(/^boot\.bin: 5000 bytes, blksize 512, windowsize 1, 0 retransmits, \d+ ms$/) },
        { kind: 'tftp-refused', ip: '127.0.0.1', detail: 'nope.bin: error 1 File not found' },
        // The probe's ERROR goes to the transfer's port, the next request to the server's: read in either order.
        { kind: 'tftp-aborted', ip: '127.0.0.1', detail: expect.stringMatching(/^boot\.bin: (client sent error 8 "tsize probe"|the client sent a new request from the same port)$/) },
        { kind: 'tftp-failed', ip: '127.0.0.1', detail: 'big.bin: timeout' },
      ]),
    );
    expect(events.every((e) => e.mac === undefined && e.at > 0)).toBe(true);
    expect(s.stats()).toMatchObject({ transfersOk: 1, handlerErrors: 4 });
  });

  it('a new request from the port of a running transfer is served, and that transfer ends without a word (PXE ROMs after the tsize probe)', async () => {
    const events: BootEvent[] = [];
    const { s, port: p } = await start({ onBootEvent: (e) => void events.push(e) });
    const a = await client();
    await a.send(rrq('big.bin'), p);
    const first = await a.next();
    expect(first?.pkt).toMatchObject({ op: 'DATA', block: 1 });
    // Neither ACK nor ERROR: the client has moved on to another file from the same port.
    await a.send(rrq('boot.bin'), p);
    const fromOld: Datagram[] = [];
    let got = Buffer.alloc(0);
    for (let block = 1; got.length < 5000; ) {
      const d = await a.next();
      if (!d) throw new Error(`no block ${block} of boot.bin (got ${got.length} bytes); the request was taken for a duplicate?`);
      if (d.port === first!.port) {
        fromOld.push(d);
        continue;
      }
      if (d.pkt instanceof Error || d.pkt.op !== 'DATA' || d.pkt.block !== block) continue;
      got = Buffer.concat([got, d.pkt.data]);
      await a.send(serializeAck(block++), d.port);
    }
    expect(got.equals(Buffer.alloc(5000, 7))).toBe(true);
    await waitFor(() => s.stats().transfersOk === 1 && events.some((e) => e.kind === 'tftp-aborted'));
    expect(events).toContainEqual(expect.objectContaining({ kind: 'tftp-aborted', detail: 'big.bin: the client sent a new request from the same port' }));
    expect(s.stats()).toMatchObject({ superseded: 1, duplicateRequests: 0, activeTransfers: 0 });
    // The old transfer sent no ERROR to a port that now belongs to another transfer (a retransmitted DATA at most).
    expect(fromOld.filter((d) => !(d.pkt instanceof Error) && d.pkt.op === 'ERROR')).toEqual([]);
  });

  it('start() refuses a missing root and a non-IP address with typed errors', async () => {
    await expect(new TftpServer({ port: 0, roots: [path.join(tree.dir, 'nope')] }).start()).rejects.toMatchObject({
      code: 'BOOT_ERROR',
    });
    await expect(new TftpServer({ address: 'localhost', port: 0, roots: [tree.root] }).start()).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
  });
});
