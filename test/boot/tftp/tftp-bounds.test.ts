// TFTP under hostile load: floods of never-acknowledged requests, huge RFC 2349 timeouts, slow clients, throwing hooks.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serializeAck, serializeRequest } from '../../../src/boot/tftp/tftp-packet.js';
import { TftpServer, type TftpServerOptions } from '../../../src/boot/tftp/tftp-server.js';
import { ENGINES, RawClient, hpaGet, makeTree, waitFor } from './tftp-test-kit.js';

const CONTENT = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 31) % 256));
const rrq = (filename: string, options: Record<string, string> = {}) =>
  serializeRequest({ op: 'RRQ', filename, mode: 'octet', options: new Map(Object.entries(options)) });

describe.each(ENGINES)('TFTP bounds (%s engine)', (engine) => {
  const tree = makeTree('bounds');
  let servers: TftpServer[] = [];
  let clients: RawClient[] = [];
  let seq = 0;

  async function start(opts: Partial<TftpServerOptions> = {}) {
    const s = new TftpServer({ address: '127.0.0.1', port: 0, roots: [tree.root], engine, ...opts });
    servers.push(s);
    const { port } = await s.start();
    return { s, port };
  }
  /** One raw UDP socket per loopback address: 127.0.0.2, 127.0.0.3, … are distinct sources. */
  async function sources(n: number, perSource: number) {
    const out: RawClient[] = [];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < perSource; j++) out.push(await RawClient.open(`127.0.0.${2 + i}`));
    }
    clients.push(...out);
    return out;
  }
  /** The real tftp-hpa client downloads file.bin; the result is checked byte for byte. */
  async function realClientGets(port: number) {
    const o = path.join(tree.dir, `out-${seq++}`);
    const r = await hpaGet('127.0.0.1', port, 'file.bin', o);
    expect(r.code, r.out).toBe(0);
    expect(fs.readFileSync(o).equals(CONTENT)).toBe(true);
  }

  beforeAll(() => {
    tree.write('file.bin', CONTENT);
  });
  afterEach(async () => {
    for (const c of clients) await c.close();
    for (const s of servers) await s.stop();
    clients = [];
    servers = [];
  });
  afterAll(() => tree.cleanup());

  it.each([
    ['with option timeout 255', { timeout: '255' }],
    ['without options', {}],
  ])('256 never-acknowledged RRQs from one source (%s): the source is capped, a real client still gets its file', async (_, options) => {
    const { s, port } = await start();
    const [flooder] = await sources(1, 1);
    for (let i = 0; i < 256; i++) {
      // A fresh source port per request, as a flood would: each is a distinct transfer to the server.
      const c = await RawClient.open(flooder.socket.address().address);
      clients.push(c);
      await c.send(rrq('file.bin', options), port);
    }
    await waitFor(() => s.stats().requests >= 256);
    // The default per-source cap is 8: the rest were refused at once (the 8 may still be opening their file).
    expect(s.stats().refusedClientLimit).toBe(248);
    await waitFor(() => s.stats().transfersStarted === 8);
    await realClientGets(port);
    expect(s.stats().transfersOk).toBe(1);
  });

  it.each([
    ['with option timeout 255', { timeout: '255' }],
    ['without options', {}],
  ])('256 never-acknowledged RRQs from 64 sources (%s) fill every slot; a real client evicts one and gets its file', async (_, options) => {
    const { s, port } = await start();
    const flood = await sources(64, 4);
    for (const c of flood) await c.send(rrq('file.bin', options), port);
    await waitFor(() => s.stats().transfersStarted === 256 && s.stats().activeTransfers === 256);
    // Every slot is held by a transfer no client ever acknowledged.
    await realClientGets(port);
    const st = s.stats();
    expect(st.transfersOk).toBe(1);
    expect(st.evicted).toBeGreaterThanOrEqual(1);
    expect(st.refused).toBe(0);
    // What the flood asked for is not what it got: timeout 255 was not acknowledged, so with no
    // other option there is no OACK at all (RFC 2347) but plain DATA 1.
    expect((await flood[0].next(1000))?.pkt).toMatchObject({ op: 'DATA', block: 1 });
  });

  it('a steady flood of fresh never-acknowledged RRQs from many sources does not lock out real clients', async () => {
    // Short retransmits so the flood's abandoned transfers also time out while the test runs.
    const { s, port } = await start({ maxTransfers: 32, timeoutMs: 200, retries: 2 });
    const flood = await sources(32, 2);
    let stop = false;
    const flooding = (async () => {
      let i = 0;
      while (!stop) {
        await flood[i++ % flood.length].send(rrq('file.bin', { timeout: '255' }), port);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      await waitFor(() => s.stats().activeTransfers >= 32);
      for (let i = 0; i < 3; i++) await realClientGets(port);
    } finally {
      stop = true;
      await flooding;
    }
    expect(s.stats().transfersOk).toBe(3);
    expect(s.stats().evicted).toBeGreaterThan(0);
  });

  it('RFC 2349: a timeout within the cap is acknowledged and used; beyond it, not acknowledged', async () => {
    const { port } = await start({ maxClientTimeoutS: 5 });
    const [a, b] = await sources(2, 1);
    await a.send(rrq('file.bin', { timeout: '5' }), port);
    expect((await a.next())?.pkt).toMatchObject({ op: 'OACK', options: new Map([['timeout', '5']]) });
    await b.send(rrq('file.bin', { timeout: '6', blksize: '1024' }), port);
    expect((await b.next())?.pkt).toMatchObject({ op: 'OACK', options: new Map([['blksize', '1024']]) });
  });

  it('a transfer lives at most maxTransferMs, however politely slow its client is', async () => {
    const { s, port } = await start({ maxTransferMs: 600, timeoutMs: 1000 });
    const [a] = await sources(1, 1);
    await a.send(rrq('file.bin'), port);
    let got = 0;
    let error: unknown;
    for (;;) {
      const d = await a.next(5000);
      expect(d).toBeDefined();
      const p = d!.pkt as { op: string; block?: number };
      if (p.op === 'ERROR') {
        error = p;
        break;
      }
      got += 1;
      // ACK each block after 150 ms: never a retransmit, never done (300 KB is 586 blocks).
      await new Promise((r) => setTimeout(r, 150));
      await a.send(serializeAck(p.block!), d!.port);
    }
    expect(error).toMatchObject({ op: 'ERROR', code: 0, message: expect.stringMatching(/too long/i) });
    expect(got).toBeLessThan(586);
    await waitFor(() => s.stats().activeTransfers === 0);
    expect(s.stats()).toMatchObject({ expired: 1, transfersOk: 0 });
  });

  it('an exception in a hook or the logger is a rejected datagram, counted, never a crash', async () => {
    let armed = false; // from the first datagram on: start() may report a broken logger to its caller
    const thrower = () => {
      if (armed) throw new TypeError('logger exploded');
    };
    const { s, port } = await start({
      logger: { debug: thrower, info: thrower, warn: thrower, error: thrower },
      resolveDynamic: (p) => {
        if (p === 'boom') throw new Error('hook exploded');
        return undefined;
      },
    });
    armed = true;
    const [a] = await sources(1, 1);
    await a.send(rrq('no-such-file'), port); // refusal → the logger throws
    await a.send(rrq('boom'), port); // the hook throws, then the logger does
    await a.send(serializeRequest({ op: 'WRQ', filename: 'x', mode: 'octet' }), port);
    await waitFor(() => s.stats().handlerErrors >= 1);
    expect(s.stats().handlerErrors).toBeGreaterThanOrEqual(1);
    // The server is still up: a real client gets the file (its "transfer done" log line throws too).
    await realClientGets(port);
    await waitFor(() => s.stats().activeTransfers === 0);
    expect(s.stats().transfersOk).toBe(1);
  });
});
