// SDR parsing and reading conversion: y = L[(M·x + B·10^K1)·10^K2] with signed formats, status bits, ID strings.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RackhandError } from '../../../src/errors.js';
import {
  convertReading, decodeSdrHeader, decodeSensorRecord, decodeThresholds, sensorStatus, sensorTypeName, splitSdrRecords, unitName, type SensorConversion,
} from '../../../src/bmc/ipmi-commands/sdr-records.js';

/** A full sensor record (type 0x01) with the fields the tests vary. */
function fullRecord(o: { m: number; b: number; k1: number; k2: number; format: number; unit: number; type: number; name: string; erType?: number }): Buffer {
  const r = Buffer.alloc(48 + o.name.length);
  r.writeUInt16LE(7, 0);
  r[2] = 0x51;
  r[3] = 0x01;
  r[4] = r.length - 5;
  r[5] = 0x20;
  r[7] = 9; // sensor number
  r[12] = o.type;
  r[13] = o.erType ?? 0x01;
  r[18] = 0x3f;
  r[20] = o.format << 6;
  r[21] = o.unit;
  const m = o.m & 0x3ff;
  const b = o.b & 0x3ff;
  r[24] = m & 0xff;
  r[25] = (m >> 8) << 6;
  r[26] = b & 0xff;
  r[27] = (b >> 8) << 6;
  r[29] = ((o.k2 & 0x0f) << 4) | (o.k1 & 0x0f);
  r[47] = 0xc0 | o.name.length;
  r.write(o.name, 48, 'latin1');
  return r;
}

describe('SDR full sensor records', () => {
  it('decodes the fields and converts like the simulator sensors (45 C, 4800 RPM, 12.00 V)', () => {
    const temp = decodeSensorRecord(fullRecord({ m: 1, b: 0, k1: 0, k2: 0, format: 0, unit: 1, type: 1, name: 'CPU1 Temp' }))!;
    expect(temp).toMatchObject({ name: 'CPU1 Temp', number: 9, ownerId: 0x20 });
    expect(convertReading(temp.conversion!, 45)).toBe(45);
    expect(unitName(temp)).toBe('degrees C');
    expect(sensorTypeName(temp)).toBe('temperature');
    const fan = decodeSensorRecord(fullRecord({ m: 50, b: 0, k1: 0, k2: 0, format: 0, unit: 18, type: 4, name: 'FAN1' }))!;
    expect(convertReading(fan.conversion!, 96)).toBe(4800);
    const v = decodeSensorRecord(fullRecord({ m: 6, b: 0, k1: 0, k2: -2, format: 0, unit: 4, type: 2, name: '12V' }))!;
    expect(convertReading(v.conversion!, 200)).toBe(12);
  });

  it('handles negative M and B, both exponents and signed readings', () => {
    const c = (o: Partial<SensorConversion>): SensorConversion => ({ format: 'unsigned', m: 1, b: 0, k1: 0, k2: 0, linearization: 0, ...o });
    expect(convertReading(c({ m: -3 }), 10)).toBe(-30);
    expect(convertReading(c({ m: 2, b: -5, k1: 1 }), 10)).toBe(2 * 10 - 50);
    expect(convertReading(c({ m: 5, b: 3, k1: -1, k2: -1 }), 4)).toBeCloseTo((20 + 0.3) * 0.1, 9);
    expect(convertReading(c({ format: 'twos-complement' }), 0xfe)).toBe(-2);
    expect(convertReading(c({ format: 'ones-complement' }), 0xfe)).toBe(-1);
    expect(convertReading(c({ format: 'none' }), 10)).toBeNull();
    // Round trip through the record's 10-bit / 4-bit two's complement fields.
    const rec = decodeSensorRecord(fullRecord({ m: -200, b: -300, k1: -3, k2: 7, format: 2, unit: 6, type: 0x0b, name: 'P' }))!;
    expect(rec.conversion).toMatchObject({ m: -200, b: -300, k1: -3, k2: 7, format: 'twos-complement' });
    expect(sensorTypeName(rec)).toBe('power');
  });

  it('reads status from the threshold comparison bits and availability flags', () => {
    expect(sensorStatus(1, Buffer.from([45, 0xc0, 0x00]))).toBe('ok');
    expect(sensorStatus(1, Buffer.from([45, 0xc0, 0x08]))).toBe('warning'); // at or above UNC
    expect(sensorStatus(1, Buffer.from([45, 0xc0, 0x10]))).toBe('critical'); // UC
    expect(sensorStatus(1, Buffer.from([45, 0xc0, 0x04]))).toBe('critical'); // LNR
    expect(sensorStatus(1, Buffer.from([45, 0xe0, 0x00]))).toBe('unavailable'); // reading unavailable
    expect(sensorStatus(1, Buffer.from([45, 0x80, 0x00]))).toBe('unavailable'); // scanning disabled
    expect(sensorStatus(0x6f, Buffer.from([0, 0xc0, 0x01]))).toBe('ok');
  });

  it('converts only the readable thresholds', () => {
    const c: SensorConversion = { format: 'unsigned', m: 6, b: 0, k1: 0, k2: -2, linearization: 0 };
    expect(decodeThresholds(c, Buffer.from([0x1b, 190, 180, 0, 210, 220, 0]))).toEqual({ lowerNonCritical: 11.4, lowerCritical: 10.8, upperNonCritical: 12.6, upperCritical: 13.2 });
  });

  it('ignores non-sensor records and decodes 6-bit packed names', () => {
    const r = Buffer.alloc(20);
    r[3] = 0x12;
    expect(decodeSensorRecord(r)).toBeUndefined();
    const packed = fullRecord({ m: 1, b: 0, k1: 0, k2: 0, format: 0, unit: 1, type: 1, name: '' });
    // "ABCD" in 6-bit ASCII: A=0x21, B=0x22, C=0x23, D=0x24 packed LS-first into 3 bytes.
    const v = 0x21 | (0x22 << 6) | (0x23 << 12) | (0x24 << 18);
    const withName = Buffer.concat([packed, Buffer.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff])]);
    withName[47] = 0x80 | 3;
    expect(decodeSensorRecord(withName)!.name).toBe('ABCD');
  });
});

describe('SDR decoders on any bytes: a value or RackhandError, never anything else', () => {
  const survives = (fn: () => unknown): boolean => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(RackhandError);
    }
    return true;
  };

  it('headers, records and dumps of random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a)), (b) => {
        survives(() => decodeSdrHeader(b));
        survives(() => decodeSensorRecord(b));
        for (const r of splitSdrRecords(b)) survives(() => decodeSensorRecord(r));
        return true;
      }),
      { numRuns: 10_000 },
    );
  });

  it('full-record-shaped input, then conversion, thresholds and status', () => {
    const rec = fc.tuple(fc.uint8Array({ minLength: 48, maxLength: 70 }), fc.constantFrom(1, 2)).map(([a, t]) => {
      const b = Buffer.from(a);
      b[3] = t;
      return b;
    });
    fc.assert(fc.property(rec, fc.uint8Array({ maxLength: 8 }), (b, reading) => {
      survives(() => {
        const r = decodeSensorRecord(b);
        if (!r) return;
        if (r.conversion) {
          const v = convertReading(r.conversion, reading[0] ?? 0);
          expect(v === null || Number.isFinite(v)).toBe(true);
          decodeThresholds(r.conversion, Buffer.from(reading));
        }
        sensorStatus(r.eventReadingType, Buffer.from(reading));
      });
      return true;
    }), { numRuns: 10_000 });
  });
});
