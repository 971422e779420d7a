// User commands: Get/Set User Access, Get/Set User Name, Set User Password (set, enable, disable).
import { RackhandError } from '../../errors.js';
import type { BmcPrivilege } from '../bmc-driver.js';
import { NETFN_APP } from './device-commands.js';
import { need, plainCommand, type IpmiCommand } from './ipmi-command.js';

export const PRIVILEGE_LEVEL: Record<BmcPrivilege, number> = { callback: 1, user: 2, operator: 3, administrator: 4 };
export const NO_ACCESS = 0x0f;

/** A slot's privilege limit as a name; 5 (OEM proprietary) is at least administrator on every BMC we know. */
export function privilegeName(level: number): BmcPrivilege | 'no-access' {
  switch (level) {
    case 1:
      return 'callback';
    case 2:
      return 'user';
    case 3:
      return 'operator';
    case 4:
    case 5:
      return 'administrator';
    default:
      return 'no-access';
  }
}

/** 1..16 printable ASCII characters, no spaces: what every BMC stores as typed and every tool can pass on. */
export function validUserName(name: unknown): name is string {
  return typeof name === 'string' && /^[\x21-\x7e]{1,16}$/.test(name);
}

/** 1..20 bytes (IPMI 2.0), no NUL (BMCs end the password there). */
export function validPassword(password: unknown): password is string {
  if (typeof password !== 'string') return false;
  const b = Buffer.from(password, 'utf8');
  return b.length >= 1 && b.length <= 20 && !b.includes(0);
}

export interface UserAccess {
  maxUsers: number;
  /** true/false when the BMC reports it (IPMI 2.0 errata 3+), undefined when unspecified. */
  enabled: boolean | undefined;
  messaging: boolean;
  /** Privilege limit on the channel: 1..5, 0x0f no access. */
  level: number;
}

export function getUserAccess(channel: number, id: number): IpmiCommand<UserAccess> {
  return {
    name: 'Get User Access',
    netFn: NETFN_APP,
    cmd: 0x44,
    data: Buffer.from([channel & 0x0f, id & 0x3f]),
    decode: ({ data }) => {
      need('Get User Access', data, 4);
      const status = data[1] >> 6;
      return {
        maxUsers: data[0] & 0x3f,
        enabled: status === 1 ? true : status === 2 ? false : undefined,
        messaging: (data[3] & 0x10) !== 0,
        level: data[3] & 0x0f,
      };
    },
  };
}

/** Get User Name; a slot without a name answers 0xCC on some BMCs (ipmi_sim's anonymous user 1): ''. */
export function getUserName(id: number): IpmiCommand<string> {
  return {
    name: 'Get User Name',
    netFn: NETFN_APP,
    cmd: 0x46,
    data: Buffer.from([id & 0x3f]),
    accept: [0xcc],
    decode: ({ completionCode, data }) => (completionCode === 0 ? data.subarray(0, 16).toString('latin1').replace(/\0.*$/s, '') : ''),
  };
}

export function setUserName(id: number, name: string): IpmiCommand<void> {
  if (name !== '' && !validUserName(name)) throw new RackhandError('INVALID_INPUT', 'BMC user name must be 1-16 printable ASCII characters without spaces');
  const d = Buffer.alloc(17);
  d[0] = id & 0x3f;
  d.write(name, 1, 'latin1');
  return plainCommand(name === '' ? 'Set User Name (clear)' : 'Set User Name', NETFN_APP, 0x45, d);
}

/** Set User Password, operation 2 (set). A password over 16 bytes uses the IPMI 2.0 20-byte form. */
export function setUserPassword(id: number, password: string): IpmiCommand<void> {
  if (!validPassword(password)) throw new RackhandError('INVALID_INPUT', 'BMC password must be 1-20 bytes');
  const p = Buffer.from(password, 'utf8');
  const wide = p.length > 16;
  const d = Buffer.alloc(2 + (wide ? 20 : 16));
  d[0] = (wide ? 0x80 : 0) | (id & 0x3f);
  d[1] = 0x02;
  p.copy(d, 2);
  return plainCommand('Set User Password', NETFN_APP, 0x47, d, { secret: true });
}

/** Set User Password, operation 1 (enable user) or 0 (disable user). */
export function setUserEnabled(id: number, enabled: boolean): IpmiCommand<void> {
  return plainCommand(`Set User Password (${enabled ? 'enable' : 'disable'} user)`, NETFN_APP, 0x47, [id & 0x3f, enabled ? 0x01 : 0x00]);
}

/** Set User Access with its change bits on: link auth and IPMI messaging follow `messaging`; the privilege limit. */
export function setUserAccess(channel: number, id: number, level: number, messaging: boolean): IpmiCommand<void> {
  const bits = messaging ? 0x20 | 0x10 : 0x00;
  return plainCommand(level === NO_ACCESS ? 'Set User Access (no access)' : 'Set User Access', NETFN_APP, 0x43, [0x80 | bits | (channel & 0x0f), id & 0x3f, level & 0x0f, 0x00]);
}
