// Unit tests of the in-process simulated BMC driver: state, auth, users, faults.

import { describe, expect, it } from 'vitest';
import type { BmcTarget } from '../../../src/bmc/bmc-driver.js';
import { SimulatedDriver } from '../../../src/bmc/simulated/simulated-driver.js';
import { RackhandError } from '../../../src/errors.js';

const T: BmcTarget = { host: '10.1.0.1', port: 623, username: 'admin', password: 'pw', cipherSuite: 3, privilege: 'administrator' };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    return e instanceof RackhandError ? e.code : 'raw';
  }
}

describe('SimulatedDriver', () => {
  it('keeps power and boot state per BMC', async () => {
    const d = new SimulatedDriver();
    expect(await d.powerStatus(T)).toBe('off');
    await d.power(T, 'on');
    expect(await d.powerStatus(T)).toBe('on');
    expect(await d.powerStatus({ ...T, port: 624 })).toBe('off');
    await d.power(T, 'on'); // no-op, no cycle
    expect(d.state(T).resets).toBe(0);
    await d.power(T, 'reset');
    expect(d.state(T).resets).toBe(1);
    await d.power(T, 'soft');
    expect(await d.powerStatus(T)).toBe('off');
    await d.setBootDevice(T, { device: 'pxe', mode: 'uefi', persistent: true });
    expect(await d.getBootDevice(T)).toEqual({ device: 'pxe', mode: 'uefi', persistent: true });
  });

  it('keeps bounded call records however long it runs (a daemon on simulated BMCs runs for hours)', async () => {
    const d = new SimulatedDriver();
    for (let k = 0; k < 5; k++) await Promise.all(Array.from({ length: 10_000 }, () => d.powerStatus(T)));
    await d.power(T, 'on');
    expect(d.calls.length).toBeGreaterThanOrEqual(10_000);
    expect(d.calls.length).toBeLessThan(20_000);
    expect(d.calls.at(-1)).toBe('10.1.0.1:623 power');
    const log = d.state(T).log;
    expect(log.length).toBeGreaterThanOrEqual(32);
    expect(log.length).toBeLessThan(64);
    expect(log.at(-1)).toBe('power on');
    expect(log.at(-2)).toBe('powerStatus');
  });

  it('returns sensors with small jitter around the nominal values', async () => {
    let x = 0;
    const d = new SimulatedDriver({ initialPower: 'on', random: () => (x = (x + 0.37) % 1) });
    for (let k = 0; k < 20; k++) {
      const s = await d.sensors(T);
      const temp = s.find((r) => r.name === 'CPU1 Temp')!;
      expect(temp.value!).toBeGreaterThanOrEqual(44);
      expect(temp.value!).toBeLessThanOrEqual(46);
      expect(s.find((r) => r.name === '12V')!.thresholds.upperCritical).toBe(13.2);
    }
  });

  it('authenticates: wrong password and unknown user are BMC_AUTH_FAILED', async () => {
    const d = new SimulatedDriver();
    await d.powerStatus(T);
    expect(await codeOf(d.powerStatus({ ...T, password: 'no' }))).toBe('BMC_AUTH_FAILED');
    expect(await codeOf(d.powerStatus({ ...T, username: 'ghost' }))).toBe('BMC_AUTH_FAILED');
  });

  it('manages users; a new user logs in with its privilege', async () => {
    const d = new SimulatedDriver();
    const { id } = await d.addUser(T, { name: 'op', password: 'p1', privilege: 'operator' });
    expect(await d.listUsers(T)).toContainEqual({ id, name: 'op', enabled: true, privilege: 'operator' });
    const op: BmcTarget = { ...T, username: 'op', password: 'p1', privilege: 'operator' };
    expect(await d.powerStatus(op)).toBe('off');
    expect(await codeOf(d.powerStatus({ ...op, privilege: 'administrator' }))).toBe('BMC_AUTH_FAILED');
    await d.setUserPassword(T, 'op', 'p2');
    expect(await codeOf(d.powerStatus(op))).toBe('BMC_AUTH_FAILED');
    await d.setUserEnabled(T, 'op', false);
    expect(await codeOf(d.powerStatus({ ...op, password: 'p2' }))).toBe('BMC_AUTH_FAILED');
    await d.setUserEnabled(T, 'op', true);
    expect(await d.powerStatus({ ...op, password: 'p2' })).toBe('off');
    expect(await codeOf(d.addUser(T, { name: 'op', password: 'x', privilege: 'user' }))).toBe('CONFLICT');
    await d.removeUser(T, 'op');
    expect((await d.listUsers(T)).map((u) => u.name)).toEqual(['admin']);
    expect(await codeOf(d.removeUser(T, 'op'))).toBe('NOT_FOUND');
  });

  it('injects faults per BMC, per op, a number of times', async () => {
    const d = new SimulatedDriver();
    const key = `${T.host}:${T.port}`;
    d.injectFault(key, { kind: 'busy', times: 2 });
    expect(await codeOf(d.powerStatus(T))).toBe('BMC_BUSY');
    expect(await codeOf(d.powerStatus(T))).toBe('BMC_BUSY');
    expect(await codeOf(d.powerStatus(T))).toBe('OK');

    d.injectFault(key, { kind: 'error', ops: ['power'], completionCode: 0xd5 });
    await expect(d.power(T, 'on')).rejects.toMatchObject({ code: 'BMC_ERROR', details: { completionCode: 0xd5 } });
    expect(await codeOf(d.powerStatus(T))).toBe('OK');
    d.clearFaults(key);

    for (const [kind, code] of [
      ['unreachable', 'BMC_UNREACHABLE'],
      ['auth', 'BMC_AUTH_FAILED'],
      ['unsupported', 'BMC_UNSUPPORTED'],
    ] as const) {
      d.injectFault('*', { kind, times: 1 });
      expect(await codeOf(d.deviceInfo({ ...T, port: 700 }))).toBe(code);
    }
    expect(d.state(T).log.filter((l) => l === 'power on')).toHaveLength(0);
  });

  it('timeout fault rejects after its delay; hang holds until cleared', async () => {
    const d = new SimulatedDriver({ faultTimeoutMs: 5 });
    d.injectFault('*', { kind: 'timeout', times: 1 });
    expect(await codeOf(d.powerStatus(T))).toBe('BMC_TIMEOUT');
    d.injectFault('*', { kind: 'hang', times: 1 });
    let settled = false;
    const p = codeOf(d.powerStatus(T)).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    d.clearFaults();
    expect(await p).toBe('BMC_TIMEOUT');
    expect(await d.powerStatus(T)).toBe('off');
  });

  it('validates user input', async () => {
    const d = new SimulatedDriver();
    expect(await codeOf(d.addUser(T, { name: '', password: 'x', privilege: 'user' }))).toBe('INVALID_INPUT');
    expect(await codeOf(d.addUser(T, { name: 'a', password: 'x'.repeat(21), privilege: 'user' }))).toBe('INVALID_INPUT');
  });
});
