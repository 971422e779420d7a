// Property tests for the address parser: round trips, agreement with Node and the URL parser, and garbage in.
import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalIp,
  formatCidr,
  formatIp,
  hostMask,
  netmaskOf,
  parseCidr,
  parseIp,
  usableBounds,
  type IpFamily,
} from '../../src/domain/ip-address.js';
import { parseRange } from '../../src/core/ipam.js';

const RUNS = 5_000;
const value = (family: IpFamily) => fc.bigInt({ min: 0n, max: (1n << (family === 4 ? 32n : 128n)) - 1n });

describe('parseIp / formatIp', () => {
  it('round-trips every IPv4 address', () => {
    fc.assert(
      fc.property(fc.ipV4(), (s) => {
        const p = parseIp(s);
        expect(p?.family).toBe(4);
        expect(formatIp(4, p!.value)).toBe(s);
      }),
      { numRuns: RUNS },
    );
  });

  it('parses every IPv6 spelling and canonicalises like the WHATWG URL parser (RFC 5952)', () => {
    fc.assert(
      fc.property(fc.ipV6(), (s) => {
        const p = parseIp(s);
        expect(p?.family, s).toBe(6);
        const canon = formatIp(6, p!.value);
        expect(canon).toBe(new URL(`http://[${s}]/`).hostname.slice(1, -1));
        expect(parseIp(canon)!.value).toBe(p!.value);
      }),
      { numRuns: RUNS },
    );
  });

  it('formats and re-parses any value of either family', () => {
    fc.assert(
      fc.property(fc.constantFrom<IpFamily>(4, 6).chain((f) => fc.tuple(fc.constant(f), value(f))), ([f, v]) => {
        expect(parseIp(formatIp(f, v))).toEqual({ family: f, value: v });
      }),
      { numRuns: RUNS },
    );
  });

  it('never throws on random or truncated input, and accepts only what Node calls an IP', () => {
    const truncated = fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6()), fc.nat(), fc.nat()).map(([s, a, b]) => s.slice(a % (s.length + 1), b % (s.length + 1) + 1));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF:.%/ -') }), truncated), (s) => {
        const p = parseIp(s);
        if (p) expect(isIP(s), s).toBe(p.family);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('refuses ambiguous or malformed spellings', () => {
    for (const bad of ['010.0.0.1', '1.2.3', '1.2.3.4.5', '256.0.0.1', ' 1.2.3.4', '1::2::3', ':::', '1:2:3:4:5:6:7:8:9', 'fe80::1%eth0', '[::1]', '::ffff:1.2.3.256', '12345::', '']) {
      expect(parseIp(bad), bad).toBeUndefined();
    }
    expect(canonicalIp('2001:DB8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIp('::ffff:10.0.0.1')).toBe('::ffff:a00:1');
    expect(canonicalIp('::')).toBe('::');
  });
});

describe('CIDR', () => {
  it('round-trips networks and rejects host bits', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<IpFamily>(4, 6).chain((f) => fc.tuple(fc.constant(f), value(f), fc.integer({ min: 0, max: f === 4 ? 32 : 128 }))),
        ([f, v, prefix]) => {
          const network = v & ~hostMask(f, prefix);
          const c = { family: f, network, prefix };
          expect(parseCidr(formatCidr(c))).toEqual(c);
          if (network !== v) expect(parseCidr(`${formatIp(f, v)}/${prefix}`)).toBeUndefined();
          const u = usableBounds(c);
          expect(u.first <= u.last || prefix === (f === 4 ? 32 : 128)).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('gives dotted masks and usable bounds', () => {
    expect(netmaskOf(24)).toBe('255.255.255.0');
    expect(netmaskOf(0)).toBe('0.0.0.0');
    expect(netmaskOf(32)).toBe('255.255.255.255');
    const c = parseCidr('10.0.0.0/29')!;
    expect(usableBounds(c)).toEqual({ first: parseIp('10.0.0.1')!.value, last: parseIp('10.0.0.6')!.value });
    expect(parseCidr('10.0.0.0', 8)).toEqual({ family: 4, network: 10n << 24n, prefix: 8 });
    for (const bad of ['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/024', '::/129', 'x/8', '10.0.0.1/24']) expect(parseCidr(bad), bad).toBeUndefined();
  });

  it('parses pool ranges without throwing', () => {
    expect(parseRange('10.0.0.10-10.0.0.20')).toEqual({ family: 4, first: parseIp('10.0.0.10')!.value, last: parseIp('10.0.0.20')!.value });
    expect(parseRange('10.0.0.20-10.0.0.10')).toBeUndefined();
    expect(parseRange('10.0.0.1-::1')).toBeUndefined();
    fc.assert(fc.property(fc.string(), (s) => void parseRange(s)), { numRuns: RUNS });
  });
});
