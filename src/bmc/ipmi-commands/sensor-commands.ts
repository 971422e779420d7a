// Sensor and SDR repository commands: Get SDR Repository Info, Reserve SDR Repository, Get SDR, Get Sensor Reading,
// Get Sensor Thresholds.
import type { SensorStatus, SensorThresholds } from '../bmc-driver.js';
import { need, type IpmiCommand } from './ipmi-command.js';
import { decodeThresholds, sensorStatus, type SensorConversion } from './sdr-records.js';

export const NETFN_SENSOR = 0x04;
export const NETFN_STORAGE = 0x0a;

/**
 * Get SDR Repository Info, as a stamp of what changes when the repository does: record count, free space, and the
 * most recent addition and erase timestamps (response bytes 2-13). Equal stamps: the same records.
 */
export const getSdrRepositoryStamp: IpmiCommand<string> = {
  name: 'Get SDR Repository Info',
  netFn: NETFN_STORAGE,
  cmd: 0x20,
  data: Buffer.alloc(0),
  decode: ({ data }) => {
    need('Get SDR Repository Info', data, 13);
    return data.subarray(1, 13).toString('hex');
  },
};

export const reserveSdrRepository: IpmiCommand<number> = {
  name: 'Reserve SDR Repository',
  netFn: NETFN_STORAGE,
  cmd: 0x22,
  data: Buffer.alloc(0),
  decode: ({ data }) => {
    need('Reserve SDR Repository', data, 2);
    return data.readUInt16LE(0);
  },
};

/** Completion codes of Get SDR the walk handles itself: reservation lost, and "cannot return that many bytes". */
export const SDR_RESERVATION_LOST = 0xc5;
export const SDR_TOO_MANY_BYTES = 0xca;

export interface SdrPart {
  completionCode: number;
  /** Record id of the next record (0xFFFF after the last). */
  next: number;
  bytes: Buffer;
}

/** Get SDR: `count` bytes of record `id` from `offset` (0xFF = the whole record). */
export function getSdr(reservation: number, id: number, offset: number, count: number): IpmiCommand<SdrPart> {
  const d = Buffer.alloc(6);
  d.writeUInt16LE(reservation & 0xffff, 0);
  d.writeUInt16LE(id & 0xffff, 2);
  d[4] = offset;
  d[5] = count;
  return {
    name: 'Get SDR',
    netFn: NETFN_STORAGE,
    cmd: 0x23,
    data: d,
    accept: [SDR_RESERVATION_LOST, SDR_TOO_MANY_BYTES],
    decode: ({ completionCode, data }) => {
      if (completionCode !== 0) return { completionCode, next: 0xffff, bytes: Buffer.alloc(0) };
      need('Get SDR', data, 2);
      return { completionCode, next: data.readUInt16LE(0), bytes: data.subarray(2) };
    },
  };
}

export interface SensorValue {
  status: SensorStatus;
  /** The raw 8-bit reading; undefined when the sensor reports none. */
  raw: number | undefined;
}

/** Get Sensor Reading; any non-zero completion code is "no reading" for this one sensor, not a failure. */
export function getSensorReading(eventReadingType: number, sensor: number, lun: number): IpmiCommand<SensorValue> {
  return {
    name: 'Get Sensor Reading',
    netFn: NETFN_SENSOR,
    cmd: 0x2d,
    data: Buffer.from([sensor & 0xff]),
    lun,
    accept: 'any',
    decode: ({ completionCode, data }) => {
      if (completionCode !== 0) return { status: 'unavailable', raw: undefined };
      const status = sensorStatus(eventReadingType, data);
      return { status, raw: status === 'unavailable' || data.length < 1 ? undefined : data[0] };
    },
  };
}

/** Get Sensor Thresholds, converted with the record's factors; none when the BMC does not answer them. */
export function getSensorThresholds(conversion: SensorConversion, sensor: number, lun: number): IpmiCommand<SensorThresholds> {
  return {
    name: 'Get Sensor Thresholds',
    netFn: NETFN_SENSOR,
    cmd: 0x27,
    data: Buffer.from([sensor & 0xff]),
    lun,
    accept: 'any',
    decode: ({ completionCode, data }) => (completionCode === 0 ? decodeThresholds(conversion, data) : {}),
  };
}
