// Switch address parsing (host, host:port, [v6]:port) and SNMP failure sorting: fuzzed, never throws.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import snmp from 'net-snmp';
import { parseSwitchAddress } from '../../src/core/switch-ports.js';
import { classify } from '../../src/switch/snmp-session.js';

describe('parseSwitchAddress', () => {
  it('reads the usual spellings', () => {
    expect(parseSwitchAddress('10.0.0.2')).toEqual({ host: '10.0.0.2', port: 161 });
    expect(parseSwitchAddress('10.0.0.2:1161')).toEqual({ host: '10.0.0.2', port: 1161 });
    expect(parseSwitchAddress('sw1.dc.example')).toEqual({ host: 'sw1.dc.example', port: 161 });
    expect(parseSwitchAddress('[2001:db8::2]:162')).toEqual({ host: '2001:db8::2', port: 162 });
    expect(parseSwitchAddress('2001:db8::2')).toEqual({ host: '2001:db8::2', port: 161 });
    for (const bad of ['', 'a b', 'h:0', 'h:65536', 'h:', '[::1', 'h;rm', 'h\n:161']) expect(parseSwitchAddress(bad), bad).toBeUndefined();
  });

  it('never throws, and whatever it accepts has a sane host and port', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom(...'0123456789abcdef:.[]-') })), (s) => {
        const a = parseSwitchAddress(s);
        if (a) {
          expect(a.port).toBeGreaterThanOrEqual(1);
          expect(a.port).toBeLessThanOrEqual(65535);
          expect(a.host).toMatch(/^[0-9A-Za-z.:-]+$/);
        }
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('classify', () => {
  it('sorts net-snmp failures into kinds', () => {
    expect(classify(new snmp.RequestTimedOutError('Request timed out')).kind).toBe('timeout');
    const failed = (status: string) => Object.assign(new snmp.RequestFailedError(status), { status: snmp.ErrorStatus[status] as number });
    expect(classify(failed('NoCreation')).kind).toBe('no_such_port');
    expect(classify(failed('NoAccess')).kind).toBe('no_access');
    expect(classify(failed('GeneralError')).kind).toBe('agent_error');
    expect(classify(new Error('EHOSTUNREACH')).kind).toBe('socket');
  });
});
