// IpmiDriver against real OpenIPMI ipmi_sim BMCs (cipher suite 3), every operation cross-checked with ipmitool
// and the simulator's own hook files; faults: sim killed / hung / failing, wrong password, session limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipmitool, startSimFarm, type SimBmc, type SimFarm } from '../../harness/ipmi-sim.js';
import { startUdpProxy } from '../../harness/udp-proxy.js';
import { IpmiDriver } from '../../../src/bmc/ipmi/ipmi-driver.js';
import { IpmiSession } from '../../../src/bmc/ipmi/ipmi-session.js';
import type { BmcTarget } from '../../../src/bmc/bmc-driver.js';
import { RackhandError } from '../../../src/errors.js';

let farm: SimFarm;
let driver: IpmiDriver;

const target = (b: SimBmc, over: Partial<BmcTarget> = {}): BmcTarget => ({
  host: b.host, port: b.port, username: b.username, password: b.password, cipherSuite: 3, privilege: 'administrator', ...over,
});

beforeAll(async () => {
  farm = await startSimFarm({ count: 4 });
  driver = new IpmiDriver({ timeoutMs: 300, retries: 2 });
});
afterAll(async () => {
  await driver?.close();
  await farm?.stop();
});

async function failure(p: Promise<unknown>): Promise<RackhandError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(RackhandError);
  return e as RackhandError;
}

describe('ipmi driver vs ipmi_sim, cross-checked with ipmitool', () => {
  it('device id matches `ipmitool mc info`', async () => {
    const b = farm.bmcs[0];
    const info = await driver.deviceInfo(target(b));
    const mc = (await ipmitool(b, ['mc', 'info'])).stdout;
    expect(mc).toContain(`Firmware Revision         : ${info.firmware}`);
    expect(mc).toContain(`IPMI Version              : ${info.ipmiVersion}`);
    expect(mc).toContain(`Manufacturer ID           : ${info.manufacturerId}`);
    expect(mc).toContain(`Product ID                : ${info.productId} `);
    expect(info.ipmiVersion).toBe('2.0');
  });

  it('power status follows the BMC, and agrees with ipmitool', async () => {
    const b = farm.bmcs[0];
    const t = target(b);
    expect(await driver.powerStatus(t)).toBe('on');
    farm.setPower(0, 'off');
    expect(await driver.powerStatus(t)).toBe('off');
    expect((await ipmitool(b, ['chassis', 'power', 'status'])).stdout).toMatch(/Chassis Power is off/);
    farm.setPower(0, 'on');
    expect(await driver.powerStatus(t)).toBe('on');
    expect((await ipmitool(b, ['chassis', 'power', 'status'])).stdout).toMatch(/Chassis Power is on/);
  });

  it('power on / off / soft / reset / cycle reach the chassis', async () => {
    const b = farm.bmcs[1];
    const t = target(b);
    await driver.power(t, 'off');
    expect(farm.powerState(1)).toBe('off');
    expect((await ipmitool(b, ['chassis', 'power', 'status'])).stdout).toMatch(/is off/);
    await driver.power(t, 'on');
    expect(farm.powerState(1)).toBe('on');
    expect(await driver.powerStatus(t)).toBe('on');
    const resets = farm.resets(1);
    await driver.power(t, 'reset');
    expect(farm.resets(1)).toBe(resets + 1);
    await driver.power(t, 'soft');
    expect(farm.powerState(1)).toBe('off');
    expect(farm.chassisLog(1)).toContain('shutdown 1');
    await driver.power(t, 'on');
    const logged = farm.chassisLog(1).length;
    await driver.power(t, 'cycle');
    // The simulator powers off at once and on again about a second later.
    const deadline = Date.now() + 10_000;
    // (the hook logs a command before it writes the power file: wait for both)
    const done = (): boolean => farm.chassisLog(1).slice(logged).join(',') === 'power 0,power 1' && farm.powerState(1) === 'on';
    while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(farm.chassisLog(1).slice(logged)).toEqual(['power 0', 'power 1']);
    expect(farm.powerState(1)).toBe('on');
    expect((await ipmitool(b, ['chassis', 'power', 'status'])).stdout).toMatch(/is on/);
  });

  it('boot device: raw Set System Boot Options, read back, seen by the hook and by ipmitool', async () => {
    const b = farm.bmcs[0];
    const t = target(b);
    const cases = [
      { device: 'pxe', hook: 'pxe', tool: 'Force PXE' },
      { device: 'disk', hook: 'default', tool: 'Force Boot from default Hard-Drive' },
      { device: 'cdrom', hook: 'cdrom', tool: 'Force Boot from CD/DVD' },
      { device: 'bios', hook: 'bios', tool: 'Force Boot into BIOS Setup' },
    ] as const;
    for (const c of cases) {
      await driver.setBootDevice(t, { device: c.device, mode: 'uefi', persistent: true });
      expect(farm.bootDevice(0)).toBe(c.hook);
      expect((await driver.getBootDevice(t)).device).toBe(c.device);
      expect((await ipmitool(b, ['chassis', 'bootparam', 'get', '5'])).stdout).toContain(c.tool);
    }
    // ipmitool sets it, we read it.
    expect((await ipmitool(b, ['chassis', 'bootdev', 'pxe'])).code).toBe(0);
    expect((await driver.getBootDevice(t)).device).toBe('pxe');
  });

  it('sensors: SDR walk, readings, units, thresholds and status match ipmitool', async () => {
    const b = farm.bmcs[0];
    const list = await driver.sensors(target(b));
    const by = Object.fromEntries(list.map((s) => [s.name, s]));
    expect(by['CPU1 Temp']).toMatchObject({ type: 'temperature', value: 45, unit: 'degrees C', status: 'ok', thresholds: { upperNonCritical: 80, upperCritical: 90, upperNonRecoverable: 100 } });
    expect(by['FAN1']).toMatchObject({ type: 'fan', value: 4800, unit: 'RPM', status: 'ok', thresholds: { lowerNonRecoverable: 250, lowerCritical: 500, lowerNonCritical: 1000 } });
    expect(by['12V']).toMatchObject({ type: 'voltage', value: 12, unit: 'Volts', status: 'ok', thresholds: { lowerCritical: 10.8, lowerNonCritical: 11.4, upperNonCritical: 12.6, upperCritical: 13.2 } });
    expect(by['PS1 Status']).toMatchObject({ type: 'discrete', value: null });
    const tool = (await ipmitool(b, ['sensor'])).stdout;
    for (const s of list.filter((x) => x.value !== null)) {
      const line = tool.split('\n').find((l) => l.startsWith(s.name));
      expect(line, s.name).toBeDefined();
      const cols = line!.split('|').map((c) => c.trim());
      expect(Number(cols[1])).toBeCloseTo(s.value!, 3);
      expect(cols[2]).toBe(s.unit);
      expect(cols[3]).toBe(s.status);
    }
  });

  it('sensors again: the SDR from the cache (its repository stamp unchanged), the same answer for a third of the datagrams', async () => {
    const b = farm.bmcs[1];
    let sent = 0;
    const proxy = await startUdpProxy({ host: b.host, port: b.port }, (d) => {
      if (d.dir === 'to-server') sent++;
      return undefined;
    });
    const reader = new IpmiDriver({ timeoutMs: 300, retries: 2 });
    try {
      const t = target(b, { host: '127.0.0.1', port: proxy.port });
      await reader.powerStatus(t); // the session open, so both reads below count only their own commands
      let before = sent;
      const first = await reader.sensors(t);
      const walked = sent - before;
      before = sent;
      expect(await reader.sensors(t)).toEqual(first);
      const cached = sent - before;
      // The walk: Get SDR Repository Info, Reserve, 2-4 Get SDR per record, 4 readings, 3 thresholds (26 datagrams
      // here); from the cache: the repository info, the readings and thresholds (8). Retransmits may add a few.
      expect(walked).toBeGreaterThan(20);
      expect(cached).toBeLessThan(walked / 2);
      expect(first.map((s) => s.name)).toEqual(expect.arrayContaining(['CPU1 Temp', 'FAN1', '12V', 'PS1 Status']));
    } finally {
      await reader.close();
      await proxy.stop();
    }
  });

  it('users: list, add with privilege + channel access, log in with the new credentials, password, remove', async () => {
    const b = farm.bmcs[2];
    const t = target(b);
    const before = await driver.listUsers(t);
    expect(before.find((u) => u.name === 'admin')).toMatchObject({ id: 2, enabled: true, privilege: 'administrator' });

    const newUser = { name: `rh${process.pid % 100000}`, password: 'N3w-Pass-word-17', privilege: 'operator' as const };
    const { id } = await driver.addUser(t, newUser);
    expect(id).toBeGreaterThan(2);
    const listed = (await driver.listUsers(t)).find((u) => u.name === newUser.name);
    expect(listed).toMatchObject({ id, enabled: true, privilege: 'operator' });
    const toolList = (await ipmitool(b, ['user', 'list', '1'])).stdout;
    expect(toolList).toMatch(new RegExp(`^${id}\\s+${newUser.name}\\s+.*OPERATOR`, 'm'));

    // Independent login with the new credentials (ipmitool), and ours.
    const asNew = { ...b, username: newUser.name, password: newUser.password };
    const login = await ipmitool(asNew, ['chassis', 'power', 'status'], { privilege: 'OPERATOR' });
    expect(login.stdout).toMatch(/Chassis Power is/);
    const tNew = target(b, { username: newUser.name, password: newUser.password, privilege: 'operator' });
    expect(['on', 'off']).toContain(await driver.powerStatus(tNew));

    await driver.addUser(t, { ...newUser, name: `${newUser.name}x` }).then((r) => driver.removeUser(t, `${newUser.name}x`).then(() => r));
    expect((await failure(driver.addUser(t, newUser))).code).toBe('CONFLICT');

    await driver.setUserPassword(t, newUser.name, 'Changed-pw-99');
    expect((await ipmitool(asNew, ['chassis', 'power', 'status'], { privilege: 'OPERATOR' })).code).not.toBe(0);
    expect((await ipmitool({ ...asNew, password: 'Changed-pw-99' }, ['chassis', 'power', 'status'], { privilege: 'OPERATOR' })).stdout).toMatch(/Chassis Power is/);

    await driver.setUserEnabled(t, newUser.name, false);
    expect((await ipmitool({ ...asNew, password: 'Changed-pw-99' }, ['chassis', 'power', 'status'], { privilege: 'OPERATOR' })).code).not.toBe(0);
    const fresh = new IpmiDriver({ timeoutMs: 300, retries: 2 });
    expect((await failure(fresh.powerStatus({ ...tNew, password: 'Changed-pw-99' }))).code).toBe('BMC_AUTH_FAILED');
    await driver.setUserEnabled(t, newUser.name, true);
    expect(await fresh.powerStatus({ ...tNew, password: 'Changed-pw-99' })).toMatch(/^(on|off)$/);
    await fresh.close();
    expect((await ipmitool({ ...asNew, password: 'Changed-pw-99' }, ['chassis', 'power', 'status'], { privilege: 'OPERATOR' })).stdout).toMatch(/Chassis Power is/);

    await driver.removeUser(t, newUser.name);
    expect((await driver.listUsers(t)).some((u) => u.name === newUser.name)).toBe(false);
    expect((await ipmitool(b, ['user', 'list', '1'])).stdout).not.toContain(newUser.name);
    const gone = await ipmitool({ ...asNew, password: 'Changed-pw-99' }, ['chassis', 'power', 'status'], { privilege: 'OPERATOR' });
    expect(gone.code).not.toBe(0);
    expect((await failure(driver.setUserPassword(t, newUser.name, 'x'))).code).toBe('NOT_FOUND');
  });

  it('BMC reset: the simulator has no Cold/Warm Reset (0xc1) → BMC_UNSUPPORTED', async () => {
    const e = await failure(driver.resetBmc(target(farm.bmcs[0]), 'cold'));
    expect(e.code).toBe('BMC_UNSUPPORTED');
    expect(e.details?.completionCode).toBe(0xc1);
    expect(await driver.powerStatus(target(farm.bmcs[0]))).toBe('on');
  });

  it('reuses one session per target and closes it on close()', async () => {
    const d = new IpmiDriver({ timeoutMs: 300, retries: 2 });
    const t = target(farm.bmcs[3]);
    await d.powerStatus(t);
    const first = d.sessionIds();
    await d.powerStatus(t);
    await d.deviceInfo(t);
    expect(d.sessionIds()).toEqual(first);
    expect(first).toHaveLength(1);
    await d.close();
    expect(d.sessionIds()).toHaveLength(0);
  });

  it('without session reuse, reads of every BMC at once from one driver each get their own answer or error', async () => {
    const d = new IpmiDriver({ timeoutMs: 300, retries: 2, reuseSessions: false });
    try {
      const targets = farm.bmcs.map((b) => target(b));
      targets.push(target(farm.bmcs[0], { password: 'wrong-password' }));
      const res = await Promise.allSettled(targets.map((t) => d.powerStatus(t)));
      expect(res.slice(0, 4).map((r) => (r.status === 'fulfilled' ? r.value : r.reason))).toEqual(farm.bmcs.map((_, i) => farm.powerState(i)));
      expect(res[4]).toMatchObject({ status: 'rejected', reason: { code: 'BMC_AUTH_FAILED' } });
      expect(d.sessionIds()).toEqual([]);
    } finally {
      await d.close();
    }
  });
});

describe('faults', () => {
  it('wrong password → BMC_AUTH_FAILED; unknown user → BMC_AUTH_FAILED', async () => {
    const b = farm.bmcs[0];
    expect((await failure(driver.powerStatus(target(b, { password: 'not-it' })))).code).toBe('BMC_AUTH_FAILED');
    expect((await failure(driver.powerStatus(target(b, { username: 'nobody' })))).code).toBe('BMC_AUTH_FAILED');
  });

  it('unsupported cipher suite 17 (this simulator has no SHA-256) → BMC_UNSUPPORTED', async () => {
    expect((await failure(driver.powerStatus(target(farm.bmcs[0], { cipherSuite: 17 })))).code).toBe('BMC_UNSUPPORTED');
  });

  it('chassis hook failing → BMC_ERROR with completion code 0xff; recovers after', async () => {
    const t = target(farm.bmcs[3]);
    await farm.fault(3, 'fail');
    try {
      const e = await failure(driver.power(t, 'on'));
      expect(e.code).toBe('BMC_ERROR');
      expect(e.details?.completionCode).toBe(0xff);
    } finally {
      await farm.fault(3, 'ok');
    }
    await driver.power(t, 'on');
    expect(farm.powerState(3)).toBe('on');
  });

  it('sim killed → BMC_UNREACHABLE, nothing left waiting; works again once it is back (stale session replaced)', async () => {
    const t = target(farm.bmcs[3]);
    expect(await driver.powerStatus(t)).toBe('on'); // a live, reused session
    await farm.fault(3, 'down');
    const e = await failure(driver.powerStatus(t));
    expect(['BMC_UNREACHABLE', 'BMC_TIMEOUT']).toContain(e.code);
    expect(driver.stats().exchangesInFlight).toBe(0);
    await farm.fault(3, 'up');
    expect(await driver.powerStatus(t)).toBe('on');
  });

  it('BMC reboot behind a reused session is transparent', async () => {
    const t = target(farm.bmcs[3]);
    expect(await driver.powerStatus(t)).toBe('on');
    await farm.fault(3, 'restart');
    expect(await driver.powerStatus(t)).toBe('on');
  });

  it('a BMC stalled 5 s by a slow chassis command still answers the read (default timing)', async () => {
    // ipmi_sim is single-threaded: while the chassis hook sleeps it answers nothing, and every retransmit of the
    // read is queued and executed again afterwards. The wait per attempt grows, so the first answer arrives in time.
    const t = target(farm.bmcs[1]);
    const d = new IpmiDriver({ reuseSessions: false });
    try {
      await d.deviceInfo(t); // the handshake works; only chassis commands stall
      await farm.fault(1, 'slow', 5);
      expect(await d.powerStatus(t)).toBe(farm.powerState(1));
    } finally {
      await farm.fault(1, 'fast');
      await d.close();
    }
  }, 60_000);

  it('hung sim → BMC_TIMEOUT/UNREACHABLE, nothing left waiting; resumes', async () => {
    const t = target(farm.bmcs[2]);
    const d = new IpmiDriver({ timeoutMs: 300, retries: 2 });
    try {
      await farm.fault(2, 'hang');
      const e = await failure(d.powerStatus(t));
      expect(['BMC_UNREACHABLE', 'BMC_TIMEOUT']).toContain(e.code);
      expect(d.stats().exchangesInFlight).toBe(0);
    } finally {
      await farm.fault(2, 'resume');
    }
    expect(await d.powerStatus(t)).toBe('on');
    await d.close();
  });
});

describe('session limit', () => {
  let limited: SimFarm;
  const held: IpmiSession[] = [];
  beforeAll(async () => {
    limited = await startSimFarm({ count: 1, maxSessions: 64 });
  });
  afterAll(async () => {
    await Promise.all(held.map((s) => s.close()));
    await limited?.stop();
  });

  it('with every session slot taken → BMC_BUSY inside the timeout; a slot freed → works', async () => {
    const b = limited.bmcs[0];
    const t = target(b);
    let busy: RackhandError | undefined;
    // ipmi_sim allows 63 sessions; open until it refuses.
    for (let i = 0; i < 70 && !busy; i++) {
      const s = new IpmiSession(t, { timeoutMs: 500, retries: 2 });
      try {
        await s.open();
        held.push(s);
      } catch (e) {
        busy = e as RackhandError;
      }
    }
    expect(busy?.code).toBe('BMC_BUSY');
    expect(held.length).toBe(63);
    const d = new IpmiDriver({ timeoutMs: 300, retries: 2 });
    try {
      expect((await failure(d.powerStatus(t))).code).toBe('BMC_BUSY');
      expect(d.stats().exchangesInFlight).toBe(0);
      await held.pop()!.close();
      expect(await d.powerStatus(t)).toBe('on');
      // ipmitool agrees the BMC is still healthy.
      expect((await ipmitool(b, ['chassis', 'power', 'status'])).code).not.toBe(0); // all slots full again (ours holds one)
    } finally {
      await d.close();
    }
    expect((await ipmitool(b, ['chassis', 'power', 'status'])).stdout).toMatch(/Chassis Power is on/);
  });
});
