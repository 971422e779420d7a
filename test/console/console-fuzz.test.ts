// Property and fuzz tests: RFB banner check, white_ip matching, page path resolution, garbage on the websocket.
import fc from 'fast-check';
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsolePageFiles } from '../../src/console/console-page.js';
import { IpAllowList, normalizeAddress } from '../../src/console/ip-allow-list.js';
import { generateTicket, hashTicket, isPlausibleTicket, ticketFingerprint } from '../../src/console/tickets.js';
import { checkRfbBanner } from '../../src/console/vnc-proxy.js';
import { establishedOn, startFakeVnc, waitFor, type FakeVnc } from './console-peers.js';
import { startProxy, type ProxyFixture } from './proxy-fixture.js';

const BANNER = /^RFB \d{3}\.\d{3}\n/;

describe('checkRfbBanner', () => {
  it('accepts real banners and every prefix of them', () => {
    for (const b of ['RFB 003.003\n', 'RFB 003.007\n', 'RFB 003.008\n', 'RFB 003.889\n', 'RFB 004.001\n']) {
      expect(checkRfbBanner(Buffer.from(b))).toBe('ok');
      expect(checkRfbBanner(Buffer.from(b + 'extra'))).toBe('ok');
      for (let i = 0; i < b.length; i++) expect(checkRfbBanner(Buffer.from(b.slice(0, i)))).toBe('more');
    }
    expect(checkRfbBanner(Buffer.from('HTTP/1.1 400'))).toBe('bad');
    expect(checkRfbBanner(Buffer.from('RFB 003.008\r'))).toBe('bad');
  });

  it('agrees with the regular expression on random and mutated input', () => {
    const mutated = fc
      .tuple(fc.constantFrom('RFB 003.008\n', 'RFB 003.003\n'), fc.nat(11), fc.integer({ min: 0, max: 255 }), fc.nat(20))
      .map(([b, i, v, cut]) => {
        const buf = Buffer.from(b);
        buf[i] = v;
        return buf.subarray(0, Math.min(buf.length, cut));
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 20 }), mutated), (bytes) => {
        const buf = Buffer.from(bytes);
        const got = checkRfbBanner(buf);
        const s = buf.toString('latin1');
        if (BANNER.test(s)) return got === 'ok';
        if (buf.length >= 12) return got === 'bad';
        // A prefix that could still become a banner must wait; anything else is bad.
        const couldBe = BANNER.test(s + 'RFB 000.000\n'.slice(buf.length));
        return got === (couldBe ? 'more' : 'bad');
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('IpAllowList', () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
  const toInt = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);

  it('matches addresses, CIDR blocks and IPv4-mapped clients; invalid entries match nothing', () => {
    const l = new IpAllowList(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', 'not-an-ip', '10.0.0.0/33', '1.2.3.4/8/9']);
    expect(l.invalid).toEqual(['not-an-ip', '10.0.0.0/33', '1.2.3.4/8/9']);
    expect(l.allows('10.200.1.1')).toBe(true);
    expect(l.allows('::ffff:10.1.2.3')).toBe(true);
    expect(l.allows('192.0.2.7')).toBe(true);
    expect(l.allows('192.0.2.8')).toBe(false);
    expect(l.allows('2001:db8::1')).toBe(true);
    expect(l.allows('2001:db9::1')).toBe(false);
    expect(l.allows('')).toBe(false);
    expect(normalizeAddress('::FFFF:127.0.0.1')).toBe('127.0.0.1');
  });

  it('agrees with integer arithmetic for IPv4 CIDR blocks', () => {
    fc.assert(
      fc.property(v4, fc.integer({ min: 0, max: 32 }), v4, (net4, prefix, client) => {
        const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
        const expected = ((toInt(net4) & mask) >>> 0) === ((toInt(client) & mask) >>> 0);
        return new IpAllowList([`${net4}/${prefix}`]).allows(client) === expected;
      }),
      { numRuns: 5_000 },
    );
  });

  it('never throws on arbitrary entries and addresses', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 50 }), { maxLength: 5 }), fc.string({ maxLength: 50 }), (entries, addr) => {
        const l = new IpAllowList(entries);
        return typeof l.allows(addr) === 'boolean' && l.size + l.invalid.length === entries.length;
      }),
      { numRuns: 10_000 },
    );
  });
});

describe('tickets', () => {
  it('are URL-safe, plausible, hashed and fingerprinted without revealing them', () => {
    const t = generateTicket();
    expect(isPlausibleTicket(t)).toBe(true);
    expect(encodeURIComponent(t)).toBe(t);
    expect(hashTicket(t)).toBe(crypto.createHash('sha256').update(t).digest('hex'));
    expect(ticketFingerprint(t)).toHaveLength(12);
    expect(isPlausibleTicket('short')).toBe(false);
    expect(isPlausibleTicket('x'.repeat(300))).toBe(false);
    expect(isPlausibleTicket('a b c d e f g h i j k')).toBe(false);
  });
});

describe('ConsolePageFiles.lookup', () => {
  const files = new ConsolePageFiles();
  const page = path.resolve('src/console/page');
  const novnc = path.resolve('node_modules/@novnc/novnc');

  it('serves the page and noVNC library files with their types', () => {
    const idx = files.lookup('/console/?name=x');
    expect(idx.kind === 'asset' && idx.asset.file).toBe(path.join(page, 'index.html'));
    const rfb = files.lookup('/console/novnc/core/rfb.js');
    expect(rfb.kind === 'asset' && rfb.asset.type).toBe('text/javascript; charset=utf-8');
    const pako = files.lookup('/console/novnc/vendor/pako/lib/zlib/inflate.js');
    expect(pako.kind).toBe('asset');
    expect(files.lookup('/console?a=1')).toEqual({ kind: 'redirect', location: '/console/?a=1' });
    for (const bad of ['/console/novnc/package.json', '/console/novnc/core/../package.json', '/console/novnc/core/%2e%2e/package.json',
      '/console/novnc/core/..%2fpackage.json', '/console/../package.json', '/console/%2e%2e/%2e%2e/package.json', '/console/novnc/AUTHORS',
      '/console/novnc/core/%00rfb.js', '/console/novnc/core/.hidden', '/console/novnc/core/util', '/console/%E0%A4%A', '/other/']) {
      expect(files.lookup(bad).kind, bad).not.toBe('asset');
    }
  });

  it('never resolves a file outside the page folder or noVNC core/vendor, whatever the path', () => {
    const seg = fc.oneof(
      fc.constantFrom('..', '.', '', '%2e%2e', '%2E%2e', '..%2f', '%2f', '%5c', '%00', 'core', 'vendor', 'novnc', 'rfb.js', 'index.html',
        'console.js', 'package.json', 'pako', 'lib', 'zlib', 'inflate.js', 'util', 'browser.js', '.git'),
      fc.string({ maxLength: 8 }),
    );
    fc.assert(
      fc.property(fc.array(seg, { maxLength: 7 }), (segs) => {
        const found = files.lookup('/console/' + segs.join('/'));
        if (found.kind !== 'asset') return true;
        const f = found.asset.file;
        return (
          path.dirname(f) === page ||
          f.startsWith(path.join(novnc, 'core') + path.sep) ||
          f.startsWith(path.join(novnc, 'vendor') + path.sep)
        );
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('garbage on the websocket', () => {
  let p: ProxyFixture;
  let up: FakeVnc;
  beforeAll(async () => {
    up = await startFakeVnc('echo');
    p = await startProxy({ maxPayload: 64 * 1024 });
  });
  afterAll(async () => {
    await p.close();
    await up.close();
  });

  /** A raw client: completes the upgrade by hand, then writes whatever it is given. */
  function rawSession(ticket: string, payload: Buffer, closeAbruptly: boolean): Promise<void> {
    return new Promise((resolve) => {
      const s = net.connect(p.port, '127.0.0.1');
      let upgraded = false;
      let buf = '';
      const t = setTimeout(() => s.destroy(), 5_000);
      s.on('error', () => {});
      s.on('close', () => {
        clearTimeout(t);
        resolve();
      });
      s.on('data', (d) => {
        if (upgraded) return;
        buf += d.toString('latin1');
        if (!buf.includes('\r\n\r\n')) return;
        upgraded = buf.startsWith('HTTP/1.1 101');
        if (!upgraded) return void s.destroy();
        s.write(payload);
        if (closeAbruptly) s.destroy();
        else setTimeout(() => s.end(), 50);
      });
      s.write(
        `GET /console/ws?ticket=${ticket} HTTP/1.1\r\nHost: 127.0.0.1:${p.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n`,
      );
    });
  }

  const maskedFrame = fc
    .tuple(fc.integer({ min: 0, max: 15 }), fc.boolean(), fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 2 ** 31 }))
    .map(([op, fin, body, declared]) => {
      // Valid-looking headers with lying lengths and reserved opcodes, plus random bodies.
      const h = Buffer.alloc(14);
      h[0] = (fin ? 0x80 : 0) | op;
      h[1] = 0x80 | 127;
      h.writeBigUInt64BE(BigInt(declared), 2);
      return Buffer.concat([h, Buffer.from(body)]);
    });

  it('survives random bytes, lying frame headers and abrupt disconnects without leaking sockets', async () => {
    const before = { proxy: establishedOn(p.port), up: establishedOn(up.port) };
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 2000 }).map((a) => Buffer.from(a)), maskedFrame), fc.boolean(), async (payload, abrupt) => {
        await rawSession(p.authority.issue(p.grant(up.port)), payload, abrupt);
      }),
      { numRuns: 150 },
    );
    await waitFor(async () => p.proxy.stats().activeConnections === 0 && (await p.serverConnections()) === 0, 'proxy to drain', 15_000);
    await waitFor(async () => (await up.connections()) === 0, 'upstreams to close', 15_000);
    await waitFor(() => establishedOn(p.port) === before.proxy && establishedOn(up.port) === before.up, 'kernel sockets back to baseline');
    expect(p.proxy.stats().connectionsTotal).toBe(150);
  });
});
