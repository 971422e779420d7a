// The redfish driver against emulated Redfish BMCs over real HTTPS (in-memory machines; redfish-driver.vm.test.ts
// has the VM): every operation, sessions, ETags, task monitors, certificate pinning and a site CA, unreachable BMCs.

import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RackhandError } from '../../../src/errors.js';
import type { BmcTarget } from '../../../src/bmc/bmc-driver.js';
import { BmcScheduler } from '../../../src/bmc/bmc-scheduler.js';
import { MemoryCertificatePins } from '../../harness/redfish-bmc/memory-certificate-pins.js';
import { RedfishDriver, type RedfishDriverOptions } from '../../../src/bmc/redfish/redfish-driver.js';
import { MemoryMachine } from '../../harness/redfish-bmc/emulated-machine.js';
import { RedfishEmulator, type RedfishEmulatorOptions } from '../../harness/redfish-bmc/redfish-emulator.js';
import { startRedfishFarm } from '../../harness/redfish-bmc/redfish-farm.js';
import { makeCertSignedBy, makeLegacyCert, makeSelfSignedCert, makeTestCa } from '../../harness/redfish-bmc/self-signed-cert.js';
import { startUnreachableBmc } from '../../harness/redfish-bmc/unreachable-bmc.js';

const PASSWORD = 'rf-Secret-42';
const emulators: RedfishEmulator[] = [];
const drivers: RedfishDriver[] = [];

afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.close()));
  await Promise.all(emulators.splice(0).map((e) => e.stop()));
});

async function emulator(opts: Partial<RedfishEmulatorOptions> = {}): Promise<{ emu: RedfishEmulator; machine: MemoryMachine; t: BmcTarget }> {
  const machine = (opts.machine as MemoryMachine | undefined) ?? new MemoryMachine({ power: 'Off' });
  const emu = await new RedfishEmulator({ machine, username: 'admin', password: PASSWORD, ...opts }).start();
  emulators.push(emu);
  const t: BmcTarget = { host: '127.0.0.1', port: emu.port, username: 'admin', password: PASSWORD, cipherSuite: 3, privilege: 'administrator', scheme: opts.tls === false ? 'http' : 'https' };
  return { emu, machine, t };
}

function driver(opts: Partial<RedfishDriverOptions> = {}): RedfishDriver {
  const d = new RedfishDriver({ trust: { mode: 'pin', pins: new MemoryCertificatePins() }, reassertPauseMs: 20, powerPollMs: 20, ...opts });
  drivers.push(d);
  return d;
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not reached: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('power', () => {
  it('reads PowerState and carries out every power action with the right ResetType', async () => {
    const { emu, machine, t } = await emulator();
    const d = driver();
    expect(await d.powerStatus(t)).toBe('off');
    await d.power(t, 'on');
    expect(machine.powerState()).toBe('On');
    expect(await d.powerStatus(t)).toBe('on');
    await d.power(t, 'reset');
    expect(machine.boots.map((b) => b.how)).toEqual(['power-on', 'reset']);
    await d.power(t, 'cycle');
    await d.power(t, 'soft');
    expect(machine.powerState()).toBe('Off');
    await d.power(t, 'on');
    await d.power(t, 'off');
    expect(machine.powerState()).toBe('Off');
    const resets = emu.requests.filter((r) => r.path.endsWith('/Actions/ComputerSystem.Reset')).map((r) => (r.body as { ResetType: string }).ResetType);
    expect(resets).toEqual(['On', 'ForceRestart', 'PowerCycle', 'GracefulShutdown', 'On', 'ForceOff']);
  });

  it('a BMC without PowerCycle gets ForceOff, waits for Off, then On', async () => {
    const { emu, machine, t } = await emulator({ machine: new MemoryMachine({ power: 'On' }) });
    emu.resetTypes = ['On', 'ForceOff', 'GracefulShutdown', 'ForceRestart'];
    const d = driver();
    await d.power(t, 'cycle');
    const resets = emu.requests.filter((r) => r.path.endsWith('/Actions/ComputerSystem.Reset')).map((r) => (r.body as { ResetType: string }).ResetType);
    expect(resets).toEqual(['ForceOff', 'On']);
    expect(machine.powerState()).toBe('On');
    await expect(d.power(t, 'soft').then(() => d.power(t, 'on'))).resolves.toBeUndefined();
  });

  it('follows the task monitor of an asynchronous reset to its end', async () => {
    const { emu, machine, t } = await emulator({ quirks: { asyncTasks: true }, taskLatencyMs: 1500 });
    const d = driver();
    await d.power(t, 'on');
    expect(machine.powerState()).toBe('On'); // the driver returned only once the task had run
    const polls = emu.requests.filter((r) => r.path.includes('/TaskMonitors/')).map((r) => r.status);
    expect(polls[0]).toBe(202);
    expect(polls.at(-1)).toBe(200);
  });
});

describe('bad arguments', () => {
  it('an unknown power action, boot device or mode is INVALID_INPUT before the BMC is asked', async () => {
    const { emu, t } = await emulator();
    const d = driver();
    await expect(d.power(t, 'explode' as never)).rejects.toMatchObject({ code: 'INVALID_INPUT', details: { field: 'action' } });
    await expect(d.setBootDevice(t, { device: 'floppy' as never, mode: 'uefi', persistent: false })).rejects.toMatchObject({ code: 'INVALID_INPUT', details: { field: 'device' } });
    await expect(d.setBootDevice(t, { device: 'pxe', mode: 'bios' as never, persistent: false })).rejects.toMatchObject({ code: 'INVALID_INPUT', details: { field: 'mode' } });
    expect(emu.requests).toEqual([]);
  });
});

describe('boot override', () => {
  it('writes Once/Continuous, UEFI/Legacy, every target, reads them back; none disables it', async () => {
    const { emu, t } = await emulator();
    const d = driver();
    for (const [device, target] of [['pxe', 'Pxe'], ['disk', 'Hdd'], ['cdrom', 'Cd'], ['bios', 'BiosSetup'], ['http', 'UefiHttp']] as const) {
      await d.setBootDevice(t, { device, mode: 'uefi', persistent: false });
      expect(emu.boot).toMatchObject({ enabled: 'Once', target, mode: 'UEFI' });
      expect(await d.getBootDevice(t)).toEqual({ device, mode: 'uefi', persistent: false });
    }
    await d.setBootDevice(t, { device: 'pxe', mode: 'legacy', persistent: true });
    expect(emu.boot).toMatchObject({ enabled: 'Continuous', target: 'Pxe', mode: 'Legacy' });
    await d.setBootDevice(t, { device: 'none', mode: 'auto', persistent: false });
    expect(emu.boot.enabled).toBe('Disabled');
    expect((await d.getBootDevice(t)).device).toBe('none');
    expect(d.quirksSeen(t)).toEqual([]);
  });

  it('UEFI HTTP boot with a URL: HttpBootUri written and read back; a BMC without HttpBootUri gets the target alone', async () => {
    const { emu, t } = await emulator();
    const d = driver();
    const uri = 'http://10.0.0.1:8080/boot/files/ipxe.efi';
    await d.setBootDevice(t, { device: 'http', mode: 'uefi', persistent: false, uri });
    expect(emu.boot).toEqual({ enabled: 'Once', target: 'UefiHttp', mode: 'UEFI', httpBootUri: uri });
    expect(await d.getBootDevice(t)).toEqual({ device: 'http', mode: 'uefi', persistent: false, uri });
    const old = await emulator();
    old.emu.offersHttpBootUri = false;
    await d.setBootDevice(old.t, { device: 'http', mode: 'uefi', persistent: false, uri });
    expect(old.emu.boot).toMatchObject({ enabled: 'Once', target: 'UefiHttp' });
    expect(old.emu.requests.filter((r) => r.method === 'PATCH').map((r) => r.body)).toEqual([{ Boot: { BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'UefiHttp', BootSourceOverrideMode: 'UEFI' } }]);
    expect(await d.getBootDevice(old.t)).toEqual({ device: 'http', mode: 'uefi', persistent: false });
  });

  it('a one-time override is consumed by the power-on it was set for', async () => {
    const { emu, machine, t } = await emulator();
    const d = driver();
    await d.setBootDevice(t, { device: 'pxe', mode: 'uefi', persistent: false });
    await d.power(t, 'on');
    expect(machine.boots.at(-1)).toMatchObject({ target: 'Pxe', mode: 'UEFI' });
    expect(emu.boot.enabled).toBe('Disabled');
    await d.power(t, 'reset');
    expect(machine.boots.at(-1)?.target).toBe('None');
  });

  it('sends If-Match with the ETag it read; a BMC that demands one gets it', async () => {
    const { emu, t } = await emulator({ quirks: { etagRequired: true } });
    const d = driver();
    await d.setBootDevice(t, { device: 'disk', mode: 'legacy', persistent: true });
    expect(emu.boot).toMatchObject({ enabled: 'Continuous', target: 'Hdd' });
    const patches = emu.requests.filter((r) => r.method === 'PATCH');
    expect(patches.every((p) => /^W\/"[0-9a-f]+"$/.test(p.ifMatch ?? '') && p.status === 200)).toBe(true);
  });

  it('an ETag gone stale between read and write (412) is read again and the write repeated', async () => {
    const { emu, t } = await emulator();
    const d = driver();
    emu.staleEtagOnce = true;
    await d.setBootDevice(t, { device: 'cdrom', mode: 'uefi', persistent: false });
    expect(emu.requests.filter((r) => r.method === 'PATCH').map((r) => r.status)).toEqual([412, 200]);
    expect(emu.boot).toMatchObject({ enabled: 'Once', target: 'Cd' });
  });

  it('refuses a target the BMC does not offer, naming what it offers', async () => {
    const { emu, t } = await emulator();
    emu.bootTargets = ['None', 'Pxe', 'Hdd'];
    const d = driver();
    await expect(d.setBootDevice(t, { device: 'http', mode: 'uefi', persistent: false })).rejects.toMatchObject({ code: 'BMC_UNSUPPORTED', message: expect.stringContaining('None, Pxe, Hdd') });
    expect(emu.requests.some((r) => r.method === 'PATCH')).toBe(false);
  });
});

describe('sensors and power reading', () => {
  it('reads Thermal and Power: temperatures, fans, voltages, consumption, supplies, with health and thresholds', async () => {
    const { emu, t } = await emulator({ machine: new MemoryMachine({ power: 'On' }) });
    emu.setSensor('CPU1 Temp', 92);
    const s = await driver().sensors(t);
    expect(s.find((x) => x.name === 'CPU1 Temp')).toEqual({ name: 'CPU1 Temp', type: 'temperature', value: 92, unit: 'degrees C', status: 'critical', thresholds: { upperNonCritical: 80, upperCritical: 90, upperNonRecoverable: 95 } });
    expect(s.find((x) => x.name === 'FAN1')).toMatchObject({ type: 'fan', value: 4800, unit: 'RPM', status: 'ok', thresholds: { lowerCritical: 500 } });
    expect(s.find((x) => x.name === '12V')).toMatchObject({ type: 'voltage', value: 12, unit: 'Volts' });
    expect(s.find((x) => x.type === 'power')).toMatchObject({ value: emu.power.onWatts, unit: 'Watts' });
    expect(s.find((x) => x.name === 'PS1')).toMatchObject({ type: 'discrete', status: 'ok' });
    expect(emu.requests.some((r) => r.path.includes('/Sensors'))).toBe(false);
  });

  it('reads the Sensors collection on a BMC that has only that', async () => {
    const { emu, t } = await emulator({ quirks: { sensors: 'modern' } });
    emu.setSensor('Inlet Temp', 41);
    const s = await driver().sensors(t);
    expect(s.map((x) => x.name).sort()).toEqual(['12V', 'CPU1 Temp', 'FAN1', 'Inlet Temp', 'Total Power']);
    expect(s.find((x) => x.name === 'Inlet Temp')).toEqual({ name: 'Inlet Temp', type: 'temperature', value: 41, unit: 'degrees C', status: 'warning', thresholds: { upperNonCritical: 40, upperCritical: 45 } });
    expect(s.find((x) => x.name === 'FAN1')).toMatchObject({ type: 'fan', unit: 'RPM', thresholds: { lowerCritical: 500 } });
  });

  it('reads the power consumption from PowerControl, or from the Sensors collection', async () => {
    const legacy = await emulator({ machine: new MemoryMachine({ power: 'On' }), quirks: { sensors: 'legacy' } });
    const d = driver();
    expect(await d.powerReading(legacy.t)).toEqual({ watts: 142, minimumWatts: 142, maximumWatts: 142, averageWatts: 142, periodSeconds: 60, time: null });
    const modern = await emulator({ quirks: { sensors: 'modern' } });
    expect(await d.powerReading(modern.t)).toEqual({ watts: modern.emu.power.offWatts, minimumWatts: null, maximumWatts: null, averageWatts: null, periodSeconds: null, time: null });
    for (const e of [legacy, modern]) {
      e.emu.measuresPower = false;
      await expect(d.powerReading(e.t)).rejects.toMatchObject({ code: 'BMC_UNSUPPORTED' });
    }
  });
});

describe('accounts', () => {
  it('adds a user who can then log in, changes its password, disables and removes it', async () => {
    const { emu, t } = await emulator();
    const d = driver();
    expect(await d.listUsers(t)).toEqual([{ id: 1, name: 'admin', enabled: true, privilege: 'administrator' }]);
    const { id } = await d.addUser(t, { name: 'ops1', password: 'ops-Secret-7', privilege: 'operator' });
    expect(id).toBe(2);
    expect(await d.listUsers(t)).toContainEqual({ id: 2, name: 'ops1', enabled: true, privilege: 'operator' });
    const ops: BmcTarget = { ...t, username: 'ops1', password: 'ops-Secret-7' };
    expect(await d.powerStatus(ops)).toBe('off');
    await expect(d.addUser(ops, { name: 'ops2', password: 'ops-Secret-8', privilege: 'operator' })).rejects.toMatchObject({ code: 'BMC_AUTH_FAILED' });
    await d.setUserPassword(t, 'ops1', 'ops-Secret-9');
    await expect(d.powerStatus(ops)).rejects.toMatchObject({ code: 'BMC_AUTH_FAILED' }); // no session kept from before
    await expect(d.powerStatus({ ...ops, username: 'ops1', password: 'ops-Secret-9' })).resolves.toBe('off');
    await d.setUserEnabled(t, 'ops1', false);
    expect(emu.accounts.find((a) => a.userName === 'ops1')?.enabled).toBe(false);
    await d.removeUser(t, 'ops1');
    expect(emu.accounts.map((a) => a.userName)).toEqual(['admin']);
  });

  it("never removes, disables or re-passwords rackhand's own account (whatever its case)", async () => {
    const { emu, t } = await emulator();
    const d = driver();
    await expect(d.removeUser(t, 'admin')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(d.setUserEnabled(t, 'Admin', false)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(d.setUserPassword(t, ' admin', 'new-Secret-43')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(emu.requests).toEqual([]);
  });

  it('bad names, passwords outside the BMC\'s policy and existing names are refused before anything is written', async () => {
    const { emu, t } = await emulator();
    const d = driver();
    await expect(d.addUser(t, { name: 'has space', password: 'ops-Secret-7', privilege: 'user' })).rejects.toMatchObject({ code: 'INVALID_INPUT', details: { field: 'name' } });
    await expect(d.addUser(t, { name: 'ok', password: 'short', privilege: 'user' })).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('8 to 20 characters') });
    await expect(d.addUser(t, { name: 'ok', password: 'p'.repeat(21), privilege: 'user' })).rejects.toMatchObject({ code: 'INVALID_INPUT', details: { field: 'password' } });
    await expect(d.addUser(t, { name: 'admin', password: 'ops-Secret-7', privilege: 'user' })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(d.setUserPassword(t, 'nobody', 'ops-Secret-7')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(emu.requests.filter((r) => r.path.includes('/AccountService/') && r.method !== 'GET')).toEqual([]);
  });
});

describe('manager, inventory, event log, virtual media', () => {
  it('resets the BMC, and the next call logs in again once it is back', async () => {
    const { emu, t } = await emulator({ managerResetDowntimeMs: 500 });
    const d = driver();
    expect(await d.powerStatus(t)).toBe('off');
    await d.resetBmc(t, 'warm');
    expect(emu.requests.find((r) => r.path.endsWith('Manager.Reset'))?.body).toEqual({ ResetType: 'GracefulRestart' });
    await until(() => emu.managerResets === 1 && emu.sessions.size === 0, 'the BMC went down');
    let answered = false;
    for (let i = 0; i < 100 && !answered; i++) {
      answered = await d.powerStatus(t).then(() => true, (e: RackhandError) => (e.code === 'BMC_UNREACHABLE' ? false : Promise.reject(e)));
      if (!answered) await new Promise((r) => setTimeout(r, 50));
    }
    expect(answered).toBe(true);
    await d.resetBmc(t, 'cold');
    expect(emu.requests.filter((r) => r.path.endsWith('Manager.Reset')).at(-1)?.body).toEqual({ ResetType: 'ForceRestart' });
  });

  it('reports model, serial, BIOS, BMC firmware and the firmware inventory', async () => {
    const { emu, t } = await emulator();
    const d = driver();
    expect(await d.deviceInfo(t)).toEqual({ deviceId: 0, firmware: emu.vendor.bmcFirmware, ipmiVersion: '', manufacturerId: 0, productId: 0 });
    const info = await d.inventory(t);
    expect(info).toEqual({
      bmcFirmware: emu.vendor.bmcFirmware,
      bmcModel: `${emu.vendor.model} BMC`,
      manufacturer: emu.vendor.manufacturer,
      model: emu.vendor.model,
      serialNumber: emu.vendor.serial,
      biosVersion: emu.vendor.biosVersion,
      redfishVersion: '1.15.0',
      firmwareInventory: [
        { id: 'BMC', name: 'BMC Firmware', version: emu.vendor.bmcFirmware, updateable: true },
        { id: 'BIOS', name: 'System BIOS', version: emu.vendor.biosVersion, updateable: true },
      ],
    });
  });

  it('reads the system event log with severities and clears it', async () => {
    const { emu, t } = await emulator();
    emu.addLogEntry({ severity: 'Critical', message: 'CPU1 Temp upper critical going high', messageId: 'Platform.1.0.TempCritical', sensorType: 'Temperature', entryCode: 'Assert' });
    emu.addLogEntry({ severity: 'OK', message: 'PS1 presence detected', messageId: 'Platform.1.0.PsuPresent' });
    const d = driver();
    const log = await d.readEventLog(t);
    expect(log).toEqual([
      { id: '1', time: emu.sel[0]!.created, severity: 'critical', message: 'CPU1 Temp upper critical going high (Temperature, Assert)', raw: expect.stringContaining('"MessageId":"Platform.1.0.TempCritical"') },
      { id: '2', time: emu.sel[1]!.created, severity: 'ok', message: 'PS1 presence detected', raw: expect.stringContaining('"Id":"2"') },
    ]);
    await d.clearEventLog(t);
    expect(emu.sel).toEqual([]);
    expect(await d.readEventLog(t)).toEqual([]);
  });

  describe('virtual media', () => {
    let images: Server;
    let url: string;
    const ISO = Buffer.from('ISO'.repeat(4000));
    beforeAll(async () => {
      images = createServer((req, res) => (req.url?.startsWith('/boot/iso/') ? res.writeHead(200).end(ISO) : res.writeHead(404).end()));
      await new Promise<void>((r) => images.listen(0, '127.0.0.1', () => r()));
      url = `http://127.0.0.1:${(images.address() as { port: number }).port}/boot/iso/host-11.iso`;
    });
    afterAll(() => new Promise<void>((r) => images.close(() => r())));

    it('inserts (ejecting what was there first), reads it back, ejects', async () => {
      const { emu, machine, t } = await emulator();
      const d = driver();
      await d.insertMedia(t, url);
      expect(readFileSync(machine.media!)).toEqual(ISO);
      expect(await d.mediaStatus(t)).toEqual({ inserted: true, image: url });
      const other = url.replace('host-11', 'host-12');
      await d.insertMedia(t, other);
      expect(emu.media).toMatchObject({ inserted: true, image: other });
      const actions = emu.requests.filter((r) => r.path.includes('/Actions/VirtualMedia.')).map((r) => r.path.split('.').pop());
      expect(actions).toEqual(['InsertMedia', 'EjectMedia', 'InsertMedia']);
      await d.ejectMedia(t);
      expect(machine.media).toBeUndefined();
      expect(await d.mediaStatus(t)).toEqual({ inserted: false, image: null });
    });

    it('an image the BMC cannot fetch is the BMC refusing; a non-URL never reaches it', async () => {
      const { emu, t } = await emulator();
      const d = driver();
      await expect(d.insertMedia(t, url.replace('/boot/iso/', '/missing/'))).rejects.toMatchObject({ code: 'BMC_ERROR', message: expect.stringContaining('could not be fetched') });
      await expect(d.insertMedia(t, 'file:///etc/passwd')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      expect(emu.media.inserted).toBe(false);
    });

    it('waits on the task of an asynchronous insert', async () => {
      const { emu, t } = await emulator({ quirks: { asyncTasks: true }, taskLatencyMs: 1500 });
      await driver().insertMedia(t, url);
      expect(emu.media.inserted).toBe(true);
      expect(emu.requests.some((r) => r.path.includes('/TaskMonitors/') && r.status === 202)).toBe(true);
    });
  });
});

describe('sessions and auth', () => {
  it('logs in once, sends X-Auth-Token, and deletes the session when it has been idle', async () => {
    const { emu, t } = await emulator();
    const d = driver({ idleSessionMs: 300 });
    await d.powerStatus(t);
    await d.powerStatus(t);
    expect(emu.requests.filter((r) => r.path.endsWith('/Sessions') && r.method === 'POST')).toHaveLength(1);
    expect(emu.requests.filter((r) => r.path.startsWith(emu.systemPath)).every((r) => r.auth === 'session')).toBe(true);
    expect(emu.sessions.size).toBe(1);
    await until(() => emu.sessions.size === 0, 'the idle session deleted');
    expect(emu.requests.some((r) => r.method === 'DELETE' && r.path.startsWith('/redfish/v1/SessionService/Sessions/') && r.status === 204)).toBe(true);
    expect(d.hasSession(t)).toBe(false);
  });

  it('logs in again when the BMC dropped the session', async () => {
    const { emu, t } = await emulator();
    const d = driver();
    await d.powerStatus(t);
    emu.sessions.clear(); // the BMC's own session timeout
    expect(await d.powerStatus(t)).toBe('off');
    expect(emu.requests.filter((r) => r.path.endsWith('/Sessions') && r.method === 'POST' && r.status === 201)).toHaveLength(2);
  });

  it('falls back to Basic on a BMC without a session service', async () => {
    const { emu, t } = await emulator({ quirks: { noSessionService: true } });
    const d = driver();
    expect(await d.powerStatus(t)).toBe('off');
    expect(emu.requests.filter((r) => r.path.startsWith(emu.systemPath)).every((r) => r.auth === 'basic')).toBe(true);
    expect(d.quirksSeen(t)).toContain('basic-auth');
  });

  it('uses Basic for a call when the BMC has no free session slot', async () => {
    const { emu, t } = await emulator({ maxSessions: 0 });
    expect(await driver().powerStatus(t)).toBe('off');
    expect(emu.requests.find((r) => r.path.startsWith(emu.systemPath))?.auth).toBe('basic');
  });

  it('a wrong password is BMC_AUTH_FAILED, and the password is in no error', async () => {
    const { t } = await emulator();
    const err = await driver().powerStatus({ ...t, password: 'wrong-Secret-1' }).catch((e: RackhandError) => e);
    expect(err).toMatchObject({ code: 'BMC_AUTH_FAILED' });
    expect(JSON.stringify({ m: (err as Error).message, d: (err as RackhandError).details })).not.toContain('wrong-Secret-1');
  });

  it('speaks plain HTTP when the target says so', async () => {
    const { machine, t } = await emulator({ tls: false });
    await driver().power(t, 'on');
    expect(machine.powerState()).toBe('On');
  });
});

describe('TLS trust', () => {
  it('pins the certificate seen first and refuses a changed one with both fingerprints, until the pin is cleared', async () => {
    const first = makeSelfSignedCert();
    const { emu, t } = await emulator({ cert: first });
    const pins = new MemoryCertificatePins();
    const d = driver({ trust: { mode: 'pin', pins } });
    expect(await d.powerStatus(t)).toBe('off');
    expect(pins.get(`127.0.0.1:${emu.port}`)).toMatchObject({ fingerprint256: first.fingerprint256, subject: expect.stringContaining('CN=rackhand-test-bmc') });
    const second = makeSelfSignedCert();
    emu.rotateCertificate(second);
    const err = (await d.powerStatus(t).catch((e: unknown) => e)) as RackhandError;
    expect(err.code).toBe('BMC_AUTH_FAILED');
    expect(err.details).toMatchObject({ reason: 'certificate-changed', pinned: first.fingerprint256, presented: second.fingerprint256, phase: 'connect' });
    expect(err.message).toMatch(/different TLS certificate .* accept the new one with: forget this BMC's certificate pin$/);
    // Refused before a byte of the request (or the password) went out.
    const before = emu.requests.length;
    await d.powerStatus(t).catch(() => undefined);
    expect(emu.requests.length).toBe(before);
    pins.forget(`127.0.0.1:${emu.port}`);
    expect(await d.powerStatus(t)).toBe('off');
    expect(pins.get(`127.0.0.1:${emu.port}`)?.fingerprint256).toBe(second.fingerprint256);
  });

  it('old firmware (TLS 1.0, 1024-bit RSA): refused with a hint, accepted when its target is marked legacy', async () => {
    const { emu, t } = await emulator({ cert: makeLegacyCert(), legacyTls: true });
    const d = driver();
    await expect(d.powerStatus(t)).rejects.toMatchObject({ code: 'BMC_UNREACHABLE', message: expect.stringMatching(/TLS handshake failed \(.*protocol version\).*legacy TLS/) });
    expect(emu.requests).toEqual([]);
    const marked: BmcTarget = { ...t, legacyTls: true };
    expect(await d.powerStatus(marked)).toBe('off');
  });

  it('with a site CA: a certificate it issued is accepted, a self-signed one refused', async () => {
    const ca = makeTestCa();
    const good = await emulator({ cert: makeCertSignedBy(ca) });
    const bad = await emulator({ cert: makeSelfSignedCert() });
    const d = driver({ trust: { mode: 'ca', ca: ca.cert } });
    expect(await d.powerStatus(good.t)).toBe('off');
    await expect(d.powerStatus(bad.t)).rejects.toMatchObject({ code: 'BMC_AUTH_FAILED', details: { reason: 'certificate-untrusted' } });
    expect(bad.emu.requests).toEqual([]);
  });
});

describe('unreachable BMCs', () => {
  const target = (port: number): BmcTarget => ({ host: '127.0.0.1', port, username: 'admin', password: PASSWORD, cipherSuite: 3, privilege: 'administrator' });

  it.each(['blackholed', 'silent', 'refused'] as const)('%s: BMC_UNREACHABLE from the connect timeout, long before the operation timeout', async (kind) => {
    const bmc = await startUnreachableBmc(kind);
    try {
      // The scheduler would answer BMC_TIMEOUT only after a minute; the connect timeout answers first.
      const scheduler = new BmcScheduler({ operationTimeoutMs: 60_000, minSpacingMs: 0, breakerThreshold: 2, breakerCooldownMs: 60_000 });
      const d = scheduler.wrap(driver({ connectTimeoutMs: 300 }));
      const err = (await d.powerStatus(target(bmc.port)).catch((e: unknown) => e)) as RackhandError;
      expect(err).toBeInstanceOf(RackhandError);
      expect(err.code).toBe('BMC_UNREACHABLE');
      expect(err.details).toMatchObject({ phase: 'connect' });
      expect(err.message).toMatch(kind === 'refused' ? /refused the connection/ : /did not accept a HTTPS connection within 300 ms/);
      expect(scheduler.stats().inFlight).toBe(0);
      if (kind === 'silent') expect(bmc.accepted()).toBeGreaterThan(0);
      // A second failure opens the circuit: the third call fails at once, without a connection attempt.
      await d.powerStatus(target(bmc.port)).catch(() => undefined);
      const accepted = bmc.accepted();
      await expect(d.powerStatus(target(bmc.port))).rejects.toMatchObject({ code: 'BMC_UNREACHABLE', details: { circuit: 'open' } });
      expect(bmc.accepted()).toBe(accepted);
    } finally {
      await bmc.stop();
    }
  });
});

describe('abort', () => {
  it('an aborted call stops at once with the signal\'s reason: mid-connect, and while following a task', async () => {
    const silent = await startUnreachableBmc('silent');
    try {
      const d = driver({ connectTimeoutMs: 60_000 });
      const ac = new AbortController();
      const call = d.powerStatus({ host: '127.0.0.1', port: silent.port, username: 'admin', password: PASSWORD, cipherSuite: 3, privilege: 'administrator' }, { signal: ac.signal });
      await until(() => silent.accepted() > 0, 'connection accepted');
      expect(d.requestsInFlight()).toBe(1);
      const reason = new Error('task cancelled');
      ac.abort(reason);
      await expect(call).rejects.toBe(reason);
      expect(d.requestsInFlight()).toBe(0);
      // The half-open TLS connection is dropped too, not left until the (one minute) connect timeout.
      await until(() => silent.open() === 0, 'the connection closed');
    } finally {
      await silent.stop();
    }
    const { emu, machine, t } = await emulator({ quirks: { asyncTasks: true }, taskLatencyMs: 60_000 });
    const d = driver();
    const ac = new AbortController();
    const call = d.power(t, 'on', { signal: ac.signal });
    await until(() => emu.requests.some((r) => r.status === 202), 'the reset accepted as a task');
    ac.abort(new Error('task cancelled'));
    await expect(call).rejects.toThrow('task cancelled');
    const polls = emu.requests.filter((r) => r.path.includes('/TaskMonitors/')).length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(emu.requests.filter((r) => r.path.includes('/TaskMonitors/')).length).toBe(polls);
    expect(machine.powerState()).toBe('Off');
  });
});

describe('a farm of BMCs', () => {
  it('reads the power state of 40 BMCs at once, each its own', async () => {
    const farm = await startRedfishFarm({ count: 40, password: PASSWORD });
    try {
      const d = driver();
      const targets: BmcTarget[] = farm.bmcs.map((b) => ({ host: b.host, port: b.port, username: b.username, password: b.password, cipherSuite: 3, privilege: 'administrator' }));
      const states = await Promise.all(targets.map((t) => d.powerStatus(t)));
      expect(states).toEqual(farm.bmcs.map((b) => (b.machine.powerState() === 'On' ? 'on' : 'off')));
      expect(new Set(states)).toEqual(new Set(['on', 'off']));
    } finally {
      await farm.stop();
    }
  });
});
