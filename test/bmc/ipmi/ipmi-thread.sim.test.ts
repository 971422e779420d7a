// IpmiThreadDriver (the daemon's `ipmi` driver) against real ipmi_sim BMCs: every call crosses to the worker thread
// of the build (dist/, made by `npm test`'s pretest) and back; answers, error codes, cancellation and the counters
// arrive as the in-thread driver gives them, the UDP sockets live on the worker, and the worker runs below the
// main thread's priority.
import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimFarm, type SimBmc, type SimFarm } from '../../harness/ipmi-sim.js';
import { REPO_ROOT } from '../../harness/rackhand-process.js';
import { IpmiThreadDriver } from '../../../src/bmc/ipmi/ipmi-thread.js';
import type { BmcTarget } from '../../../src/bmc/bmc-driver.js';
import { RackhandError } from '../../../src/errors.js';

const WORKER = new URL(`file://${REPO_ROOT}/dist/bmc/ipmi/ipmi-worker.js`);

let farm: SimFarm;
let driver: IpmiThreadDriver;

const target = (b: SimBmc, over: Partial<BmcTarget> = {}): BmcTarget => ({
  host: b.host, port: b.port, username: b.username, password: b.password, cipherSuite: 3, privilege: 'administrator', ...over,
});

/** Nice values of this process's threads (field 19 of /proc/self/task/TID/stat). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

beforeAll(async () => {
  farm = await startSimFarm({ count: 2 });
  driver = new IpmiThreadDriver({ timeoutMs: 300, retries: 2 }, WORKER);
});
afterAll(async () => {
  await driver?.close();
  await farm?.stop();
});

describe('the ipmi driver on its own thread, against ipmi_sim', () => {
  it('reads and sets power and boot device as the BMC has them; the sockets are the worker\'s, not the main thread\'s', async () => {
    const t = target(farm.bmcs[0]!);
    expect(await driver.powerStatus(t)).toBe('on');
    await driver.power(t, 'off');
    expect(farm.powerState(0)).toBe('off');
    expect(await driver.powerStatus(t)).toBe('off');
    await driver.setBootDevice(t, { device: 'pxe', mode: 'auto', persistent: false });
    expect(farm.bootDevice(0)).toBe('pxe');
    expect((await driver.getBootDevice(t)).device).toBe('pxe');
    expect(process.getActiveResourcesInfo()).not.toContain('UDPWrap');
  });

  it('a wrong password is BMC_AUTH_FAILED, a RackhandError as the in-thread driver throws it', async () => {
    const e = await driver.powerStatus(target(farm.bmcs[1]!, { password: 'not-the-password' })).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(RackhandError);
    expect((e as RackhandError).code).toBe('BMC_AUTH_FAILED');
  });

  it('an aborted call rejects with the signal\'s reason at once, and the thread goes on serving', async () => {
    await farm.fault(1, 'hang');
    try {
      const ac = new AbortController();
      const call = driver.powerStatus(target(farm.bmcs[1]!), { signal: ac.signal });
      const reason = new Error('operator cancelled');
      ac.abort(reason);
      await expect(call).rejects.toBe(reason);
    } finally {
      await farm.fault(1, 'resume');
    }
    expect(await driver.powerStatus(target(farm.bmcs[1]!))).toBe('on');
  });

  it('the counters come back with every answer (metrics read them on the main thread)', async () => {
    const before = driver.stats().sessionsOpened;
    const t = target(farm.bmcs[0]!);
    const fresh = new IpmiThreadDriver({ reuseSessions: false }, WORKER);
    try {
      await fresh.powerStatus(t);
      await fresh.powerStatus(t);
      expect(fresh.stats().sessionsOpened).toBe(2);
    } finally {
      await fresh.close();
    }
    expect(driver.stats().sessionsOpened).toBeGreaterThanOrEqual(before);
  });

  it('the worker thread runs at nice 10, below the main thread', () => {
    const nices = threadNices();
    expect(nices).toContain(10);
    const self = readFileSync('/proc/self/stat', 'latin1');
    expect(Number(self.slice(self.lastIndexOf(')') + 2).split(' ')[16])).toBe(0);
  });
});
