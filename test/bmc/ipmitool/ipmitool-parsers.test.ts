// Unit and property tests for the ipmitool output parsers and the raw IPMI request encoders.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as raw from '../../../src/bmc/ipmitool/ipmi-raw.js';
import { classifyFailure, parseRawBytes, parseSensorTable } from '../../../src/bmc/ipmitool/ipmitool-output.js';
import { RackhandError } from '../../../src/errors.js';

const CODES = ['BMC_UNREACHABLE', 'BMC_AUTH_FAILED', 'BMC_TIMEOUT', 'BMC_BUSY', 'BMC_UNSUPPORTED', 'BMC_ERROR'];

describe('raw request encoders', () => {
  it('encodes boot flags with valid, persistent and EFI bits and the device selector', () => {
    expect(raw.setBootFlags({ device: 'pxe', mode: 'uefi', persistent: true })).toEqual([0x00, 0x08, 0x05, 0xe0, 0x04, 0, 0, 0]);
    expect(raw.setBootFlags({ device: 'disk', mode: 'legacy', persistent: false })).toEqual([0x00, 0x08, 0x05, 0x80, 0x08, 0, 0, 0]);
    expect(raw.setBootFlags({ device: 'cdrom', mode: 'auto', persistent: true })).toEqual([0x00, 0x08, 0x05, 0xc0, 0x14, 0, 0, 0]);
    expect(raw.setBootFlags({ device: 'bios', mode: 'auto', persistent: false })[4]).toBe(0x18);
    expect(raw.DISABLE_BOOT_FLAG_TIMEOUT).toEqual([0x00, 0x08, 0x03, 0x08]);
  });

  it('round-trips boot settings through the get-response decoder', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('none', 'pxe', 'disk', 'cdrom', 'bios' as const),
        fc.constantFrom('uefi', 'legacy' as const),
        fc.boolean(),
        (device, mode, persistent) => {
          const set = raw.setBootFlags({ device, mode, persistent });
          const got = raw.decodeBootFlags([0x01, 0x05, ...set.slice(3)]);
          expect(got).toEqual({ device, mode, persistent });
        },
      ),
    );
  });

  it('uses the 20-byte password form above 16 bytes and rejects over 20', () => {
    expect(raw.setUserPassword(3, 'abc')).toEqual([0x06, 0x47, 0x03, 0x02, 0x61, 0x62, 0x63, ...new Array(13).fill(0)]);
    const long = raw.setUserPassword(3, 'a'.repeat(17));
    expect(long[2]).toBe(0x83);
    expect(long.length).toBe(4 + 20);
    expect(() => raw.setUserPassword(3, 'a'.repeat(21))).toThrow(RackhandError);
    expect(() => raw.setUserPassword(3, '')).toThrow(RackhandError);
  });

  it('decodes Get Device ID and Get User Access', () => {
    expect(raw.decodeDeviceId([0x00, 0x03, 0x09, 0x08, 0x02, 0x9f, 0x91, 0x12, 0x00, 0x02, 0x0f, 0, 0, 0, 0])).toEqual({
      deviceId: 0,
      firmware: '9.08',
      ipmiVersion: '2.0',
      manufacturerId: 4753,
      productId: 3842,
    });
    expect(raw.decodeUserAccess([0x3f, 0x42, 0x01, 0x14])).toEqual({ maxUsers: 63, enabled: true, messaging: true, privilege: 4 });
    expect(raw.decodeUserAccess([0x3f, 0x02, 0x01, 0x0f])).toEqual({ maxUsers: 63, enabled: undefined, messaging: false, privilege: 15 });
  });

  it('decoders throw RackhandError (never anything else) on any byte string', () => {
    const decoders = [raw.decodeBootFlags, raw.decodeDeviceId, raw.decodeUserAccess, raw.decodePowerOn, raw.decodeUserName];
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 }), (bytes) => {
        for (const d of decoders) {
          try {
            d(bytes);
          } catch (e) {
            expect(e).toBeInstanceOf(RackhandError);
          }
        }
      }),
      { numRuns: 5000 },
    );
  });
});

describe('ipmitool output parsers', () => {
  it('parses raw bytes across lines and ignores other text', () => {
    expect(parseRawBytes(' 01 05 00 04 00 00 00\n')).toEqual([1, 5, 0, 4, 0, 0, 0]);
    expect(parseRawBytes(' 62 6f\n 00\nnoise 12\n')).toEqual([0x62, 0x6f, 0]);
  });

  it('parses the sensor table', () => {
    const out = [
      'CPU1 Temp        | 45.000     | degrees C  | ok    | na        | na        | na        | 80.000    | 90.000    | 100.000   ',
      'FAN1             | na         | RPM        | na    | 250.000   | 500.000   | 1000.000  | na        | na        | na        ',
      'Volt X           | 13.5       | Volts      | cr    | na        | na        | na        | 12.6      | 13.2      | na        ',
      'PS1 Status       | 0x1        | discrete   | 0x0100| na        | na        | na        | na        | na        | na        ',
      'garbage line',
    ].join('\n');
    const s = parseSensorTable(out);
    expect(s).toHaveLength(4);
    expect(s[0]).toEqual({
      name: 'CPU1 Temp',
      type: 'temperature',
      value: 45,
      unit: 'degrees C',
      status: 'ok',
      thresholds: { upperNonCritical: 80, upperCritical: 90, upperNonRecoverable: 100 },
    });
    expect(s[1]).toMatchObject({ value: null, status: 'unavailable' });
    expect(s[2]).toMatchObject({ type: 'voltage', status: 'critical' });
    expect(s[3]).toMatchObject({ type: 'discrete', unit: '', value: null, status: 'ok' });
  });

  it('classifies the failures ipmitool prints', () => {
    expect(classifyFailure('> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session').code).toBe('BMC_AUTH_FAILED');
    expect(classifyFailure('RAKP 2 message indicates an error : unauthorized name').code).toBe('BMC_AUTH_FAILED');
    expect(classifyFailure('Error in open session response message : insufficient resources for session').code).toBe('BMC_BUSY');
    expect(classifyFailure('Get Auth Capabilities error\nError issuing Get Channel Authentication Capabilities request').code).toBe('BMC_UNREACHABLE');
    expect(classifyFailure('Unable to send RAW command (channel=0x0 netfn=0x0 lun=0x0 cmd=0x1)\nClose Session command failed').code).toBe('BMC_TIMEOUT');
    expect(classifyFailure('Unable to send RAW command (channel=0x0 netfn=0x6 lun=0x0 cmd=0x2 rsp=0xc1): Invalid command')).toMatchObject({
      code: 'BMC_UNSUPPORTED',
      completionCode: 0xc1,
    });
    expect(classifyFailure('Unable to send RAW command (channel=0x0 netfn=0x0 lun=0x0 cmd=0x8 rsp=0xcc): Invalid data field')).toMatchObject({
      code: 'BMC_ERROR',
      completionCode: 0xcc,
    });
    expect(classifyFailure('Error in open session response message : invalid authentication algorithm').code).toBe('BMC_UNSUPPORTED');
  });

  it('never throws and always yields a stable code on random and truncated text', () => {
    const sample = 'Unable to send RAW command (channel=0x0 netfn=0x0 lun=0x0 cmd=0x8 rsp=0xff): Unspecified error\nCPU1 | 45 | degrees C | ok | na | na\n';
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 400 }), fc.nat({ max: sample.length }).map((n) => sample.slice(0, n))), (text) => {
        const f = classifyFailure(text);
        expect(CODES).toContain(f.code);
        expect(f.message.length).toBeLessThanOrEqual(200);
        parseRawBytes(text).forEach((b) => expect(b).toBeLessThanOrEqual(255));
        for (const r of parseSensorTable(text)) expect(['ok', 'warning', 'critical', 'unavailable']).toContain(r.status);
      }),
      { numRuns: 10000 },
    );
  });

  it('never quotes hex data lines (possible request bytes) as the error message', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 20 }), (bytes) => {
        const hexLine = bytes.map((b) => ` ${b.toString(16).padStart(2, '0')}`).join('');
        expect(classifyFailure(`RAW REQUEST (${bytes.length} bytes)\n${hexLine}\n`).message).not.toMatch(/^(\s*[0-9a-f]{2})+\s*$/);
      }),
      { numRuns: 2000 },
    );
  });
});
