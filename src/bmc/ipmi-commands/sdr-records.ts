// Sensor Data Records: parsing full (0x01) and compact (0x02) sensor records, reading conversion, and status.
import { RackhandError } from '../../errors.js';
import type { SensorStatus, SensorThresholds } from '../bmc-driver.js';

/** A malformed record: the BMC's fault; a sensor walk skips it rather than hide the others. */
function malformed(what: string): RackhandError {
  return new RackhandError('BMC_ERROR', `SDR: ${what}`);
}

export const SDR_FULL_SENSOR = 0x01;
export const SDR_COMPACT_SENSOR = 0x02;

export interface SdrHeader {
  recordId: number; // LE u16
  version: number; // 0x51 for IPMI 1.5/2.0
  recordType: number;
  length: number; // bytes after the 5-byte header
}

export function decodeSdrHeader(b: Buffer): SdrHeader {
  if (b.length < 5) throw malformed('header truncated');
  return { recordId: b.readUInt16LE(0), version: b[2], recordType: b[3], length: b[4] };
}

/** Linear-conversion factors of a full sensor record: y = L[(M·x + B·10^K1) · 10^K2]. */
export interface SensorConversion {
  format: 'unsigned' | 'ones-complement' | 'twos-complement' | 'none'; // units 1 bits 7:6
  m: number; // 10-bit signed
  b: number; // 10-bit signed
  k1: number; // B exponent, 4-bit signed
  k2: number; // result exponent, 4-bit signed
  linearization: number; // 0 linear, 1 ln, 2 log10, 3 log2, 4 e, 5 exp10, 6 exp2, 7 1/x, 8 sqr, 9 cube, 10 sqrt, 11 cube root
}

export interface SensorRecord {
  recordId: number;
  recordType: number; // 0x01 full, 0x02 compact
  ownerId: number;
  ownerLun: number;
  number: number; // sensor number for Get Sensor Reading
  entityId: number;
  entityInstance: number;
  sensorType: number; // e.g. 0x01 temperature, 0x02 voltage, 0x04 fan
  eventReadingType: number; // 0x01 = threshold, else discrete
  baseUnit: number;
  percentage: boolean;
  name: string;
  /** Only full records with an analog reading carry one. */
  conversion?: SensorConversion;
  /** Raw thresholds from the record (full records), used when Get Sensor Thresholds is not available. */
  readableThresholds: number; // bit mask: 0 lnc, 1 lc, 2 lnr, 3 unc, 4 uc, 5 unr
}

function signed(v: number, bits: number): number {
  return v & (1 << (bits - 1)) ? v - (1 << bits) : v;
}

/** ID string: only 8-bit ASCII/Latin-1 is common; 6-bit packed and BCD plus are decoded too. */
function decodeIdString(code: number, bytes: Buffer): string {
  const type = code >> 6;
  if (type === 3 || type === 0) return bytes.toString('latin1').replace(/\0.*$/s, '').trim();
  if (type === 1) {
    const bcd = '0123456789 -.:,_';
    let s = '';
    for (const x of bytes) s += bcd[x >> 4] + bcd[x & 0x0f];
    return s.trim();
  }
  // 6-bit packed ASCII: 4 characters per 3 bytes, LS bits first.
  let s = '';
  let acc = 0;
  let nbits = 0;
  for (const x of bytes) {
    acc |= x << nbits;
    nbits += 8;
    while (nbits >= 6) {
      s += String.fromCharCode((acc & 0x3f) + 0x20);
      acc >>= 6;
      nbits -= 6;
    }
  }
  return s.trim();
}

/** Whole records (header included) from a concatenation such as `ipmitool sdr dump` writes; a torn tail is dropped. */
export function splitSdrRecords(dump: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o + 5 <= dump.length && out.length < 4096; ) {
    const end = o + 5 + dump[o + 4];
    if (end > dump.length) break;
    out.push(dump.subarray(o, end));
    o = end;
  }
  return out;
}

/** Parses a whole record (header included); undefined for record types that are not sensors. */
export function decodeSensorRecord(rec: Buffer): SensorRecord | undefined {
  const h = decodeSdrHeader(rec);
  if (h.recordType !== SDR_FULL_SENSOR && h.recordType !== SDR_COMPACT_SENSOR) return undefined;
  const full = h.recordType === SDR_FULL_SENSOR;
  const idAt = full ? 47 : 31;
  if (rec.length < idAt + 1) throw malformed('sensor record truncated');
  const idCode = rec[idAt];
  const idLen = idCode & 0x1f;
  const idBytes = rec.subarray(idAt + 1, Math.min(rec.length, idAt + 1 + idLen));
  const units1 = rec[20];
  const r: SensorRecord = {
    recordId: h.recordId,
    recordType: h.recordType,
    ownerId: rec[5],
    ownerLun: rec[6] & 0x03,
    number: rec[7],
    entityId: rec[8],
    entityInstance: rec[9] & 0x7f,
    sensorType: rec[12],
    eventReadingType: rec[13],
    baseUnit: rec[21],
    percentage: (units1 & 0x01) !== 0,
    name: decodeIdString(idCode, idBytes),
    readableThresholds: rec[13] === 0x01 ? rec[18] & 0x3f : 0,
  };
  if (full) {
    const fmt = (['unsigned', 'ones-complement', 'twos-complement', 'none'] as const)[units1 >> 6];
    r.conversion = {
      format: fmt,
      m: signed(rec[24] | ((rec[25] & 0xc0) << 2), 10),
      b: signed(rec[26] | ((rec[27] & 0xc0) << 2), 10),
      k1: signed(rec[29] & 0x0f, 4),
      k2: signed(rec[29] >> 4, 4),
      linearization: rec[23] & 0x7f,
    };
  }
  return r;
}

const LINEARIZE: Record<number, (x: number) => number> = {
  0: (x) => x,
  1: Math.log,
  2: Math.log10,
  3: Math.log2,
  4: Math.exp,
  5: (x) => 10 ** x,
  6: (x) => 2 ** x,
  7: (x) => 1 / x,
  8: (x) => x * x,
  9: (x) => x * x * x,
  10: Math.sqrt,
  11: Math.cbrt,
};

/** Converts a raw 8-bit reading; null when the record has no analog reading or a non-linear (0x70+) formula. */
export function convertReading(c: SensorConversion, raw: number): number | null {
  if (c.format === 'none') return null;
  const f = LINEARIZE[c.linearization];
  if (!f) return null;
  let x = raw & 0xff;
  if (c.format === 'twos-complement') x = signed(x, 8);
  else if (c.format === 'ones-complement') x = x & 0x80 ? -(~x & 0x7f) : x;
  const y = f((c.m * x + c.b * 10 ** c.k1) * 10 ** c.k2);
  if (!Number.isFinite(y)) return null;
  // Trim float noise (200 · 6 · 10^-2 is 12.000000000000002).
  return Number(y.toPrecision(10));
}

/** Get Sensor Reading response byte 2/3 → status; threshold bits apply only to threshold sensors. */
export function sensorStatus(eventReadingType: number, data: Buffer): SensorStatus {
  if (data.length < 2) return 'unavailable';
  if (data[1] & 0x20 || !(data[1] & 0x40)) return 'unavailable'; // reading unavailable / scanning disabled
  if (eventReadingType !== 0x01 || data.length < 3) return 'ok';
  const t = data[2];
  if (t & 0x36) return 'critical'; // lc, lnr, uc, unr
  if (t & 0x09) return 'warning'; // lnc, unc
  return 'ok';
}

/** Get Sensor Thresholds response data → converted thresholds (only those marked readable). */
export function decodeThresholds(c: SensorConversion | undefined, data: Buffer): SensorThresholds {
  const out: SensorThresholds = {};
  if (!c || data.length < 7) return out;
  const mask = data[0];
  const names: (keyof SensorThresholds)[] = ['lowerNonCritical', 'lowerCritical', 'lowerNonRecoverable', 'upperNonCritical', 'upperCritical', 'upperNonRecoverable'];
  names.forEach((n, i) => {
    if (!(mask & (1 << i))) return;
    const v = convertReading(c, data[1 + i]);
    if (v !== null) out[n] = v;
  });
  return out;
}

const BASE_UNITS: Record<number, string> = {
  0: '', 1: 'degrees C', 2: 'degrees F', 3: 'degrees K', 4: 'Volts', 5: 'Amps', 6: 'Watts', 7: 'Joules', 8: 'Coulombs',
  9: 'VA', 10: 'Nits', 11: 'lumen', 12: 'lux', 13: 'Candela', 14: 'kPa', 15: 'PSI', 16: 'Newton', 17: 'CFM', 18: 'RPM',
  19: 'Hz', 20: 'microsecond', 21: 'millisecond', 22: 'second', 23: 'minute', 24: 'hour', 25: 'day', 26: 'week',
  27: 'mil', 28: 'inches', 29: 'feet', 30: 'cu in', 31: 'cu feet', 32: 'mm', 33: 'cm', 34: 'm', 35: 'cu cm', 36: 'cu m',
  37: 'liters', 38: 'fluid ounce', 39: 'radians', 40: 'steradians', 41: 'revolutions', 42: 'cycles', 43: 'gravities',
  44: 'ounce', 45: 'pound', 46: 'ft-lb', 47: 'oz-in', 48: 'gauss', 49: 'gilberts', 50: 'henry', 51: 'millihenry',
  52: 'farad', 53: 'microfarad', 54: 'ohms', 55: 'siemens', 56: 'mole', 57: 'becquerel', 58: 'PPM', 60: 'Decibels',
  61: 'DbA', 62: 'DbC', 63: 'gray', 64: 'sievert', 65: 'color temp deg K', 66: 'bit', 67: 'kilobit', 68: 'megabit',
  69: 'gigabit', 70: 'byte', 71: 'kilobyte', 72: 'megabyte', 73: 'gigabyte', 74: 'word', 75: 'dword', 76: 'qword',
  77: 'line', 78: 'hit', 79: 'miss', 80: 'retry', 81: 'reset', 82: 'overrun', 83: 'underrun', 84: 'collision',
  85: 'packets', 86: 'messages', 87: 'characters', 88: 'error', 89: 'correctable error', 90: 'uncorrectable error',
  91: 'fatal error', 92: 'grams',
};

export function unitName(r: SensorRecord): string {
  if (r.eventReadingType !== 0x01) return '';
  if (r.percentage) return '%';
  return BASE_UNITS[r.baseUnit] ?? `unit ${r.baseUnit}`;
}

const SENSOR_TYPES: Record<number, string> = {
  0x01: 'temperature', 0x02: 'voltage', 0x03: 'current', 0x04: 'fan', 0x05: 'physical security', 0x06: 'platform security',
  0x07: 'processor', 0x08: 'power supply', 0x09: 'power unit', 0x0a: 'cooling device', 0x0b: 'other units', 0x0c: 'memory',
  0x0d: 'drive slot', 0x0f: 'system firmware progress', 0x10: 'event logging', 0x11: 'watchdog', 0x12: 'system event',
  0x13: 'critical interrupt', 0x14: 'button', 0x15: 'module/board', 0x17: 'add-in card', 0x18: 'chassis', 0x19: 'chip set',
  0x1b: 'cable/interconnect', 0x1d: 'system boot initiated', 0x1e: 'boot error', 0x1f: 'os boot', 0x20: 'os critical stop',
  0x21: 'slot/connector', 0x22: 'system acpi power state', 0x23: 'watchdog', 0x24: 'platform alert', 0x25: 'entity presence',
  0x27: 'lan', 0x28: 'management subsystem health', 0x29: 'battery', 0x2a: 'session audit', 0x2b: 'version change',
  0x2c: 'fru state',
};

/** The name of an IPMI sensor type code (Get Sensor Reading, SEL records). */
export function sensorTypeLabel(code: number): string {
  return SENSOR_TYPES[code] ?? `sensor type 0x${code.toString(16).padStart(2, '0')}`;
}

/** Threshold sensors by their physical type (power when measured in Watts); every other sensor is "discrete". */
export function sensorTypeName(r: SensorRecord): string {
  if (r.eventReadingType !== 0x01) return 'discrete';
  if (r.baseUnit === 6) return 'power';
  return SENSOR_TYPES[r.sensorType] ?? 'other';
}
