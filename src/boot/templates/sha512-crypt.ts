// SHA-512 crypt (`$6$`), the algorithm of Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512" as glibc
// implements it: the only form in which a root password may reach an install template.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { RackhandError } from '../../errors.js';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ROUNDS_DEFAULT = 5000;
const ROUNDS_MIN = 1000;
const ROUNDS_MAX = 999_999_999;
const SALT_MAX = 16;

function sha512(...parts: Buffer[]): Buffer {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** `len` bytes of `src` repeated (the spec's P-sequence and S-sequence). */
function repeatTo(src: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i += src.length) src.copy(out, i, 0, Math.min(src.length, len - i));
  return out;
}

function encode(final: Buffer): string {
  let out = '';
  const put = (b2: number, b1: number, b0: number, n: number) => {
    let w = (b2 << 16) | (b1 << 8) | b0;
    for (let i = 0; i < n; i++) {
      out += ITOA64[w & 0x3f];
      w >>>= 6;
    }
  };
  // The spec's byte shuffle: triple i takes bytes i, i+21, i+42, rotated by i mod 3.
  for (let i = 0; i < 21; i++) {
    const t = [final[i], final[i + 21], final[i + 42]];
    const r = i % 3;
    put(t[r], t[(r + 1) % 3], t[(r + 2) % 3], 4);
  }
  put(0, 0, final[63], 2);
  return out;
}

export interface Sha512CryptOptions {
  /** Salt characters (truncated to 16, `[./0-9A-Za-z]` when generated); random 16 characters if omitted. */
  salt?: string;
  /** Rounds; clamped to 1000..999999999 as glibc does. Written into the result when given. */
  rounds?: number;
}

function randomSalt(): string {
  const bytes = randomBytes(SALT_MAX);
  let s = '';
  for (const b of bytes) s += ITOA64[b & 0x3f];
  return s;
}

/**
 * Hash a password. `setting` may be a full crypt setting (`$6$rounds=N$salt` or a complete hash, as
 * crypt(3) accepts) or options. Returns `$6$[rounds=N$]salt$hash86`.
 */
export function sha512Crypt(password: string | Buffer, setting: string | Sha512CryptOptions = {}): string {
  let salt: string;
  let rounds = ROUNDS_DEFAULT;
  let customRounds = false;
  if (typeof setting === 'string') {
    if (!setting.startsWith('$6$')) {
      throw new RackhandError('INVALID_INPUT', 'SHA-512 crypt setting must start with $6$');
    }
    let rest = setting.slice(3);
    const m = /^rounds=(\d+)\$/.exec(rest);
    if (m) {
      rounds = Number(m[1]);
      customRounds = true;
      rest = rest.slice(m[0].length);
    }
    const end = rest.indexOf('$');
    salt = end >= 0 ? rest.slice(0, end) : rest;
  } else {
    salt = setting.salt ?? randomSalt();
    if (setting.rounds !== undefined) {
      if (!Number.isSafeInteger(setting.rounds)) throw new RackhandError('INVALID_INPUT', 'rounds must be an integer');
      rounds = setting.rounds;
      customRounds = true;
    }
  }
  rounds = Math.min(ROUNDS_MAX, Math.max(ROUNDS_MIN, rounds));
  if (/[^\x21-\x7e]|[$:]/.test(salt)) throw new RackhandError('INVALID_INPUT', 'salt must be printable ASCII without "$" or ":"');
  salt = salt.slice(0, SALT_MAX);
  const saltBuf = Buffer.from(salt, 'latin1');
  const key = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  const klen = key.length;

  const b = sha512(key, saltBuf, key);
  const a = createHash('sha512').update(key).update(saltBuf).update(repeatTo(b, klen));
  for (let n = klen; n > 0; n >>>= 1) a.update(n & 1 ? b : key);
  let c = a.digest();

  const dp = sha512(...Array.from({ length: klen }, () => key));
  const p = repeatTo(dp, klen);
  const ds = sha512(...Array.from({ length: 16 + c[0] }, () => saltBuf));
  const s = ds.subarray(0, saltBuf.length);

  for (let i = 0; i < rounds; i++) {
    const h = createHash('sha512');
    h.update(i & 1 ? p : c);
    if (i % 3 !== 0) h.update(s);
    if (i % 7 !== 0) h.update(p);
    h.update(i & 1 ? c : p);
    c = h.digest();
  }

  return `$6$${customRounds ? `rounds=${rounds}$` : ''}${salt}$${encode(c)}`;
}

/** Constant-time check of a password against a `$6$` hash. */
export function verifySha512Crypt(password: string | Buffer, hash: string): boolean {
  if (!hash.startsWith('$6$')) return false;
  let computed: string;
  try {
    computed = sha512Crypt(password, hash);
  } catch {
    return false;
  }
  const x = Buffer.from(computed);
  const y = Buffer.from(hash);
  return x.length === y.length && timingSafeEqual(x, y);
}
