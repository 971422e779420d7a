// System Event Log commands (Get SEL Info, Reserve SEL, Get SEL Entry, Clear SEL) and SEL record decoding.
import { RackhandError } from '../../errors.js';
import type { BmcEventLogEntry, EventSeverity } from '../bmc-driver.js';
import { need, type IpmiCommand } from './ipmi-command.js';
import { NETFN_STORAGE } from './sensor-commands.js';
import { sensorTypeLabel } from './sdr-records.js';

export const SEL_RECORD_BYTES = 16;

export interface SelInfo {
  entries: number;
  /** Reserve SEL is supported (operation support bit 1). */
  reserve: boolean;
}

export const getSelInfo: IpmiCommand<SelInfo> = {
  name: 'Get SEL Info',
  netFn: NETFN_STORAGE,
  cmd: 0x40,
  data: Buffer.alloc(0),
  decode: ({ data }) => {
    need('Get SEL Info', data, 14);
    return { entries: data.readUInt16LE(1), reserve: (data[13] & 0x02) !== 0 };
  },
};

export const reserveSel: IpmiCommand<number> = {
  name: 'Reserve SEL',
  netFn: NETFN_STORAGE,
  cmd: 0x42,
  data: Buffer.alloc(0),
  decode: ({ data }) => {
    need('Reserve SEL', data, 2);
    return data.readUInt16LE(0);
  },
};

/** Get SEL Entry: a whole record (reservation 0 is allowed for whole-record reads). 0x0000 is the first record. */
export function getSelEntry(id: number, reservation = 0): IpmiCommand<{ next: number; record: Buffer }> {
  const d = Buffer.alloc(6);
  d.writeUInt16LE(reservation & 0xffff, 0);
  d.writeUInt16LE(id & 0xffff, 2);
  d[4] = 0;
  d[5] = 0xff;
  return {
    name: 'Get SEL Entry',
    netFn: NETFN_STORAGE,
    cmd: 0x43,
    data: d,
    decode: ({ data }) => {
      need('Get SEL Entry', data, 2 + SEL_RECORD_BYTES);
      return { next: data.readUInt16LE(0), record: data.subarray(2, 2 + SEL_RECORD_BYTES) };
    },
  };
}

/** Clear SEL: 'initiate' starts the erase, 'status' asks whether it is done (resolves true when it is). */
export function clearSel(reservation: number, op: 'initiate' | 'status'): IpmiCommand<boolean> {
  return {
    name: 'Clear SEL',
    netFn: NETFN_STORAGE,
    cmd: 0x47,
    data: Buffer.from([reservation & 0xff, (reservation >> 8) & 0xff, 0x43, 0x4c, 0x52, op === 'initiate' ? 0xaa : 0x00]),
    decode: ({ data }) => {
      need('Clear SEL', data, 1);
      return (data[0] & 0x0f) === 0x01;
    },
  };
}

const THRESHOLD_EVENTS = [
  'lower non-critical going low', 'lower non-critical going high', 'lower critical going low', 'lower critical going high',
  'lower non-recoverable going low', 'lower non-recoverable going high', 'upper non-critical going low',
  'upper non-critical going high', 'upper critical going low', 'upper critical going high',
  'upper non-recoverable going low', 'upper non-recoverable going high',
];

/** Sensor-specific offsets worth a severity above "ok" (IPMI 2.0 table 42-3): sensor type → offset → severity. */
const SENSOR_SPECIFIC: Record<number, Record<number, [EventSeverity, string]>> = {
  0x07: { 0x00: ['critical', 'processor IERR'], 0x01: ['critical', 'processor thermal trip'], 0x08: ['critical', 'processor disabled'] },
  0x08: { 0x01: ['critical', 'power supply failure detected'], 0x02: ['warning', 'power supply predictive failure'], 0x03: ['critical', 'power supply input lost'] },
  0x0c: { 0x00: ['warning', 'correctable ECC'], 0x01: ['critical', 'uncorrectable ECC'], 0x05: ['warning', 'correctable ECC logging limit reached'] },
  0x10: { 0x02: ['ok', 'log area reset/cleared'], 0x04: ['warning', 'SEL full'] },
  0x13: { 0x00: ['critical', 'front panel NMI'], 0x04: ['critical', 'PCI PERR'], 0x05: ['critical', 'PCI SERR'], 0x07: ['critical', 'bus correctable error'], 0x08: ['critical', 'bus uncorrectable error'], 0x0a: ['critical', 'bus fatal error'] },
  0x20: { 0x01: ['critical', 'run-time critical stop'], 0x00: ['critical', 'critical stop during OS load'] },
};

/** Timestamps at or below this count seconds since the BMC started, not since 1970 (its clock was not set). */
const PRE_INIT_LIMIT = 0x20000000;

function time(ts: number): string | null {
  if (ts <= PRE_INIT_LIMIT || ts === 0xffffffff) return null;
  return new Date(ts * 1000).toISOString();
}

/** One SEL record (16 bytes, as Get SEL Entry or `ipmitool sel writeraw` give it). */
export function decodeSelRecord(r: Buffer): BmcEventLogEntry {
  if (r.length < SEL_RECORD_BYTES) throw new RackhandError('BMC_ERROR', `SEL record of ${r.length} bytes, not 16`);
  const id = String(r.readUInt16LE(0));
  const type = r[2];
  const raw = r.subarray(0, SEL_RECORD_BYTES).toString('hex');
  if (type >= 0xc0) {
    const stamped = type < 0xe0;
    return {
      id,
      time: stamped ? time(r.readUInt32LE(3)) : null,
      severity: 'ok',
      message: `OEM record type 0x${type.toString(16)}${stamped ? ` from manufacturer ${r[7] | (r[8] << 8) | (r[9] << 16)}` : ''}`,
      raw,
    };
  }
  const sensorType = r[10];
  const sensorNumber = r[11];
  const deassertion = (r[12] & 0x80) !== 0;
  const eventType = r[12] & 0x7f;
  const offset = r[13] & 0x0f;
  const sensor = `${sensorTypeLabel(sensorType)} sensor ${sensorNumber}`;
  const direction = deassertion ? 'deasserted' : 'asserted';
  let severity: EventSeverity = 'ok';
  let what: string;
  if (eventType === 0x01) {
    what = THRESHOLD_EVENTS[offset] ?? `threshold offset ${offset}`;
    if (!deassertion && offset < 12) severity = offset === 0 || offset === 1 || offset === 6 || offset === 7 ? 'warning' : 'critical';
  } else if (eventType === 0x6f) {
    const known = SENSOR_SPECIFIC[sensorType]?.[offset];
    what = known?.[1] ?? `sensor-specific offset ${offset}`;
    if (known && !deassertion) severity = known[0];
  } else {
    what = `event type 0x${eventType.toString(16).padStart(2, '0')} offset ${offset}`;
  }
  return { id, time: time(r.readUInt32LE(3)), severity, message: `${sensor}: ${what} (${direction})`, raw };
}
