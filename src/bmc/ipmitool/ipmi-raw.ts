// IPMI request bytes and response decoding for the commands the ipmitool driver sends with `ipmitool raw`.

import { RackhandError } from '../../errors.js';
import type { BmcDeviceInfo, BmcPrivilege, BootDevice, BootDeviceSetting, PowerAction } from '../bmc-driver.js';

export type RawCommand = number[]; // netfn, cmd, data…

const hex = (b: number): string => `0x${b.toString(16).padStart(2, '0')}`;
/** One `raw` command as ipmitool arguments (or an `exec` script line joined with spaces). */
export function rawArgs(cmd: RawCommand): string[] {
  return ['raw', ...cmd.map(hex)];
}

export const CHASSIS_STATUS: RawCommand = [0x00, 0x01];

const POWER_CONTROL: Record<PowerAction, number> = { off: 0x00, on: 0x01, cycle: 0x02, reset: 0x03, soft: 0x05 };
export function chassisControl(action: PowerAction): RawCommand {
  return [0x00, 0x02, POWER_CONTROL[action]];
}

/** Chassis status byte 1 bit 0 is "power is on". */
export function decodePowerOn(bytes: number[]): boolean {
  if (bytes.length < 1) throw new RackhandError('BMC_ERROR', 'short Get Chassis Status response');
  return (bytes[0]! & 0x01) === 0x01;
}

// Boot option parameter 5 (boot flags), data 2 bits 5:2: the device selector.
const DEVICE_SELECTOR: Record<BootDevice, number> = { none: 0x0, pxe: 0x1, disk: 0x2, cdrom: 0x5, bios: 0x6 };
const SELECTOR_DEVICE: Record<number, BootDevice> = { 0x0: 'none', 0x1: 'pxe', 0x2: 'disk', 0x3: 'disk', 0x5: 'cdrom', 0x6: 'bios' };

/**
 * Parameter 3 (boot flag valid bit clearing) = 0x08: keep the flags past the spec's 60-second timeout, so a
 * power-on that comes later still honours them (the Ironic / DRP recipe; ipmitool's own bootdev omits it).
 */
export const DISABLE_BOOT_FLAG_TIMEOUT: RawCommand = [0x00, 0x08, 0x03, 0x08];

export function setBootFlags(s: BootDeviceSetting): RawCommand {
  let data1 = 0x80; // flags valid
  if (s.persistent) data1 |= 0x40;
  if (s.mode === 'uefi') data1 |= 0x20; // 'legacy' and 'auto' leave the BIOS boot type bit clear
  const data2 = DEVICE_SELECTOR[s.device] << 2;
  return [0x00, 0x08, 0x05, data1, data2, 0x00, 0x00, 0x00];
}

export const GET_BOOT_FLAGS: RawCommand = [0x00, 0x09, 0x05, 0x00, 0x00];

/**
 * Decodes a Get System Boot Options (param 5) response: version, param, data1..5.
 * The device is reported as stored even when the valid bit is clear: many BMCs (and ipmi_sim) clear it after
 * reading, and callers re-assert the device before each power-on anyway.
 */
export function decodeBootFlags(bytes: number[]): BootDeviceSetting {
  if (bytes.length < 4 || (bytes[1]! & 0x7f) !== 0x05) throw new RackhandError('BMC_ERROR', 'malformed boot flags response');
  const data1 = bytes[2]!;
  const data2 = bytes[3]!;
  return {
    device: SELECTOR_DEVICE[(data2 >> 2) & 0x0f] ?? 'none',
    mode: data1 & 0x20 ? 'uefi' : 'legacy',
    persistent: (data1 & 0x40) !== 0,
  };
}

export const GET_DEVICE_ID: RawCommand = [0x06, 0x01];
export function decodeDeviceId(b: number[]): BmcDeviceInfo {
  if (b.length < 11) throw new RackhandError('BMC_ERROR', 'short Get Device ID response');
  const minor = b[3]!.toString(16).padStart(2, '0'); // BCD
  return {
    deviceId: b[0]!,
    firmware: `${b[2]! & 0x7f}.${minor}`,
    ipmiVersion: `${b[4]! & 0x0f}.${b[4]! >> 4}`,
    manufacturerId: b[6]! | (b[7]! << 8) | ((b[8]! & 0x0f) << 16),
    productId: b[9]! | (b[10]! << 8),
  };
}

export const COLD_RESET: RawCommand = [0x06, 0x02];
export const WARM_RESET: RawCommand = [0x06, 0x03];

/** Get Channel Info for channel 0x0E ("this channel"): response byte 1 is the channel we are talking on. */
export const GET_CURRENT_CHANNEL_INFO: RawCommand = [0x06, 0x42, 0x0e];

export const PRIVILEGE_CODE: Record<BmcPrivilege, number> = { callback: 1, user: 2, operator: 3, administrator: 4 };
export const NO_ACCESS = 0x0f;
export function privilegeName(code: number): BmcPrivilege | 'no-access' {
  switch (code) {
    case 1:
      return 'callback';
    case 2:
      return 'user';
    case 3:
      return 'operator';
    case 4:
    case 5: // OEM proprietary: at least administrator on every BMC we know
      return 'administrator';
    default:
      return 'no-access';
  }
}

export function getUserAccess(channel: number, id: number): RawCommand {
  return [0x06, 0x44, channel & 0x0f, id & 0x3f];
}

export interface UserAccess {
  maxUsers: number;
  /** true/false when the BMC reports it (IPMI 2.0 errata 3+), undefined when unspecified. */
  enabled: boolean | undefined;
  messaging: boolean;
  privilege: number;
}

export function decodeUserAccess(b: number[]): UserAccess {
  if (b.length < 4) throw new RackhandError('BMC_ERROR', 'short Get User Access response');
  const status = b[1]! >> 6;
  return {
    maxUsers: b[0]! & 0x3f,
    enabled: status === 1 ? true : status === 2 ? false : undefined,
    messaging: (b[3]! & 0x10) !== 0,
    privilege: b[3]! & 0x0f,
  };
}

export function getUserName(id: number): RawCommand {
  return [0x06, 0x46, id & 0x3f];
}

export function decodeUserName(b: number[]): string {
  const end = b.indexOf(0);
  return Buffer.from(end === -1 ? b : b.slice(0, end)).toString('latin1');
}

/** Names are at most 16 bytes of printable ASCII here: anything else would be garbled by some BMC. */
export function validUserName(name: string): boolean {
  return /^[\x21-\x7e][\x20-\x7e]{0,15}$/.test(name);
}

export function setUserName(id: number, name: string): RawCommand {
  const bytes = new Array<number>(16).fill(0);
  for (let i = 0; i < name.length && i < 16; i++) bytes[i] = name.charCodeAt(i) & 0x7f;
  return [0x06, 0x45, id & 0x3f, ...bytes];
}

export function clearUserName(id: number): RawCommand {
  return [0x06, 0x45, id & 0x3f, ...new Array<number>(16).fill(0)];
}

/** Set User Password, operation 2 (set). A password over 16 bytes uses the IPMI 2.0 20-byte form. */
export function setUserPassword(id: number, password: string): RawCommand {
  const pw = Buffer.from(password, 'utf8');
  if (pw.length < 1 || pw.length > 20 || pw.includes(0)) throw new RackhandError('INVALID_INPUT', 'BMC password must be 1..20 bytes');
  const size = pw.length > 16 ? 20 : 16;
  const bytes = new Array<number>(size).fill(0);
  for (let i = 0; i < pw.length; i++) bytes[i] = pw[i]!;
  return [0x06, 0x47, (id & 0x3f) | (size === 20 ? 0x80 : 0), 0x02, ...bytes];
}

export function setUserEnabled(id: number, enabled: boolean): RawCommand {
  return [0x06, 0x47, id & 0x3f, enabled ? 0x01 : 0x00];
}

/** Set User Access with "change bits" on: IPMI messaging on/off, privilege limit, on one channel. */
export function setUserAccess(channel: number, id: number, privilege: number, messaging: boolean): RawCommand {
  return [0x06, 0x43, 0x80 | (messaging ? 0x10 : 0) | (channel & 0x0f), id & 0x3f, privilege & 0x0f, 0x00];
}
