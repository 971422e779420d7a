// The BmcDriver operations written once over an IpmiCommandRunner: the native and the ipmitool driver both call
// these with their own runner, so what they send, how they read it and which rules they apply cannot drift apart.
import { randomInt } from 'node:crypto';
import { abortableDelay } from '../abortable-delay.js';
import { RackhandError } from '../../errors.js';
import type {
  BmcDeviceInfo, BmcEventLogEntry, BmcOperation, BmcPowerReading, BmcTarget, BmcUser, BootDeviceSetting, NewBmcUser,
  PowerAction, PowerState, SensorReading,
} from '../bmc-driver.js';
import { guardOwnAccount } from '../bmc-account-guard.js';
import {
  chassisControl, getBootFlags, getChassisStatus, keepBootFlagsValid, setBootFlags, setBootOptionsInProgress,
} from './chassis-commands.js';
import { getPowerReading } from './dcmi-commands.js';
import { bmcReset, getDeviceId, getLanChannel } from './device-commands.js';
import { decodeReply, runCommand, runCommands, type IpmiCommand, type IpmiCommandRunner } from './ipmi-command.js';
import type { SdrCacheSlot } from './sdr-cache.js';
import { convertReading, decodeSdrHeader, decodeSensorRecord, sensorTypeName, splitSdrRecords, unitName, type SensorRecord } from './sdr-records.js';
import { SEL_RECORD_BYTES, clearSel, decodeSelRecord, getSelEntry, getSelInfo, reserveSel } from './sel-commands.js';
import {
  SDR_RESERVATION_LOST, SDR_TOO_MANY_BYTES, getSdr, getSdrRepositoryStamp, getSensorReading, getSensorThresholds, reserveSdrRepository,
} from './sensor-commands.js';
import {
  NO_ACCESS, PRIVILEGE_LEVEL, getUserAccess, getUserName, privilegeName, setUserAccess, setUserEnabled, setUserName,
  setUserPassword, validPassword, validUserName, type UserAccess,
} from './user-commands.js';

/** What a driver remembers per BMC between calls. */
export interface IpmiTargetState {
  lanChannel?: number;
}

/** Operations that only read and need no more than User privilege (Get Chassis Status, sensors, SEL, DCMI…). */
export const IPMI_READ_ONLY_OPERATIONS: ReadonlySet<BmcOperation> = new Set(['powerStatus', 'sensors', 'deviceInfo', 'readEventLog', 'powerReading']);

interface Slot {
  id: number;
  name: string;
  access: UserAccess;
  enabled: boolean;
}

/** Status bits are "unspecified" on older BMCs (and ipmi_sim): then a slot counts as enabled when it may do IPMI messaging. */
function slotEnabled(a: UserAccess): boolean {
  return a.enabled ?? (a.messaging && a.level !== 0 && a.level !== NO_ACCESS);
}

async function lanChannel(r: IpmiCommandRunner, state: IpmiTargetState): Promise<number> {
  if (state.lanChannel !== undefined) return state.lanChannel;
  // 0x0E = "the channel this request came in on", which for us is the LAN channel; else the first 802.3 channel.
  const [here] = await runCommands(r, [getLanChannel(0x0e)]);
  let channel = here;
  if (channel === undefined) {
    const scan = await runCommands(r, Array.from({ length: 0x0b }, (_, i) => getLanChannel(i + 1)));
    channel = scan.find((c) => c !== undefined);
  }
  if (channel === undefined) throw new RackhandError('BMC_UNSUPPORTED', 'no 802.3 LAN channel found');
  state.lanChannel = channel;
  return channel;
}

/** Every user slot's name and access, read in one session. */
async function readSlots(r: IpmiCommandRunner, channel: number): Promise<Slot[]> {
  const first = await runCommand(r, getUserAccess(channel, 1));
  const max = Math.max(1, Math.min(63, first.maxUsers));
  const cmds: IpmiCommand<unknown>[] = [];
  for (let id = 1; id <= max; id++) cmds.push(getUserName(id), getUserAccess(channel, id));
  const got = await runCommands(r, cmds);
  const slots: Slot[] = [];
  for (let id = 1; id <= max; id++) {
    const access = got[(id - 1) * 2 + 1] as UserAccess;
    slots.push({ id, name: got[(id - 1) * 2] as string, access, enabled: slotEnabled(access) });
  }
  return slots;
}

async function findUser(r: IpmiCommandRunner, state: IpmiTargetState, name: string): Promise<{ slot: Slot; channel: number }> {
  const channel = await lanChannel(r, state);
  const slot = name === '' ? undefined : (await readSlots(r, channel)).find((s) => s.name === name);
  if (!slot) throw new RackhandError('NOT_FOUND', `BMC user ${name} not found`);
  return { slot, channel };
}

/** 20 printable characters from the CSPRNG: what a removed slot's password becomes, so nobody knows it. */
function scrambledPassword(): string {
  return Array.from({ length: 20 }, () => String.fromCharCode(randomInt(0x21, 0x7f))).join('');
}

/**
 * The SDR records from the cache while the BMC's repository stamp is the one they were read under; else read whole
 * (a runner's dump, or walked) and kept. A BMC without Get SDR Repository Info is read whole every time.
 */
async function sdrRecords(r: IpmiCommandRunner, cache: SdrCacheSlot | undefined): Promise<Buffer[]> {
  const readWhole = async (): Promise<Buffer[]> => (r.dump ? splitSdrRecords(await r.dump('sdr')) : walkSdr(r));
  if (!cache) return readWhole();
  const [info] = await r.send([getSdrRepositoryStamp]);
  let stamp: string | undefined;
  try {
    stamp = info ? decodeReply(getSdrRepositoryStamp, info) : undefined;
  } catch {
    stamp = undefined; // not answered (or malformed): nothing to tell a changed repository by
  }
  const kept = stamp === undefined ? undefined : cache.get(stamp);
  if (kept) return splitSdrRecords(kept);
  // A change during the read is stored under the stamp read before it: the next read sees a new stamp and reads again.
  const records = await readWhole();
  if (stamp !== undefined) cache.set(stamp, Buffer.concat(records));
  return records;
}

/** SDR records, walked with Get SDR in parts (some BMCs return at most a few bytes per call). */
async function walkSdr(r: IpmiCommandRunner): Promise<Buffer[]> {
  let reservation = await runCommand(r, reserveSdrRepository);
  let chunk = 24;
  const part = async (id: number, offset: number, count: number): Promise<{ next: number; bytes: Buffer } | 'smaller'> => {
    for (let attempt = 0; ; attempt++) {
      const p = await runCommand(r, getSdr(reservation, id, offset, count));
      if (p.completionCode === SDR_RESERVATION_LOST && attempt < 3) {
        reservation = await runCommand(r, reserveSdrRepository); // someone else reserved: take it back and retry
        continue;
      }
      if (p.completionCode === SDR_TOO_MANY_BYTES && count > 4) return 'smaller';
      if (p.completionCode !== 0) throw new RackhandError('BMC_ERROR', `Get SDR: completion code 0x${p.completionCode.toString(16)}`, { completionCode: p.completionCode });
      return p;
    }
  };
  const records: Buffer[] = [];
  const seen = new Set<number>();
  let id = 0x0000;
  while (id !== 0xffff && !seen.has(id) && records.length < 4096) {
    seen.add(id);
    let head = await part(id, 0, 5);
    while (head === 'smaller') head = await part(id, 0, 5);
    if (head.bytes.length < 5) throw new RackhandError('BMC_ERROR', 'Get SDR: short record header');
    const len = decodeSdrHeader(head.bytes).length;
    const parts = [head.bytes.subarray(0, 5)];
    for (let off = 5; off < 5 + len; ) {
      const want = Math.min(chunk, 5 + len - off);
      const p = await part(id, off, want);
      if (p === 'smaller') {
        chunk = Math.max(4, chunk >> 1); // "cannot return number of requested data bytes": ask for less
        continue;
      }
      if (p.bytes.length === 0) throw new RackhandError('BMC_ERROR', 'Get SDR: empty partial read');
      parts.push(p.bytes.subarray(0, want));
      off += Math.min(want, p.bytes.length);
    }
    records.push(Buffer.concat(parts));
    id = head.next;
  }
  return records;
}

/** SEL records oldest first, walked with Get SEL Entry. */
async function walkSel(r: IpmiCommandRunner): Promise<Buffer[]> {
  const info = await runCommand(r, getSelInfo);
  const records: Buffer[] = [];
  const seen = new Set<number>();
  let id = 0x0000;
  // A BMC that keeps adding entries, or loops its links, must not keep us here: at most what it said, plus slack.
  while (info.entries > 0 && id !== 0xffff && !seen.has(id) && records.length < info.entries + 64) {
    seen.add(id);
    const e = await runCommand(r, getSelEntry(id));
    records.push(e.record);
    id = e.next;
  }
  return records;
}

function checkUser(user: NewBmcUser): void {
  if (!validUserName(user?.name)) throw new RackhandError('INVALID_INPUT', 'BMC user name must be 1-16 printable ASCII characters without spaces', { field: 'name' });
  if (!validPassword(user.password)) throw new RackhandError('INVALID_INPUT', 'BMC password must be 1-20 bytes', { field: 'password' });
  if (!PRIVILEGE_LEVEL[user.privilege]) throw new RackhandError('INVALID_INPUT', `unknown privilege ${String(user.privilege)}`, { field: 'privilege' });
}

export const ipmiOperations = {
  powerStatus: (r: IpmiCommandRunner): Promise<PowerState> => runCommand(r, getChassisStatus),

  async power(r: IpmiCommandRunner, action: PowerAction): Promise<void> {
    await runCommand(r, chassisControl(action));
  },

  getBootDevice: (r: IpmiCommandRunner): Promise<BootDeviceSetting> => runCommand(r, getBootFlags),

  async setBootDevice(r: IpmiCommandRunner, setting: BootDeviceSetting): Promise<void> {
    const flags = setBootFlags(setting); // validates before anything is sent
    await runCommands(r, [setBootOptionsInProgress(true), keepBootFlagsValid, flags, setBootOptionsInProgress(false)]);
    const back = await runCommand(r, getBootFlags);
    // BMCs differ on whether they keep the persistent/EFI bits; the device itself must stick.
    if (back.device !== setting.device) {
      throw new RackhandError('BMC_ERROR', `boot device read back as ${back.device}, wanted ${setting.device}`, { readBack: back });
    }
  },

  /** `sdrCache`: this BMC's place in the driver's SDR cache; without it the SDR is read whole every time. */
  async sensors(r: IpmiCommandRunner, sdrCache?: SdrCacheSlot): Promise<SensorReading[]> {
    const raw = await sdrRecords(r, sdrCache);
    const records: SensorRecord[] = [];
    for (const b of raw) {
      try {
        const rec = decodeSensorRecord(b);
        if (rec) records.push(rec);
      } catch (e) {
        if (!(e instanceof RackhandError)) throw e; // a malformed record must not hide the others
      }
    }
    // Sensors behind a satellite controller need bridging, which is not supported: listed without a reading.
    const local = records.filter((rec) => rec.ownerId === 0x20);
    const cmds: IpmiCommand<unknown>[] = [];
    for (const rec of local) {
      cmds.push(getSensorReading(rec.eventReadingType, rec.number, rec.ownerLun));
      if (rec.eventReadingType === 0x01 && rec.conversion) cmds.push(getSensorThresholds(rec.conversion, rec.number, rec.ownerLun));
    }
    const got = cmds.length > 0 ? await runCommands(r, cmds) : [];
    let at = 0;
    const byRecord = new Map<SensorRecord, SensorReading>();
    for (const rec of local) {
      const value = got[at++] as { status: SensorReading['status']; raw: number | undefined };
      const reading: SensorReading = { name: rec.name, type: sensorTypeName(rec), value: null, unit: unitName(rec), status: value.status, thresholds: {} };
      if (rec.eventReadingType === 0x01 && rec.conversion) {
        if (value.raw !== undefined) reading.value = convertReading(rec.conversion, value.raw);
        reading.thresholds = got[at++] as SensorReading['thresholds'];
      }
      byRecord.set(rec, reading);
    }
    return records.map((rec) => byRecord.get(rec) ?? { name: rec.name, type: sensorTypeName(rec), value: null, unit: unitName(rec), status: 'unavailable', thresholds: {} });
  },

  async listUsers(r: IpmiCommandRunner, state: IpmiTargetState): Promise<BmcUser[]> {
    const slots = await readSlots(r, await lanChannel(r, state));
    // A nameless slot is listed only when it can log in (an enabled anonymous user is worth seeing).
    return slots.filter((s) => s.name !== '' || s.enabled).map((s) => ({ id: s.id, name: s.name, enabled: s.enabled, privilege: privilegeName(s.access.level) }));
  },

  async addUser(r: IpmiCommandRunner, state: IpmiTargetState, user: NewBmcUser): Promise<{ id: number }> {
    checkUser(user);
    const channel = user.channel ?? (await lanChannel(r, state));
    const slots = await readSlots(r, channel);
    if (slots.some((s) => s.name === user.name)) throw new RackhandError('CONFLICT', `BMC user ${user.name} already exists`);
    // Slot 1 is the anonymous user on nearly every BMC; a free slot has no name and cannot log in.
    const free = slots.find((s) => s.id >= 2 && s.name === '' && !s.enabled);
    if (!free) throw new RackhandError('BMC_ERROR', 'no free user slot on the BMC', { reason: 'no-free-slot', maxUsers: slots.length });
    const id = free.id;
    try {
      await runCommands(r, [
        setUserName(id, user.name),
        setUserPassword(id, user.password),
        setUserAccess(channel, id, PRIVILEGE_LEVEL[user.privilege], true),
        setUserEnabled(id, true),
      ]);
    } catch (e) {
      // Leave the slot as free as it was.
      await runCommands(r, [setUserEnabled(id, false), setUserAccess(channel, id, NO_ACCESS, false), setUserName(id, '')]).catch(() => undefined);
      throw e;
    }
    return { id };
  },

  async setUserPassword(r: IpmiCommandRunner, state: IpmiTargetState, t: BmcTarget, name: string, password: string): Promise<void> {
    guardOwnAccount(t, name, 'change the password of');
    if (!validPassword(password)) throw new RackhandError('INVALID_INPUT', 'BMC password must be 1-20 bytes', { field: 'password' });
    const { slot } = await findUser(r, state, name);
    await runCommands(r, [setUserPassword(slot.id, password)]);
  },

  async setUserEnabled(r: IpmiCommandRunner, state: IpmiTargetState, t: BmcTarget, name: string, enabled: boolean): Promise<void> {
    guardOwnAccount(t, name, enabled ? 'enable' : 'disable');
    const { slot, channel } = await findUser(r, state, name);
    const level = slot.access.level === 0 || slot.access.level === NO_ACCESS ? PRIVILEGE_LEVEL.user : slot.access.level;
    // Messaging follows the enable bit, so the state reads back the same on BMCs that do not report it.
    await runCommands(r, [setUserEnabled(slot.id, enabled), setUserAccess(channel, slot.id, level, enabled)]);
  },

  async removeUser(r: IpmiCommandRunner, state: IpmiTargetState, t: BmcTarget, name: string): Promise<void> {
    guardOwnAccount(t, name, 'remove');
    const { slot, channel } = await findUser(r, state, name);
    if (slot.id === 1) throw new RackhandError('BMC_UNSUPPORTED', 'the anonymous user slot 1 cannot be removed');
    // A slot is never deleted on IPMI: disable it, drop its access, scramble its password, blank its name.
    await runCommands(r, [setUserEnabled(slot.id, false), setUserAccess(channel, slot.id, NO_ACCESS, false), setUserPassword(slot.id, scrambledPassword()), setUserName(slot.id, '')]);
  },

  async resetBmc(r: IpmiCommandRunner, kind: 'cold' | 'warm'): Promise<void> {
    try {
      await runCommand(r, bmcReset(kind));
    } catch (e) {
      // A BMC may reboot before its answer leaves: silence after the request counts as done.
      if (!(e instanceof RackhandError && e.code === 'BMC_TIMEOUT')) throw e;
    }
  },

  deviceInfo: (r: IpmiCommandRunner): Promise<BmcDeviceInfo> => runCommand(r, getDeviceId),

  async readEventLog(r: IpmiCommandRunner): Promise<BmcEventLogEntry[]> {
    if (r.dump) {
      const all = await r.dump('sel');
      const out: BmcEventLogEntry[] = [];
      for (let o = 0; o + SEL_RECORD_BYTES <= all.length; o += SEL_RECORD_BYTES) out.push(decodeSelRecord(all.subarray(o, o + SEL_RECORD_BYTES)));
      return out;
    }
    return (await walkSel(r)).map(decodeSelRecord);
  },

  async clearEventLog(r: IpmiCommandRunner, signal?: AbortSignal): Promise<void> {
    const [info] = await runCommands(r, [getSelInfo]);
    const reservation = info.reserve ? await runCommand(r, reserveSel) : 0;
    let done = await runCommand(r, clearSel(reservation, 'initiate'));
    // Erasing takes a BMC some time; ask until it says done, for at most about ten seconds.
    for (let i = 0; !done && i < 50; i++) {
      await abortableDelay(200, signal);
      done = await runCommand(r, clearSel(reservation, 'status'));
    }
    if (!done) throw new RackhandError('BMC_TIMEOUT', 'the BMC did not finish erasing its event log');
  },

  powerReading: (r: IpmiCommandRunner): Promise<BmcPowerReading> => runCommand(r, getPowerReading),

  /** Virtual media is OEM-only in IPMI (every vendor its own commands, most none): refused before anything is sent. */
  noVirtualMedia: (): Promise<never> =>
    Promise.reject(new RackhandError('BMC_UNSUPPORTED', 'IPMI has no standard virtual media: use the redfish driver for this BMC, or boot it by pxe')),
};
