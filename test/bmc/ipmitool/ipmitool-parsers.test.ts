// Unit and property tests for the ipmitool output parsers (raw bytes, failure text).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyFailure, parseRawBytes } from '../../../src/bmc/ipmitool/ipmitool-output.js';

const CODES = ['BMC_UNREACHABLE', 'BMC_AUTH_FAILED', 'BMC_TIMEOUT', 'BMC_BUSY', 'BMC_UNSUPPORTED', 'BMC_ERROR'];

describe('ipmitool output parsers', () => {
  it('parses raw bytes across lines and ignores other text', () => {
    expect(parseRawBytes(' 01 05 00 04 00 00 00\n')).toEqual([1, 5, 0, 4, 0, 0, 0]);
    expect(parseRawBytes(' 62 6f\n 00\nnoise 12\n')).toEqual([0x62, 0x6f, 0]);
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
