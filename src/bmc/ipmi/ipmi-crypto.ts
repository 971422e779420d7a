// RMCP+ cipher suites 3 and 17: RAKP auth codes, SIK/K1/K2 derivation, packet integrity and AES-CBC-128.
import { createCipheriv, createDecipheriv, createHmac, randomFillSync, timingSafeEqual } from 'node:crypto';
import { IpmiDecodeError, type AlgorithmSet } from './ipmi-codec.js';

export interface CipherSuite {
  id: number;
  algorithms: AlgorithmSet;
  hash: 'sha1' | 'sha256'; // of the RAKP authentication algorithm and the integrity HMAC
  rakpAuthLength: number; // key exchange auth code (RAKP 2/3) length: full HMAC
  icvLength: number; // RAKP 4 integrity check value length
  integrityLength: number; // per-packet auth code length
}

const SUITES: Record<number, CipherSuite> = {
  3: { id: 3, algorithms: { auth: 1, integrity: 1, confidentiality: 1 }, hash: 'sha1', rakpAuthLength: 20, icvLength: 12, integrityLength: 12 },
  17: { id: 17, algorithms: { auth: 3, integrity: 4, confidentiality: 1 }, hash: 'sha256', rakpAuthLength: 32, icvLength: 16, integrityLength: 16 },
};

export const SUPPORTED_CIPHER_SUITES = Object.keys(SUITES).map(Number);

/** The suite for an id, or undefined when rackhand does not implement it. */
export function cipherSuite(id: number): CipherSuite | undefined {
  return SUITES[id];
}

function hmac(cs: CipherSuite, key: Buffer, ...parts: Buffer[]): Buffer {
  const h = createHmac(cs.hash, key);
  for (const p of parts) h.update(p);
  return h.digest();
}

function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

/** Kuid: the user's password as the RAKP key, zero-padded to 20 bytes (IPMI 2.0 passwords are at most 20). */
export function userKey(password: string | Buffer): Buffer {
  const p = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  if (p.length > 20) throw new RangeError('IPMI password longer than 20 bytes');
  const k = Buffer.alloc(20);
  p.copy(k);
  return k;
}

/** The values both ends know once RAKP 2 has arrived. */
export interface RakpContext {
  consoleSessionId: number; // SIDm
  bmcSessionId: number; // SIDc
  consoleRandom: Buffer; // Rm
  bmcRandom: Buffer; // Rc
  bmcGuid: Buffer; // GUIDc
  role: number; // ROLEm as sent in RAKP 1 (privilege | name-only bit)
  username: Buffer; // UNAMEm
}

/** RAKP 2 key exchange auth code: HMAC_Kuid(SIDm, SIDc, Rm, Rc, GUIDc, ROLEm, ULENGTHm, UNAMEm). */
export function rakp2AuthCode(cs: CipherSuite, kuid: Buffer, c: RakpContext): Buffer {
  return hmac(cs, kuid, u32le(c.consoleSessionId), u32le(c.bmcSessionId), c.consoleRandom, c.bmcRandom, c.bmcGuid,
    Buffer.from([c.role, c.username.length]), c.username);
}

/** RAKP 3 key exchange auth code: HMAC_Kuid(Rc, SIDm, ROLEm, ULENGTHm, UNAMEm). */
export function rakp3AuthCode(cs: CipherSuite, kuid: Buffer, c: RakpContext): Buffer {
  return hmac(cs, kuid, c.bmcRandom, u32le(c.consoleSessionId), Buffer.from([c.role, c.username.length]), c.username);
}

/** Session integrity key: HMAC_KG(Rm, Rc, ROLEm, ULENGTHm, UNAMEm); KG is Kuid unless a BMC key is set. */
export function sessionIntegrityKey(cs: CipherSuite, kg: Buffer, c: RakpContext): Buffer {
  return hmac(cs, kg, c.consoleRandom, c.bmcRandom, Buffer.from([c.role, c.username.length]), c.username);
}

/** Additional keying material Kn = HMAC_SIK(20 bytes of n); K1 keys integrity, K2's first 16 bytes AES. */
export function additionalKey(cs: CipherSuite, sik: Buffer, n: 1 | 2): Buffer {
  return hmac(cs, sik, Buffer.alloc(20, n));
}

/** RAKP 4 integrity check value: HMAC_SIK(Rm, SIDc, GUIDc), truncated (12 bytes SHA1, 16 bytes SHA256). */
export function rakp4Icv(cs: CipherSuite, sik: Buffer, c: RakpContext): Buffer {
  return hmac(cs, sik, c.consoleRandom, u32le(c.bmcSessionId), c.bmcGuid).subarray(0, cs.icvLength);
}

/** Per-packet auth code over auth type .. next header: HMAC-SHA1-96 or HMAC-SHA256-128 keyed with K1. */
export function integrityCode(cs: CipherSuite, k1: Buffer, covered: Buffer): Buffer {
  return hmac(cs, k1, covered).subarray(0, cs.integrityLength);
}

/** Constant-time comparison that is false (not a throw) for differing lengths. */
export function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

// One CSPRNG call per 256 IVs instead of one per packet: randomBytes() per call costs more than the AES itself
// when a fan-out sends thousands of packets. Same bytes quality; a copy is handed out, never the pool.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

/** n (<= 4096) fresh random bytes. */
export function randomBlock(n: number): Buffer {
  if (poolOffset + n > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const out = Buffer.from(pool.subarray(poolOffset, poolOffset + n));
  pool.fill(0, poolOffset, poolOffset + n);
  poolOffset += n;
  return out;
}

/** AES-CBC-128 payload: IV, then ciphertext of data + pad 1,2,3.. + pad length. */
export function encryptPayload(k2: Buffer, plain: Buffer, iv: Buffer = randomBlock(16)): Buffer {
  const padLength = (16 - ((plain.length + 1) % 16)) % 16;
  const len = plain.length + padLength + 1;
  const padded = Buffer.allocUnsafe(len);
  plain.copy(padded);
  for (let i = 0; i < padLength; i++) padded[plain.length + i] = i + 1;
  padded[len - 1] = padLength;
  const c = createCipheriv('aes-128-cbc', k2.subarray(0, 16), iv);
  c.setAutoPadding(false);
  // Without padding, update() of whole blocks returns every block and final() adds nothing: one buffer.
  const out = Buffer.allocUnsafe(16 + len);
  iv.copy(out, 0, 0, 16);
  c.update(padded).copy(out, 16);
  return out;
}

export function decryptPayload(k2: Buffer, payload: Buffer): Buffer {
  if (payload.length < 32 || payload.length % 16 !== 0) throw new IpmiDecodeError('AES payload length');
  const d = createDecipheriv('aes-128-cbc', k2.subarray(0, 16), payload.subarray(0, 16));
  d.setAutoPadding(false);
  const plain = d.update(payload.subarray(16));
  if (plain.length !== payload.length - 16) throw new IpmiDecodeError('AES payload length');
  const padLength = plain[plain.length - 1];
  if (padLength > 15 || padLength + 1 > plain.length) throw new IpmiDecodeError('AES pad length');
  const end = plain.length - 1 - padLength;
  // The pad must read 1, 2, 3, …; anything else is a forged or corrupted payload.
  for (let i = 0; i < padLength; i++) if (plain[end + i] !== i + 1) throw new IpmiDecodeError('AES pad bytes');
  return plain.subarray(0, end);
}
