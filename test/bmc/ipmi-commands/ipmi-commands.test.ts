// The shared IPMI command layer: request bytes, response decoders (total on any bytes: a value or RackhandError),
// and the operations both IPMI drivers run over it (slot choice, scrambled passwords, rackhand's own account).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RackhandError } from '../../../src/errors.js';
import { chassisControl, getBootFlags, getChassisStatus, keepBootFlagsValid, setBootFlags } from '../../../src/bmc/ipmi-commands/chassis-commands.js';
import { getPowerReading } from '../../../src/bmc/ipmi-commands/dcmi-commands.js';
import { getDeviceId, getLanChannel } from '../../../src/bmc/ipmi-commands/device-commands.js';
import { decodeReply, type IpmiCommand, type IpmiCommandRunner, type IpmiReply } from '../../../src/bmc/ipmi-commands/ipmi-command.js';
import { ipmiOperations } from '../../../src/bmc/ipmi-commands/ipmi-operations.js';
import { clearSel, decodeSelRecord, getSelEntry, getSelInfo, reserveSel } from '../../../src/bmc/ipmi-commands/sel-commands.js';
import { getSdr, getSdrRepositoryStamp, getSensorReading, getSensorThresholds, reserveSdrRepository } from '../../../src/bmc/ipmi-commands/sensor-commands.js';
import {
  getUserAccess, getUserName, privilegeName, setUserAccess, setUserName, setUserPassword, validUserName,
} from '../../../src/bmc/ipmi-commands/user-commands.js';
import type { BmcTarget } from '../../../src/bmc/bmc-driver.js';

const bytes = (c: IpmiCommand<unknown>): number[] => [c.netFn, c.cmd, ...c.data];
const ok = (data: number[] | Buffer): IpmiReply => ({ completionCode: 0, data: Buffer.from(data) });

describe('request bytes', () => {
  it('boot flags with valid, persistent and EFI bits and the device selector; the valid-bit-clearing parameter', () => {
    expect(bytes(setBootFlags({ device: 'pxe', mode: 'uefi', persistent: true }))).toEqual([0x00, 0x08, 0x05, 0xe0, 0x04, 0, 0, 0]);
    expect(bytes(setBootFlags({ device: 'disk', mode: 'legacy', persistent: false }))).toEqual([0x00, 0x08, 0x05, 0x80, 0x08, 0, 0, 0]);
    expect(bytes(setBootFlags({ device: 'cdrom', mode: 'auto', persistent: true }))).toEqual([0x00, 0x08, 0x05, 0xc0, 0x14, 0, 0, 0]);
    expect(bytes(setBootFlags({ device: 'bios', mode: 'auto', persistent: false }))[4]).toBe(0x18);
    expect(bytes(keepBootFlagsValid)).toEqual([0x00, 0x08, 0x03, 0x08]);
    expect(() => setBootFlags({ device: 'floppy' as never, mode: 'uefi', persistent: true })).toThrow(RackhandError);
    expect(() => chassisControl('explode' as never)).toThrow(RackhandError);
  });

  it('round-trips boot settings through the Get System Boot Options decoder', () => {
    fc.assert(
      fc.property(fc.constantFrom('none', 'pxe', 'disk', 'cdrom', 'bios' as const), fc.constantFrom('uefi', 'legacy' as const), fc.boolean(), (device, mode, persistent) => {
        const set = setBootFlags({ device, mode, persistent });
        expect(decodeReply(getBootFlags, ok([0x01, 0x05, ...set.data.subarray(1)]))).toEqual({ device, mode, persistent });
      }),
    );
  });

  it('passwords: the 20-byte form above 16 bytes, refused over 20, empty, or with NUL; marked secret', () => {
    const p = setUserPassword(3, 'abc');
    expect(bytes(p)).toEqual([0x06, 0x47, 0x03, 0x02, 0x61, 0x62, 0x63, ...new Array(13).fill(0)]);
    expect(p.secret).toBe(true);
    const long = setUserPassword(3, 'a'.repeat(17));
    expect(long.data[0]).toBe(0x83);
    expect(long.data.length).toBe(2 + 20);
    for (const bad of ['a'.repeat(21), '', 'a\0b']) expect(() => setUserPassword(3, bad)).toThrow(RackhandError);
  });

  it('user names: 1-16 printable ASCII without spaces, the same rule for every driver', () => {
    expect(validUserName('rackhand-ops')).toBe(true);
    for (const bad of ['', 'a'.repeat(17), 'has space', ' lead', 'tab\t', 'ünï']) expect(validUserName(bad)).toBe(false);
    expect(bytes(setUserName(4, 'ops'))).toEqual([0x06, 0x45, 0x04, 0x6f, 0x70, 0x73, ...new Array(13).fill(0)]);
    expect(bytes(setUserAccess(1, 4, 3, true))).toEqual([0x06, 0x43, 0xb1, 0x04, 0x03, 0x00]);
    expect(bytes(setUserAccess(1, 4, 0x0f, false))).toEqual([0x06, 0x43, 0x81, 0x04, 0x0f, 0x00]);
  });
});

describe('response decoders', () => {
  it('Get Device ID: firmware minor as two hex digits (BCD), as ipmitool mc info shows it', () => {
    const d = decodeReply(getDeviceId, ok([0x00, 0x03, 0x09, 0x08, 0x02, 0x9f, 0x91, 0x12, 0x00, 0x02, 0x0f]));
    expect(d).toEqual({ deviceId: 0, firmware: '9.08', ipmiVersion: '2.0', manufacturerId: 4753, productId: 3842 });
    expect(decodeReply(getDeviceId, ok([0x20, 0x01, 0x02, 0x1a, 0x02, 0, 0, 0, 0, 0, 0])).firmware).toBe('2.1a');
  });

  it('Get User Access / Get User Name; OEM privilege 5 lists as administrator', () => {
    expect(decodeReply(getUserAccess(1, 2), ok([0x3f, 0x42, 0x01, 0x14]))).toEqual({ maxUsers: 63, enabled: true, messaging: true, level: 4 });
    expect(decodeReply(getUserAccess(1, 3), ok([0x3f, 0x02, 0x01, 0x0f]))).toEqual({ maxUsers: 63, enabled: undefined, messaging: false, level: 15 });
    expect(decodeReply(getUserName(1), { completionCode: 0xcc, data: Buffer.alloc(0) })).toBe('');
    expect(decodeReply(getUserName(2), ok([...Buffer.from('admin'), ...new Array(11).fill(0)]))).toBe('admin');
    expect(privilegeName(5)).toBe('administrator');
    expect(privilegeName(0x0f)).toBe('no-access');
  });

  it('a completion code that is not accepted is the mapped stable error', () => {
    expect(() => decodeReply(getChassisStatus, { completionCode: 0xc1, data: Buffer.alloc(0) })).toThrow(expect.objectContaining({ code: 'BMC_UNSUPPORTED' }));
    expect(() => decodeReply(getChassisStatus, { completionCode: 0xc0, data: Buffer.alloc(0) })).toThrow(expect.objectContaining({ code: 'BMC_BUSY' }));
    expect(decodeReply(getLanChannel(5), { completionCode: 0xcc, data: Buffer.alloc(0) })).toBeUndefined();
    expect(decodeReply(getLanChannel(0x0e), ok([0x01, 0x04, 0x01]))).toBe(1);
  });

  it('SEL records: a threshold event as ipmi_sim stores it, deassertion, OEM, and times', () => {
    const rec = Buffer.from('0100026e0400002000040101015 95a5b'.replace(/ /g, ''), 'hex');
    expect(decodeSelRecord(rec)).toEqual({
      id: '1', time: null, severity: 'critical', message: 'temperature sensor 1: upper critical going high (asserted)', raw: rec.toString('hex'),
    });
    const deassert = Buffer.from(rec);
    deassert[12] |= 0x80;
    expect(decodeSelRecord(deassert)).toMatchObject({ severity: 'ok', message: expect.stringMatching(/deasserted/) });
    const dated = Buffer.from(rec);
    dated.writeUInt32LE(1_700_000_000, 3);
    expect(decodeSelRecord(dated).time).toBe(new Date(1_700_000_000_000).toISOString());
    const ecc = Buffer.from('0200020000000020000 40c036f01ffff'.replace(/ /g, ''), 'hex');
    expect(decodeSelRecord(ecc)).toMatchObject({ severity: 'critical', message: 'memory sensor 3: uncorrectable ECC (asserted)' });
    const oem = Buffer.alloc(16);
    oem[2] = 0xe1;
    expect(decodeSelRecord(oem)).toMatchObject({ id: '0', time: null, severity: 'ok', message: 'OEM record type 0xe1' });
  });

  it('DCMI power reading; measurement switched off is BMC_UNSUPPORTED', () => {
    const d = Buffer.alloc(18);
    d[0] = 0xdc;
    d.writeUInt16LE(215, 1);
    d.writeUInt16LE(90, 3);
    d.writeUInt16LE(300, 5);
    d.writeUInt16LE(200, 7);
    d.writeUInt32LE(1_700_000_000, 9);
    d.writeUInt32LE(60_000, 13);
    d[17] = 0x40;
    expect(decodeReply(getPowerReading, ok(d))).toEqual({
      watts: 215, minimumWatts: 90, maximumWatts: 300, averageWatts: 200, periodSeconds: 60, time: new Date(1_700_000_000_000).toISOString(),
    });
    d[17] = 0;
    expect(() => decodeReply(getPowerReading, ok(d))).toThrow(expect.objectContaining({ code: 'BMC_UNSUPPORTED' }));
  });

  it('every decoder, on any bytes and any completion code: a value or a RackhandError, never anything else', () => {
    const conversion = { format: 'unsigned' as const, m: 1, b: 0, k1: 0, k2: 0, linearization: 0 };
    const cmds: IpmiCommand<unknown>[] = [
      getChassisStatus, getBootFlags, getDeviceId, getLanChannel(0x0e), getUserAccess(1, 2), getUserName(2), reserveSdrRepository, getSdrRepositoryStamp,
      getSdr(1, 0, 0, 5), getSensorReading(0x01, 1, 0), getSensorThresholds(conversion, 1, 0), getSelInfo, reserveSel, getSelEntry(0),
      clearSel(1, 'status'), getPowerReading,
    ];
    fc.assert(
      fc.property(fc.constantFrom(...cmds), fc.oneof(fc.constant(0), fc.nat({ max: 255 })), fc.uint8Array({ maxLength: 40 }), (c, cc, data) => {
        try {
          decodeReply(c, { completionCode: cc, data: Buffer.from(data) });
        } catch (e) {
          expect(e).toBeInstanceOf(RackhandError);
        }
      }),
      { numRuns: 20_000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (r) => {
        const e = decodeSelRecord(Buffer.from(r));
        expect(['ok', 'warning', 'critical']).toContain(e.severity);
      }),
      { numRuns: 20_000 },
    );
  });
});

/** A BMC's user table in memory, answering the user commands; every command sent is recorded. */
function userTableRunner(slots: { name: string; level: number; messaging: boolean }[]): { runner: IpmiCommandRunner; sent: IpmiCommand<unknown>[] } {
  const sent: IpmiCommand<unknown>[] = [];
  const runner: IpmiCommandRunner = {
    async send(cmds) {
      return cmds.map((c) => {
        sent.push(c);
        const id = c.data[c.cmd === 0x44 || c.cmd === 0x43 ? 1 : 0] & 0x3f;
        const slot = slots[id - 1];
        if (c.netFn === 0x06 && c.cmd === 0x42) return ok([0x01, 0x04, 0x01]);
        if (c.cmd === 0x44) return slot ? ok([slots.length, 0x02, 0x01, (slot.messaging ? 0x10 : 0) | slot.level]) : { completionCode: 0xcc, data: Buffer.alloc(0) };
        if (c.cmd === 0x46) return slot?.name ? ok([...Buffer.from(slot.name), ...new Array(16 - slot.name.length).fill(0)]) : { completionCode: 0xcc, data: Buffer.alloc(0) };
        if (c.cmd === 0x45 && slot) slot.name = c.data.subarray(1).toString('latin1').replace(/\0.*$/s, '');
        return ok([]);
      });
    },
  };
  return { runner, sent };
}

const target: BmcTarget = { host: '127.0.0.1', port: 623, username: 'rackhand', password: 'pw', cipherSuite: 3, privilege: 'administrator' };

describe('shared operations', () => {
  const table = () => [
    { name: '', level: 2, messaging: true }, // anonymous, enabled
    { name: 'rackhand', level: 4, messaging: true },
    { name: '', level: 2, messaging: true }, // nameless but can log in: not free
    { name: '', level: 0x0f, messaging: false }, // free
    { name: 'ops', level: 3, messaging: true },
  ];

  it('lists named slots and enabled nameless ones; adds into the first slot with no name that cannot log in', async () => {
    const { runner } = userTableRunner(table());
    const users = await ipmiOperations.listUsers(runner, {});
    expect(users.map((u) => [u.id, u.name, u.enabled, u.privilege])).toEqual([[1, '', true, 'user'], [2, 'rackhand', true, 'administrator'], [3, '', true, 'user'], [5, 'ops', true, 'operator']]);
    expect(await ipmiOperations.addUser(runner, {}, { name: 'new', password: 'secret-pw', privilege: 'operator' })).toEqual({ id: 4 });
  });

  it('removing a user disables it, drops its access, scrambles its password with fresh randomness, and blanks its name', async () => {
    const passwords: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { runner, sent } = userTableRunner(table());
      await ipmiOperations.removeUser(runner, {}, target, 'ops');
      const tail = sent.slice(-4).map((c) => c.name);
      expect(tail).toEqual(['Set User Password (disable user)', 'Set User Access (no access)', 'Set User Password', 'Set User Name (clear)']);
      const pw = sent.at(-2)!.data.subarray(2).toString('latin1').replace(/\0+$/, '');
      expect(pw).toMatch(/^[\x21-\x7e]{20}$/);
      passwords.push(pw);
    }
    expect(passwords[0]).not.toBe(passwords[1]);
  });

  it('never removes, disables or re-passwords the account rackhand logs in with, and sends nothing trying', async () => {
    for (const attempt of [
      (r: IpmiCommandRunner) => ipmiOperations.removeUser(r, {}, target, 'rackhand'),
      (r: IpmiCommandRunner) => ipmiOperations.setUserEnabled(r, {}, target, 'rackhand', false),
      (r: IpmiCommandRunner) => ipmiOperations.setUserPassword(r, {}, target, ' RackHand ', 'x'),
    ]) {
      const { runner, sent } = userTableRunner(table());
      await expect(attempt(runner)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      expect(sent).toEqual([]);
    }
  });

  it('bad user input is refused before the BMC is asked anything', async () => {
    const { runner, sent } = userTableRunner(table());
    await expect(ipmiOperations.addUser(runner, {}, { name: 'has space', password: 'pw', privilege: 'user' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(ipmiOperations.addUser(runner, {}, { name: 'ok', password: 'x'.repeat(21), privilege: 'user' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(ipmiOperations.addUser(runner, {}, { name: 'ok', password: 'pw', privilege: 'root' as never })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(sent).toEqual([]);
  });
});
