// BmcDriver 'simulated': an in-process stateful fake BMC per host:port, with delays and injectable faults (tests, demo).

import { abortableDelay } from '../abortable-delay.js';
import { RackhandError, type ErrorCode } from '../../errors.js';
import { BOOT_DEVICES, BOOT_MODES, bmcAddress } from '../bmc-driver.js';
import type {
  BmcCallOptions,
  BmcDeviceInfo,
  BmcDriver,
  BmcEventLogEntry,
  BmcOperation,
  BmcPowerReading,
  BmcPrivilege,
  BmcTarget,
  BmcUser,
  BootDeviceSetting,
  NewBmcUser,
  PowerAction,
  PowerState,
  SensorReading,
  VirtualMediaStatus,
} from '../bmc-driver.js';
import { guardOwnAccount } from '../bmc-account-guard.js';
import { validPassword, validUserName } from '../ipmi-commands/user-commands.js';

export type SimulatedFaultKind = 'unreachable' | 'auth' | 'timeout' | 'busy' | 'error' | 'unsupported' | 'hang';

export interface SimulatedFault {
  kind: SimulatedFaultKind;
  /** How many calls it affects; unlimited when absent. */
  times?: number;
  /** Only these operations; all when absent. */
  ops?: SimulatedOp[];
  /** For 'error': the completion code reported. Default 0xff. */
  completionCode?: number;
}

export type SimulatedOp = BmcOperation;

export interface SimulatedDriverOptions {
  /** Latency of every call. Default 0 (resolves on the next timer tick). */
  delayMs?: number;
  /** How long a 'timeout' fault waits before rejecting with BMC_TIMEOUT. Default 5000. */
  faultTimeoutMs?: number;
  /** Power of a BMC the first time it is seen. Default 'off'. */
  initialPower?: PowerState;
  /** Relative sensor jitter, 0.01 = ±1 %. Default 0.01. */
  sensorJitter?: number;
  /** Randomness source (tests pass a seeded one). */
  random?: () => number;
}

interface SimUser {
  id: number;
  name: string;
  password: string;
  enabled: boolean;
  privilege: BmcPrivilege | 'no-access';
}

/** What one simulated BMC holds; tests read and change it directly. */
export interface SimulatedBmcState {
  power: PowerState;
  boot: BootDeviceSetting;
  users: SimUser[];
  resets: number;
  bmcResets: number;
  /** The event log, oldest first; tests add entries with addEvent(). */
  events: BmcEventLogEntry[];
  /** Whether this BMC measures power (DCMI); powerReading is BMC_UNSUPPORTED when not. */
  measuresPower: boolean;
  /** The virtual CD. */
  media: VirtualMediaStatus;
  /** The operations that reached this BMC, in order (after faults and auth): the latest LOG_KEEP at least. */
  log: string[];
}

const PRIV_RANK: Record<BmcPrivilege | 'no-access', number> = { 'no-access': 0, callback: 1, user: 2, operator: 3, administrator: 4 };
const MAX_USERS = 16;
/**
 * What the call records keep: tests read the latest few, and a daemon on simulated BMCs (the demo, bench/api's
 * 50,000) runs for hours; unbounded, the records were the largest thing in its heap.
 */
const CALLS_KEEP = 10_000;
const LOG_KEEP = 32;

/** Appends, and once the list is twice `keep` long drops its older half: bounded, and O(1) per append on average. */
function record(list: string[], entry: string, keep: number): void {
  list.push(entry);
  if (list.length >= 2 * keep) list.splice(0, list.length - keep);
}

export class SimulatedDriver implements BmcDriver {
  readonly name = 'simulated';
  private readonly bmcs = new Map<string, SimulatedBmcState>();
  private readonly faults = new Map<string, SimulatedFault[]>();
  private readonly hung = new Set<() => void>();
  private readonly opts: Required<SimulatedDriverOptions>;
  /** Calls that entered the driver, faults included: "host:port op"; the latest CALLS_KEEP at least. */
  readonly calls: string[] = [];

  constructor(options: SimulatedDriverOptions = {}) {
    this.opts = {
      delayMs: options.delayMs ?? 0,
      faultTimeoutMs: options.faultTimeoutMs ?? 5000,
      initialPower: options.initialPower ?? 'off',
      sensorJitter: options.sensorJitter ?? 0.01,
      random: options.random ?? Math.random,
    };
  }

  /** The state behind host:port (created on first use with `t`'s credentials as the admin user). */
  state(t: Pick<BmcTarget, 'host' | 'port'> & Partial<BmcTarget>): SimulatedBmcState {
    const key = bmcAddress(t);
    let s = this.bmcs.get(key);
    if (!s) {
      s = {
        power: this.opts.initialPower,
        boot: { device: 'none', mode: 'auto', persistent: false },
        users: [
          { id: 1, name: '', password: '', enabled: false, privilege: 'user' },
          { id: 2, name: t.username ?? 'admin', password: t.password ?? 'password', enabled: true, privilege: 'administrator' },
        ],
        resets: 0,
        bmcResets: 0,
        events: [],
        measuresPower: true,
        media: { inserted: false, image: null },
        log: [],
      };
      this.bmcs.set(key, s);
    }
    return s;
  }

  /** Logs an event on the BMC behind host:port, as its own firmware would. */
  addEvent(t: Pick<BmcTarget, 'host' | 'port'>, e: Pick<BmcEventLogEntry, 'severity' | 'message'> & { time?: string | null }): BmcEventLogEntry {
    const s = this.state(t);
    const id = String((Number(s.events.at(-1)?.id ?? 0) + 1) & 0xffff);
    const entry: BmcEventLogEntry = { id, time: e.time === undefined ? new Date().toISOString() : e.time, severity: e.severity, message: e.message, raw: '' };
    s.events.push(entry);
    return entry;
  }

  /** Adds a fault for one BMC ("host:port") or every BMC ("*"). */
  injectFault(key: string, fault: SimulatedFault): void {
    const list = this.faults.get(key) ?? [];
    list.push({ ...fault });
    this.faults.set(key, list);
  }

  /** Calls hanging in a 'hang' fault right now. */
  get hangingCalls(): number {
    return this.hung.size;
  }

  clearFaults(key?: string): void {
    if (key === undefined) this.faults.clear();
    else this.faults.delete(key);
    for (const release of this.hung) release();
    this.hung.clear();
  }

  async powerStatus(t: BmcTarget, o?: BmcCallOptions): Promise<PowerState> {
    return (await this.enter(t, 'powerStatus', o)).power;
  }

  async power(t: BmcTarget, action: PowerAction, o?: BmcCallOptions): Promise<void> {
    if (!['on', 'off', 'soft', 'reset', 'cycle'].includes(action)) throw new RackhandError('INVALID_INPUT', `unknown power action ${String(action)}`);
    const s = await this.enter(t, 'power', o, action);
    switch (action) {
      case 'on':
        s.power = 'on'; // already on: nothing happens, as on a real chassis
        break;
      case 'off':
      case 'soft':
        s.power = 'off';
        break;
      case 'reset':
        if (s.power === 'on') s.resets++;
        break;
      case 'cycle':
        if (s.power === 'on') s.resets++;
        s.power = 'on';
        break;
    }
  }

  async getBootDevice(t: BmcTarget, o?: BmcCallOptions): Promise<BootDeviceSetting> {
    return { ...(await this.enter(t, 'getBootDevice', o)).boot };
  }

  async setBootDevice(t: BmcTarget, setting: BootDeviceSetting, o?: BmcCallOptions): Promise<void> {
    if (!(BOOT_DEVICES as readonly string[]).includes(setting?.device)) throw new RackhandError('INVALID_INPUT', `unknown boot device ${String(setting?.device)}`);
    if (!(BOOT_MODES as readonly string[]).includes(setting.mode)) throw new RackhandError('INVALID_INPUT', `unknown boot mode ${String(setting.mode)}`);
    const uri = setting.uri ? ` ${setting.uri}` : '';
    const s = await this.enter(t, 'setBootDevice', o, `${setting.device}/${setting.mode}/${setting.persistent ? 'persistent' : 'once'}${uri}`);
    s.boot = { ...setting };
  }

  async sensors(t: BmcTarget, o?: BmcCallOptions): Promise<SensorReading[]> {
    const s = await this.enter(t, 'sensors', o);
    const j = (v: number, digits: number): number => {
      const x = v * (1 + (this.opts.random() * 2 - 1) * this.opts.sensorJitter);
      return Number(x.toFixed(digits));
    };
    const on = s.power === 'on';
    return [
      {
        name: 'CPU1 Temp',
        type: 'temperature',
        value: on ? j(45, 0) : j(25, 0),
        unit: 'degrees C',
        status: 'ok',
        thresholds: { upperNonCritical: 80, upperCritical: 90, upperNonRecoverable: 100 },
      },
      {
        name: 'FAN1',
        type: 'fan',
        value: on ? j(4800, 0) : 0,
        unit: 'RPM',
        status: on ? 'ok' : 'unavailable',
        thresholds: { lowerNonRecoverable: 250, lowerCritical: 500, lowerNonCritical: 1000 },
      },
      {
        name: '12V',
        type: 'voltage',
        value: on ? j(12, 2) : 0,
        unit: 'Volts',
        status: on ? 'ok' : 'unavailable',
        thresholds: { lowerCritical: 10.8, lowerNonCritical: 11.4, upperNonCritical: 12.6, upperCritical: 13.2 },
      },
      { name: 'PS1 Status', type: 'discrete', value: null, unit: '', status: 'ok', thresholds: {} },
    ];
  }

  async listUsers(t: BmcTarget, o?: BmcCallOptions): Promise<BmcUser[]> {
    const s = await this.enter(t, 'listUsers', o);
    return s.users.filter((u) => u.name !== '').map(({ id, name, enabled, privilege }) => ({ id, name, enabled, privilege }));
  }

  async addUser(t: BmcTarget, user: NewBmcUser, o?: BmcCallOptions): Promise<{ id: number }> {
    if (!validUserName(user?.name)) throw new RackhandError('INVALID_INPUT', 'BMC user name must be 1-16 printable ASCII characters without spaces', { field: 'name' });
    if (!validPassword(user.password)) throw new RackhandError('INVALID_INPUT', 'BMC password must be 1-20 bytes', { field: 'password' });
    if (!PRIV_RANK[user.privilege]) throw new RackhandError('INVALID_INPUT', `unknown privilege ${String(user.privilege)}`, { field: 'privilege' });
    const s = await this.enter(t, 'addUser', o, user.name);
    if (s.users.some((u) => u.name === user.name)) throw new RackhandError('CONFLICT', `BMC user ${user.name} already exists`);
    let id = 2;
    while (s.users.some((u) => u.id === id && u.name !== '')) id++;
    if (id > MAX_USERS) throw new RackhandError('BMC_ERROR', 'no free user slot on the BMC', { reason: 'no-free-slot' });
    s.users = s.users.filter((u) => u.id !== id);
    s.users.push({ id, name: user.name, password: user.password, enabled: true, privilege: user.privilege });
    s.users.sort((a, b) => a.id - b.id);
    return { id };
  }

  async setUserPassword(t: BmcTarget, name: string, password: string, o?: BmcCallOptions): Promise<void> {
    guardOwnAccount(t, name, 'change the password of');
    if (!validPassword(password)) throw new RackhandError('INVALID_INPUT', 'BMC password must be 1-20 bytes', { field: 'password' });
    const s = await this.enter(t, 'setUserPassword', o, name);
    this.user(s, name).password = password;
  }

  async setUserEnabled(t: BmcTarget, name: string, enabled: boolean, o?: BmcCallOptions): Promise<void> {
    guardOwnAccount(t, name, enabled ? 'enable' : 'disable');
    const s = await this.enter(t, 'setUserEnabled', o, `${name}=${enabled}`);
    this.user(s, name).enabled = enabled;
  }

  async removeUser(t: BmcTarget, name: string, o?: BmcCallOptions): Promise<void> {
    guardOwnAccount(t, name, 'remove');
    const s = await this.enter(t, 'removeUser', o, name);
    const u = this.user(s, name);
    s.users = s.users.filter((x) => x !== u);
  }

  async resetBmc(t: BmcTarget, kind: 'cold' | 'warm', o?: BmcCallOptions): Promise<void> {
    const s = await this.enter(t, 'resetBmc', o, kind);
    s.bmcResets++;
  }

  async deviceInfo(t: BmcTarget, o?: BmcCallOptions): Promise<BmcDeviceInfo> {
    await this.enter(t, 'deviceInfo', o);
    return { deviceId: 0x20, firmware: '1.00', ipmiVersion: '2.0', manufacturerId: 0, productId: 0 };
  }

  async readEventLog(t: BmcTarget, o?: BmcCallOptions): Promise<BmcEventLogEntry[]> {
    return (await this.enter(t, 'readEventLog', o)).events.map((e) => ({ ...e }));
  }

  async clearEventLog(t: BmcTarget, o?: BmcCallOptions): Promise<void> {
    const s = await this.enter(t, 'clearEventLog', o);
    s.events = [];
  }

  async powerReading(t: BmcTarget, o?: BmcCallOptions): Promise<BmcPowerReading> {
    const s = await this.enter(t, 'powerReading', o);
    if (!s.measuresPower) throw new RackhandError('BMC_UNSUPPORTED', 'simulated BMC does not measure power', { completionCode: 0xc1 });
    const watts = s.power === 'on' ? Math.round(180 * (1 + (this.opts.random() * 2 - 1) * this.opts.sensorJitter)) : 8;
    return { watts, minimumWatts: Math.min(watts, 8), maximumWatts: Math.max(watts, 190), averageWatts: watts, periodSeconds: 60, time: new Date().toISOString() };
  }

  async insertMedia(t: BmcTarget, url: string, o?: BmcCallOptions): Promise<void> {
    if (!/^https?:\/\/[^\s/]+\/\S*$/.test(String(url))) throw new RackhandError('INVALID_INPUT', 'the virtual media image must be an http or https URL', { field: 'image' });
    const s = await this.enter(t, 'insertMedia', o, url);
    s.media = { inserted: true, image: url };
  }

  async ejectMedia(t: BmcTarget, o?: BmcCallOptions): Promise<void> {
    const s = await this.enter(t, 'ejectMedia', o);
    s.media = { inserted: false, image: null };
  }

  async mediaStatus(t: BmcTarget, o?: BmcCallOptions): Promise<VirtualMediaStatus> {
    return { ...(await this.enter(t, 'mediaStatus', o)).media };
  }

  async close(): Promise<void> {
    for (const release of this.hung) release();
    this.hung.clear();
  }

  // ------------------------------------------------------------ internals

  private user(s: SimulatedBmcState, name: string): SimUser {
    const u = s.users.find((x) => x.name === name && name !== '');
    if (!u) throw new RackhandError('NOT_FOUND', `no BMC user named ${name}`);
    return u;
  }

  /** Delay, faults, then authentication: what every operation goes through before touching state. */
  private async enter(t: BmcTarget, op: SimulatedOp, o: BmcCallOptions | undefined, arg?: string): Promise<SimulatedBmcState> {
    const key = bmcAddress(t);
    const signal = o?.signal;
    signal?.throwIfAborted();
    record(this.calls, `${key} ${op}`, CALLS_KEEP);
    await abortableDelay(this.opts.delayMs, signal);
    const fault = this.takeFault(key, op);
    if (fault) await this.fail(fault, op, signal);
    const s = this.state(t);
    const u = s.users.find((x) => x.name === t.username);
    if (!u || !u.enabled || u.password !== t.password || PRIV_RANK[u.privilege] < PRIV_RANK[t.privilege]) {
      throw new RackhandError('BMC_AUTH_FAILED', 'authentication failed', { host: t.host, port: t.port });
    }
    record(s.log, arg === undefined ? op : `${op} ${arg}`, LOG_KEEP);
    return s;
  }

  private takeFault(key: string, op: SimulatedOp): SimulatedFault | undefined {
    for (const k of [key, '*']) {
      const list = this.faults.get(k);
      if (!list) continue;
      const idx = list.findIndex((f) => !f.ops || f.ops.includes(op));
      if (idx === -1) continue;
      const f = list[idx]!;
      if (f.times !== undefined && --f.times <= 0) list.splice(idx, 1);
      return f;
    }
    return undefined;
  }

  private async fail(f: SimulatedFault, op: SimulatedOp, signal: AbortSignal | undefined): Promise<never> {
    const codes: Record<Exclude<SimulatedFaultKind, 'hang' | 'timeout'>, ErrorCode> = {
      unreachable: 'BMC_UNREACHABLE',
      auth: 'BMC_AUTH_FAILED',
      busy: 'BMC_BUSY',
      error: 'BMC_ERROR',
      unsupported: 'BMC_UNSUPPORTED',
    };
    if (f.kind === 'hang') {
      // Hangs until the faults are cleared, or the caller gives up (then its signal's reason is the outcome).
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          this.hung.delete(release);
          reject(signal!.reason);
        };
        const release = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        this.hung.add(release);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      throw new RackhandError('BMC_TIMEOUT', `simulated BMC hung during ${op}`);
    }
    if (f.kind === 'timeout') {
      await abortableDelay(this.opts.faultTimeoutMs, signal);
      throw new RackhandError('BMC_TIMEOUT', `simulated BMC timed out during ${op}`);
    }
    const details: Record<string, unknown> = {};
    if (f.kind === 'error') details.completionCode = f.completionCode ?? 0xff;
    if (f.kind === 'unsupported') details.completionCode = 0xc1;
    if (f.kind === 'busy') details.completionCode = 0xc0;
    throw new RackhandError(codes[f.kind], `simulated ${f.kind} during ${op}`, details);
  }
}
