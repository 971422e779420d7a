// The BmcDriver contract as one test suite: every driver (ipmi, ipmitool, redfish, simulated) runs it with a fixture
// for its kind of BMC — `describeBmcDriverContract('name', fixture)` in a one-line runner.
//
// It covers every operation (UEFI HTTP boot and virtual media where the driver's BMC_DRIVER_FEATURES line says it has
// them, BMC_UNSUPPORTED where it says not), the stable error codes (unreachable, wrong password, unsupported, bad input),
// cancellation (an aborted signal, a scheduler timeout: the driver stops working on the call), and that the account
// rackhand logs in with can never be removed, disabled or given another password.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BmcDriver, BmcTarget, BootDevice, PowerState } from '../../src/bmc/bmc-driver.js';
import { BmcScheduler } from '../../src/bmc/bmc-scheduler.js';
import { BMC_DRIVER_FEATURES, type BmcDriverName } from '../../src/domain/server.js';
import { RackhandError } from '../../src/errors.js';

export interface BmcContractFixture {
  driver: BmcDriver;
  /** A BMC that works, logged in with an administrator account. */
  target: BmcTarget;
  /** Nothing answers there. */
  unreachable: BmcTarget;
  /** The BMC stops answering (calls to `target` hang) until release(). */
  hang(): Promise<{ target: BmcTarget; release(): Promise<void> }>;
  /** Work the driver still does for its calls (exchanges waiting for answers, child processes, hanging calls). */
  inFlight(): number;
  /** Logs an event on the BMC, as its firmware would, with what the driver should read back. */
  addEvent(t: BmcTarget): Promise<{ severity: string; message: RegExp }>;
  /** An operation this BMC does not support: it must reject with BMC_UNSUPPORTED. */
  unsupported(d: BmcDriver, t: BmcTarget): Promise<unknown>;
  /** Whether powerReading works on this BMC (otherwise it must be BMC_UNSUPPORTED). */
  measuresPower: boolean;
  /** Power as the BMC's own state says (independent of the driver), when the fixture can see it. */
  truePower?(): PowerState;
  /** Two images the BMC can fetch, for drivers with virtual media. */
  mediaImages?: [string, string];
  /** The virtual CD as the BMC's own state says (independent of the driver), when the fixture can see it. */
  trueMedia?(): string | null;
  close(): Promise<void>;
}

const BOOT_DEVICES: BootDevice[] = ['pxe', 'disk', 'cdrom', 'bios', 'none'];
const MEDIA_URL = 'http://192.0.2.1/boot/iso/x.iso';

async function failure(p: Promise<unknown>): Promise<RackhandError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(RackhandError);
  return e as RackhandError;
}

/** A power change is confirmed by reading it back, as the power workflow does (some BMCs take a moment). */
async function readsBack(d: BmcDriver, t: BmcTarget, want: PowerState): Promise<void> {
  let last: PowerState | undefined;
  for (let i = 0; i < 50 && last !== want; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 100));
    last = await d.powerStatus(t);
  }
  expect(last).toBe(want);
}

export function describeBmcDriverContract(name: string, setup: () => Promise<BmcContractFixture>): void {
  describe(`BmcDriver contract: ${name}`, () => {
    let fx: BmcContractFixture;
    let d: BmcDriver;
    let t: BmcTarget;
    beforeAll(async () => {
      fx = await setup();
      d = fx.driver;
      t = fx.target;
    }, 120_000);
    afterAll(async () => {
      await fx?.close();
    });

    it('power: status, on, off, reset, soft, cycle, each read back', async () => {
      await d.power(t, 'on');
      await readsBack(d, t, 'on');
      if (fx.truePower) expect(fx.truePower()).toBe('on');
      await d.power(t, 'off');
      await readsBack(d, t, 'off');
      if (fx.truePower) expect(fx.truePower()).toBe('off');
      await d.power(t, 'on');
      await readsBack(d, t, 'on');
      await d.power(t, 'reset');
      await readsBack(d, t, 'on');
      await d.power(t, 'soft');
      await readsBack(d, t, 'off');
      await d.power(t, 'on');
      await readsBack(d, t, 'on');
      // Last: a BMC may power on again a while after answering a cycle, which would overturn a later change.
      await d.power(t, 'cycle');
      await readsBack(d, t, 'on');
      expect((await failure(d.power(t, 'explode' as never))).code).toBe('INVALID_INPUT');
    });

    it('boot device: every device set, then read back', async () => {
      for (const device of BOOT_DEVICES) {
        await d.setBootDevice(t, { device, mode: 'uefi', persistent: device === 'disk' });
        expect((await d.getBootDevice(t)).device, device).toBe(device);
      }
      expect((await failure(d.setBootDevice(t, { device: 'floppy' as BootDevice, mode: 'uefi', persistent: true }))).code).toBe('INVALID_INPUT');
    });

    it('UEFI HTTP boot: set and read back where the driver has it, BMC_UNSUPPORTED with a reason where not', async () => {
      const features = BMC_DRIVER_FEATURES[d.name as BmcDriverName];
      expect(features, `${d.name} has a BMC_DRIVER_FEATURES line`).toBeDefined();
      if (features.uefiHttpBoot) {
        await d.setBootDevice(t, { device: 'http', mode: 'uefi', persistent: false });
        expect(await d.getBootDevice(t)).toMatchObject({ device: 'http', persistent: false });
        await d.setBootDevice(t, { device: 'none', mode: 'auto', persistent: false });
      } else {
        const e = await failure(d.setBootDevice(t, { device: 'http', mode: 'uefi', persistent: false }));
        expect(e.code).toBe('BMC_UNSUPPORTED');
        expect(e.message).toMatch(/HTTP boot/);
        expect(e.message).not.toContain('\n');
      }
    });

    it('virtual media: insert (ejecting what was there), read back, eject; BMC_UNSUPPORTED where the driver has none', async () => {
      const features = BMC_DRIVER_FEATURES[d.name as BmcDriverName];
      if (!features.virtualMedia) {
        for (const call of [d.insertMedia(t, MEDIA_URL), d.ejectMedia(t), d.mediaStatus(t)]) {
          const e = await failure(call);
          expect(e.code).toBe('BMC_UNSUPPORTED');
          expect(e.message).toMatch(/virtual media/);
        }
        return;
      }
      const [first, second] = fx.mediaImages ?? [MEDIA_URL, MEDIA_URL.replace('x.iso', 'y.iso')];
      await d.insertMedia(t, first);
      expect(await d.mediaStatus(t)).toEqual({ inserted: true, image: first });
      if (fx.trueMedia) expect(fx.trueMedia()).toBe(first);
      await d.insertMedia(t, second);
      expect(await d.mediaStatus(t)).toEqual({ inserted: true, image: second });
      await d.ejectMedia(t);
      expect(await d.mediaStatus(t)).toEqual({ inserted: false, image: null });
      if (fx.trueMedia) expect(fx.trueMedia()).toBeNull();
      await d.ejectMedia(t); // nothing attached: nothing to do
      expect((await failure(d.insertMedia(t, 'file:///etc/passwd'))).code).toBe('INVALID_INPUT');
      expect((await d.mediaStatus(t)).inserted).toBe(false);
    });

    it('sensors: readings in the contract shape', async () => {
      const list = await d.sensors(t);
      expect(list.length).toBeGreaterThan(0);
      for (const s of list) {
        expect(typeof s.name).toBe('string');
        expect(typeof s.type).toBe('string');
        expect(s.value === null || Number.isFinite(s.value)).toBe(true);
        expect(['ok', 'warning', 'critical', 'unavailable']).toContain(s.status);
        for (const v of Object.values(s.thresholds)) expect(Number.isFinite(v)).toBe(true);
      }
      expect(list.some((s) => s.value !== null)).toBe(true);
    });

    it('device info', async () => {
      const info = await d.deviceInfo(t);
      expect(info).toEqual({ deviceId: expect.any(Number), firmware: expect.any(String), ipmiVersion: expect.any(String), manufacturerId: expect.any(Number), productId: expect.any(Number) });
    });

    it('users: add, log in as it, change its password, disable, enable, remove; conflicts and unknown names', async () => {
      const name = `ct${process.pid % 10_000}`;
      const listed = await d.listUsers(t);
      expect(listed.find((u) => u.name === t.username)).toMatchObject({ enabled: true });
      const { id } = await d.addUser(t, { name, password: 'Contract-pw-1', privilege: 'operator' });
      expect((await d.listUsers(t)).find((u) => u.name === name)).toEqual({ id, name, enabled: true, privilege: 'operator' });
      const as = (password: string): BmcTarget => ({ ...t, username: name, password, privilege: 'operator' });
      expect(['on', 'off']).toContain(await d.powerStatus(as('Contract-pw-1')));
      expect((await failure(d.addUser(t, { name, password: 'x-pw', privilege: 'user' }))).code).toBe('CONFLICT');

      await d.setUserPassword(t, name, 'Contract-pw-2');
      expect((await failure(d.powerStatus(as('Contract-pw-1')))).code).toBe('BMC_AUTH_FAILED');
      expect(['on', 'off']).toContain(await d.powerStatus(as('Contract-pw-2')));

      await d.setUserEnabled(t, name, false);
      expect((await d.listUsers(t)).find((u) => u.name === name)?.enabled).toBe(false);
      expect((await failure(d.powerStatus(as('Contract-pw-2')))).code).toBe('BMC_AUTH_FAILED');
      await d.setUserEnabled(t, name, true);
      expect(['on', 'off']).toContain(await d.powerStatus(as('Contract-pw-2')));

      await d.removeUser(t, name);
      expect((await d.listUsers(t)).some((u) => u.name === name)).toBe(false);
      expect((await failure(d.powerStatus(as('Contract-pw-2')))).code).toBe('BMC_AUTH_FAILED');
      expect((await failure(d.removeUser(t, name))).code).toBe('NOT_FOUND');
      expect((await failure(d.setUserPassword(t, name, 'y-pw'))).code).toBe('NOT_FOUND');
      for (const bad of ['', 'has space', 'x'.repeat(17)]) {
        expect((await failure(d.addUser(t, { name: bad, password: 'pw-ok', privilege: 'user' }))).code, JSON.stringify(bad)).toBe('INVALID_INPUT');
      }
      expect((await failure(d.addUser(t, { name: `${name}b`, password: 'p'.repeat(21), privilege: 'user' }))).code).toBe('INVALID_INPUT');
    });

    it("rackhand's own login can never be removed, disabled or given another password", async () => {
      const self = [t.username, t.username.toUpperCase(), ` ${t.username} `];
      for (const n of self) {
        expect((await failure(d.removeUser(t, n))).code).toBe('INVALID_INPUT');
        expect((await failure(d.setUserEnabled(t, n, false))).code).toBe('INVALID_INPUT');
        expect((await failure(d.setUserPassword(t, n, 'Taken-over-1'))).code).toBe('INVALID_INPUT');
      }
      expect((await d.listUsers(t)).find((u) => u.name === t.username)).toMatchObject({ enabled: true });
      expect(['on', 'off']).toContain(await d.powerStatus(t)); // still logs in with the same password
    });

    it('event log: an entry the BMC logged is read back; clearing empties it', async () => {
      await d.clearEventLog(t);
      expect(await d.readEventLog(t)).toEqual([]);
      const want = await fx.addEvent(t);
      const log = await d.readEventLog(t);
      expect(log).toHaveLength(1);
      expect(log[0]).toMatchObject({ id: expect.any(String), severity: want.severity, message: expect.stringMatching(want.message) });
      expect(log[0].time === null || !Number.isNaN(Date.parse(log[0].time))).toBe(true);
      await d.clearEventLog(t);
      expect(await d.readEventLog(t)).toEqual([]);
    });

    it('power reading, or BMC_UNSUPPORTED where the BMC does not measure power', async () => {
      if (fx.measuresPower) {
        const r = await d.powerReading(t);
        expect(r.watts).toBeGreaterThanOrEqual(0);
      } else {
        expect((await failure(d.powerReading(t))).code).toBe('BMC_UNSUPPORTED');
      }
    });

    it('error codes: unreachable, wrong password, unsupported', async () => {
      expect((await failure(d.powerStatus(fx.unreachable))).code).toBe('BMC_UNREACHABLE');
      expect((await failure(d.powerStatus({ ...t, password: 'not-the-password' }))).code).toBe('BMC_AUTH_FAILED');
      expect((await failure(d.deviceInfo({ ...t, username: 'nobody-here' }))).code).toBe('BMC_AUTH_FAILED');
      expect((await failure(fx.unsupported(d, t))).code).toBe('BMC_UNSUPPORTED');
      expect(['on', 'off']).toContain(await d.powerStatus(t)); // and the good target still works
    }, 120_000);

    it('an already aborted signal: the call rejects with its reason and does nothing', async () => {
      const reason = new RackhandError('TASK_CANCELLED', 'cancelled before it started');
      const ac = new AbortController();
      ac.abort(reason);
      const before = await d.powerStatus(t);
      expect(await d.power(t, before === 'on' ? 'off' : 'on', { signal: ac.signal }).catch((e: unknown) => e)).toBe(reason);
      expect(fx.inFlight()).toBe(0);
      expect(await d.powerStatus(t)).toBe(before);
    });

    it('a cancelled call on a hung BMC rejects with the reason, and the driver stops working on it', async () => {
      const hung = await fx.hang();
      try {
        const reason = new RackhandError('TASK_CANCELLED', 'task cancelled');
        const ac = new AbortController();
        const call = d.sensors(hung.target, { signal: ac.signal }).catch((e: unknown) => e);
        // Let the call get going (a session handshake, a child process) before cancelling it.
        for (let i = 0; i < 100 && fx.inFlight() === 0; i++) await new Promise((r) => setTimeout(r, 20));
        expect(fx.inFlight()).toBeGreaterThan(0);
        ac.abort(reason);
        expect(await call).toBe(reason);
        expect(fx.inFlight()).toBe(0);
      } finally {
        await hung.release();
      }
    }, 60_000);

    it("the scheduler's timeout aborts the driver's call: BMC_TIMEOUT, and no work left behind", async () => {
      const hung = await fx.hang();
      const scheduled = new BmcScheduler({ operationTimeoutMs: 300, minSpacingMs: 0, busyRetries: 0 }).wrap(d);
      try {
        const e = await failure(scheduled.powerStatus(hung.target));
        expect(e.code).toBe('BMC_TIMEOUT');
        expect(e.message).toMatch(/did not complete powerStatus/);
        expect(fx.inFlight()).toBe(0);
      } finally {
        await hung.release();
      }
    }, 60_000);
  });
}
