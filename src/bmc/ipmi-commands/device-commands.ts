// BMC device commands: Get Device ID, Cold/Warm Reset, Get Channel Info.
import type { BmcDeviceInfo } from '../bmc-driver.js';
import { need, plainCommand, type IpmiCommand } from './ipmi-command.js';

export const NETFN_APP = 0x06;

export const getDeviceId: IpmiCommand<BmcDeviceInfo> = {
  name: 'Get Device ID',
  netFn: NETFN_APP,
  cmd: 0x01,
  data: Buffer.alloc(0),
  decode: ({ data: d }) => {
    need('Get Device ID', d, 11);
    return {
      deviceId: d[0],
      // Major binary, minor BCD: shown as two hex digits, as ipmitool's `mc info` does.
      firmware: `${d[2] & 0x7f}.${d[3].toString(16).padStart(2, '0')}`,
      ipmiVersion: `${d[4] & 0x0f}.${d[4] >> 4}`,
      manufacturerId: d[6] | (d[7] << 8) | ((d[8] & 0x0f) << 16),
      productId: d[9] | (d[10] << 8),
    };
  },
};

export function bmcReset(kind: 'cold' | 'warm'): IpmiCommand<void> {
  return plainCommand(`${kind === 'cold' ? 'Cold' : 'Warm'} Reset`, NETFN_APP, kind === 'cold' ? 0x02 : 0x03);
}

/** Get Channel Info; 0x0E asks about "this channel". Resolves with the channel number when its medium is 802.3 LAN. */
export function getLanChannel(channel: number): IpmiCommand<number | undefined> {
  return {
    name: 'Get Channel Info',
    netFn: NETFN_APP,
    cmd: 0x42,
    data: Buffer.from([channel & 0x0f]),
    accept: 'any', // a channel that is not there is just not a LAN channel
    decode: ({ completionCode, data }) =>
      completionCode === 0 && data.length >= 2 && (data[1] & 0x7f) === 0x04 && (data[0] & 0x0f) <= 0x0b ? data[0] & 0x0f : undefined,
  };
}
