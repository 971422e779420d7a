// Chassis commands: status, control (power), and the boot flags of System Boot Options.
import { RackhandError } from '../../errors.js';
import type { BootDevice, BootDeviceSetting, PowerAction, PowerState } from '../bmc-driver.js';
import { need, plainCommand, type IpmiCommand } from './ipmi-command.js';

export const NETFN_CHASSIS = 0x00;

export const getChassisStatus: IpmiCommand<PowerState> = {
  name: 'Get Chassis Status',
  netFn: NETFN_CHASSIS,
  cmd: 0x01,
  data: Buffer.alloc(0),
  // Byte 1 bit 0: power is on.
  decode: ({ data }) => {
    need('Get Chassis Status', data, 1);
    return data[0] & 0x01 ? 'on' : 'off';
  },
};

const CHASSIS_CONTROL: Record<PowerAction, number> = { off: 0x00, on: 0x01, cycle: 0x02, reset: 0x03, soft: 0x05 };

export function chassisControl(action: PowerAction): IpmiCommand<void> {
  const code = CHASSIS_CONTROL[action];
  if (code === undefined) throw new RackhandError('INVALID_INPUT', `unknown power action ${String(action)}`);
  return plainCommand(`Chassis Control ${action}`, NETFN_CHASSIS, 0x02, [code]);
}

// Boot option parameter 5 (boot flags), data 2 bits 5:2: the device selector.
const DEVICE_SELECTOR: Record<Exclude<BootDevice, 'http'>, number> = { none: 0x0, pxe: 0x1, disk: 0x2, cdrom: 0x5, bios: 0x6 };
const SELECTOR_DEVICE: Record<number, BootDevice> = { 0x1: 'pxe', 0x2: 'disk', 0x3: 'disk', 0x5: 'cdrom', 0x6: 'bios', 0x8: 'cdrom', 0xb: 'disk' };

/** Completion codes meaning "this optional parameter is not there" rather than a failure. */
const PARAMETER_UNSUPPORTED = [0x80, 0xcc, 0xc1] as const;

/** Parameter 0 (set in progress): 1 = set in progress, 0 = set complete. Optional on many BMCs. */
export function setBootOptionsInProgress(inProgress: boolean): IpmiCommand<void> {
  return plainCommand(`Set System Boot Options (set ${inProgress ? 'in progress' : 'complete'})`, NETFN_CHASSIS, 0x08, [0x00, inProgress ? 0x01 : 0x00], { accept: PARAMETER_UNSUPPORTED });
}

/**
 * Parameter 3 (boot flag valid bit clearing) = 0x08: keep the flags past the spec's 60-second timeout, so a
 * power-on that comes later still honours them (the Ironic / DRP recipe; ipmitool's own bootdev omits it).
 * Some BMCs reject the parameter: the boot flags themselves are what matters.
 */
export const keepBootFlagsValid: IpmiCommand<void> = plainCommand('Set System Boot Options (valid bit clearing)', NETFN_CHASSIS, 0x08, [0x03, 0x08], { accept: PARAMETER_UNSUPPORTED });

export function setBootFlags(s: BootDeviceSetting): IpmiCommand<void> {
  if (s.device === 'http') {
    throw new RackhandError('BMC_UNSUPPORTED', 'IPMI has no UEFI HTTP boot device: boot pxe (rackhand answers UEFI HTTP boot clients on DHCP) or use the redfish driver', { field: 'device' });
  }
  const dev = DEVICE_SELECTOR[s.device as Exclude<BootDevice, 'http'>];
  if (dev === undefined) throw new RackhandError('INVALID_INPUT', `unknown boot device ${String(s.device)}`);
  if (!['uefi', 'legacy', 'auto'].includes(s.mode)) throw new RackhandError('INVALID_INPUT', `unknown boot mode ${String(s.mode)}`);
  // Valid, persistent, BIOS boot type EFI ('legacy' and 'auto' leave it clear).
  const data1 = 0x80 | (s.persistent ? 0x40 : 0) | (s.mode === 'uefi' ? 0x20 : 0);
  return plainCommand('Set System Boot Options (boot flags)', NETFN_CHASSIS, 0x08, [0x05, data1, dev << 2, 0x00, 0x00, 0x00]);
}

/**
 * Get System Boot Options, parameter 5: version, parameter, data 1..5. The selector is reported even with the valid
 * bit clear: some BMCs (ipmi_sim among them) never set it on read, and ipmitool shows the selector the same way.
 */
export const getBootFlags: IpmiCommand<BootDeviceSetting> = {
  name: 'Get System Boot Options (boot flags)',
  netFn: NETFN_CHASSIS,
  cmd: 0x09,
  data: Buffer.from([0x05, 0x00, 0x00]),
  decode: ({ data }) => {
    need('Get System Boot Options', data, 4);
    if ((data[1] & 0x7f) !== 0x05) throw new RackhandError('BMC_ERROR', `Get System Boot Options: answered parameter ${data[1] & 0x7f}, asked 5`);
    const data1 = data[2];
    return {
      device: SELECTOR_DEVICE[(data[3] >> 2) & 0x0f] ?? 'none',
      mode: data1 & 0x20 ? 'uefi' : 'legacy',
      persistent: (data1 & 0x40) !== 0,
    };
  },
};
