// Shared UDP transport: many BMC endpoints per socket, datagrams routed by source address:port, strangers dropped.
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { UdpTransport } from '../../../src/bmc/ipmi/ipmi-transport.js';

const sockets: dgram.Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

async function peer(): Promise<{ s: dgram.Socket; port: number; got: Promise<dgram.RemoteInfo> }> {
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  const got = new Promise<dgram.RemoteInfo>((r) => s.once('message', (_m, ri) => r(ri)));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { s, port: s.address().port, got };
}

describe('UdpTransport', () => {
  it('shares one socket between endpoints and routes answers by their source', async () => {
    const t = new UdpTransport({ endpointsPerSocket: 8 });
    try {
      const a = await peer();
      const b = await peer();
      const stranger = await peer();
      const inA: string[] = [];
      const inB: string[] = [];
      const la = await t.open('127.0.0.1', a.port, (buf) => inA.push(buf.toString()));
      const lb = await t.open('127.0.0.1', b.port, (buf) => inB.push(buf.toString()));
      la.send(Buffer.from('to-a'));
      lb.send(Buffer.from('to-b'));
      const [ra, rb] = await Promise.all([a.got, b.got]);
      expect(ra.port).toBe(rb.port); // same local socket
      a.s.send('from-a', ra.port, '127.0.0.1');
      b.s.send('from-b', rb.port, '127.0.0.1');
      stranger.s.send('spoof', ra.port, '127.0.0.1');
      const deadline = Date.now() + 5000;
      while ((inA.length < 1 || inB.length < 1 || t.strays < 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(inA).toEqual(['from-a']);
      expect(inB).toEqual(['from-b']);
      expect(t.strays).toBe(1);
      la.close();
      a.s.send('late', ra.port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 100));
      expect(inA).toEqual(['from-a']);
      lb.close();
    } finally {
      await t.close();
    }
  });

  it('opens another socket when the same endpoint is opened twice (two users on one BMC)', async () => {
    const t = new UdpTransport();
    try {
      const a = await peer();
      const seen = new Set<number>();
      a.s.on('message', (_m, ri) => seen.add(ri.port));
      const l1 = await t.open('127.0.0.1', a.port, () => undefined);
      const l2 = await t.open('127.0.0.1', a.port, () => undefined);
      l1.send(Buffer.from('1'));
      l2.send(Buffer.from('2'));
      const deadline = Date.now() + 5000;
      while (seen.size < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(seen.size).toBe(2);
    } finally {
      await t.close();
    }
  });

  it('routes two BMCs that share a port number on different addresses, and keeps one when the other closes', async () => {
    const a = await peer();
    const b = dgram.createSocket('udp4');
    sockets.push(b);
    await new Promise<void>((r) => b.bind(a.port, '127.0.0.2', () => r()));
    const t = new UdpTransport({ endpointsPerSocket: 8 });
    try {
      const inA: string[] = [];
      const inB: string[] = [];
      const la = await t.open('127.0.0.1', a.port, (buf) => inA.push(buf.toString()));
      const lb = await t.open('127.0.0.2', a.port, (buf) => inB.push(buf.toString()));
      const fromB = new Promise<dgram.RemoteInfo>((r) => b.once('message', (_m, ri) => r(ri)));
      la.send(Buffer.from('to-a'));
      lb.send(Buffer.from('to-b'));
      const [ra, rb] = await Promise.all([a.got, fromB]);
      expect(ra.port).toBe(rb.port);
      la.close();
      a.s.send('late-a', ra.port, '127.0.0.1');
      b.send('from-b', rb.port, '127.0.0.1');
      const deadline = Date.now() + 5000;
      while ((inB.length < 1 || t.strays < 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(inA).toEqual([]);
      expect(inB).toEqual(['from-b']);
      expect(t.strays).toBe(1);
      lb.close();
    } finally {
      await t.close();
    }
  });
});
