// RMCP+ cipher suites 3 and 17: RAKP auth codes, SIK/K1/K2 derivation, packet integrity and AES-CBC-128.
import { createCipheriv, createDecipheriv, createHmac, randomFillSync, timingSafeEqual } from 'node:crypto';
import { IpmiDecodeError, putU32 as putU32At, type AlgorithmSet } from './ipmi-codec.js';

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

function hmac(cs: CipherSuite, key: Buffer, data: Buffer): Buffer {
  return createHmac(cs.hash, key).update(data).digest();
}

// Each RAKP input is laid out in one buffer and hashed with one update(): fewer native calls and no small
// per-field buffers (zero-filled Buffer.alloc() costs an ArrayBuffer each; allocUnsafe comes from node's pool).
function fields(n: number): { b: Buffer; o: number } {
  return { b: Buffer.allocUnsafe(n), o: 0 };
}

function putU32(f: { b: Buffer; o: number }, v: number): void {
  putU32At(f.b, f.o, v);
  f.o += 4;
}

function putBytes(f: { b: Buffer; o: number }, src: Buffer): void {
  f.b.set(src, f.o);
  f.o += src.length;
}

function putRoleAndName(f: { b: Buffer; o: number }, c: RakpContext): void {
  f.b[f.o++] = c.role;
  f.b[f.o++] = c.username.length;
  putBytes(f, c.username);
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
  const f = fields(8 + c.consoleRandom.length + c.bmcRandom.length + c.bmcGuid.length + 2 + c.username.length);
  putU32(f, c.consoleSessionId);
  putU32(f, c.bmcSessionId);
  putBytes(f, c.consoleRandom);
  putBytes(f, c.bmcRandom);
  putBytes(f, c.bmcGuid);
  putRoleAndName(f, c);
  return hmac(cs, kuid, f.b);
}

/** RAKP 3 key exchange auth code: HMAC_Kuid(Rc, SIDm, ROLEm, ULENGTHm, UNAMEm). */
export function rakp3AuthCode(cs: CipherSuite, kuid: Buffer, c: RakpContext): Buffer {
  const f = fields(c.bmcRandom.length + 4 + 2 + c.username.length);
  putBytes(f, c.bmcRandom);
  putU32(f, c.consoleSessionId);
  putRoleAndName(f, c);
  return hmac(cs, kuid, f.b);
}

/** Session integrity key: HMAC_KG(Rm, Rc, ROLEm, ULENGTHm, UNAMEm); KG is Kuid unless a BMC key is set. */
export function sessionIntegrityKey(cs: CipherSuite, kg: Buffer, c: RakpContext): Buffer {
  const f = fields(c.consoleRandom.length + c.bmcRandom.length + 2 + c.username.length);
  putBytes(f, c.consoleRandom);
  putBytes(f, c.bmcRandom);
  putRoleAndName(f, c);
  return hmac(cs, kg, f.b);
}

const CONST_1 = Buffer.alloc(20, 1);
const CONST_2 = Buffer.alloc(20, 2);

/** Additional keying material Kn = HMAC_SIK(20 bytes of n); K1 keys integrity, K2's first 16 bytes AES. */
export function additionalKey(cs: CipherSuite, sik: Buffer, n: 1 | 2): Buffer {
  return hmac(cs, sik, n === 1 ? CONST_1 : CONST_2);
}

/** RAKP 4 integrity check value: HMAC_SIK(Rm, SIDc, GUIDc), truncated (12 bytes SHA1, 16 bytes SHA256). */
export function rakp4Icv(cs: CipherSuite, sik: Buffer, c: RakpContext): Buffer {
  const f = fields(c.consoleRandom.length + 4 + c.bmcGuid.length);
  putBytes(f, c.consoleRandom);
  putU32(f, c.bmcSessionId);
  putBytes(f, c.bmcGuid);
  return hmac(cs, sik, f.b).subarray(0, cs.icvLength);
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
  const out = Buffer.allocUnsafe(n);
  // A plain loop: Buffer.from/fill run as slow interpreted JS in a fresh process, this does not.
  for (let i = 0; i < n; i++) {
    out[i] = pool[poolOffset + i];
    pool[poolOffset + i] = 0;
  }
  poolOffset += n;
  return out;
}

/** AES-CBC-128 payload: IV, then ciphertext of data + pad 1,2,3.. + pad length. */
export function encryptPayload(k2: Buffer, plain: Buffer, iv: Buffer = randomBlock(16)): Buffer {
  const padLength = (16 - ((plain.length + 1) % 16)) % 16;
  const len = plain.length + padLength + 1;
  if (iv.length !== 16) throw new RangeError('AES-CBC IV must be 16 bytes');
  const padded = Buffer.allocUnsafe(len);
  padded.set(plain);
  for (let i = 0; i < padLength; i++) padded[plain.length + i] = i + 1;
  padded[len - 1] = padLength;
  const c = createCipheriv('aes-128-cbc', k2.subarray(0, 16), iv);
  c.setAutoPadding(false);
  // Without padding, update() of whole blocks returns every block and final() adds nothing: one buffer.
  const out = Buffer.allocUnsafe(16 + len);
  out.set(iv);
  out.set(c.update(padded), 16);
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
