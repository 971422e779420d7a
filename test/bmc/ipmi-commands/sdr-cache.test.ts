// The SDR cache between sensor reads: a BMC's records are walked once and read again only when its repository stamp
// (Get SDR Repository Info) changes, when they are older than the cache's age limit, or never kept when the BMC
// cannot say. Over an in-process BMC of storage and sensor commands (the driver tests run the real ipmi_sim).
import { describe, expect, it } from 'vitest';
import type { IpmiCommand, IpmiCommandRunner, IpmiReply } from '../../../src/bmc/ipmi-commands/ipmi-command.js';
import { ipmiOperations } from '../../../src/bmc/ipmi-commands/ipmi-operations.js';
import { SdrCache } from '../../../src/bmc/ipmi-commands/sdr-cache.js';

/** A full threshold sensor record (type 0x01), reading = raw value (M = 1), owned by the BMC (0x20). */
function sensorRecord(id: number, sensor: number, name: string): Buffer {
  const r = Buffer.alloc(48 + name.length);
  r.writeUInt16LE(id, 0);
  r[2] = 0x51;
  r[3] = 0x01;
  r[4] = r.length - 5;
  r[5] = 0x20;
  r[7] = sensor;
  r[12] = 0x01; // temperature
  r[13] = 0x01; // threshold-based
  r[18] = 0x3f;
  r[21] = 1; // degrees C
  r[24] = 1; // M = 1
  r[47] = 0xc0 | name.length;
  r.write(name, 48, 'latin1');
  return r;
}

/** A BMC's SDR repository and sensors; counts the commands it is sent by name. */
class FakeBmc implements IpmiCommandRunner {
  records: Buffer[] = [sensorRecord(1, 1, 'CPU1 Temp')];
  /** Most recent addition timestamp (Get SDR Repository Info bytes 6-9). */
  addedAt = 0x6000_0000;
  repositoryInfo = true;
  sent: Record<string, number> = {};

  async send(cmds: readonly IpmiCommand<unknown>[]): Promise<IpmiReply[]> {
    return cmds.map((c) => {
      this.sent[c.name] = (this.sent[c.name] ?? 0) + 1;
      return this.answer(c);
    });
  }

  private answer(c: IpmiCommand<unknown>): IpmiReply {
    const ok = (data: number[] | Buffer): IpmiReply => ({ completionCode: 0, data: Buffer.from(data) });
    switch (c.name) {
      case 'Get SDR Repository Info': {
        if (!this.repositoryInfo) return { completionCode: 0xc1, data: Buffer.alloc(0) }; // invalid command
        const d = Buffer.alloc(14);
        d[0] = 0x51;
        d.writeUInt16LE(this.records.length, 1);
        d.writeUInt16LE(0x1000, 3);
        d.writeUInt32LE(this.addedAt, 5);
        return ok(d);
      }
      case 'Reserve SDR Repository':
        return ok([0x01, 0x00]);
      case 'Get SDR': {
        const id = c.data.readUInt16LE(2);
        const at = id === 0 ? 0 : this.records.findIndex((r) => r.readUInt16LE(0) === id);
        const rec = this.records[at]!;
        const next = at + 1 < this.records.length ? this.records[at + 1]!.readUInt16LE(0) : 0xffff;
        return ok([next & 0xff, next >> 8, ...rec.subarray(c.data[4]!, c.data[4]! + c.data[5]!)]);
      }
      case 'Get Sensor Reading':
        return ok([40 + c.data[0]!, 0xc0, 0x00]);
      case 'Get Sensor Thresholds':
        return ok([0x00, 0, 0, 0, 0, 0, 0]);
      default:
        throw new Error(`unexpected ${c.name}`);
    }
  }

  /** Commands of this name sent since the last call, and the count reset. */
  take(name: string): number {
    const n = this.sent[name] ?? 0;
    this.sent = {};
    return n;
  }
}

/** The same BMC through a runner that reads a repository whole in one go (ipmitool's `sdr dump`); counts the dumps. */
class DumpingBmc extends FakeBmc {
  dumps = 0;
  async dump(repository: 'sdr' | 'sel'): Promise<Buffer> {
    if (repository !== 'sdr') throw new Error(`unexpected ${repository} dump`);
    this.dumps++;
    return Buffer.concat(this.records);
  }
}

const names = (rs: { name: string; value: number | null }[]) => rs.map((r) => `${r.name}=${r.value}`);

describe('SDR cache between sensor reads', () => {
  it('walks the SDR once; later reads send only the repository info and the readings, with the same answer', async () => {
    const bmc = new FakeBmc();
    const cache = new SdrCache();
    const first = await ipmiOperations.sensors(bmc, cache.slot('10.0.0.1:623'));
    expect(names(first)).toEqual(['CPU1 Temp=41']);
    expect(bmc.take('Get SDR')).toBeGreaterThan(1);
    const again = await ipmiOperations.sensors(bmc, cache.slot('10.0.0.1:623'));
    expect(again).toEqual(first);
    expect(bmc.sent).toMatchObject({ 'Get SDR Repository Info': 1, 'Get Sensor Reading': 1 });
    expect(bmc.take('Get SDR')).toBe(0);
  });

  it('a changed repository (a record added, its addition time moved) is walked again and its new sensor read', async () => {
    const bmc = new FakeBmc();
    const slot = new SdrCache().slot('10.0.0.1:623');
    await ipmiOperations.sensors(bmc, slot);
    bmc.records.push(sensorRecord(2, 2, 'CPU2 Temp'));
    bmc.addedAt++;
    bmc.take('Get SDR');
    expect(names(await ipmiOperations.sensors(bmc, slot))).toEqual(['CPU1 Temp=41', 'CPU2 Temp=42']);
    expect(bmc.take('Get SDR')).toBeGreaterThan(1);
  });

  it('a runner that dumps the SDR (ipmitool) dumps it once, then only when the stamp changes', async () => {
    const bmc = new DumpingBmc();
    const slot = new SdrCache().slot('10.0.0.1:623');
    expect(names(await ipmiOperations.sensors(bmc, slot))).toEqual(['CPU1 Temp=41']);
    expect(names(await ipmiOperations.sensors(bmc, slot))).toEqual(['CPU1 Temp=41']);
    expect(bmc.dumps).toBe(1);
    expect(bmc.take('Get SDR')).toBe(0); // never walked: the dump is the whole read
    bmc.records.push(sensorRecord(2, 2, 'CPU2 Temp'));
    bmc.addedAt++;
    expect(names(await ipmiOperations.sensors(bmc, slot))).toEqual(['CPU1 Temp=41', 'CPU2 Temp=42']);
    expect(bmc.dumps).toBe(2);
  });

  it('a BMC without Get SDR Repository Info is walked every time, and nothing of it is kept', async () => {
    const bmc = new FakeBmc();
    bmc.repositoryInfo = false;
    const cache = new SdrCache();
    for (let k = 0; k < 2; k++) {
      expect(names(await ipmiOperations.sensors(bmc, cache.slot('10.0.0.1:623')))).toEqual(['CPU1 Temp=41']);
      expect(bmc.take('Get SDR')).toBeGreaterThan(1);
    }
    expect(cache.size).toEqual({ bmcs: 0, bytes: 0 });
  });

  it('records older than the age limit are walked again, even under the same stamp', async () => {
    let now = 1_000_000;
    const bmc = new FakeBmc();
    const slot = new SdrCache({ maxAgeMs: 60_000, now: () => now }).slot('10.0.0.1:623');
    await ipmiOperations.sensors(bmc, slot);
    bmc.take('Get SDR');
    now += 59_000;
    await ipmiOperations.sensors(bmc, slot);
    expect(bmc.take('Get SDR')).toBe(0);
    now += 2_000;
    await ipmiOperations.sensors(bmc, slot);
    expect(bmc.take('Get SDR')).toBeGreaterThan(1);
  });

  it('keeps at most maxBytes: the BMC stored first goes first', () => {
    const cache = new SdrCache({ maxBytes: 100 });
    cache.slot('a:623').set('s', Buffer.alloc(60));
    cache.slot('b:623').set('s', Buffer.alloc(30));
    expect(cache.size).toEqual({ bmcs: 2, bytes: 90 });
    cache.slot('c:623').set('s', Buffer.alloc(30));
    expect(cache.size).toEqual({ bmcs: 2, bytes: 60 });
    expect(cache.slot('a:623').get('s')).toBeUndefined();
    expect(cache.slot('b:623').get('s')).toHaveLength(30);
    // Stored again: replaced, not counted twice
    cache.slot('b:623').set('t', Buffer.alloc(40));
    expect(cache.size).toEqual({ bmcs: 2, bytes: 70 });
    expect(cache.slot('b:623').get('s')).toBeUndefined();
  });
});
