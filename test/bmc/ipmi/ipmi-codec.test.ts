// Wire codec: byte layouts from the IPMI v2.0 spec, round trips, and fast-check fuzzing of every decoder.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  IpmiDecodeError, decodeAsfPong, decodeAuthCapabilities, decodeIpmi15Session, decodeIpmi20Session,
  decodeIpmiResponse, decodeOpenSessionResponse, decodePacket, decodeRakp2, decodeRakp4, decodeRmcp,
  encodeIpmi15Session, encodeIpmi20Session, encodeIpmiRequest, encodeOpenSessionRequest, encodeRakp1, encodeRakp3,
} from '../../../src/bmc/ipmi/ipmi-codec.js';
import {
  decodeIpmiRequest, decodeOpenSessionRequest, decodeRakp1, decodeRakp3, encodeAsfPing, encodeIpmiResponse,
  encodeOpenSessionResponse, encodeRakp2, encodeRakp4,
} from './bmc-side-codec.js';
import { decryptPayload, encryptPayload, integrityCode, cipherSuite } from '../../../src/bmc/ipmi/ipmi-crypto.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('IPMI message framing', () => {
  it('encodes Get Channel Authentication Capabilities exactly as the spec example / ipmitool send it', () => {
    const msg = encodeIpmiRequest({ rsAddr: 0x20, netFn: 0x06, rsLun: 0, rqAddr: 0x81, rqSeq: 0, rqLun: 0, cmd: 0x38, data: Buffer.from([0x8e, 0x04]) });
    const pkt = encodeIpmi15Session({ authType: 0, sequence: 0, sessionId: 0, message: msg });
    expect(pkt.toString('hex')).toBe('0600ff07000000000000000000092018c88100388e04b5');
  });

  it('decodes a real ipmi_sim auth capabilities answer (checksums, completion code, v2.0 bit)', () => {
    const { body } = decodeRmcp(hex('0600ff0700000000000000000010811c6320003800019705030000000008'.slice(0, 60)));
    const s = decodeIpmi15Session(body);
    const r = decodeIpmiResponse(s.message);
    expect(r).toMatchObject({ netFn: 0x07, cmd: 0x38, completionCode: 0, rqSeq: 0 });
    const caps = decodeAuthCapabilities(r.data);
    expect(caps).toMatchObject({ channel: 1, supportsIpmi20: true, ipmi20Extended: true });
  });

  it('rejects bad checksums and request/response netFn confusion with IpmiDecodeError', () => {
    const req = encodeIpmiRequest({ rsAddr: 0x20, netFn: 0, rsLun: 0, rqAddr: 0x81, rqSeq: 5, rqLun: 0, cmd: 1, data: Buffer.alloc(0) });
    expect(decodeIpmiRequest(req)).toMatchObject({ rqSeq: 5, cmd: 1 });
    expect(() => decodeIpmiResponse(req)).toThrow(IpmiDecodeError);
    const bad = Buffer.from(req);
    bad[2] ^= 1;
    expect(() => decodeIpmiRequest(bad)).toThrow(IpmiDecodeError);
    const bad2 = Buffer.from(req);
    bad2[bad2.length - 1] ^= 1;
    expect(() => decodeIpmiRequest(bad2)).toThrow(IpmiDecodeError);
  });

  it('round-trips responses', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 31 }), fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 40 }), (nf, seq, cmd, cc, data) => {
      const r = { rqAddr: 0x81, netFn: nf * 2 + 1, rqLun: 0, rsAddr: 0x20, rqSeq: seq, rsLun: 0, cmd, completionCode: cc, data: Buffer.from(data) };
      expect(decodeIpmiResponse(encodeIpmiResponse(r))).toEqual(r);
    }));
  });
});

describe('RMCP+ session wrapper', () => {
  it('pads the integrity data to 4 bytes and appends the auth code', () => {
    for (let len = 0; len < 9; len++) {
      const pkt = encodeIpmi20Session({ payloadType: 0, encrypted: true, sessionId: 0x11223344, sequence: 7, payload: Buffer.alloc(len, 0xaa), integrity: () => Buffer.alloc(12, 0xbb) });
      const p = decodeIpmi20Session(pkt.subarray(4), 12);
      expect(p.integrity!.covered.length % 4).toBe(0);
      expect(p.integrity!.authCode).toEqual(Buffer.alloc(12, 0xbb));
      expect(p).toMatchObject({ sessionId: 0x11223344, sequence: 7, encrypted: true, authenticated: true });
      expect(p.payload).toEqual(Buffer.alloc(len, 0xaa));
    }
  });

  it('round-trips the session setup payloads', () => {
    const algorithms = { auth: 3, integrity: 4, confidentiality: 1 };
    const osr = { tag: 9, privilege: 4, consoleSessionId: 0xa0a2a3a4, algorithms };
    expect(decodeOpenSessionRequest(encodeOpenSessionRequest(osr))).toEqual(osr);
    const osp = { tag: 9, status: 0, privilege: 4, consoleSessionId: 1, bmcSessionId: 2, algorithms };
    expect(decodeOpenSessionResponse(encodeOpenSessionResponse(osp))).toEqual(osp);
    expect(decodeOpenSessionResponse(encodeOpenSessionResponse({ ...osp, status: 1 }))).toMatchObject({ status: 1, consoleSessionId: 1 });
    const r1 = { tag: 1, bmcSessionId: 5, consoleRandom: Buffer.alloc(16, 3), role: 0x14, username: Buffer.from('admin') };
    expect(decodeRakp1(encodeRakp1(r1))).toEqual(r1);
    const r2 = { tag: 1, status: 0, consoleSessionId: 6, bmcRandom: Buffer.alloc(16, 1), bmcGuid: Buffer.alloc(16, 2), authCode: Buffer.alloc(32, 9) };
    expect(decodeRakp2(encodeRakp2(r2))).toEqual(r2);
    const r3 = { tag: 2, status: 0, bmcSessionId: 5, authCode: Buffer.alloc(20, 4) };
    expect(decodeRakp3(encodeRakp3(r3))).toEqual(r3);
    const r4 = { tag: 2, status: 0, consoleSessionId: 6, icv: Buffer.alloc(16, 5) };
    expect(decodeRakp4(encodeRakp4(r4))).toEqual(r4);
  });

  it('builds an ASF presence ping', () => {
    expect(encodeAsfPing(0x11).toString('hex')).toBe('060000060000' + '11be' + '80110000');
  });
});

// ------------------------------------------------------------------------------------------------- fuzz

const RUNS = 10_000;

/** The decoder either returns or throws IpmiDecodeError; nothing else, never a hang. */
function survives(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (e instanceof IpmiDecodeError) return true;
    throw e;
  }
}

const cs3 = cipherSuite(3)!;
const k1 = Buffer.alloc(20, 1);
const k2 = Buffer.alloc(20, 2);
const validPackets: Buffer[] = [
  encodeIpmi15Session({ authType: 0, sequence: 0, sessionId: 0, message: encodeIpmiResponse({ rqAddr: 0x81, netFn: 7, rqLun: 0, rsAddr: 0x20, rqSeq: 1, rsLun: 0, cmd: 0x38, completionCode: 0, data: hex('0197040300000000') }) }),
  encodeIpmi20Session({ payloadType: 0x11, encrypted: false, sessionId: 0, sequence: 0, payload: encodeOpenSessionResponse({ tag: 1, status: 0, privilege: 4, consoleSessionId: 1, bmcSessionId: 2, algorithms: { auth: 1, integrity: 1, confidentiality: 1 } }) }),
  encodeIpmi20Session({ payloadType: 0x13, encrypted: false, sessionId: 0, sequence: 0, payload: encodeRakp2({ tag: 1, status: 0, consoleSessionId: 1, bmcRandom: Buffer.alloc(16, 7), bmcGuid: Buffer.alloc(16, 8), authCode: Buffer.alloc(20, 9) }) }),
  encodeIpmi20Session({ payloadType: 0x15, encrypted: false, sessionId: 0, sequence: 0, payload: encodeRakp4({ tag: 1, status: 0, consoleSessionId: 1, icv: Buffer.alloc(12, 3) }) }),
  encodeIpmi20Session({
    payloadType: 0, encrypted: true, sessionId: 1, sequence: 3,
    payload: encryptPayload(k2, encodeIpmiResponse({ rqAddr: 0x81, netFn: 1, rqLun: 0, rsAddr: 0x20, rqSeq: 2, rsLun: 0, cmd: 1, completionCode: 0, data: hex('010000') })),
    integrity: (c) => integrityCode(cs3, k1, c),
  }),
];

const mutated = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.tuple(fc.constantFrom(...validPackets), fc.nat()).map(([p, n]) => p.subarray(0, n % (p.length + 1))),
  fc.tuple(fc.constantFrom(...validPackets), fc.array(fc.nat(), { minLength: 1, maxLength: 6 })).map(([p, flips]) => {
    const b = Buffer.from(p);
    for (const f of flips) b[f % b.length] ^= 1 << (f % 8);
    return b;
  }),
);

/** The full inbound path of a session on one datagram: outer decode, then each inner decoder it may reach. */
function decodeAll(buf: Buffer): void {
  for (const len of [0, 12, 16]) {
    survives(() => {
      const p = decodePacket(buf, len);
      if (p.kind === 'ipmi15') decodeIpmiResponse(p.session.message);
      if (p.kind !== 'ipmi20') return;
      const pl = p.packet.payload;
      for (const d of [decodeOpenSessionResponse, decodeRakp2, decodeRakp4, decodeOpenSessionRequest, decodeRakp1, decodeRakp3, decodeIpmiResponse, decodeIpmiRequest]) {
        survives(() => d(pl));
      }
      survives(() => decodeIpmiResponse(decryptPayload(k2, pl)));
    });
  }
}

describe('decoders never throw anything but IpmiDecodeError', () => {
  it(`whole packets: random, truncated and bit-flipped (${RUNS} cases)`, () => {
    fc.assert(fc.property(mutated, (b) => {
      decodeAll(b);
      return true;
    }), { numRuns: RUNS });
  });

  const bytes = fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a));
  const single: [string, (b: Buffer) => unknown][] = [
    ['decodeRmcp', decodeRmcp],
    ['decodeAsfPong', decodeAsfPong],
    ['decodeIpmi15Session', decodeIpmi15Session],
    ['decodeIpmi20Session/12', (b) => decodeIpmi20Session(b, 12)],
    ['decodeIpmi20Session/16', (b) => decodeIpmi20Session(b, 16)],
    ['decodeIpmiRequest', decodeIpmiRequest],
    ['decodeIpmiResponse', decodeIpmiResponse],
    ['decodeAuthCapabilities', decodeAuthCapabilities],
    ['decodeOpenSessionRequest', decodeOpenSessionRequest],
    ['decodeOpenSessionResponse', decodeOpenSessionResponse],
    ['decodeRakp1', decodeRakp1],
    ['decodeRakp2', decodeRakp2],
    ['decodeRakp3', decodeRakp3],
    ['decodeRakp4', decodeRakp4],
    ['decryptPayload', (b) => decryptPayload(k2, b)],
  ];
  for (const [name, fn] of single) {
    it(`${name}: random input (${RUNS} cases)`, () => {
      fc.assert(fc.property(bytes, (b) => survives(() => fn(b))), { numRuns: RUNS });
    });
  }
});
