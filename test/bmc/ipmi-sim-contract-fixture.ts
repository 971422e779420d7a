// The driver contract fixture for the IPMI drivers: real ipmi_sim BMCs (one to work with, one to hang), a closed
// port for "unreachable", SEL entries added with Add SEL Entry as a BMC's firmware would, and DCMI (which ipmi_sim
// lacks) as the unsupported operation.
import { createSocket } from 'node:dgram';
import type { BmcDriver, BmcTarget } from '../../src/bmc/bmc-driver.js';
import { ipmitool, startSimFarm, type SimBmc } from '../harness/ipmi-sim.js';
import type { BmcContractFixture } from './driver-contract.js';

/** A UDP port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A system event record (SEL type 0x02): temperature sensor 1, upper critical going high, asserted. */
export const TEMPERATURE_EVENT = [0x00, 0x00, 0x02, 0, 0, 0, 0, 0x20, 0x00, 0x04, 0x01, 0x01, 0x01, 0x59, 0x5a, 0x5b];

export async function ipmiSimContractFixture<D extends BmcDriver>(driver: D, inFlight: (d: D) => number): Promise<BmcContractFixture> {
  const farm = await startSimFarm({ count: 2, maxSessions: 63 });
  const [main, spare] = farm.bmcs as [SimBmc, SimBmc];
  const target = (b: SimBmc): BmcTarget => ({ host: b.host, port: b.port, username: b.username, password: b.password, cipherSuite: 3, privilege: 'administrator' });
  return {
    driver,
    target: target(main),
    unreachable: { ...target(main), port: await closedPort() },
    async hang() {
      await farm.fault(1, 'hang');
      return {
        target: target(spare),
        release: async () => {
          await farm.fault(1, 'resume');
          await farm.fault(1, 'restart'); // drop whatever queued up while it was stopped
        },
      };
    },
    inFlight: () => inFlight(driver),
    async addEvent() {
      const r = await ipmitool(main, ['raw', '0x0a', '0x44', ...TEMPERATURE_EVENT.map((b) => `0x${b.toString(16).padStart(2, '0')}`)]);
      if (r.code !== 0) throw new Error(`Add SEL Entry failed: ${r.stderr}`);
      return { severity: 'critical', message: /temperature sensor 1: upper critical going high \(asserted\)/ };
    },
    unsupported: (d, t) => d.powerReading(t), // no DCMI in ipmi_sim: 0xC1
    measuresPower: false,
    truePower: () => farm.powerState(0),
    async close() {
      await driver.close();
      await farm.stop();
    },
  };
}
