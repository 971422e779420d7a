// ServersRepo on the real schema: upserts all or nothing, one owner per MAC, BMC and console passwords sealed at rest
// (and bound to their row), lookups by MAC and address, inspections, BMC errors, filters, claims.
import { beforeEach, describe, expect, it } from 'vitest';
import { memoryStore, serverInput, type MemoryStore } from './memory-store.js';
import { thrown } from '../thrown.js';

const BMC_PASSWORD = 'bmc-Pa55-8f2e1c';
const CONSOLE_PASSWORD = 'vnc-Pa55-77aa01';

let store: MemoryStore;
beforeEach(() => {
  store = memoryStore();
});

const bmc = (extra: Record<string, unknown> = {}) => ({ driver: 'ipmi', host: '10.9.0.1', username: 'ADMIN', password: BMC_PASSWORD, ...extra });
const nic = (mac: string, ip?: string) => ({ name: 'eth0', mac, ...(ip ? { ip } : {}) });
const row = (id: number) => store.db.prepare('SELECT * FROM servers WHERE id = ?').get(id) as Record<string, unknown>;

describe('upsertMany', () => {
  it('creates, then updates by id, and reads back what was written', () => {
    expect(store.servers.upsertMany([serverInput(1, { rack: 'R1', owner_id: undefined }), serverInput(2)])).toEqual({ created: 2, updated: 0 });
    expect(store.servers.upsertMany([serverInput(1, { name: 'renamed', rack: 'R2' }), serverInput(3)])).toEqual({ created: 1, updated: 1 });
    expect(store.servers.get(1)).toMatchObject({ id: 1, name: 'renamed', rack: 'R2', status: 'free', bmc: null, console: null, interfaces: [] });
    expect(store.servers.list().servers.map((s) => s.id)).toEqual([1, 2, 3]);
    expect(store.servers.get(99)).toBeUndefined();
    expect(store.servers.exists(3)).toBe(true);
  });

  it('keeps created_at on update and carries every field into the record', () => {
    store.servers.upsertMany([serverInput(5)]);
    const created = store.servers.get(5)!.createdAt;
    store.servers.upsertMany([
      serverInput(5, {
        status: 'rent',
        location: 'AMS1',
        location_id: 4,
        rack_position: 12,
        os: { id: 10, name: 'Debian 12' },
        tags: [{ tag: 'k', value: 'v' }],
        groups: [{ id: 2, name: 'g' }],
        hardware: [{ Type: 'CPU', Cores: 8 }],
        bmc: bmc({ mac: '02:aa:00:00:00:01', cipher_suite: 17, privilege: 'operator', model: 'X11' }),
        console: { host: '10.9.0.2', port: 5901, password: CONSOLE_PASSWORD },
      }),
    ]);
    expect(store.servers.get(5)).toMatchObject({
      createdAt: created,
      status: 'rent',
      location: 'AMS1',
      locationId: 4,
      rackPosition: 12,
      os: { id: 10, name: 'Debian 12' },
      tags: [{ tag: 'k', value: 'v' }],
      groups: [{ id: 2, name: 'g' }],
      hardware: [{ Type: 'CPU', Cores: 8 }],
      bmc: { driver: 'ipmi', host: '10.9.0.1', port: 623, username: 'ADMIN', passwordSet: true, model: 'X11', mac: '02:aa:00:00:00:01', cipherSuite: 17, privilege: 'operator' },
      console: { type: 'vnc', host: '10.9.0.2', port: 5901, passwordSet: true },
    });
    // The three ways a record is read (one, many, a page) build it from the same columns.
    expect(store.servers.getMany([5]).get(5)).toEqual(store.servers.get(5));
    expect(store.servers.list({ id: 5 }).servers).toEqual([store.servers.get(5)]);
    expect(store.servers.list({ limit: 1, offset: 0 }).servers).toEqual([store.servers.get(5)]);
  });

  it('writes nothing of a batch when one item fails', () => {
    store.servers.upsertMany([serverInput(1, { interfaces: [nic('02:00:00:00:00:01')] })]);
    const before = store.dump('servers') + store.dump('interfaces');
    const e = thrown(() =>
      store.servers.upsertMany([
        serverInput(2),
        serverInput(1, { name: 'changed', interfaces: [nic('02:00:00:00:00:01')] }),
        serverInput(3, { interfaces: [nic('02:00:00:00:00:01')] }),
      ]),
    );
    expect(e.code).toBe('CONFLICT');
    expect(store.dump('servers') + store.dump('interfaces')).toBe(before);
  });

  it('dry run: checks every write, then keeps none', () => {
    store.servers.upsertMany([serverInput(1, { interfaces: [nic('02:00:00:00:00:01')] })]);
    const before = store.dump('servers') + store.dump('interfaces');
    expect(store.servers.upsertMany([serverInput(1, { name: 'x' }), serverInput(2)], { dryRun: true })).toEqual({ created: 1, updated: 1 });
    expect(store.dump('servers') + store.dump('interfaces')).toBe(before);
    expect(() => store.servers.upsertMany([serverInput(2, { interfaces: [nic('02:00:00:00:00:01')] })], { dryRun: true })).toThrow(
      expect.objectContaining({ code: 'CONFLICT' }),
    );
  });
});

describe('interfaces', () => {
  it('gives a MAC one server only: a second is CONFLICT naming the MAC and its owner', () => {
    store.servers.upsertMany([serverInput(1, { interfaces: [nic('02:00:00:00:00:01')] })]);
    const e = thrown(() => store.servers.upsertMany([serverInput(2, { interfaces: [nic('02:00:00:00:00:01')] })]));
    expect(e.code).toBe('CONFLICT');
    expect(e.details).toMatchObject({ field: 'interfaces.mac', mac: '02:00:00:00:00:01', server: 1, id: 2 });
    expect(store.servers.exists(2)).toBe(false);
  });

  it('lets a MAC move when its old server gives it up first in the same batch', () => {
    store.servers.upsertMany([serverInput(1, { interfaces: [nic('02:00:00:00:00:01')] }), serverInput(2)]);
    store.servers.upsertMany([serverInput(1, { interfaces: [] }), serverInput(2, { interfaces: [nic('02:00:00:00:00:01')] })]);
    expect(store.servers.findByMac('02:00:00:00:00:01')?.id).toBe(2);
  });

  it('keeps interface ids when the list is unchanged, and replaces the list when it changes', () => {
    // Server 2's interface is written after server 1's: ids written again would not be the same numbers.
    store.servers.upsertMany([
      serverInput(1, { interfaces: [nic('02:00:00:00:00:01', '10.0.0.1'), nic('02:00:00:00:00:02')] }),
      serverInput(2, { interfaces: [nic('02:00:00:00:00:09')] }),
    ]);
    const ids = store.servers.get(1)!.interfaces.map((i) => i.id);
    store.servers.upsertMany([serverInput(1, { name: 'renamed', interfaces: [nic('02:00:00:00:00:01', '10.0.0.1'), nic('02:00:00:00:00:02')] })]);
    expect(store.servers.get(1)!.interfaces.map((i) => i.id)).toEqual(ids);
    store.servers.upsertMany([serverInput(1, { interfaces: [nic('02:00:00:00:00:03', '10.0.0.3')] })]);
    expect(store.servers.get(1)!.interfaces).toEqual([{ id: expect.any(Number), name: 'eth0', mac: '02:00:00:00:00:03', ip: '10.0.0.3', switch: null, switchPort: null }]);
    expect(store.servers.findByMac('02:00:00:00:00:01')).toBeUndefined();
  });

  it('finds a server by MAC and by address; unknown ones find nothing', () => {
    store.servers.upsertMany([
      serverInput(1, { interfaces: [nic('02:00:00:00:00:01', '10.0.0.1')] }),
      serverInput(2, { interfaces: [nic('02:00:00:00:00:02', '10.0.0.2'), nic('02:00:00:00:00:12', '2001:db8::2')] }),
    ]);
    expect(store.servers.findByMac('02:00:00:00:00:12')?.id).toBe(2);
    expect(store.servers.findByIp('10.0.0.1')?.id).toBe(1);
    expect(store.servers.findByIp('2001:db8::2')?.id).toBe(2);
    expect(store.servers.findByMac('02:00:00:00:00:99')).toBeUndefined();
    expect(store.servers.findByIp('10.0.0.99')).toBeUndefined();
  });

  it('go with their server, and the MAC is free again', () => {
    store.servers.upsertMany([serverInput(1, { interfaces: [nic('02:00:00:00:00:01')] })]);
    expect(store.servers.delete(1)).toBe(true);
    expect(store.servers.delete(1)).toBe(false);
    expect(store.dump('interfaces')).toBe('[]');
    store.servers.upsertMany([serverInput(2, { interfaces: [nic('02:00:00:00:00:01')] })]);
    expect(store.servers.findByMac('02:00:00:00:00:01')?.id).toBe(2);
  });
});

describe('BMC and console passwords', () => {
  it('are sealed at rest: no column of any row holds them', () => {
    store.servers.upsertMany([serverInput(1, { bmc: bmc(), console: { host: '10.9.0.2', password: CONSOLE_PASSWORD } })]);
    const r = row(1);
    expect(r.bmc_password_enc).toMatch(/^v1:/);
    expect(r.console_password_enc).toMatch(/^v1:/);
    expect(store.dump('servers')).not.toContain(BMC_PASSWORD);
    expect(store.dump('servers')).not.toContain(CONSOLE_PASSWORD);
    expect(JSON.stringify(store.servers.get(1))).not.toContain(BMC_PASSWORD);
    expect(store.servers.bmcTarget(1)).toEqual({ driver: 'ipmi', host: '10.9.0.1', port: 623, username: 'ADMIN', password: BMC_PASSWORD, cipherSuite: 3, privilege: 'administrator' });
    expect(store.servers.consoleTarget(1)).toEqual({ host: '10.9.0.2', port: 5900, password: CONSOLE_PASSWORD });
  });

  it('are bound to their row: a sealed password copied to another server does not open', () => {
    store.servers.upsertMany([serverInput(1, { bmc: bmc() }), serverInput(2, { bmc: bmc({ password: 'other' }) })]);
    store.db.prepare('UPDATE servers SET bmc_password_enc = ? WHERE id = 2').run(row(1).bmc_password_enc);
    expect(() => store.servers.bmcTarget(2)).toThrow();
    expect(store.servers.bmcTarget(1).password).toBe(BMC_PASSWORD);
  });

  it('left out of an update keep the stored one; a new one replaces it; no BMC, no password', () => {
    store.servers.upsertMany([serverInput(1, { bmc: bmc(), console: { host: '10.9.0.2', password: CONSOLE_PASSWORD } })]);
    store.servers.upsertMany([serverInput(1, { bmc: { host: '10.9.0.9', username: 'ADMIN' }, console: { host: '10.9.0.3' } })]);
    expect(store.servers.bmcTarget(1)).toMatchObject({ host: '10.9.0.9', password: BMC_PASSWORD });
    expect(store.servers.consoleTarget(1)).toMatchObject({ host: '10.9.0.3', password: CONSOLE_PASSWORD });
    store.servers.upsertMany([serverInput(1, { bmc: bmc({ password: 'n3w-one' }) })]);
    expect(store.servers.bmcTarget(1).password).toBe('n3w-one');
    expect(row(1).console_password_enc).toBeNull();
    store.servers.upsertMany([serverInput(1)]);
    expect(row(1).bmc_password_enc).toBeNull();
    expect(() => store.servers.bmcTarget(1)).toThrow(expect.objectContaining({ code: 'BMC_NOT_CONFIGURED' }));
  });

  it('secretDiffers compares without showing: true for a different or absent one', () => {
    store.servers.upsertMany([serverInput(1, { bmc: bmc() }), serverInput(2)]);
    expect(store.servers.secretDiffers(1, 'bmc', BMC_PASSWORD)).toBe(false);
    expect(store.servers.secretDiffers(1, 'bmc', BMC_PASSWORD + 'x')).toBe(true);
    expect(store.servers.secretDiffers(1, 'console', 'any')).toBe(true);
    expect(store.servers.secretDiffers(2, 'bmc', 'any')).toBe(true);
  });

  it('targets say what is missing', () => {
    store.servers.upsertMany([serverInput(1)]);
    expect(thrown(() => store.servers.bmcTarget(9)).code).toBe('NOT_FOUND');
    expect(thrown(() => store.servers.bmcTarget(1)).code).toBe('BMC_NOT_CONFIGURED');
    expect(thrown(() => store.servers.consoleTarget(9)).code).toBe('NOT_FOUND');
    expect(thrown(() => store.servers.consoleTarget(1)).code).toBe('CONSOLE_ERROR');
  });
});

describe('inspections', () => {
  const inventory = {
    system: { vendor: 'Supermicro', model: 'X11SCL', serial: 'S1' },
    firmware: { mode: 'uefi' },
    cpus: { model: 'Xeon E-2236', sockets: 1, cores: 6, threads: 12 },
    memoryBytes: 32 * 2 ** 30,
    disks: [{ name: 'sda', model: 'SSD', serial: 'D1', sizeBytes: 480e9, rotational: false, smart: { healthy: true } }],
    nics: [{ name: 'eno1', mac: '02:00:00:00:00:01', driver: 'igb', link: true, speedMbps: 1000, lldp: { systemName: 'sw1', portId: 'Gi1/0/3' } }],
  };

  it('keeps the whole inventory and replaces the hardware list with what was found', () => {
    store.servers.upsertMany([serverInput(1, { hardware: [{ Type: 'CPU', Name: 'as imported' }] })]);
    expect(store.servers.inspection(1)).toBeUndefined();
    store.servers.saveInspection(1, inventory, null);
    expect(store.servers.inspection(1)).toEqual({ inventory, inspectedAt: expect.any(String), taskId: null });
    expect(store.servers.get(1)!.hardware).toEqual([
      { Type: 'System', Vendor: 'Supermicro', Name: 'X11SCL', Serial: 'S1', Firmware: 'uefi' },
      { Type: 'CPU', Name: 'Xeon E-2236', Sockets: 1, Cores: 6, Threads: 12 },
      { Type: 'Memory', Name: '32768 MiB', SizeBytes: 32 * 2 ** 30 },
      { Type: 'Disk', Name: 'sda', Model: 'SSD', Serial: 'D1', SizeBytes: 480e9, Rotational: false, Healthy: true },
      { Type: 'NIC', Name: 'eno1', MAC: '02:00:00:00:00:01', Driver: 'igb', Link: true, SpeedMbps: 1000, Switch: 'sw1', Port: 'Gi1/0/3' },
    ]);
  });

  it('a later inspection replaces the earlier one, with its task', () => {
    store.servers.upsertMany([serverInput(1)]);
    const task = store.tasks.insert({ kind: 'deploy', serverId: 1, mutating: true, params: {}, requestedBy: 't' });
    store.servers.saveInspection(1, inventory, null);
    store.servers.saveInspection(1, { memoryBytes: 2 ** 30 }, task);
    expect(store.servers.inspection(1)).toMatchObject({ inventory: { memoryBytes: 2 ** 30 }, taskId: task });
    expect(store.servers.get(1)!.hardware).toEqual([{ Type: 'Memory', Name: '1024 MiB', SizeBytes: 2 ** 30 }]);
  });
});

describe('BMC errors and power', () => {
  it('records the last BMC error and clears it when a call succeeds (then the BMC is reachable)', () => {
    store.servers.upsertMany([serverInput(1, { bmc: bmc() })]);
    store.servers.recordPowerMany([{ id: 1, state: 'unreachable' }]);
    store.servers.recordBmcError(1, 'BMC_AUTH_FAILED');
    expect(store.servers.get(1)!.power).toMatchObject({ bmcError: 'BMC_AUTH_FAILED', bmcReachable: false });
    store.servers.recordBmcError(1, null);
    expect(store.servers.get(1)!.power).toMatchObject({ bmcError: null, bmcReachable: true });
  });

  it('writes an outcome only when it changes (a sweep of healthy BMCs writes nothing), and again after an upsert', () => {
    store.servers.upsertMany([serverInput(1, { bmc: bmc() })]);
    store.servers.recordBmcError(1, 'BMC_TIMEOUT');
    store.db.prepare(`UPDATE servers SET bmc_error = 'marker' WHERE id = 1`).run();
    store.servers.recordBmcError(1, 'BMC_TIMEOUT');
    expect(row(1).bmc_error).toBe('marker');
    store.servers.recordBmcError(1, 'BMC_UNREACHABLE');
    expect(row(1).bmc_error).toBe('BMC_UNREACHABLE');
    store.servers.upsertMany([serverInput(1, { bmc: bmc() })]);
    store.db.prepare(`UPDATE servers SET bmc_error = 'marker' WHERE id = 1`).run();
    store.servers.recordBmcError(1, 'BMC_UNREACHABLE');
    expect(row(1).bmc_error).toBe('BMC_UNREACHABLE');
  });

  it('an unreachable BMC keeps the last known power state and when it was read', () => {
    store.servers.upsertMany([serverInput(1, { bmc: bmc() }), serverInput(2, { bmc: bmc() })]);
    store.servers.recordPowerMany([{ id: 1, state: 'on' }, { id: 2, state: 'off' }], '2025-01-01T00:00:00.000Z');
    store.servers.recordPowerMany([{ id: 1, state: 'unreachable' }, { id: 2, state: 'on' }], '2025-01-01T00:05:00.000Z');
    expect(store.servers.get(1)!.power).toEqual({ state: 'on', readAt: '2025-01-01T00:00:00.000Z', bmcReachable: false, bmcError: null });
    expect(store.servers.get(2)!.power).toEqual({ state: 'on', readAt: '2025-01-01T00:05:00.000Z', bmcReachable: true, bmcError: null });
    expect([...store.servers.bmcReachability()]).toEqual([{ serverId: 1, reachable: false }, { serverId: 2, reachable: true }]);
    // read a page at a time: the same rows, none twice
    expect([...store.servers.bmcReachability(1)]).toEqual([{ serverId: 1, reachable: false }, { serverId: 2, reachable: true }]);
  });
});

describe('list', () => {
  beforeEach(() => {
    const alice = store.users.create({ email: 'a@example.com' }).id;
    store.servers.upsertMany([
      serverInput(1, { name: 'web-1', owner_id: alice, location: 'AMS1', location_id: 7, groups: [{ id: 3, name: 'web' }], interfaces: [nic('02:00:00:00:00:01', '10.0.0.1')] }),
      serverInput(2, { name: 'db_2', status: 'rent', location: 'FRA1', interfaces: [nic('02:00:00:00:00:02', '10.0.0.2')] }),
      serverInput(3, { name: 'web-100%', type: 'Switch', rack: 'R9' }),
    ]);
  });

  it('filters by owner, status, type, location (name or id), group (name or id), address', () => {
    const ids = (f: Parameters<typeof store.servers.list>[0]) => store.servers.list(f).servers.map((s) => s.id);
    expect(ids({ ownerId: 1 })).toEqual([1]);
    expect(ids({ ownerId: -1 })).toEqual([]);
    expect(ids({ status: 'rent' })).toEqual([1, 2]); // an owner makes a free server rent
    expect(ids({ type: 'switch' })).toEqual([3]);
    expect(ids({ location: 'ams1' })).toEqual([1]);
    expect(ids({ location: '7' })).toEqual([1]);
    expect(ids({ group: 'web' })).toEqual([1]);
    expect(ids({ group: '3' })).toEqual([1]);
    expect(ids({ ip: '10.0.0.2' })).toEqual([2]);
    expect(ids({ id: 3 })).toEqual([3]);
  });

  it('searches names, racks, MACs and addresses, with % and _ taken literally', () => {
    const ids = (search: string) => store.servers.list({ search }).servers.map((s) => s.id);
    expect(ids('WEB')).toEqual([1, 3]);
    expect(ids('100%')).toEqual([3]);
    expect(ids('%')).toEqual([3]);
    expect(ids('_')).toEqual([2]);
    expect(ids('r9')).toEqual([3]);
    expect(ids('00:02')).toEqual([2]);
    expect(ids('10.0.0.1')).toEqual([1]);
    expect(ids('3')).toEqual([3]);
  });

  it('pages in id order with the total of all matches', () => {
    expect(store.servers.list({ limit: 2 })).toMatchObject({ total: 3, servers: [{ id: 1 }, { id: 2 }] });
    expect(store.servers.list({ limit: 2, offset: 2 })).toMatchObject({ total: 3, servers: [{ id: 3 }] });
    expect(store.servers.getMany([3, 1, 42])).toEqual(new Map([[1, store.servers.get(1)], [3, store.servers.get(3)]]));
  });
});

describe('claimFree and release', () => {
  it('takes the lowest free unowned server of the preset, each once, and gives it back', () => {
    const owner = store.users.create({ email: 'a@example.com' }).id;
    store.servers.upsertMany([
      serverInput(1, { preset: 'i9' }),
      serverInput(2, { preset: 'e2236' }),
      serverInput(5, { preset: 'e2236', owner_id: owner }),
      serverInput(3, { preset: 'e2236', location: 'FRA1' }),
      serverInput(4, { preset: 'e2236', status: 'maintenance' }),
    ]);
    expect(store.servers.claimFree({ preset: 'e2236', ownerId: owner })).toBe(2);
    expect(store.servers.get(2)).toMatchObject({ status: 'rent', ownerId: owner });
    expect(store.servers.claimFree({ preset: 'e2236', location: 'ams1', ownerId: owner })).toBeUndefined();
    expect(store.servers.claimFree({ preset: 'e2236', ownerId: owner })).toBe(3);
    expect(store.servers.claimFree({ preset: 'e2236', ownerId: owner })).toBeUndefined();
    store.servers.release(2);
    expect(store.servers.get(2)).toMatchObject({ status: 'free', ownerId: null });
    expect(store.servers.freeByConfiguration()).toEqual([{ configuration: '', free_server_count: 2 }]);
  });
});
