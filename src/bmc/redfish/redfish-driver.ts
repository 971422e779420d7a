// The `redfish` BmcDriver: power confirmed through PowerState, boot override written, read back and re-asserted,
// sensors, BMC accounts, manager reset, model and firmware inventory, virtual media, the event log and the power
// reading, over one RedfishClient (session, links, ETags, tasks) per BMC login, with vendor quirks in quirks/.
import { RackhandError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { abortableDelay } from '../abortable-delay.js';
import { guardOwnAccount } from '../bmc-account-guard.js';
import { BOOT_DEVICES, BOOT_MODES } from '../bmc-driver.js';
import type {
  BmcCallOptions, BmcDeviceInfo, BmcDriver, BmcEventLogEntry, BmcPowerReading, BmcTarget, BmcUser, BootDeviceSetting, NewBmcUser, PowerAction,
  PowerState, SensorReading, VirtualMediaStatus,
} from '../bmc-driver.js';
import { bootMinimalPayload } from './quirks/boot-minimal-payload.js';
import { bootModeAbsent } from './quirks/boot-mode-absent.js';
import { bootOverrideRevert, type PendingOverride } from './quirks/boot-override-revert.js';
import { staleImageName } from './quirks/stale-image-name.js';
import { virtualCdUsb } from './quirks/virtual-cd-usb.js';
import { virtualMediaLocation } from './quirks/virtual-media-location.js';
import { RedfishClient, type Resource } from './redfish-client.js';
import { RedfishHttp, type RedfishEndpoint, type RedfishTrust } from './redfish-http.js';
import { linkOf, numberOf, objectOf, shownValues, stringOf, type Json } from './redfish-json.js';
import {
  allowedResetTypes, bootMatches, bootPatchFor, bootSettingOf, firmwareItemOf, logEntryOf, powerReadingFromPower, powerStateOf,
  resetStepsFor, roleFor, sensorFromResource, sensorsFromThermalPower, userOf, type BootPatch, type FirmwareItem,
} from './redfish-resources.js';

export interface RedfishDriverOptions {
  /** Pinned certificates (trust on first use) or a site CA. */
  trust: RedfishTrust;
  /** TCP connect + TLS handshake; an unreachable BMC never holds a caller longer. Default 3 s. */
  connectTimeoutMs?: number;
  /** One HTTP request. Default 20 s. */
  requestTimeoutMs?: number;
  /** A session idle this long is deleted on the BMC (they have few). Default 60 s. */
  idleSessionMs?: number;
  /** An action's task monitor is followed this long. Default 120 s. */
  taskTimeoutMs?: number;
  /** Between re-assertions of a boot override that did not hold. Default 500 ms. */
  reassertPauseMs?: number;
  /** Between the two steps of a power cycle done as off + on, while waiting for Off. Default 500 ms. */
  powerPollMs?: number;
  logger?: Logger;
}

export interface RedfishInventory {
  manufacturer?: string;
  model?: string;
  serialNumber?: string;
  biosVersion?: string;
  bmcModel?: string;
  bmcFirmware?: string;
  redfishVersion?: string;
  firmwareInventory: FirmwareItem[];
}

const USER_NAME = /^[A-Za-z0-9._-]{1,16}$/;
const POWER_ACTIONS: readonly string[] = ['on', 'off', 'soft', 'reset', 'cycle'] satisfies PowerAction[];
/** Event log entries read at most (a BMC's SEL holds a few hundred to a few thousand). */
const MAX_LOG_ENTRIES = 1000;

export class RedfishDriver implements BmcDriver {
  readonly name = 'redfish';
  private readonly http: RedfishHttp;
  private readonly clients = new Map<string, RedfishClient>();
  private readonly pending = new WeakMap<RedfishClient, PendingOverride>();
  private readonly idleSessionMs: number;
  private readonly sweeper: NodeJS.Timeout;
  private readonly reported = new Set<string>();
  private closed = false;

  constructor(private readonly opts: RedfishDriverOptions) {
    this.http = new RedfishHttp({
      trust: opts.trust,
      ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
      ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
    });
    this.idleSessionMs = opts.idleSessionMs ?? 60_000;
    this.sweeper = setInterval(() => void this.sweep(), Math.max(100, Math.min(5_000, this.idleSessionMs / 2)));
    this.sweeper.unref();
  }

  // ------------------------------------------------------------------ power

  async powerStatus(t: BmcTarget, o: BmcCallOptions = {}): Promise<PowerState> {
    const { signal } = o;
    const c = await this.client(t);
    return powerStateOf((await c.get(await c.systemPath(signal), signal)).body);
  }

  async power(t: BmcTarget, action: PowerAction, o: BmcCallOptions = {}): Promise<void> {
    const { signal } = o;
    if (!POWER_ACTIONS.includes(action)) throw new RackhandError('INVALID_INPUT', `unknown power action ${JSON.stringify(action)}`, { field: 'action' });
    const c = await this.client(t);
    const sys = await c.get(await c.systemPath(signal), signal);
    const starts = action === 'on' || action === 'reset' || action === 'cycle';
    if (starts) await this.reassertPending(c, sys, signal);
    const act = objectOf(objectOf(sys.body.Actions)['#ComputerSystem.Reset']);
    const target = stringOf(act.target);
    if (!target) throw new RackhandError('BMC_UNSUPPORTED', `BMC ${c.name}: the system has no ComputerSystem.Reset action`, { bmc: c.name });
    let allowed = allowedResetTypes(act);
    const info = stringOf(act['@Redfish.ActionInfo']);
    if (!allowed && info) allowed = allowedResetTypes(act, (await c.get(info, signal)).body);
    const steps = resetStepsFor(action, allowed);
    for (const [i, step] of steps.entries()) {
      if (i > 0) await this.waitForPower(c, sys.path, 'off', signal);
      await c.action(target, { ResetType: step }, `power ${action} (ResetType ${step})`, signal, this.opts.taskTimeoutMs);
    }
    if (starts) this.pending.delete(c);
  }

  /** Between ForceOff and On of a cycle the system must read Off, or the On lands on a system still going down. */
  private async waitForPower(c: RedfishClient, path: string, want: PowerState, signal?: AbortSignal): Promise<void> {
    for (let i = 0; i < 60; i++) {
      if (powerStateOf((await c.get(path, signal)).body) === want) return;
      await abortableDelay(this.opts.powerPollMs ?? 500, signal);
    }
    throw new RackhandError('BMC_TIMEOUT', `BMC ${c.name}: the system did not read ${want} during a power cycle`, { bmc: c.name });
  }

  // ------------------------------------------------------------------ boot override

  async getBootDevice(t: BmcTarget, o: BmcCallOptions = {}): Promise<BootDeviceSetting> {
    const { signal } = o;
    const c = await this.client(t);
    const sys = await c.get(await c.systemPath(signal), signal);
    return bootSettingOf(objectOf(sys.body.Boot));
  }

  async setBootDevice(t: BmcTarget, setting: BootDeviceSetting, o: BmcCallOptions = {}): Promise<void> {
    const { signal } = o;
    if (!(BOOT_DEVICES as readonly string[]).includes(setting.device)) throw new RackhandError('INVALID_INPUT', `unknown boot device ${JSON.stringify(setting.device)}`, { field: 'device' });
    if (!(BOOT_MODES as readonly string[]).includes(setting.mode)) throw new RackhandError('INVALID_INPUT', `unknown boot mode ${JSON.stringify(setting.mode)}`, { field: 'mode' });
    const c = await this.client(t);
    const sys = await c.get(await c.systemPath(signal), signal);
    const boot = objectOf(sys.body.Boot);
    let patch = bootPatchFor(setting);
    if (patch.BootSourceOverrideMode && bootModeAbsent.applies(boot)) {
      patch = bootModeAbsent.adapt(patch);
      this.quirk(c, bootModeAbsent.name, `no BootSourceOverrideMode: the ${setting.mode} mode is left to the firmware`);
    }
    if (virtualCdUsb.applies(sys.body, boot, patch.BootSourceOverrideTarget)) {
      patch = { ...patch, BootSourceOverrideTarget: virtualCdUsb.target };
      this.quirk(c, virtualCdUsb.name, 'virtual media is a USB CD on this board: booting UsbCd instead of Cd');
    }
    if (patch.HttpBootUri && !('HttpBootUri' in boot)) {
      const { HttpBootUri: _uri, ...rest } = patch;
      patch = rest;
      this.note(c, 'no-http-boot-uri', 'the system has no Boot.HttpBootUri: UEFI HTTP boot takes its URL from DHCP');
    }
    const allowed = boot['BootSourceOverrideTarget@Redfish.AllowableValues'];
    if (patch.BootSourceOverrideTarget && Array.isArray(allowed) && !allowed.includes(patch.BootSourceOverrideTarget)) {
      throw new RackhandError('BMC_UNSUPPORTED', `BMC ${c.name} does not offer boot target ${patch.BootSourceOverrideTarget} (it offers ${shownValues(allowed)})`, { bmc: c.name });
    }
    const written = await this.writeBoot(c, sys, patch, signal);
    if (written.BootSourceOverrideEnabled === 'Once') this.pending.set(c, { patch: written, at: Date.now() });
    else this.pending.delete(c);
  }

  /**
   * PATCH the override, read it back, write again while it does not hold (some firmware answers 200 and drops it).
   * Returns what was really written (without a mode the firmware would not take).
   */
  private async writeBoot(c: RedfishClient, sys: Resource, patch: BootPatch, signal?: AbortSignal): Promise<BootPatch> {
    let current = sys;
    let got: Json = {};
    for (let attempt = 1; attempt <= bootOverrideRevert.attempts; attempt++) {
      patch = await this.patchBoot(c, current, patch, signal);
      current = await c.get(sys.path, signal);
      got = objectOf(current.body.Boot);
      if (bootMatches(patch, got)) return patch;
      this.quirk(c, bootOverrideRevert.name, 'the boot override did not hold after a write: writing it again');
      if (attempt < bootOverrideRevert.attempts) await abortableDelay(this.opts.reassertPauseMs ?? 500, signal);
    }
    const show = (b: Json) => [b.BootSourceOverrideEnabled, b.BootSourceOverrideTarget, b.BootSourceOverrideMode].filter((x) => x !== undefined).join('/');
    throw new RackhandError(
      'BMC_ERROR',
      `BMC ${c.name} does not keep the boot override: wrote ${show(patch as unknown as Json)} ${bootOverrideRevert.attempts} times, it reads ${show(got)}`,
      { bmc: c.name, wrote: patch, reads: got },
    );
  }

  private async patchBoot(c: RedfishClient, sys: Resource, patch: BootPatch, signal?: AbortSignal): Promise<BootPatch> {
    const what = 'set the boot override';
    if (!(c.quirks.has(bootMinimalPayload.name) && patch.BootSourceOverrideMode)) {
      try {
        await c.patch(sys, { Boot: patch }, what, signal);
        return patch;
      } catch (e) {
        if (!bootMinimalPayload.applies(e, patch)) throw e;
        this.quirk(c, bootMinimalPayload.name, 'the full boot override was refused: writing Enabled + Target, then the mode alone');
      }
    }
    const { first, mode } = bootMinimalPayload.split(patch);
    await c.patch(sys, { Boot: first }, what, signal);
    if (!mode) return first;
    try {
      await c.patch(await c.get(sys.path, signal), { Boot: { BootSourceOverrideMode: mode } }, 'set the boot mode', signal);
      return patch;
    } catch (e) {
      if (!(e instanceof RackhandError) || e.details?.status !== 400) throw e;
      this.quirk(c, `${bootMinimalPayload.name}:mode-fixed`, `the boot mode cannot be written; the firmware keeps its own`);
      return first;
    }
  }

  /** Right before a power-on or reset: a one-time override set here that has reverted since is written again. */
  private async reassertPending(c: RedfishClient, sys: Resource, signal?: AbortSignal): Promise<void> {
    const want = bootOverrideRevert.pending(this.pending.get(c), Date.now());
    if (!want || bootMatches(want, objectOf(sys.body.Boot))) return;
    this.quirk(c, bootOverrideRevert.name, 'the one-time boot override reverted before the power-on: re-asserting it');
    await this.writeBoot(c, sys, want, signal);
  }

  // ------------------------------------------------------------------ sensors and power reading

  async sensors(t: BmcTarget, o: BmcCallOptions = {}): Promise<SensorReading[]> {
    const { signal } = o;
    const c = await this.client(t);
    const ch = (await c.get(await c.chassisPath(signal), signal)).body;
    const thermal = linkOf(ch.Thermal);
    const power = linkOf(ch.Power);
    // Thermal + Power: two reads for everything; the Sensors collection costs one read per sensor.
    if (thermal || power) {
      const [th, pw] = await Promise.all([thermal ? c.get(thermal, signal) : undefined, power ? c.get(power, signal) : undefined]);
      return sensorsFromThermalPower(th?.body, pw?.body);
    }
    const list = linkOf(ch.Sensors);
    if (!list) throw new RackhandError('BMC_UNSUPPORTED', `BMC ${c.name}: the chassis has neither Thermal/Power nor a Sensors collection`, { bmc: c.name });
    return (await this.readAll(c, await c.members(list, signal), signal)).map((s) => sensorFromResource(s.body));
  }

  /** What the host draws: Power.PowerControl, else the Sensors collection's power sensor. */
  async powerReading(t: BmcTarget, o: BmcCallOptions = {}): Promise<BmcPowerReading> {
    const { signal } = o;
    const c = await this.client(t);
    const ch = (await c.get(await c.chassisPath(signal), signal)).body;
    const power = linkOf(ch.Power);
    if (power) {
      const r = powerReadingFromPower((await c.get(power, signal)).body);
      if (r) return r;
    }
    const list = linkOf(ch.Sensors);
    if (list) {
      const sensors = await this.readAll(c, await c.members(list, signal), signal);
      const p = sensors.map((s) => s.body).find((s) => s.ReadingType === 'Power' && typeof s.Reading === 'number');
      if (p) return { watts: p.Reading as number, minimumWatts: null, maximumWatts: null, averageWatts: null, periodSeconds: null, time: stringOf(p.ReadingTime) ?? null };
    }
    throw new RackhandError('BMC_UNSUPPORTED', `BMC ${c.name} reports no power consumption`, { bmc: c.name });
  }

  // ------------------------------------------------------------------ accounts

  /** The accounts, and the password lengths the AccountService takes (IPMI's 1-20 when it does not say). */
  private async accounts(c: RedfishClient, signal?: AbortSignal): Promise<{ coll: string; members: Resource[]; policy: { min: number; max: number } }> {
    const as = (await c.serviceLinks(signal)).accountService;
    if (!as) throw new RackhandError('BMC_UNSUPPORTED', `BMC ${c.name} has no AccountService`, { bmc: c.name });
    const service = (await c.get(as, signal)).body;
    const coll = linkOf(service.Accounts);
    if (!coll) throw new RackhandError('BMC_UNSUPPORTED', `BMC ${c.name}: its AccountService lists no Accounts`, { bmc: c.name });
    const policy = { min: numberOf(service.MinPasswordLength) ?? 1, max: numberOf(service.MaxPasswordLength) ?? 20 };
    return { coll, members: await this.readAll(c, await c.members(coll, signal), signal), policy };
  }

  private async account(c: RedfishClient, name: string, signal?: AbortSignal): Promise<Resource> {
    const a = (await this.accounts(c, signal)).members.find((m) => m.body.UserName === name);
    if (!a) throw new RackhandError('NOT_FOUND', `BMC ${c.name} has no user named ${name}`, { field: 'username' });
    return a;
  }

  async listUsers(t: BmcTarget, o: BmcCallOptions = {}): Promise<BmcUser[]> {
    const { signal } = o;
    const c = await this.client(t);
    const { members } = await this.accounts(c, signal);
    return members.map((m, i) => userOf(m.body, i)).filter((u): u is BmcUser => u !== undefined);
  }

  async addUser(t: BmcTarget, user: NewBmcUser, o: BmcCallOptions = {}): Promise<{ id: number }> {
    const { signal } = o;
    if (!USER_NAME.test(user.name)) throw new RackhandError('INVALID_INPUT', 'a BMC user name is 1-16 letters, digits, dots, dashes or underscores', { field: 'name' });
    const c = await this.client(t);
    const { coll, members, policy } = await this.accounts(c, signal);
    if (members.some((m) => m.body.UserName === user.name)) throw new RackhandError('CONFLICT', `BMC ${c.name} has a user named ${user.name} already`, { field: 'name' });
    if (user.password.length < policy.min || user.password.length > policy.max) {
      throw new RackhandError('INVALID_INPUT', `BMC ${c.name} takes passwords of ${policy.min} to ${policy.max} characters`, { field: 'password' });
    }
    const res = await c.post(coll, { UserName: user.name, Password: user.password, RoleId: roleFor(user.privilege), Enabled: true }, `add BMC user ${user.name}`, signal);
    const id = Number(stringOf(objectOf(res.body).Id) ?? String(res.headers.location ?? '').split('/').pop());
    return { id: Number.isInteger(id) ? id : 0 };
  }

  async setUserPassword(t: BmcTarget, name: string, password: string, o: BmcCallOptions = {}): Promise<void> {
    const { signal } = o;
    guardOwnAccount(t, name, 'set a new password on');
    const c = await this.client(t);
    await c.patch(await this.account(c, name, signal), { Password: password }, `set the password of BMC user ${name}`, signal);
    await this.forgetLogin(t, name);
  }

  async setUserEnabled(t: BmcTarget, name: string, enabled: boolean, o: BmcCallOptions = {}): Promise<void> {
    const { signal } = o;
    if (!enabled) guardOwnAccount(t, name, 'disable');
    const c = await this.client(t);
    await c.patch(await this.account(c, name, signal), { Enabled: enabled }, `${enabled ? 'enable' : 'disable'} BMC user ${name}`, signal);
    if (!enabled) await this.forgetLogin(t, name);
  }

  async removeUser(t: BmcTarget, name: string, o: BmcCallOptions = {}): Promise<void> {
    const { signal } = o;
    guardOwnAccount(t, name, 'remove');
    const c = await this.client(t);
    await c.delete((await this.account(c, name, signal)).path, `remove BMC user ${name}`, signal);
    await this.forgetLogin(t, name);
  }

  /** Sessions rackhand holds as `name` on this BMC end: its password changed or the account is gone. */
  private async forgetLogin(t: BmcTarget, name: string): Promise<void> {
    const key = clientKey({ ...t, username: name });
    const c = this.clients.get(key);
    if (!c) return;
    this.clients.delete(key);
    await c.logout();
  }

  // ------------------------------------------------------------------ manager and inventory

  async resetBmc(t: BmcTarget, kind: 'cold' | 'warm', o: BmcCallOptions = {}): Promise<void> {
    const { signal } = o;
    const c = await this.client(t);
    const mgr = await c.get(await c.managerPath(signal), signal);
    const act = objectOf(objectOf(mgr.body.Actions)['#Manager.Reset']);
    const target = stringOf(act.target);
    if (!target) throw new RackhandError('BMC_UNSUPPORTED', `BMC ${c.name}: the manager has no Manager.Reset action`, { bmc: c.name });
    const allowed = allowedResetTypes(act);
    const prefer = kind === 'warm' ? ['GracefulRestart', 'ForceRestart'] : ['ForceRestart', 'GracefulRestart'];
    const type = prefer.find((p) => !allowed || allowed.includes(p));
    if (!type) throw new RackhandError('BMC_UNSUPPORTED', `BMC ${c.name} offers no manager reset (it allows ${allowed?.join(', ')})`, { bmc: c.name });
    await c.action(target, { ResetType: type }, `reset the BMC (${type})`, signal);
    // It reboots: its sessions and connections die with it; nothing to delete.
    c.forgetState();
  }

  /** The contract's device info: the BMC's firmware version (the IPMI-only fields are 0 / empty). */
  async deviceInfo(t: BmcTarget, o: BmcCallOptions = {}): Promise<BmcDeviceInfo> {
    const c = await this.client(t);
    const mgr = await c.get(await c.managerPath(o.signal), o.signal);
    return { deviceId: 0, firmware: stringOf(mgr.body.FirmwareVersion) ?? '', ipmiVersion: '', manufacturerId: 0, productId: 0 };
  }

  /** Model and firmware inventory: the system's make, model, serial and BIOS, the BMC's model and firmware, every firmware item. */
  async inventory(t: BmcTarget, o: BmcCallOptions = {}): Promise<RedfishInventory> {
    const { signal } = o;
    const c = await this.client(t);
    const links = await c.serviceLinks(signal);
    const [sys, mgr] = await Promise.all([c.get(await c.systemPath(signal), signal), c.managerPath(signal).then((p) => c.get(p, signal))]);
    let firmwareInventory: FirmwareItem[] = [];
    const fw = links.updateService ? linkOf((await c.get(links.updateService, signal)).body.FirmwareInventory) : undefined;
    if (fw) {
      firmwareInventory = (await this.readAll(c, await c.members(fw, signal), signal)).map((r) => firmwareItemOf(r.body)).filter((x): x is FirmwareItem => !!x);
    }
    const s = sys.body;
    const m = mgr.body;
    return {
      manufacturer: stringOf(s.Manufacturer),
      model: stringOf(s.Model),
      serialNumber: stringOf(s.SerialNumber),
      biosVersion: stringOf(s.BiosVersion),
      bmcModel: stringOf(m.Model),
      bmcFirmware: stringOf(m.FirmwareVersion),
      redfishVersion: links.redfishVersion,
      firmwareInventory,
    };
  }

  // ------------------------------------------------------------------ virtual media

  async mediaStatus(t: BmcTarget, o: BmcCallOptions = {}): Promise<VirtualMediaStatus> {
    const { signal } = o;
    const c = await this.client(t);
    const { device } = await virtualMediaLocation.find(c, signal);
    return { inserted: device.body.Inserted === true, image: stringOf(device.body.Image) ?? null };
  }

  /**
   * Attach the image at `image` (an http(s) URL the BMC fetches) as the virtual CD: whatever is attached is ejected
   * first and a stale image name cleared; the insert is read back.
   */
  async insertMedia(t: BmcTarget, image: string, o: BmcCallOptions = {}): Promise<void> {
    const { signal } = o;
    let url: URL;
    try {
      url = new URL(image);
    } catch {
      throw new RackhandError('INVALID_INPUT', 'the virtual media image must be an http or https URL', { field: 'image' });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RackhandError('INVALID_INPUT', 'the virtual media image must be an http or https URL', { field: 'image' });
    const c = await this.client(t);
    let vm = await this.ejected(c, signal);
    const insert = stringOf(objectOf(objectOf(vm.body.Actions)['#VirtualMedia.InsertMedia']).target);
    const what = `insert virtual media ${url.pathname.split('/').pop()}`;
    if (insert) {
      // {Image} alone, as several firmwares refuse Inserted/WriteProtected in the action (both default to true).
      try {
        await c.action(insert, { Image: image }, what, signal, this.opts.taskTimeoutMs);
      } catch (e) {
        if (!(e instanceof RackhandError && e.details?.status === 400 && /TransferProtocolType/.test(String(e.details?.message)))) throw e;
        await c.action(insert, { Image: image, TransferProtocolType: url.protocol === 'https:' ? 'HTTPS' : 'HTTP' }, what, signal, this.opts.taskTimeoutMs);
      }
    } else {
      await c.patch(vm, { Image: image, Inserted: true, WriteProtected: true }, what, signal);
    }
    vm = await c.get(vm.path, signal);
    if (vm.body.Inserted !== true || (vm.body.Image !== undefined && vm.body.Image !== image)) {
      throw new RackhandError('BMC_ERROR', `BMC ${c.name} accepted the virtual media but does not show it inserted (Image ${JSON.stringify(vm.body.Image ?? null)})`, { bmc: c.name });
    }
  }

  async ejectMedia(t: BmcTarget, o: BmcCallOptions = {}): Promise<void> {
    const { signal } = o;
    const c = await this.client(t);
    await this.ejected(c, signal);
  }

  /** The virtual CD, ejected, with no stale image left behind. */
  private async ejected(c: RedfishClient, signal?: AbortSignal): Promise<Resource> {
    let { device: vm } = await virtualMediaLocation.find(c, signal);
    if (vm.body.Inserted === true) {
      const eject = stringOf(objectOf(objectOf(vm.body.Actions)['#VirtualMedia.EjectMedia']).target);
      if (eject) await c.action(eject, {}, 'eject virtual media', signal, this.opts.taskTimeoutMs);
      else await c.patch(vm, staleImageName.clear, 'eject virtual media', signal);
      vm = await c.get(vm.path, signal);
    }
    if (staleImageName.applies(vm.body)) {
      this.quirk(c, staleImageName.name, `ejected media still names ${stringOf(vm.body.ImageName) || stringOf(vm.body.Image)}: clearing it`);
      await c.patch(vm, staleImageName.clear, 'clear the stale virtual media image', signal);
      vm = await c.get(vm.path, signal);
      if (staleImageName.applies(vm.body) || vm.body.Inserted === true) {
        throw new RackhandError('BMC_ERROR', `BMC ${c.name} keeps virtual media ${stringOf(vm.body.Image) ?? ''} attached after eject and clear`, { bmc: c.name });
      }
    }
    return vm;
  }

  // ------------------------------------------------------------------ event log

  /** The system event log: the System's SEL log service, else the Manager's. */
  private async eventLog(c: RedfishClient, signal?: AbortSignal): Promise<Resource> {
    for (const owner of [await c.systemPath(signal), await c.managerPath(signal)]) {
      const coll = linkOf((await c.get(owner, signal)).body.LogServices);
      if (!coll) continue;
      const services = await this.readAll(c, await c.members(coll, signal), signal);
      const sel = services.find((s) => s.body.LogEntryType === 'SEL') ?? services.find((s) => /\bsel\b|event/i.test(`${stringOf(s.body.Id)} ${stringOf(s.body.Name)}`));
      if (sel) return sel;
    }
    throw new RackhandError('BMC_UNSUPPORTED', `BMC ${c.name} has no system event log service`, { bmc: c.name });
  }

  async readEventLog(t: BmcTarget, o: BmcCallOptions = {}): Promise<BmcEventLogEntry[]> {
    const { signal } = o;
    const c = await this.client(t);
    const log = await this.eventLog(c, signal);
    const entries = linkOf(log.body.Entries);
    if (!entries) return [];
    // Entries usually come inline in the collection; members given only as links are read one by one.
    const out: BmcEventLogEntry[] = [];
    let next: string | undefined = entries;
    for (let page = 0; next && page < 100 && out.length < MAX_LOG_ENTRIES; page++) {
      const coll: Resource = await c.get(next, signal);
      const members = Array.isArray(coll.body.Members) ? (coll.body.Members as unknown[]).map(objectOf) : [];
      for (const m of members) {
        const full = m.Message === undefined && linkOf(m) ? (await c.get(linkOf(m)!, signal)).body : m;
        out.push(logEntryOf(full, out.length));
      }
      next = stringOf(coll.body['Members@odata.nextLink']);
    }
    return out.slice(0, MAX_LOG_ENTRIES);
  }

  async clearEventLog(t: BmcTarget, o: BmcCallOptions = {}): Promise<void> {
    const { signal } = o;
    const c = await this.client(t);
    const log = await this.eventLog(c, signal);
    const target = stringOf(objectOf(objectOf(log.body.Actions)['#LogService.ClearLog']).target);
    if (!target) throw new RackhandError('BMC_UNSUPPORTED', `BMC ${c.name}: its event log cannot be cleared over Redfish`, { bmc: c.name });
    await c.action(target, {}, 'clear the system event log', signal);
  }

  // ------------------------------------------------------------------ clients and sessions

  /** Names of the quirk adapters that have acted for this BMC (shown to operators; asserted by tests). */
  quirksSeen(t: BmcTarget): string[] {
    return [...(this.clients.get(clientKey(t))?.quirks ?? [])].sort();
  }

  /** HTTP requests (and connection attempts) under way: work the driver still does for its calls. */
  requestsInFlight(): number {
    return this.http.inFlight;
  }

  /** Whether a session is held for this login right now. */
  hasSession(t: BmcTarget): boolean {
    return this.clients.get(clientKey(t))?.hasSession ?? false;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    await Promise.allSettled([...this.clients.values()].map((c) => c.logout()));
    this.clients.clear();
    this.http.close();
  }

  private async client(t: BmcTarget): Promise<RedfishClient> {
    if (this.closed) throw new RackhandError('BMC_ERROR', 'redfish driver is closed');
    const key = clientKey(t);
    let c = this.clients.get(key);
    if (!c) {
      c = new RedfishClient(this.http, endpointOf(t), { username: t.username, password: t.password });
      this.clients.set(key, c);
    } else await c.setCredentials({ username: t.username, password: t.password });
    return c;
  }

  /** Reads resources four at a time (a BMC's web server is small). */
  private async readAll(c: RedfishClient, paths: string[], signal?: AbortSignal): Promise<Resource[]> {
    const out: Resource[] = new Array(paths.length);
    let next = 0;
    const worker = async () => {
      while (next < paths.length) {
        const i = next++;
        out[i] = await c.get(paths[i]!, signal);
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, paths.length) }, worker));
    return out;
  }

  /** Deletes sessions idle past idleSessionMs (BMCs hold few) and forgets logins unused for ten times that. */
  private async sweep(): Promise<void> {
    const now = Date.now();
    for (const [key, c] of this.clients) {
      if (c.inFlight > 0 || now - c.lastUseAt < this.idleSessionMs) continue;
      if (c.hasSession) await c.logout();
      else if (now - c.lastUseAt > this.idleSessionMs * 10 && !this.pending.has(c)) {
        this.clients.delete(key);
        this.http.forget(c.ep);
      }
    }
  }

  private quirk(c: RedfishClient, name: string, what: string): void {
    c.quirks.add(name);
    this.note(c, name, what);
  }

  /** One log line per BMC and kind of thing worked around. */
  private note(c: RedfishClient, name: string, what: string): void {
    const key = `${c.name}|${name}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.opts.logger?.warn({ bmc: c.name, quirk: name }, `redfish BMC ${c.name}: ${what}`);
  }
}

function endpointOf(t: BmcTarget): RedfishEndpoint {
  return { scheme: t.scheme ?? 'https', host: t.host, port: t.port, ...(t.legacyTls ? { legacyTls: true } : {}) };
}

function clientKey(t: BmcTarget): string {
  const e = endpointOf(t);
  return `${e.scheme}://${e.host}:${e.port}${e.legacyTls ? '#legacy' : ''}|${t.username}`;
}
