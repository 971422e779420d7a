// Fuzzes a running TFTP server over real UDP (listen port and live transfer ports), then checks it still serves.

import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TftpServer } from '../../../src/boot/tftp/tftp-server.js';
import { serializeAck, serializeRequest } from '../../../src/boot/tftp/tftp-packet.js';
import { tftpRequestDatagram, tftpTransferDatagram } from '../boot-fuzz-arbitraries.js';
import { ENGINES, RawClient, atftpGet, makeTree, rawGet, waitFor } from './tftp-test-kit.js';

const CONTENT = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 13) % 256));

describe.each(ENGINES)('TFTP server fuzzed over UDP (%s engine)', (engine) => {
  const tree = makeTree('fuzz');
  let server: TftpServer;
  let port: number;
  let fuzzer: RawClient;

  beforeAll(async () => {
    tree.write('file.bin', CONTENT);
    tree.write('secret', 'outside', tree.outside);
    // Short timeouts so transfers the fuzzer starts and abandons clear out quickly; the fuzzer is one
    // address, so the per-client cap is lifted for its requests to reach option and path handling.
    server = new TftpServer({ address: '127.0.0.1', port: 0, roots: [tree.root], timeoutMs: 100, retries: 2, maxTransfers: 64, maxTransfersPerClient: 64, engine });
    ({ port } = await server.start());
    fuzzer = await RawClient.open();
  });
  afterAll(async () => {
    await fuzzer?.close();
    await server?.stop();
    tree.cleanup();
  });

  it('survives 10,000 fuzzed datagrams to the listen port and serves correctly after', async () => {
    await fc.assert(
      fc.asyncProperty(tftpRequestDatagram, async (d) => {
        await fuzzer.send(d, port);
      }),
      { numRuns: 10_000 },
    );
    // Anything the fuzz made the server send back must be an error, OACK or DATA of file.bin.
    for (const d of await fuzzer.drain(200)) {
      expect(d.raw.toString('latin1')).not.toContain('outside');
    }
    const r = await rawGet(port, 'file.bin', { options: { blksize: '1468', windowsize: '8' } });
    expect(r.data?.equals(CONTENT)).toBe(true);
    expect(server.stats().badPackets).toBeGreaterThan(0);
    expect(server.stats().handlerErrors).toBe(0);
  });

  it('survives fuzz aimed at live transfer ports, from strangers and from the client’s own port', async () => {
    // A slow lockstep client: each round it receives a block, then the fuzzers hit the transfer port.
    const a = await RawClient.open();
    const strangers = await RawClient.open();
    try {
      await a.send(serializeRequest({ op: 'RRQ', filename: 'file.bin', mode: 'octet' }), port);
      const parts: Buffer[] = [];
      let tid = 0;
      let block = 1;
      const junk = fc.sample(tftpTransferDatagram, 4000);
      let j = 0;
      for (;;) {
        const d = await a.next(10_000);
        expect(d).toBeDefined();
        if (!('op' in d!.pkt)) continue; // undecodable: ignore
        if (tid === 0) tid = d!.port;
        if (d!.port !== tid || d!.pkt.op !== 'DATA') continue;
        if (d!.pkt.block !== (block & 0xffff)) continue; // a retransmit we already have
        parts.push(Buffer.from(d!.pkt.data));
        // Fuzz: 20 from strangers and a few junk (non-ACK) datagrams from the client's own port.
        for (let k = 0; k < 20; k++) await strangers.send(junk[j++ % junk.length], tid);
        for (let k = 0; k < 3; k++) {
          const x = junk[j++ % junk.length];
          if (x.length >= 2 && x[0] === 0 && (x[1] === 4 || x[1] === 5)) continue; // a real ACK/ERROR would be protocol, not junk
          await a.send(x, tid);
        }
        await a.send(serializeAck(block), tid);
        if (d!.pkt.data.length < 512) break;
        block += 1;
      }
      expect(Buffer.concat(parts).equals(CONTENT)).toBe(true);
      // The transfer socket is connected to the client: strangers are refused by the kernel and
      // never get (or cause) a TFTP reply.
      expect(await strangers.drain(300)).toEqual([]);
    } finally {
      await a.close();
      await strangers.close();
    }
  });

  it('still serves a real client afterwards, and abandoned transfers drain away', async () => {
    const o = path.join(tree.dir, 'after-fuzz');
    const r = await atftpGet('127.0.0.1', port, 'file.bin', o, ['blksize 1468', 'windowsize 16']);
    expect(r.code, r.out).toBe(0);
    expect(fs.readFileSync(o).equals(CONTENT)).toBe(true);
    await waitFor(() => server.stats().activeTransfers === 0, 30_000);
    expect(server.stats().handlerErrors).toBe(0);
  });
});
