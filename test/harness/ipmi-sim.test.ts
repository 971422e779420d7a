// Smoke test of the ipmi_sim harness itself: start, answer, hook files, faults, 200 sims, clean stop.

import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ipmitool, startSimFarm, type SimFarm } from './ipmi-sim.js';

let farm: SimFarm | undefined;
afterEach(async () => {
  await farm?.stop();
  farm = undefined;
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('ipmi-sim harness', () => {
  it('starts sims whose power, boot device and sensors ipmitool sees', async () => {
    farm = await startSimFarm({ count: 2 });
    const b = farm.bmcs[1]!;
    expect(b.port).not.toBe(farm.bmcs[0]!.port);

    const st = await ipmitool(b, ['chassis', 'power', 'status']);
    expect(st.code).toBe(0);
    expect(st.stdout).toMatch(/Chassis Power is on/);

    expect((await ipmitool(b, ['chassis', 'power', 'off'])).code).toBe(0);
    expect(farm.powerState(1)).toBe('off');
    expect(farm.powerState(0)).toBe('on');
    expect(farm.chassisLog(1)).toEqual(['power 0']);

    expect((await ipmitool(b, ['chassis', 'bootdev', 'pxe'])).code).toBe(0);
    expect(farm.bootDevice(1)).toBe('pxe');

    const sens = await ipmitool(b, ['sensor']);
    expect(sens.stdout).toMatch(/CPU1 Temp\s*\|\s*45\.000\s*\|\s*degrees C/);
    expect(sens.stdout).toMatch(/FAN1\s*\|\s*4800\.000\s*\|\s*RPM/);
    expect(sens.stdout).toMatch(/12V\s*\|\s*12\.000\s*\|\s*Volts/);
    expect(sens.stdout).toMatch(/PS1 Status/);
  });

  it('injects faults and recovers', async () => {
    farm = await startSimFarm({ count: 1, initialPower: 'off' });
    const b = farm.bmcs[0]!;
    expect(farm.powerState(0)).toBe('off');

    await farm.fault(0, 'fail');
    const failed = await ipmitool(b, ['raw', '0x00', '0x02', '0x01']);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/rsp=0xff/);
    await farm.fault(0, 'ok');

    const pid = farm.pid(0)!;
    await farm.fault(0, 'down');
    expect(alive(pid)).toBe(false);
    expect((await ipmitool(b, ['chassis', 'power', 'status'], { timeoutMs: 15_000 })).code).not.toBe(0);
    await farm.fault(0, 'up');
    expect(farm.pid(0)).not.toBe(pid);
    expect((await ipmitool(b, ['chassis', 'power', 'status'])).stdout).toMatch(/is off/);

    await farm.fault(0, 'hang');
    expect((await ipmitool(b, ['chassis', 'power', 'status'], { timeoutMs: 15_000 })).code).not.toBe(0);
    await farm.fault(0, 'resume');
    expect((await ipmitool(b, ['chassis', 'power', 'status'])).code).toBe(0);
  });

  it('runs 200 sims and kills every one on stop', async () => {
    farm = await startSimFarm({ count: 200 });
    const pids = farm.bmcs.map((b) => farm!.pid(b.index)!);
    expect(new Set(farm.bmcs.map((b) => b.port)).size).toBe(200);
    const last = farm.bmcs[199]!;
    expect((await ipmitool(last, ['chassis', 'power', 'status'])).stdout).toMatch(/is on/);
    const root = farm.root;
    await farm.stop();
    farm = undefined;
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(root)).toBe(false);
  });
});
