// SHA-512 crypt against the specification's vectors and against independent implementations on this machine.

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sha512Crypt, verifySha512Crypt } from '../../../src/boot/templates/sha512-crypt.js';
import { sha512CryptHashSchema } from '../../../src/boot/templates/value-schemas.js';

// The SHA-512 test vectors published in Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512".
const SPEC_VECTORS: Array<[setting: string, password: string, expected: string]> = [
  ['$6$saltstring', 'Hello world!',
    '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'],
  ['$6$rounds=10000$saltstringsaltstring', 'Hello world!',
    '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.'],
  ['$6$rounds=5000$toolongsaltstring', 'This is just a test',
    '$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0'],
  ['$6$rounds=1400$anotherlongsaltstring',
    'a very much longer text to encrypt.  This one even stretches over morethan one line.',
    '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1'],
  ['$6$rounds=77777$short', 'we have a short salt string but not a short password',
    '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0'],
  ['$6$rounds=123456$asaltof16chars..', 'a short string',
    '$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1'],
  ['$6$rounds=10$roundstoolow', 'the minimum number is still observed',
    '$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.'],
];

/**
 * `openssl passwd -6`: the password goes through stdin (never argv); the salt is not secret. openssl reads
 * one line per password and prints "<NULL>" for an empty one, so empty passwords are left to the python check.
 */
function opensslCrypt(password: string, salt: string): string | undefined {
  const r = spawnSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: `${password}\n`, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** glibc's crypt(3) through python3's crypt module (present up to 3.12), password on stdin. */
const PY = `import sys, warnings
warnings.simplefilter("ignore")
import crypt
data = sys.stdin.buffer.read().split(b"\\0")
print(crypt.crypt(data[0].decode(), data[1].decode()))`;
function pythonCrypt(password: string, setting: string): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', PY], { input: Buffer.from(`${password}\0${setting}`), encoding: 'utf8' });
    if (r.status === 0) return r.stdout.trim();
  }
  return undefined;
}

const haveOpenssl = opensslCrypt('x', 'abc') !== undefined;
const havePython = pythonCrypt('x', '$6$abc') !== undefined;

describe('sha512Crypt', () => {
  it.each(SPEC_VECTORS)('matches the specification vector %s', (setting, password, expected) => {
    expect(sha512Crypt(password, setting)).toBe(expected);
    expect(verifySha512Crypt(password, expected)).toBe(true);
    expect(verifySha512Crypt(`${password}x`, expected)).toBe(false);
  });

  it('accepts an empty salt as crypt(3) does', () => {
    expect(sha512Crypt('foo', '$6$$bar$')).toBe(
      '$6$$QMXjqd7rHQZPQ1yHsXkQqC1FBzDiVfTHXL.LaeDAeVV.IzMaV9VU4MQ8kPuZa2SOP1A0RPm772EaFYjpEJtdu.',
    );
  });

  it('generates a fresh 16-character salt and a hash the schema accepts', () => {
    const a = sha512Crypt('Secret-1');
    const b = sha512Crypt('Secret-1');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
    expect(sha512CryptHashSchema.safeParse(a).success).toBe(true);
    expect(verifySha512Crypt('Secret-1', a)).toBe(true);
  });

  it('writes explicit rounds and clamps them', () => {
    expect(sha512Crypt('x', { salt: 'abc', rounds: 5000 })).toMatch(/^\$6\$rounds=5000\$abc\$/);
    expect(sha512Crypt('x', { salt: 'abc', rounds: 1 })).toMatch(/^\$6\$rounds=1000\$abc\$/);
    expect(sha512Crypt('x', { salt: 'abc' })).toMatch(/^\$6\$abc\$/);
  });

  it('rejects salts that would break the hash format', () => {
    expect(() => sha512Crypt('x', { salt: 'a$b' })).toThrow(/salt/);
    expect(() => sha512Crypt('x', { salt: 'a\nb' })).toThrow(/salt/);
    expect(() => sha512Crypt('x', '$5$abc')).toThrow(/\$6\$/);
  });

  it('agrees with openssl passwd -6 (password via stdin)', () => {
    const cases: Array<[string, string]> = [
      ['Hello world!', 'saltstring'],
      ['pässwörd ünïcode ✓', 'u8'],
      ['x'.repeat(64), 'sixtyfour'],
      ['y'.repeat(200), 'longpassword1234'],
      ['with "quotes" and \'single\' and $(cmd) `tick`', 'Shell.Chars/'],
    ];
    for (const [pw, salt] of cases) expect(sha512Crypt(pw, { salt })).toBe(opensslCrypt(pw, salt));
  });

  it('agrees with openssl on random passwords and salts', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'abcXYZ019 !#%&*+,-./:;<=>?@[]^_{|}~'.split('')), minLength: 1, maxLength: 80 }),
        fc.string({ unit: fc.constantFrom(...'./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'.split('')), minLength: 1, maxLength: 16 }),
        (pw, salt) => sha512Crypt(pw, { salt }) === opensslCrypt(pw, salt),
      ),
      { numRuns: 40 },
    );
  });

  it('agrees with glibc crypt(3) via python, including rounds', () => {
    for (const setting of ['$6$rounds=1000$r1', '$6$rounds=20000$abcdefgh', '$6$plain.salt/xy']) {
      for (const pw of ['Passw0rd!', '', 'z'.repeat(129)]) {
        expect(sha512Crypt(pw, setting)).toBe(pythonCrypt(pw, setting));
      }
    }
  });

  it('has at least one independent implementation available here', () => {
    expect(haveOpenssl || havePython).toBe(true);
  });
});
