// DCMI commands (group extension 0xDC on net function 0x2C): Get Power Reading.
import { RackhandError } from '../../errors.js';
import type { BmcPowerReading } from '../bmc-driver.js';
import { need, type IpmiCommand } from './ipmi-command.js';

export const NETFN_GROUP_EXTENSION = 0x2c;
const DCMI_GROUP = 0xdc;

/**
 * Get Power Reading, mode 1 (system power statistics). A BMC without DCMI answers 0xC1 (BMC_UNSUPPORTED); one whose
 * power measurement is switched off answers with the "active" bit clear, which is unsupported here as well.
 */
export const getPowerReading: IpmiCommand<BmcPowerReading> = {
  name: 'DCMI Get Power Reading',
  netFn: NETFN_GROUP_EXTENSION,
  cmd: 0x02,
  data: Buffer.from([DCMI_GROUP, 0x01, 0x00, 0x00]),
  decode: ({ data }) => {
    need('DCMI Get Power Reading', data, 18);
    if (data[0] !== DCMI_GROUP) throw new RackhandError('BMC_ERROR', `DCMI Get Power Reading: group 0x${data[0].toString(16)} in the answer`);
    if ((data[17] & 0x40) === 0) throw new RackhandError('BMC_UNSUPPORTED', 'the BMC reports power measurement as not active');
    const ts = data.readUInt32LE(9);
    return {
      watts: data.readUInt16LE(1),
      minimumWatts: data.readUInt16LE(3),
      maximumWatts: data.readUInt16LE(5),
      averageWatts: data.readUInt16LE(7),
      periodSeconds: data.readUInt32LE(13) / 1000,
      time: ts === 0 ? null : new Date(ts * 1000).toISOString(),
    };
  },
};
