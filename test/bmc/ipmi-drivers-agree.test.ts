// The native and the ipmitool driver read the same ipmi_sim BMC the same way, value for value: one command layer,
// no drift. SEL entries are created on the BMC (Add SEL Entry, as firmware logs them) and read back by both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BmcTarget } from '../../src/bmc/bmc-driver.js';
import { IpmiDriver } from '../../src/bmc/ipmi/ipmi-driver.js';
import { IpmitoolDriver } from '../../src/bmc/ipmitool/ipmitool-driver.js';
import { ipmitool, startSimFarm, type SimFarm } from '../harness/ipmi-sim.js';

let farm: SimFarm;
let t: BmcTarget;
const native = new IpmiDriver({ timeoutMs: 300, retries: 2 });
const tool = new IpmitoolDriver();

beforeAll(async () => {
  farm = await startSimFarm({ count: 1 });
  const b = farm.bmcs[0];
  t = { host: b.host, port: b.port, username: b.username, password: b.password, cipherSuite: 3, privilege: 'administrator' };
});
afterAll(async () => {
  await native.close();
  await tool.close();
  await farm?.stop();
});

const hex = (bytes: number[]): string[] => bytes.map((b) => `0x${b.toString(16).padStart(2, '0')}`);

/** Add SEL Entry with a 16-byte record (the BMC assigns id and time). */
async function addSel(record: number[]): Promise<void> {
  const r = await ipmitool(farm.bmcs[0], ['raw', '0x0a', '0x44', ...hex(record)]);
  expect(r.code, r.stderr).toBe(0);
}

describe('native and ipmitool drivers agree on ipmi_sim', () => {
  it('device info, power, boot device, sensors and users are equal', async () => {
    expect(await tool.deviceInfo(t)).toEqual(await native.deviceInfo(t));
    expect(await tool.powerStatus(t)).toBe(await native.powerStatus(t));
    await native.setBootDevice(t, { device: 'pxe', mode: 'legacy', persistent: false });
    expect(await tool.getBootDevice(t)).toEqual(await native.getBootDevice(t));
    await tool.setBootDevice(t, { device: 'cdrom', mode: 'legacy', persistent: false });
    expect((await native.getBootDevice(t)).device).toBe('cdrom');
    const [a, b] = [await native.sensors(t), await tool.sensors(t)];
    expect(b).toEqual(a);
    expect(a.map((s) => s.name)).toEqual(['CPU1 Temp', 'FAN1', '12V', 'PS1 Status']);
    expect(await tool.listUsers(t)).toEqual(await native.listUsers(t));
  });

  it('SEL entries created on the BMC are read back by both drivers, as ipmitool shows them; clearing empties it for both', async () => {
    await native.clearEventLog(t);
    await addSel([0, 0, 0x02, 0, 0, 0, 0, 0x20, 0x00, 0x04, 0x01, 0x01, 0x01, 0x59, 0x5a, 0x5b]); // temperature, UC going high
    await addSel([0, 0, 0x02, 0, 0, 0, 0, 0x20, 0x00, 0x04, 0x0c, 0x03, 0x6f, 0x01, 0xff, 0xff]); // memory, uncorrectable ECC
    await addSel([0, 0, 0x02, 0, 0, 0, 0, 0x20, 0x00, 0x04, 0x02, 0x03, 0x81, 0x02, 0xff, 0xff]); // voltage, LC going low, deasserted
    const log = await native.readEventLog(t);
    expect(log.map((e) => [e.severity, e.message])).toEqual([
      ['critical', 'temperature sensor 1: upper critical going high (asserted)'],
      ['critical', 'memory sensor 3: uncorrectable ECC (asserted)'],
      ['ok', 'voltage sensor 3: lower critical going low (deasserted)'],
    ]);
    expect(await tool.readEventLog(t)).toEqual(log);
    // ipmitool's own listing has the same entries, under the same record ids.
    const elist = (await ipmitool(farm.bmcs[0], ['sel', 'list'])).stdout.trim().split('\n');
    expect(elist.map((l) => parseInt(l.split('|')[0]!.trim(), 16))).toEqual(log.map((e) => Number(e.id)));
    expect(elist[0]).toMatch(/Upper Critical going high/);
    await tool.clearEventLog(t);
    expect(await native.readEventLog(t)).toEqual([]);
    expect(await tool.readEventLog(t)).toEqual([]);
  });

  it('DCMI power reading is BMC_UNSUPPORTED on ipmi_sim for both, also from a User-privilege one-shot session', async () => {
    const oneShot = new IpmiDriver({ timeoutMs: 300, retries: 2, reuseSessions: false });
    try {
      for (const d of [native, tool, oneShot]) await expect(d.powerReading(t)).rejects.toMatchObject({ code: 'BMC_UNSUPPORTED' });
    } finally {
      await oneShot.close();
    }
  });
});
