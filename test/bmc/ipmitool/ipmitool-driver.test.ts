// Integration: IpmitoolDriver against real ipmi_sim BMCs, every result checked through a separate ipmitool call or the hook's files.

import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BmcTarget } from '../../../src/bmc/bmc-driver.js';
import { IpmitoolDriver } from '../../../src/bmc/ipmitool/ipmitool-driver.js';
import { RackhandError } from '../../../src/errors.js';
import { ipmitool, startSimFarm, type SimBmc, type SimFarm } from '../../harness/ipmi-sim.js';
import { startUdpProxy } from '../../harness/udp-proxy.js';
import { SETUP_AUTH_CODE_OFFSET, SETUP_PAYLOADS, rmcpDatagram } from '../../harness/rmcp-datagram.js';

// One sim per concern so a fault in one test never leaks into another.
const SIM = { power: 0, boot: 1, sensors: 2, users: 3, info: 4, down: 5, hang: 6, slow: 7, fail: 8, auth: 9, sessions: 10, secrets: 11, chaos: 12 };

let farm: SimFarm;
const logs: string[] = [];
const logger = {
  debug: (o: object, m?: string) => logs.push(JSON.stringify(o) + (m ?? '')),
  warn: (o: object, m?: string) => logs.push(JSON.stringify(o) + (m ?? '')),
};
const driver = new IpmitoolDriver({ logger }); // default limits: bare ipmitool needs ~20 s to give up on a silent BMC

function target(i: number, over: Partial<BmcTarget> = {}): BmcTarget {
  const b: SimBmc = farm.bmcs[i]!;
  return { host: b.host, port: b.port, username: b.username, password: b.password, cipherSuite: 3, privilege: 'administrator', ...over };
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; details?: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RackhandError) return { code: e.code, details: e.details };
    throw e;
  }
  return { code: 'OK' };
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  farm = await startSimFarm({ count: 13 });
});

afterAll(async () => {
  await driver.close();
  await farm?.stop();
});

describe('IpmitoolDriver power', () => {
  const i = SIM.power;
  it('reads and changes power, checked against the hook file and ipmitool', async () => {
    expect(await driver.powerStatus(target(i))).toBe('on');
    await driver.power(target(i), 'off');
    expect(farm.powerState(i)).toBe('off');
    expect((await ipmitool(farm.bmcs[i]!, ['chassis', 'power', 'status'])).stdout).toMatch(/is off/);
    expect(await driver.powerStatus(target(i))).toBe('off');

    await driver.power(target(i), 'on');
    expect(farm.powerState(i)).toBe('on');
    expect((await ipmitool(farm.bmcs[i]!, ['chassis', 'power', 'status'])).stdout).toMatch(/is on/);
  });

  it('"on" of a server that is on sends exactly one power-on, never an off', async () => {
    const before = farm.chassisLog(i).length;
    await driver.power(target(i), 'on');
    expect(farm.chassisLog(i).slice(before)).toEqual(['power 1']);
    expect(farm.powerState(i)).toBe('on');
  });

  it('reset, soft and cycle reach the chassis', async () => {
    const resets = farm.resets(i);
    await driver.power(target(i), 'reset');
    expect(farm.resets(i)).toBe(resets + 1);

    await driver.power(target(i), 'soft');
    expect(farm.powerState(i)).toBe('off');
    farm.setPower(i, 'on');
    expect(await driver.powerStatus(target(i))).toBe('on');

    const n = farm.chassisLog(i).length;
    await driver.power(target(i), 'cycle');
    // ipmi_sim turns the power off at once and back on about a second later.
    await waitFor(() => farm.chassisLog(i).slice(n).includes('power 1'));
    expect(farm.chassisLog(i).slice(n)).toEqual(['power 0', 'power 1']);
  });
});

describe('IpmitoolDriver boot device', () => {
  const i = SIM.boot;
  const cases = [
    { device: 'pxe', file: 'pxe', bootparam: /Force PXE/ },
    { device: 'disk', file: 'default', bootparam: /Force Boot from default Hard-Drive/ },
    { device: 'cdrom', file: 'cdrom', bootparam: /Force Boot from CD\/DVD/ },
    { device: 'bios', file: 'bios', bootparam: /Force Boot into BIOS Setup/ },
    { device: 'none', file: 'none', bootparam: /No override/ },
  ] as const;
  for (const c of cases) {
    it(`sets and reads back ${c.device}`, async () => {
      await driver.setBootDevice(target(i), { device: c.device, mode: 'uefi', persistent: true });
      expect(farm.bootDevice(i)).toBe(c.file);
      const got = await driver.getBootDevice(target(i));
      expect(got.device).toBe(c.device);
      const bp = await ipmitool(farm.bmcs[i]!, ['chassis', 'bootparam', 'get', '5']);
      expect(bp.code).toBe(0);
      expect(bp.stdout).toMatch(c.bootparam);
    });
  }
});

describe('IpmitoolDriver sensors', () => {
  it('reads values, units and thresholds that match ipmitool sdr', async () => {
    const i = SIM.sensors;
    const s = await driver.sensors(target(i));
    const by = new Map(s.map((r) => [r.name, r]));
    expect(by.get('CPU1 Temp')).toMatchObject({
      type: 'temperature',
      value: 45,
      unit: 'degrees C',
      status: 'ok',
      thresholds: { upperNonCritical: 80, upperCritical: 90, upperNonRecoverable: 100 },
    });
    expect(by.get('FAN1')).toMatchObject({
      type: 'fan',
      value: 4800,
      unit: 'RPM',
      thresholds: { lowerNonRecoverable: 250, lowerCritical: 500, lowerNonCritical: 1000 },
    });
    expect(by.get('12V')).toMatchObject({
      type: 'voltage',
      value: 12,
      unit: 'Volts',
      thresholds: { lowerCritical: 10.8, lowerNonCritical: 11.4, upperNonCritical: 12.6, upperCritical: 13.2 },
    });
    expect(by.get('PS1 Status')).toMatchObject({ type: 'discrete', value: null, status: 'ok' });

    // Independent read through a different ipmitool command (the SDR list, not the sensor table).
    const sdr = await ipmitool(farm.bmcs[i]!, ['sdr', 'list', 'full']);
    expect(sdr.stdout).toMatch(/CPU1 Temp\s*\|\s*45 degrees C/);
    expect(sdr.stdout).toMatch(/FAN1\s*\|\s*4800 RPM/);
    expect(sdr.stdout).toMatch(/12V\s*\|\s*12 Volts/);
  });

  it('sensors again: no `sdr dump` while the repository stamp is unchanged, the same answer in fewer datagrams', async () => {
    const b = farm.bmcs[SIM.sensors]!;
    let sent = 0;
    const proxy = await startUdpProxy({ host: b.host, port: b.port }, (d) => {
      if (d.dir === 'to-server') sent++;
      return undefined;
    });
    try {
      const t = target(SIM.sensors, { host: '127.0.0.1', port: proxy.port }); // a BMC this driver has not cached
      const first = await driver.sensors(t);
      const dumped = sent;
      sent = 0;
      expect(await driver.sensors(t)).toEqual(first);
      // First: the stamp's session, the dump's (Reserve and Get SDR for each record) and the readings'. Again: the
      // stamp's and the readings' sessions only; on a real BMC's hundred records the dump is hundreds of exchanges.
      expect(sent).toBeLessThan(dumped);
      expect(first.map((s) => s.name)).toEqual(expect.arrayContaining(['CPU1 Temp', 'FAN1', '12V', 'PS1 Status']));
    } finally {
      await proxy.stop();
    }
  });
});

describe('IpmitoolDriver users', () => {
  const i = SIM.users;
  const pw1 = 'Op pass#1 space'; // ipmi_sim authenticates on 16 bytes only: 20-byte form is unit-tested
  const pw2 = 'n3w!pass';

  const login = (name: string, password: string, privilege = 'OPERATOR') =>
    ipmitool({ ...farm.bmcs[i]!, username: name, password }, ['chassis', 'power', 'status'], { privilege });

  it('lists the configured admin', async () => {
    const users = await driver.listUsers(target(i));
    expect(users).toContainEqual({ id: 2, name: 'admin', enabled: true, privilege: 'administrator' });
  });

  it('adds a user that can log in, as ipmitool sees it', async () => {
    const { id } = await driver.addUser(target(i), { name: 'op1', password: pw1, privilege: 'operator' });
    expect(id).toBeGreaterThanOrEqual(3);
    const list = await ipmitool(farm.bmcs[i]!, ['user', 'list', '1']);
    expect(list.stdout).toMatch(new RegExp(`^${id}\\s+op1\\s+true\\s+\\S+\\s+true\\s+OPERATOR`, 'm'));
    expect((await login('op1', pw1)).stdout).toMatch(/Chassis Power is/);
    expect(await driver.listUsers(target(i))).toContainEqual({ id, name: 'op1', enabled: true, privilege: 'operator' });
    expect((await codeOf(driver.addUser(target(i), { name: 'op1', password: pw1, privilege: 'user' }))).code).toBe('CONFLICT');
  });

  it('changes the password: the old one fails, the new one works', async () => {
    await driver.setUserPassword(target(i), 'op1', pw2);
    expect((await login('op1', pw1)).code).not.toBe(0);
    expect((await login('op1', pw2)).code).toBe(0);
  });

  it('disables and enables', async () => {
    await driver.setUserEnabled(target(i), 'op1', false);
    expect((await login('op1', pw2)).code).not.toBe(0);
    expect((await driver.listUsers(target(i))).find((u) => u.name === 'op1')?.enabled).toBe(false);
    await driver.setUserEnabled(target(i), 'op1', true);
    expect((await login('op1', pw2)).code).toBe(0);
    expect((await driver.listUsers(target(i))).find((u) => u.name === 'op1')).toMatchObject({ enabled: true, privilege: 'operator' });
  });

  it('removes the user: gone from the list and cannot log in', async () => {
    await driver.removeUser(target(i), 'op1');
    const list = await ipmitool(farm.bmcs[i]!, ['user', 'list', '1']);
    expect(list.stdout).not.toMatch(/op1/);
    expect((await login('op1', pw2)).code).not.toBe(0);
    expect((await driver.listUsers(target(i))).map((u) => u.name)).not.toContain('op1');
    expect((await codeOf(driver.removeUser(target(i), 'op1'))).code).toBe('NOT_FOUND');
  });

  it('rejects bad input before touching the BMC', async () => {
    expect((await codeOf(driver.addUser(target(i), { name: 'x'.repeat(17), password: 'p', privilege: 'user' }))).code).toBe('INVALID_INPUT');
    expect((await codeOf(driver.addUser(target(i), { name: 'ok', password: 'p'.repeat(21), privilege: 'user' }))).code).toBe('INVALID_INPUT');
  });
});

describe('IpmitoolDriver BMC info and reset', () => {
  const i = SIM.info;
  it('reads the device id as ipmitool mc info does', async () => {
    const info = await driver.deviceInfo(target(i));
    expect(info).toEqual({ deviceId: 0, firmware: '9.08', ipmiVersion: '2.0', manufacturerId: 4753, productId: 3842 });
    const mc = await ipmitool(farm.bmcs[i]!, ['mc', 'info']);
    expect(mc.stdout).toMatch(/Firmware Revision\s*:\s*9\.08/);
    expect(mc.stdout).toMatch(/Manufacturer ID\s*:\s*4753/);
  });

  it('maps the simulator\'s 0xC1 to mc reset as BMC_UNSUPPORTED', async () => {
    const r = await codeOf(driver.resetBmc(target(i), 'cold'));
    expect(r).toMatchObject({ code: 'BMC_UNSUPPORTED', details: { completionCode: 0xc1 } });
    expect((await codeOf(driver.resetBmc(target(i), 'warm'))).code).toBe('BMC_UNSUPPORTED');
  });

  it('cipher suite 17 (no SHA-256 in ipmi_sim) is BMC_UNSUPPORTED', async () => {
    expect((await codeOf(driver.powerStatus(target(i, { cipherSuite: 17 })))).code).toBe('BMC_UNSUPPORTED');
  });
});

describe('IpmitoolDriver faults', () => {
  it('a killed BMC is BMC_UNREACHABLE, and works again once up', async () => {
    const i = SIM.down;
    await farm.fault(i, 'down');
    expect((await codeOf(driver.powerStatus(target(i)))).code).toBe('BMC_UNREACHABLE');
    await farm.fault(i, 'up');
    expect(await driver.powerStatus(target(i))).toBe('on');
  });

  it('a hung BMC is BMC_UNREACHABLE within the time limit, and works again once resumed', async () => {
    const i = SIM.hang;
    await farm.fault(i, 'hang');
    try {
      expect((await codeOf(driver.powerStatus(target(i)))).code).toBe('BMC_UNREACHABLE');
    } finally {
      await farm.fault(i, 'resume');
    }
    expect(await driver.powerStatus(target(i))).toBe('on');
  });

  it('a BMC stalled 5 s still answers the read; past the driver\'s own limit it is BMC_TIMEOUT and no process stays behind', async () => {
    const i = SIM.slow;
    await farm.fault(i, 'slow', 5);
    const killer = new IpmitoolDriver({ timeoutMs: 1500 });
    try {
      expect(await driver.powerStatus(target(i))).toBe('on');
      expect((await codeOf(killer.powerStatus(target(i)))).code).toBe('BMC_TIMEOUT');
      const stray = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && cmdline(p).includes(`-p\0${farm.bmcs[i]!.port}\0`));
      expect(stray).toEqual([]);
    } finally {
      await farm.fault(i, 'fast');
      await killer.close();
    }
    // The sim may still be sleeping through the queued hook calls: give it time, then it answers.
    await waitFor(async () => (await codeOf(driver.powerStatus(target(i)))).code === 'OK', 40_000);
  });

  it('a failing chassis hook is BMC_ERROR with completion code 0xff', async () => {
    const i = SIM.fail;
    await farm.fault(i, 'fail');
    expect(await codeOf(driver.power(target(i), 'on'))).toMatchObject({ code: 'BMC_ERROR', details: { completionCode: 0xff } });
    expect(await codeOf(driver.setBootDevice(target(i), { device: 'pxe', mode: 'auto', persistent: false }))).toMatchObject({
      code: 'BMC_ERROR',
      details: { completionCode: 0xff },
    });
    await farm.fault(i, 'ok');
    await driver.power(target(i), 'on');
  });

  it('a wrong password or unknown user is BMC_AUTH_FAILED', async () => {
    const i = SIM.auth;
    expect((await codeOf(driver.powerStatus(target(i, { password: 'wrong' })))).code).toBe('BMC_AUTH_FAILED');
    expect((await codeOf(driver.powerStatus(target(i, { username: 'nobody' })))).code).toBe('BMC_AUTH_FAILED');
    expect(await driver.powerStatus(target(i))).toBe('on');
  });

  it('a full session table is BMC_BUSY, and a BMC restart clears it', async () => {
    const i = SIM.sessions;
    const release = await farm.holdSessions(i, 64).catch(async () => farm.holdSessions(i, 0));
    try {
      expect((await codeOf(driver.powerStatus(target(i)))).code).toBe('BMC_BUSY');
    } finally {
      await release();
    }
    await farm.fault(i, 'restart');
    expect(await driver.powerStatus(target(i))).toBe('on');
  });
});

describe('IpmitoolDriver is not weaker than bare ipmitool', () => {
  it('leaves retransmits to ipmitool (no -N/-R) and reads at User privilege (no Set Session Privilege exchange)', async () => {
    const dir = mkdtempSync(join(tmpdir(), `rh-ipmitool-argv-${process.pid}-`));
    try {
      const log = join(dir, 'argv');
      const wrapper = join(dir, 'ipmitool');
      writeFileSync(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> "${log}"\nexec ipmitool "$@"\n`);
      chmodSync(wrapper, 0o700);
      const d = new IpmitoolDriver({ binary: wrapper });
      try {
        expect(await d.powerStatus(target(SIM.chaos))).toBe('on');
        await d.power(target(SIM.chaos), 'on');
      } finally {
        await d.close();
      }
      const [read, write] = readFileSync(log, 'utf8').trim().split('\n');
      expect(read).not.toMatch(/ -[NR] /);
      expect(read).toMatch(/ -L USER /);
      expect(write).toMatch(/ -L ADMINISTRATOR /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a bit flipped in RAKP 2 is run again, not reported as a wrong password; a wrong password still is', async () => {
    const b = farm.bmcs[SIM.chaos]!;
    let flips = 0;
    const proxy = await startUdpProxy({ host: b.host, port: b.port }, (d) => {
      const v = rmcpDatagram(d.data);
      if (d.dir !== 'to-client' || v.kind !== 'ipmi20' || v.payloadType !== SETUP_PAYLOADS.rakp2 || flips > 0) return undefined;
      flips++;
      const c = Buffer.from(d.data);
      c[16 + SETUP_AUTH_CODE_OFFSET[SETUP_PAYLOADS.rakp2] + 5] ^= 0x04;
      return [{ data: c }];
    });
    try {
      const t = target(SIM.chaos, { port: proxy.port });
      expect(await driver.powerStatus(t)).toBe('on');
      expect(flips).toBe(1);
      expect((await codeOf(driver.powerStatus({ ...t, password: 'not-the-password' }))).code).toBe('BMC_AUTH_FAILED');
    } finally {
      await proxy.stop();
    }
  });
});

function cmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return '';
  }
}

describe('IpmitoolDriver secrets', () => {
  it('never puts a password on any command line or in a log line', async () => {
    const i = SIM.secrets;
    const bmcPassword = 'S3cret-BMC-pw';
    const userPassword = 'Us3r-pw-xyz';
    const newPassword = 'N3w-pw-abc';
    // The admin password is changed first (with bare ipmitool: rackhand never changes the account it logs in with,
    // and this runs before the scan) so the secret under test is one no other process knows.
    expect((await ipmitool(farm.bmcs[i]!, ['user', 'set', 'password', '2', bmcPassword])).code).toBe(0);
    const t = target(i, { password: bmcPassword });
    const needles = [bmcPassword, userPassword, newPassword].flatMap((p) => [
      p,
      Buffer.from(p).toString('hex'),
      [...Buffer.from(p)].map((b) => `0x${b.toString(16).padStart(2, '0')}`).join('\0'),
    ]);

    let stop = false;
    let sawIpmitool = 0;
    const leaks: string[] = [];
    const scanner = (async () => {
      while (!stop) {
        for (const p of readdirSync('/proc')) {
          if (!/^\d+$/.test(p)) continue;
          const c = cmdline(p);
          if (c.startsWith('ipmitool\0') && c.includes(`\0${farm.bmcs[i]!.port}\0`)) sawIpmitool++;
          for (const n of needles) if (c.includes(n)) leaks.push(`${p}: ${c.replace(/\0/g, ' ')}`);
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      for (let k = 0; k < 3; k++) {
        await driver.powerStatus(t);
        await driver.sensors(t);
        await driver.addUser(t, { name: `u${k}`, password: userPassword, privilege: 'user' });
        await driver.setUserPassword(t, `u${k}`, newPassword);
        await driver.removeUser(t, `u${k}`);
        await codeOf(driver.powerStatus({ ...t, password: userPassword }));
      }
    } finally {
      stop = true;
      await scanner;
    }
    expect(leaks).toEqual([]);
    expect(sawIpmitool).toBeGreaterThan(0);
    const logText = logs.join('\n');
    for (const n of needles) expect(logText).not.toContain(n);
    expect(logs.length).toBeGreaterThan(0);
  });
});
