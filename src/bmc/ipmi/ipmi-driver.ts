// The native `ipmi` BmcDriver: IPMI v2.0 commands (chassis, boot options, SDR/sensors, users, reset, device id)
// over reused RMCP+ sessions, one per target (host:port:user), with keepalive and idle close.
import { RackhandError } from '../../errors.js';
import type {
  BmcDeviceInfo, BmcDriver, BmcPrivilege, BmcTarget, BmcUser, BootDevice, BootDeviceSetting, NewBmcUser, PowerAction,
  PowerState, SensorReading,
} from '../bmc-driver.js';
import { IpmiDecodeError } from './ipmi-codec.js';
import { completionCodeError } from './ipmi-errors.js';
import {
  convertReading, decodeSdrHeader, decodeSensorRecord, decodeThresholds, sensorStatus, sensorTypeName, unitName,
} from './ipmi-sdr.js';
import {
  IpmiSession, NETFN_APP, NETFN_CHASSIS, NETFN_SENSOR, NETFN_STORAGE, PRIVILEGE_LEVEL, type IpmiSessionOptions, type RejectReason,
} from './ipmi-session.js';
import { UdpTransport } from './ipmi-transport.js';

export interface IpmiDriverOptions extends IpmiSessionOptions {
  /** Keep a session per target open between calls (default true); false closes it after every call. */
  reuseSessions?: boolean;
  /** Send a keepalive on a reused session idle this long (ms); must be below the BMC's session timeout. */
  keepaliveMs?: number;
  /** Close a reused session nobody has used for this long (ms): BMCs have few session slots. */
  idleCloseMs?: number;
  /**
   * Wait for the answer to Close Session (default true). false sends it once and moves on: for one-shot
   * fan-outs (powerStatusMany), where the wait is a round trip per BMC that tells the caller nothing.
   */
  awaitCloseReply?: boolean;
}

interface Entry {
  key: string;
  target: BmcTarget;
  session?: IpmiSession;
  /** Serialises whole operations (an SDR walk, a user add) on one target. */
  lock: Promise<unknown>;
  /** Operations queued or running on this entry; it is forgotten only when none are and it holds no session. */
  pending: number;
  lanChannel?: number;
}

const CHASSIS_CONTROL: Record<PowerAction, number> = { off: 0x00, on: 0x01, cycle: 0x02, reset: 0x03, soft: 0x05 };

const BOOT_DEVICE_CODE: Record<BootDevice, number> = { none: 0x0, pxe: 0x1, disk: 0x2, cdrom: 0x5, bios: 0x6 };
const BOOT_DEVICE_FROM_CODE: Record<number, BootDevice> = { 0x1: 'pxe', 0x2: 'disk', 0x3: 'disk', 0x5: 'cdrom', 0x6: 'bios', 0x8: 'cdrom', 0xb: 'disk' };

const PRIVILEGE_FROM_LEVEL: Record<number, BmcPrivilege> = { 1: 'callback', 2: 'user', 3: 'operator', 4: 'administrator' };

/** Completion codes that mean "this optional parameter is not there" rather than a failure. */
const PARAM_UNSUPPORTED = new Set([0x80, 0xcc, 0xc1]);

function noAnswer(e: unknown): boolean {
  return e instanceof RackhandError && (e.code === 'BMC_TIMEOUT' || e.code === 'BMC_UNREACHABLE');
}

function invalid(message: string): RackhandError {
  return new RackhandError('INVALID_INPUT', message);
}

/** A response shorter than the command defines: the BMC is at fault, not the caller. */
function short(what: string, data: Buffer, len: number): void {
  if (data.length < len) throw new RackhandError('BMC_ERROR', `${what}: response too short (${data.length} < ${len} bytes)`);
}

/** Power state from Get Chassis Status data (byte 1 bit 0: power is on). */
export function chassisPowerState(d: Buffer): PowerState {
  short('Get Chassis Status', d, 1);
  return d[0] & 0x01 ? 'on' : 'off';
}

export class IpmiDriver implements BmcDriver {
  readonly name = 'ipmi';
  private readonly entries = new Map<string, Entry>();
  private readonly reuse: boolean;
  private readonly keepaliveMs: number;
  private readonly idleCloseMs: number;
  private readonly awaitCloseReply: boolean;
  private sweeper?: NodeJS.Timeout;
  private closed = false;
  /** Shared by every session of this driver, so a fan-out does not open one socket per BMC. */
  private readonly transport: UdpTransport;
  /** Inbound datagrams dropped by this driver's sessions, by reason (forged, corrupt, late, duplicate…). */
  private readonly rejected: Partial<Record<RejectReason, number>> = {};
  private readonly countReject = (reason: RejectReason): void => {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
  };

  constructor(private readonly opts: IpmiDriverOptions = {}) {
    this.reuse = opts.reuseSessions ?? true;
    this.keepaliveMs = opts.keepaliveMs ?? 15_000;
    this.idleCloseMs = opts.idleCloseMs ?? 120_000;
    this.awaitCloseReply = opts.awaitCloseReply ?? true;
    this.transport = new UdpTransport();
  }

  // ------------------------------------------------------------------------------------------- sessions

  private static keyOf(t: BmcTarget): string {
    return `${t.host}:${t.port}:${t.username}`;
  }

  private entry(t: BmcTarget): Entry {
    const key = IpmiDriver.keyOf(t);
    let e = this.entries.get(key);
    if (!e) {
      e = { key, target: t, lock: Promise.resolve(), pending: 0 };
      this.entries.set(key, e);
    }
    return e;
  }

  private startSweeper(): void {
    if (this.sweeper || !this.reuse) return;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const e of this.entries.values()) {
        const s = e.session;
        if (s && now - s.lastUseAt > this.idleCloseMs) {
          // Take the entry's lock so an idle close never races a new operation.
          e.pending++;
          void this.locked(e, async () => {
            if (e.session === s && Date.now() - s.lastUseAt > this.idleCloseMs) await this.dropSession(e);
          }).finally(() => this.release(e));
        }
      }
    }, Math.min(5_000, this.idleCloseMs));
    this.sweeper.unref();
  }

  private release(e: Entry): void {
    e.pending--;
    if (e.pending === 0 && !e.session && this.entries.get(e.key) === e) this.entries.delete(e.key);
  }

  private locked<T>(e: Entry, fn: () => Promise<T>): Promise<T> {
    const run = e.lock.then(fn, fn);
    e.lock = run.catch(() => undefined);
    return run;
  }

  private async dropSession(e: Entry): Promise<void> {
    const s = e.session;
    e.session = undefined;
    e.lanChannel = undefined;
    if (s) await s.close({ awaitReply: this.awaitCloseReply });
  }

  /**
   * The entry's session, or a new one. A session that lives for one operation only (no reuse) asks for just
   * the privilege that operation needs (`need`), capped by the target's: read-only work then skips Set Session
   * Privilege Level and cannot do more than read. A reused session always runs at the target's privilege.
   */
  private async acquire(e: Entry, t: BmcTarget, need?: BmcPrivilege): Promise<{ s: IpmiSession; fresh: boolean }> {
    const cur = e.session;
    const same = cur && cur.isActive && cur.target.password === t.password && cur.target.privilege === t.privilege && cur.target.cipherSuite === t.cipherSuite
      && cur.privilegeLevel >= Math.min(PRIVILEGE_LEVEL[need ?? t.privilege], PRIVILEGE_LEVEL[t.privilege]);
    if (cur && same) return { s: cur, fresh: false };
    if (cur) await this.dropSession(e);
    const s = new IpmiSession({ ...t }, { ...this.opts, transport: this.opts.transport ?? this.transport, onReject: this.countReject });
    const privilege = !this.reuse && need && PRIVILEGE_LEVEL[need] < PRIVILEGE_LEVEL[t.privilege] ? need : t.privilege;
    await s.open({ privilege });
    e.session = s;
    e.target = t;
    if (this.reuse) {
      s.startKeepalive(this.keepaliveMs);
      this.startSweeper();
    }
    return { s, fresh: true };
  }

  /**
   * Runs one operation on the target's session. A reused session that got no answer at all is assumed stale
   * (BMC rebooted or expired it): the operation runs once more on a fresh session.
   */
  private run<T>(t: BmcTarget, fn: (s: IpmiSession, e: Entry) => Promise<T>, need?: BmcPrivilege): Promise<T> {
    if (this.closed) return Promise.reject(new RackhandError('BMC_ERROR', 'ipmi driver is closed'));
    const e = this.entry(t);
    e.pending++;
    return this.locked(e, async () => {
      try {
        const { s, fresh } = await this.acquire(e, t, need);
        const rxBefore = s.stats.received;
        try {
          return await fn(s, e);
        } catch (err) {
          if (fresh || !noAnswer(err) || s.stats.received !== rxBefore) throw err;
          await this.dropSession(e);
          const again = await this.acquire(e, t, need);
          return await fn(again.s, e);
        }
      } catch (err) {
        if (err instanceof IpmiDecodeError) throw new RackhandError('BMC_ERROR', err.message);
        throw err;
      } finally {
        const s = e.session;
        if (s && (!this.reuse || !s.isActive)) await this.dropSession(e);
      }
    }).finally(() => this.release(e));
  }

  /** Counters for metrics: datagrams the sessions dropped (by reason, and in all), handler errors the transport caught. */
  stats(): { rejectedDatagrams: number; rejectedByReason: Partial<Record<RejectReason, number>>; handlerErrors: number } {
    const rejectedDatagrams = Object.values(this.rejected).reduce((a, b) => a + b, 0);
    return { rejectedDatagrams, rejectedByReason: { ...this.rejected }, handlerErrors: this.transport.handlerErrors };
  }

  /** BMC-side ids of the sessions held open right now (for tests and metrics). */
  sessionIds(): number[] {
    return [...this.entries.values()].flatMap((e) => (e.session?.isActive ? [e.session.idBmc] : []));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    await Promise.all([...this.entries.values()].map((e) => this.locked(e, () => this.dropSession(e))));
    this.entries.clear();
    await this.transport.close();
  }

  // ---------------------------------------------------------------------------------------------- power

  powerStatus(t: BmcTarget): Promise<PowerState> {
    return this.run(t, async (s) => {
      return chassisPowerState(await s.command(NETFN_CHASSIS, 0x01, undefined, 'Get Chassis Status'));
    }, 'user');
  }

  power(t: BmcTarget, action: PowerAction): Promise<void> {
    const code = CHASSIS_CONTROL[action];
    if (code === undefined) return Promise.reject(invalid(`unknown power action ${String(action)}`));
    return this.run(t, async (s) => {
      await s.command(NETFN_CHASSIS, 0x02, Buffer.from([code]), `Chassis Control ${action}`);
    });
  }

  // ----------------------------------------------------------------------------------------- boot device

  private async readBootFlags(s: IpmiSession): Promise<BootDeviceSetting> {
    const d = await s.command(NETFN_CHASSIS, 0x09, Buffer.from([0x05, 0x00, 0x00]), 'Get System Boot Options (boot flags)');
    short('Get System Boot Options', d, 4);
    const flags = d.subarray(2);
    // The selector is reported even with the valid bit clear: some BMCs (ipmi_sim among them) never set it
    // on read, and ipmitool shows the selector the same way.
    const device = BOOT_DEVICE_FROM_CODE[(flags[1] >> 2) & 0x0f] ?? 'none';
    return { device, mode: flags[0] & 0x20 ? 'uefi' : 'legacy', persistent: (flags[0] & 0x40) !== 0 };
  }

  getBootDevice(t: BmcTarget): Promise<BootDeviceSetting> {
    return this.run(t, (s) => this.readBootFlags(s));
  }

  setBootDevice(t: BmcTarget, setting: BootDeviceSetting): Promise<void> {
    const dev = BOOT_DEVICE_CODE[setting.device];
    if (dev === undefined) return Promise.reject(invalid(`unknown boot device ${String(setting.device)}`));
    if (!['uefi', 'legacy', 'auto'].includes(setting.mode)) return Promise.reject(invalid(`unknown boot mode ${String(setting.mode)}`));
    return this.run(t, async (s) => {
      const optional = async (data: number[], what: string): Promise<void> => {
        const r = await s.request(NETFN_CHASSIS, 0x08, Buffer.from(data));
        if (r.completionCode !== 0 && !PARAM_UNSUPPORTED.has(r.completionCode)) throw completionCodeError(r.completionCode, what);
      };
      await optional([0x00, 0x01], 'Set System Boot Options (set in progress)');
      try {
        // Param 3 bit 3: keep the valid bit past the 60 s "no Chassis Control" timeout.
        await optional([0x03, 0x08], 'Set System Boot Options (valid bit clearing)');
        const b1 = 0x80 | (setting.persistent ? 0x40 : 0) | (setting.mode === 'uefi' ? 0x20 : 0);
        await s.command(NETFN_CHASSIS, 0x08, Buffer.from([0x05, b1, dev << 2, 0x00, 0x00, 0x00]), 'Set System Boot Options (boot flags)');
      } finally {
        await optional([0x00, 0x00], 'Set System Boot Options (set complete)').catch(() => undefined);
      }
      const back = await this.readBootFlags(s);
      // BMCs differ on whether they keep the persistent/EFI bits; the device itself must stick.
      if (back.device !== setting.device && !(setting.device === 'none' && back.device === 'none')) {
        throw new RackhandError('BMC_ERROR', `boot device read back as ${back.device}, wanted ${setting.device}`, { readBack: back });
      }
    });
  }

  // --------------------------------------------------------------------------------------------- sensors

  private async readSdrRepository(s: IpmiSession): Promise<Buffer[]> {
    const reserve = async (): Promise<number> => {
      const d = await s.command(NETFN_STORAGE, 0x22, undefined, 'Reserve SDR Repository');
      short('Reserve SDR Repository', d, 2);
      return d.readUInt16LE(0);
    };
    let reservation = await reserve();
    const getSdr = async (id: number, offset: number, count: number): Promise<{ next: number; bytes: Buffer }> => {
      for (let attempt = 0; ; attempt++) {
        const q = Buffer.alloc(6);
        q.writeUInt16LE(reservation, 0);
        q.writeUInt16LE(id, 2);
        q[4] = offset;
        q[5] = count;
        const r = await s.request(NETFN_STORAGE, 0x23, q);
        if (r.completionCode === 0xc5 && attempt < 3) {
          reservation = await reserve(); // someone else reserved: take it back and retry
          continue;
        }
        if (r.completionCode !== 0) throw completionCodeError(r.completionCode, 'Get SDR');
        short('Get SDR', r.data, 2);
        return { next: r.data.readUInt16LE(0), bytes: r.data.subarray(2) };
      }
    };
    const records: Buffer[] = [];
    const seen = new Set<number>();
    let id = 0x0000;
    let chunk = 24;
    while (id !== 0xffff && !seen.has(id) && records.length < 4096) {
      seen.add(id);
      const head = await getSdr(id, 0, 5);
      if (head.bytes.length < 5) throw new RackhandError('BMC_ERROR', 'Get SDR: short record header');
      const len = decodeSdrHeader(head.bytes).length;
      const parts = [head.bytes.subarray(0, 5)];
      let off = 5;
      while (off < 5 + len) {
        const want = Math.min(chunk, 5 + len - off);
        let part: { next: number; bytes: Buffer };
        try {
          part = await getSdr(id, off, want);
        } catch (e) {
          // "cannot return number of requested data bytes": ask for less.
          if (e instanceof RackhandError && e.details?.completionCode === 0xca && chunk > 4) {
            chunk = Math.max(4, chunk >> 1);
            continue;
          }
          throw e;
        }
        if (part.bytes.length === 0) throw new RackhandError('BMC_ERROR', 'Get SDR: empty partial read');
        parts.push(part.bytes.subarray(0, want));
        off += Math.min(want, part.bytes.length);
      }
      records.push(Buffer.concat(parts));
      id = head.next;
    }
    return records;
  }

  sensors(t: BmcTarget): Promise<SensorReading[]> {
    return this.run(t, async (s) => {
      const out: SensorReading[] = [];
      for (const raw of await this.readSdrRepository(s)) {
        let rec;
        try {
          rec = decodeSensorRecord(raw);
        } catch (e) {
          if (e instanceof IpmiDecodeError) continue; // a malformed record must not hide the others
          throw e;
        }
        if (!rec) continue;
        const reading: SensorReading = { name: rec.name, type: sensorTypeName(rec), value: null, unit: unitName(rec), status: 'unavailable', thresholds: {} };
        out.push(reading);
        if (rec.ownerId !== 0x20) continue; // behind a satellite controller: needs bridging, not supported
        const r = await s.request(NETFN_SENSOR, 0x2d, Buffer.from([rec.number]), rec.ownerLun);
        if (r.completionCode !== 0) continue;
        reading.status = sensorStatus(rec.eventReadingType, r.data);
        if (reading.status !== 'unavailable' && rec.eventReadingType === 0x01 && rec.conversion) {
          reading.value = convertReading(rec.conversion, r.data[0]);
        }
        if (rec.eventReadingType === 0x01 && rec.conversion) {
          const th = await s.request(NETFN_SENSOR, 0x27, Buffer.from([rec.number]), rec.ownerLun);
          if (th.completionCode === 0) reading.thresholds = decodeThresholds(rec.conversion, th.data);
        }
      }
      return out;
    }, 'user');
  }

  // ----------------------------------------------------------------------------------------------- users

  private async lanChannel(s: IpmiSession, e: Entry): Promise<number> {
    if (e.lanChannel !== undefined) return e.lanChannel;
    // 0x0e = "the channel this request came in on", which for us is the LAN channel.
    const r = await s.request(NETFN_APP, 0x42, Buffer.from([0x0e]));
    if (r.completionCode === 0 && r.data.length >= 2 && (r.data[1] & 0x7f) === 0x04) {
      e.lanChannel = r.data[0] & 0x0f;
      return e.lanChannel;
    }
    for (let ch = 1; ch <= 0x0b; ch++) {
      const c = await s.request(NETFN_APP, 0x42, Buffer.from([ch]));
      if (c.completionCode === 0 && c.data.length >= 2 && (c.data[1] & 0x7f) === 0x04) {
        e.lanChannel = ch;
        return ch;
      }
    }
    throw new RackhandError('BMC_UNSUPPORTED', 'no 802.3 LAN channel found');
  }

  private async readUsers(s: IpmiSession, channel: number): Promise<BmcUser[]> {
    const first = await s.command(NETFN_APP, 0x44, Buffer.from([channel, 1]), 'Get User Access');
    short('Get User Access', first, 4);
    const max = Math.min(first[0] & 0x3f, 63);
    const users: BmcUser[] = [];
    for (let id = 1; id <= max; id++) {
      const acc = id === 1 ? first : await s.command(NETFN_APP, 0x44, Buffer.from([channel, id]), 'Get User Access');
      short('Get User Access', acc, 4);
      const n = await s.request(NETFN_APP, 0x46, Buffer.from([id]));
      // 0xcc on an unnamed slot (e.g. the anonymous user 1) means "no name".
      const name = n.completionCode === 0 ? n.data.subarray(0, 16).toString('latin1').replace(/\0.*$/s, '') : '';
      const level = acc[3] & 0x0f;
      const messaging = (acc[3] & 0x10) !== 0;
      const status = acc[1] >> 6;
      // Status bits are "unspecified" on older BMCs: then a slot counts as enabled when it may do IPMI messaging.
      const enabled = status === 1 ? true : status === 2 ? false : messaging && level !== 0x0f && level !== 0;
      if (!name && !enabled) continue;
      users.push({ id, name, enabled, privilege: PRIVILEGE_FROM_LEVEL[level] ?? 'no-access' });
    }
    return users;
  }

  listUsers(t: BmcTarget): Promise<BmcUser[]> {
    return this.run(t, async (s, e) => this.readUsers(s, await this.lanChannel(s, e)));
  }

  private static passwordData(id: number, op: number, password?: string): Buffer {
    if (password === undefined) return Buffer.from([id & 0x3f, op]);
    const p = Buffer.from(password, 'utf8');
    if (p.length > 20) throw invalid('BMC password longer than 20 bytes');
    const wide = p.length > 16;
    const d = Buffer.alloc(2 + (wide ? 20 : 16));
    d[0] = (wide ? 0x80 : 0) | (id & 0x3f);
    d[1] = op;
    p.copy(d, 2);
    return d;
  }

  private async findUser(s: IpmiSession, e: Entry, name: string): Promise<{ id: number; channel: number }> {
    const channel = await this.lanChannel(s, e);
    const u = (await this.readUsers(s, channel)).find((x) => x.name === name);
    if (!u) throw new RackhandError('NOT_FOUND', `BMC user ${name} not found`);
    return { id: u.id, channel };
  }

  addUser(t: BmcTarget, user: NewBmcUser): Promise<{ id: number }> {
    const nameBytes = Buffer.from(user.name ?? '', 'utf8');
    if (nameBytes.length < 1 || nameBytes.length > 16 || !/^[\x21-\x7e]+$/.test(user.name)) {
      return Promise.reject(invalid('BMC user name must be 1-16 printable ASCII characters'));
    }
    if (Buffer.byteLength(user.password ?? '', 'utf8') > 20) return Promise.reject(invalid('BMC password longer than 20 bytes'));
    const level = PRIVILEGE_LEVEL[user.privilege];
    if (!level) return Promise.reject(invalid(`unknown privilege ${String(user.privilege)}`));
    return this.run(t, async (s, e) => {
      const channel = user.channel ?? (await this.lanChannel(s, e));
      const first = await s.command(NETFN_APP, 0x44, Buffer.from([channel, 1]), 'Get User Access');
      short('Get User Access', first, 1);
      const max = Math.min(first[0] & 0x3f, 63);
      const existing = await this.readUsers(s, channel);
      if (existing.some((u) => u.name === user.name)) throw new RackhandError('CONFLICT', `BMC user ${user.name} already exists`);
      let id = 0;
      for (let i = 2; i <= max && !id; i++) if (!existing.some((u) => u.id === i)) id = i;
      if (!id) throw new RackhandError('BMC_ERROR', 'no free user slot on the BMC', { maxUsers: max });
      const name = Buffer.alloc(17);
      name[0] = id;
      nameBytes.copy(name, 1);
      await s.command(NETFN_APP, 0x45, name, 'Set User Name');
      await s.command(NETFN_APP, 0x47, IpmiDriver.passwordData(id, 0x02, user.password), 'Set User Password');
      // Change bits, link auth + IPMI messaging on, callback-only off.
      await s.command(NETFN_APP, 0x43, Buffer.from([0x80 | 0x20 | 0x10 | (channel & 0x0f), id, level, 0x00]), 'Set User Access');
      await s.command(NETFN_APP, 0x47, IpmiDriver.passwordData(id, 0x01), 'Set User Password (enable)');
      return { id };
    });
  }

  setUserPassword(t: BmcTarget, name: string, password: string): Promise<void> {
    if (Buffer.byteLength(password ?? '', 'utf8') > 20) return Promise.reject(invalid('BMC password longer than 20 bytes'));
    return this.run(t, async (s, e) => {
      const { id } = await this.findUser(s, e, name);
      await s.command(NETFN_APP, 0x47, IpmiDriver.passwordData(id, 0x02, password), 'Set User Password');
    });
  }

  setUserEnabled(t: BmcTarget, name: string, enabled: boolean): Promise<void> {
    return this.run(t, async (s, e) => {
      const { id } = await this.findUser(s, e, name);
      await s.command(NETFN_APP, 0x47, IpmiDriver.passwordData(id, enabled ? 0x01 : 0x00), 'Set User Password (enable/disable)');
    });
  }

  removeUser(t: BmcTarget, name: string): Promise<void> {
    if (name === t.username) return Promise.reject(invalid('refusing to remove the user rackhand logs in with'));
    return this.run(t, async (s, e) => {
      const { id, channel } = await this.findUser(s, e, name);
      await s.command(NETFN_APP, 0x47, IpmiDriver.passwordData(id, 0x00), 'Set User Password (disable)');
      await s.command(NETFN_APP, 0x43, Buffer.from([0x80 | (channel & 0x0f), id, 0x0f, 0x00]), 'Set User Access (no access)');
      const cleared = Buffer.alloc(17);
      cleared[0] = id;
      await s.command(NETFN_APP, 0x45, cleared, 'Set User Name (clear)');
    });
  }

  // ------------------------------------------------------------------------------------- BMC management

  resetBmc(t: BmcTarget, kind: 'cold' | 'warm'): Promise<void> {
    return this.run(t, async (s, e) => {
      try {
        await s.command(NETFN_APP, kind === 'cold' ? 0x02 : 0x03, undefined, `${kind === 'cold' ? 'Cold' : 'Warm'} Reset`);
      } catch (err) {
        // A BMC may reboot before its answer leaves: silence after the request counts as done.
        if (!(err instanceof RackhandError && err.code === 'BMC_TIMEOUT')) throw err;
      }
      // The session does not survive a BMC reset.
      await this.dropSession(e);
    });
  }

  deviceInfo(t: BmcTarget): Promise<BmcDeviceInfo> {
    return this.run(t, async (s) => {
      const d = await s.command(NETFN_APP, 0x01, undefined, 'Get Device ID');
      short('Get Device ID', d, 11);
      const minor = d[3];
      const minorText = (minor >> 4) <= 9 && (minor & 0x0f) <= 9 ? minor.toString(16).padStart(2, '0') : String(minor);
      return {
        deviceId: d[0],
        firmware: `${d[2] & 0x7f}.${minorText}`,
        ipmiVersion: `${d[4] & 0x0f}.${d[4] >> 4}`,
        manufacturerId: d[6] | (d[7] << 8) | ((d[8] & 0x0f) << 16),
        productId: d.readUInt16LE(9),
      };
    }, 'user');
  }
}
