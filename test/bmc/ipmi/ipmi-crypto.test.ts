// Cipher suites 3 and 17: RAKP codes, SIK/K1/K2, integrity and AES checked against (1) a second, textbook
// implementation of the IPMI 2.0 §13.28–13.32 formulas (RFC 2104 HMAC written out over createHash), (2) a
// captured ipmitool ↔ ipmi_sim cipher-suite-3 session, and (3) live ipmitool sessions (-C 3 and -C 17) against a
// fake BMC built from our crypto: ipmitool verifies our RAKP 2/4 and integrity, we verify its RAKP 3 and packets.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeIpmiResponse, decodeOpenSessionResponse, decodePacket, decodeRakp2, decodeRakp4 } from '../../../src/bmc/ipmi/ipmi-codec.js';
import { decodeIpmiRequest, decodeOpenSessionRequest, decodeRakp1, decodeRakp3 } from './bmc-side-codec.js';
import {
  additionalKey, cipherSuite, decryptPayload, encryptPayload, integrityCode, rakp2AuthCode, rakp3AuthCode, rakp4Icv,
  sessionIntegrityKey, userKey, type RakpContext,
} from '../../../src/bmc/ipmi/ipmi-crypto.js';
import { IpmiSession } from '../../../src/bmc/ipmi/ipmi-session.js';
import { startFakeBmc } from './fake-rmcp-bmc.js';

// ------------------------------------------------------------ the second implementation (textbook, by hand)

function textbookHmac(alg: 'sha1' | 'sha256', key: Buffer, msg: Buffer): Buffer {
  const block = 64;
  let k = key.length > block ? createHash(alg).update(key).digest() : key;
  k = Buffer.concat([k, Buffer.alloc(block - k.length)]);
  const ipad = Buffer.from(k.map((x) => x ^ 0x36));
  const opad = Buffer.from(k.map((x) => x ^ 0x5c));
  return createHash(alg).update(opad).update(createHash(alg).update(ipad).update(msg).digest()).digest();
}

const le32 = (n: number): string => [0, 8, 16, 24].map((s) => ((n >>> s) & 0xff).toString(16).padStart(2, '0')).join('');

/** Spec tables written out as hex strings, one field per element. */
function textbook(alg: 'sha1' | 'sha256', password: string, c: RakpContext) {
  const kuid = Buffer.concat([Buffer.from(password), Buffer.alloc(20 - password.length)]);
  const h = (key: Buffer, ...fields: string[]): Buffer => textbookHmac(alg, key, Buffer.from(fields.join(''), 'hex'));
  const role = c.role.toString(16).padStart(2, '0');
  const ulen = c.username.length.toString(16).padStart(2, '0');
  const name = c.username.toString('hex');
  const rakp2 = h(kuid, le32(c.consoleSessionId), le32(c.bmcSessionId), c.consoleRandom.toString('hex'), c.bmcRandom.toString('hex'), c.bmcGuid.toString('hex'), role, ulen, name);
  const rakp3 = h(kuid, c.bmcRandom.toString('hex'), le32(c.consoleSessionId), role, ulen, name);
  const sik = h(kuid, c.consoleRandom.toString('hex'), c.bmcRandom.toString('hex'), role, ulen, name);
  const k1 = h(sik, '01'.repeat(20));
  const k2 = h(sik, '02'.repeat(20));
  const icv = h(sik, c.consoleRandom.toString('hex'), le32(c.bmcSessionId), c.bmcGuid.toString('hex'));
  return { rakp2, rakp3, sik, k1, k2, icv };
}

const ctxArb = fc.record({
  consoleSessionId: fc.nat({ max: 0xffffffff }),
  bmcSessionId: fc.nat({ max: 0xffffffff }),
  consoleRandom: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)),
  bmcRandom: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)),
  bmcGuid: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)),
  role: fc.integer({ min: 0, max: 0x1f }),
  username: fc.string({ maxLength: 16, unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789_'.split('')) }).map((s) => Buffer.from(s)),
});
const passwordArb = fc.string({ maxLength: 20, unit: fc.constantFrom(...'ABCxyz019!@#'.split('')) });

describe.each([3, 17])('cipher suite %i key derivation', (id) => {
  const cs = cipherSuite(id)!;
  it('matches the textbook implementation of the spec formulas (2,000 random sessions)', () => {
    fc.assert(fc.property(ctxArb, passwordArb, (c, pw) => {
      const t = textbook(cs.hash, pw, c);
      const kuid = userKey(pw);
      expect(rakp2AuthCode(cs, kuid, c)).toEqual(t.rakp2);
      expect(rakp3AuthCode(cs, kuid, c)).toEqual(t.rakp3);
      const sik = sessionIntegrityKey(cs, kuid, c);
      expect(sik).toEqual(t.sik);
      expect(additionalKey(cs, sik, 1)).toEqual(t.k1);
      expect(additionalKey(cs, sik, 2)).toEqual(t.k2);
      expect(rakp4Icv(cs, sik, c)).toEqual(t.icv.subarray(0, cs.icvLength));
    }), { numRuns: 2000 });
  });

  it('has the spec lengths: auth code, ICV, integrity', () => {
    expect([cs.rakpAuthLength, cs.icvLength, cs.integrityLength]).toEqual(id === 3 ? [20, 12, 12] : [32, 16, 16]);
    expect(integrityCode(cs, Buffer.alloc(cs.rakpAuthLength, 1), Buffer.from('x')).length).toBe(cs.integrityLength);
  });

  it('AES-CBC-128 pads 1,2,3… + pad length and rejects a corrupted pad', () => {
    const k2 = Buffer.alloc(32, 7);
    for (let n = 0; n < 40; n++) {
      const plain = Buffer.alloc(n, 0x5a);
      const enc = encryptPayload(k2, plain);
      expect((enc.length - 16) % 16).toBe(0);
      expect(decryptPayload(k2, enc)).toEqual(plain);
    }
    const iv = Buffer.alloc(16, 0);
    const enc = encryptPayload(k2, Buffer.from('abc'), iv);
    enc[enc.length - 1] ^= 0xff;
    expect(() => decryptPayload(k2, enc)).toThrow();
  });
});

describe('fixed vectors (computed independently with Python hmac/hashlib from the spec formulas)', () => {
  // SIDm a0a2a3a4, SIDc 00000202, Rm 00..0f, Rc 10..1f, GUIDc 20..2f, ROLEm 0x14, user "admin", password "password".
  const c: RakpContext = {
    consoleSessionId: 0xa0a2a3a4,
    bmcSessionId: 0x00000202,
    consoleRandom: Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'),
    bmcRandom: Buffer.from('101112131415161718191a1b1c1d1e1f', 'hex'),
    bmcGuid: Buffer.from('202122232425262728292a2b2c2d2e2f', 'hex'),
    role: 0x14,
    username: Buffer.from('admin'),
  };
  const vectors: Record<number, Record<string, string>> = {
    3: {
      rakp2: '941c37a2aa2a1ce91b055d339384c92b4dedf59c',
      rakp3: '4ab420258775814f120682c8ab9275c29997effd',
      sik: '122c77c4b11ccd93251cbae6c34a9cb6310da154',
      k1: 'e4472be78f9a81fa68297aab696a7be8c97fc9f8',
      k2: '2b6552012a2517cb3b5713901d757a6efc7d8301',
      icv: '531185c4f39c1da90bdc231d',
    },
    17: {
      rakp2: '00bab44ea6229b8b65e6886807bdc5f0b2c87b2d96614af6768f21733c640b8b',
      rakp3: '72a845290e0504673b2177d93a8dd844954778f3fe6b0476b2e7055a21663586',
      sik: 'e5935f7199865ad961063477b0662684e2ce9b1da8f2b8d41c5ce127d37e9bcf',
      k1: 'dc4fe73d075306f6897115dd63257385e845c10404fa1d73991790c6a101bec2',
      k2: '2a4f969ea6dfa83066f36674fdc2fea289fa1a21da90303e9b5269b54ec5adb5',
      icv: 'b91ed7002c572c741544c12c26174122',
    },
  };
  it.each([3, 17])('suite %i', (id) => {
    const cs = cipherSuite(id)!;
    const v = vectors[id];
    const kuid = userKey('password');
    const sik = sessionIntegrityKey(cs, kuid, c);
    expect({
      rakp2: rakp2AuthCode(cs, kuid, c).toString('hex'),
      rakp3: rakp3AuthCode(cs, kuid, c).toString('hex'),
      sik: sik.toString('hex'),
      k1: additionalKey(cs, sik, 1).toString('hex'),
      k2: additionalKey(cs, sik, 2).toString('hex'),
      icv: rakp4Icv(cs, sik, c).toString('hex'),
    }).toEqual(v);
  });
});

describe('captured ipmitool ↔ ipmi_sim session (cipher suite 3)', () => {
  const fx = JSON.parse(readFileSync(new URL('./fixtures/ipmitool-ipmisim-cs3.json', import.meta.url), 'utf8')) as {
    password: string;
    packets: { dir: string; hex: string }[];
  };
  const pkts = fx.packets.map((p) => ({ dir: p.dir, buf: Buffer.from(p.hex, 'hex') }));
  const cs = cipherSuite(3)!;
  const payloadOf = (i: number): Buffer => {
    const p = decodePacket(pkts[i].buf, 12);
    if (p.kind !== 'ipmi20') throw new Error('expected RMCP+');
    return p.packet.payload;
  };

  it("reproduces the sim's RAKP 2 code, ipmitool's RAKP 3 code and the sim's RAKP 4 ICV, then verifies and decrypts every packet", () => {
    const osReq = decodeOpenSessionRequest(payloadOf(2));
    const osResp = decodeOpenSessionResponse(payloadOf(3));
    const r1 = decodeRakp1(payloadOf(4));
    const r2 = decodeRakp2(payloadOf(5));
    const r3 = decodeRakp3(payloadOf(6));
    const r4 = decodeRakp4(payloadOf(7));
    expect(osReq.algorithms).toEqual(cs.algorithms);
    const c: RakpContext = {
      consoleSessionId: osReq.consoleSessionId,
      bmcSessionId: osResp.bmcSessionId,
      consoleRandom: r1.consoleRandom,
      bmcRandom: r2.bmcRandom,
      bmcGuid: r2.bmcGuid,
      role: r1.role,
      username: r1.username,
    };
    const kuid = userKey(fx.password);
    expect(rakp2AuthCode(cs, kuid, c)).toEqual(r2.authCode);
    expect(rakp3AuthCode(cs, kuid, c)).toEqual(r3.authCode);
    const sik = sessionIntegrityKey(cs, kuid, c);
    expect(rakp4Icv(cs, sik, c)).toEqual(r4.icv);
    const k1 = additionalKey(cs, sik, 1);
    const k2 = additionalKey(cs, sik, 2);
    const cmds: string[] = [];
    for (const { dir, buf } of pkts.slice(8)) {
      const p = decodePacket(buf, 12);
      if (p.kind !== 'ipmi20' || !p.packet.integrity) throw new Error('expected an authenticated packet');
      expect(integrityCode(cs, k1, p.packet.integrity.covered)).toEqual(p.packet.integrity.authCode);
      const plain = decryptPayload(k2, p.packet.payload);
      if (dir === 'console->bmc') cmds.push(`rq ${decodeIpmiRequest(plain).cmd.toString(16)}`);
      else {
        const r = decodeIpmiResponse(plain);
        cmds.push(`rs ${r.cmd.toString(16)}`);
        if (r.netFn === 1 && r.cmd === 1) expect(r.data[0] & 1).toBe(1); // "Chassis Power is on"
      }
    }
    expect(cmds).toContain('rs 1');
  });
});

function runIpmitool(port: number, suite: number, password: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('ipmitool', ['-I', 'lanplus', '-C', String(suite), '-N', '1', '-R', '2', '-H', '127.0.0.1', '-p', String(port), '-U', 'admin', '-E', ...args],
      { env: { ...process.env, IPMI_PASSWORD: password }, timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: String(stdout) + String(stderr) }));
  });
}

describe.each([17, 3])('live cross-check: ipmitool -C %i against a fake BMC made of our crypto', (suite) => {
  const password = 'Very-Secret-17';
  const handler = (r: { netFn: number; cmd: number }) => (r.netFn === 0 && r.cmd === 1 ? { cc: 0, data: Buffer.from([0x01, 0x00, 0x00]) } : undefined);

  it('ipmitool accepts our RAKP 2 / RAKP 4 and integrity; we accept its RAKP 3 and packets', async () => {
    const bmc = await startFakeBmc({ username: 'admin', password, handler });
    try {
      const r = await runIpmitool(bmc.port, suite, password, ['chassis', 'power', 'status']);
      expect(r.out).toContain('Chassis Power is on');
      expect(bmc.rejected).toEqual([]);
      expect(bmc.requests.some((q) => q.netFn === 0 && q.cmd === 1)).toBe(true);
    } finally {
      await bmc.stop();
    }
  });

  it('ipmitool with the wrong password is refused (it rejects our RAKP 2, or we reject its RAKP 3)', async () => {
    const bmc = await startFakeBmc({ username: 'admin', password, handler });
    try {
      const r = await runIpmitool(bmc.port, suite, 'not-the-password', ['chassis', 'power', 'status']);
      expect(r.out).not.toContain('Chassis Power is on');
      expect(bmc.requests).toEqual([]);
    } finally {
      await bmc.stop();
    }
  });

  it('rackhand IpmiSession completes a session with the same fake', async () => {
    const bmc = await startFakeBmc({ username: 'admin', password, handler });
    const s = new IpmiSession({ host: '127.0.0.1', port: bmc.port, username: 'admin', password, cipherSuite: suite, privilege: 'administrator' }, { timeoutMs: 500, retries: 2 });
    try {
      await s.open();
      const r = await s.request(0x00, 0x01);
      expect(r.completionCode).toBe(0);
      expect(r.data[0] & 1).toBe(1);
      expect(bmc.rejected).toEqual([]);
    } finally {
      await s.close();
      await bmc.stop();
    }
  });
});
