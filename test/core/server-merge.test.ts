// How an inventory write meets the stored server (core/server-merge.ts, and core/servers.ts which applies it):
// camelCase read as snake_case, read-only fields ignored, fields not given kept, objects merged field by field,
// arrays replaced, null clears; the diff names fields and never shows a password.
import { beforeEach, describe, expect, it } from 'vitest';
import { diffServer, mergeServerInput, normaliseServerBody, READ_ONLY_SERVER_FIELDS, recordToInput } from '../../src/core/server-merge.js';
import { Servers } from '../../src/core/servers.js';
import { serverInputSchema, type ServerInput } from '../../src/domain/server.js';
import type { Principal } from '../../src/auth/tokens.js';
import { memoryStore, serverInput, type MemoryStore } from '../store/memory-store.js';

const admin: Principal = { tokenId: 1, name: 'ops', role: 'admin', ownerId: null };
const BMC_PASSWORD = 'bmc-Pa55-3a9f';

describe('normaliseServerBody', () => {
  it('reads camelCase names as their snake_case fields, at every level', () => {
    expect(
      normaliseServerBody({
        id: 1,
        rackPosition: 4,
        locationId: 2,
        ownerId: 3,
        bmc: { cipherSuite: 17, host: 'h' },
        interfaces: [{ mac: '02:00:00:00:00:01', switchPort: 'Gi1/0/1' }],
      }),
    ).toEqual({ id: 1, rack_position: 4, location_id: 2, owner_id: 3, bmc: { cipher_suite: 17, host: 'h' }, interfaces: [{ mac: '02:00:00:00:00:01', switch_port: 'Gi1/0/1' }] });
  });

  it('drops every read-only field a GET shows, and keeps unknown names for validation to name', () => {
    const body = {
      id: 1,
      power: { state: 'on' },
      netboot: { armed: false },
      suspended: true,
      createdAt: 'x',
      updatedAt: 'x',
      created_at: 'x',
      updated_at: 'x',
      bmc: { host: 'h', passwordSet: true, password_set: true },
      console: { host: 'h', passwordSet: false },
      interfaces: [{ id: 9, mac: '02:00:00:00:00:01' }],
      colour: 'blue',
    };
    expect(normaliseServerBody(body)).toEqual({ id: 1, bmc: { host: 'h' }, console: { host: 'h' }, interfaces: [{ mac: '02:00:00:00:00:01' }], colour: 'blue' });
    expect(Object.keys(READ_ONLY_SERVER_FIELDS).sort()).toEqual(['', 'bmc', 'console', 'interfaces']);
  });

  it('refuses a field given twice with different values, and takes it given twice alike', () => {
    expect(() => normaliseServerBody({ rack_position: 1, rackPosition: 2 })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT', details: { field: 'rack_position' } }),
    );
    expect(() => normaliseServerBody({ bmc: { cipher_suite: 3, cipherSuite: 17 } })).toThrow(expect.objectContaining({ details: { field: 'bmc.cipher_suite' } }));
    expect(normaliseServerBody({ rack_position: 1, rackPosition: 1 })).toEqual({ rack_position: 1 });
  });
});

describe('mergeServerInput', () => {
  const stored = {
    id: 1,
    name: 'web-1',
    rack: 'R1',
    rack_position: 4,
    owner_id: 3,
    tags: [{ tag: 'a', value: '1' }],
    bmc: { driver: 'ipmi', host: '10.0.0.1', username: 'ADMIN', cipher_suite: 17 },
    interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01' }],
  };

  it('keeps every field the write does not give', () => {
    expect(mergeServerInput(stored, { rack: 'R2' })).toEqual({ ...stored, rack: 'R2' });
    expect(mergeServerInput(stored, {})).toEqual(stored);
  });

  it('merges bmc and console field by field, and keeps the stored password out of the picture', () => {
    expect(mergeServerInput(stored, { bmc: { host: '10.0.0.2' } })).toEqual({ ...stored, bmc: { ...stored.bmc, host: '10.0.0.2' } });
    expect(mergeServerInput(stored, { bmc: { password: 'new' } }).bmc).toEqual({ ...stored.bmc, password: 'new' });
  });

  it('replaces arrays whole', () => {
    expect(mergeServerInput(stored, { tags: [] }).tags).toEqual([]);
    expect(mergeServerInput(stored, { interfaces: [{ mac: '02:00:00:00:00:02' }] }).interfaces).toEqual([{ mac: '02:00:00:00:00:02' }]);
  });

  it('null clears an optional field (to its default), and stays null where null is a value', () => {
    const m = mergeServerInput(stored, { rack_position: null, bmc: null, owner_id: null });
    expect(m).not.toHaveProperty('rack_position');
    expect(m).not.toHaveProperty('bmc');
    expect(m.owner_id).toBeNull();
    expect(serverInputSchema.parse(m)).toMatchObject({ owner_id: null, rack: 'R1' });
  });

  it('without a stored server, is the write alone (normalised)', () => {
    expect(mergeServerInput(undefined, { id: 5, name: 'n', rackPosition: 1, createdAt: 'x' })).toEqual({ id: 5, name: 'n', rack_position: 1 });
  });
});

describe('recordToInput and diffServer', () => {
  let store: MemoryStore;
  beforeEach(() => {
    store = memoryStore();
  });

  it('a stored record read back into the input shape is the same server, without its passwords', () => {
    const input = serverInput(1, {
      rack_position: 3,
      tags: [{ tag: 'k', value: 'v' }],
      bmc: { host: '10.0.0.1', username: 'ADMIN', password: BMC_PASSWORD },
      console: { host: '10.0.0.2', password: 'vnc' },
      interfaces: [{ mac: '02:00:00:00:00:01', ip: '10.1.0.1' }],
    });
    store.servers.upsertMany([input]);
    const back = recordToInput(store.servers.get(1)!);
    expect(JSON.stringify(back)).not.toContain(BMC_PASSWORD);
    const { password: _b, ...bmc } = { port: 623, ...input.bmc! }; // the stored port is the driver's default
    const { password: _c, ...consoleIn } = input.console!;
    expect(serverInputSchema.parse(back)).toEqual({ ...input, bmc, console: consoleIn });
  });

  it('names each changed field, bmc by its own fields, and a password only as changed', () => {
    const before = serverInputSchema.parse({ id: 1, name: 'a', bmc: { host: '10.0.0.1', username: 'ADMIN' }, tags: [{ tag: 'x', value: '1' }] });
    const after = serverInputSchema.parse({ id: 1, name: 'b', bmc: { host: '10.0.0.2', username: 'ADMIN', password: BMC_PASSWORD }, tags: [{ tag: 'x', value: '1' }] });
    const changes = diffServer(before, after, () => true);
    expect(changes).toEqual([
      { field: 'name', from: 'a', to: 'b' },
      { field: 'bmc.host', from: '10.0.0.1', to: '10.0.0.2' },
      { field: 'bmc.password', from: '(stored)', to: '(new value)' },
    ]);
    expect(JSON.stringify(changes)).not.toContain(BMC_PASSWORD);
    expect(diffServer(before, after, () => false).map((c) => c.field)).toEqual(['name', 'bmc.host']);
  });

  it('a new BMC shows as one change without its password; hardware in another key order is no change', () => {
    const before = serverInputSchema.parse({ id: 1, name: 'a', hardware: [{ Type: 'CPU', Cores: 4 }] });
    const after = serverInputSchema.parse({ id: 1, name: 'a', hardware: [{ Cores: 4, Type: 'CPU' }], bmc: { host: 'h', username: 'u', password: BMC_PASSWORD } });
    const changes = diffServer(before, after, () => true);
    expect(changes.map((c) => c.field)).toEqual(['bmc', 'bmc.password']);
    expect(changes[1]).toEqual({ field: 'bmc.password', from: '(none)', to: '(new value)' });
    expect(JSON.stringify(changes)).not.toContain(BMC_PASSWORD);
    expect(diffServer(undefined, after, () => true).map((c) => c.field)).toContain('name');
  });
});

describe('a write through Servers changes only what it was asked to', () => {
  let store: MemoryStore;
  let servers: Servers;
  beforeEach(() => {
    store = memoryStore();
    servers = new Servers(store.servers, store.users, false);
    const owner = store.users.create({ email: 'a@example.com' }).id;
    servers.import(admin, [
      {
        id: 1,
        name: 'web-1',
        status: 'rent',
        rack: 'R1',
        owner_id: owner,
        tags: [{ tag: 'k', value: 'v' }],
        hardware: [{ Type: 'CPU', Cores: 4 }],
        bmc: { host: '10.0.0.1', username: 'ADMIN', password: BMC_PASSWORD, cipher_suite: 17 },
        interfaces: [{ mac: '02:00:00:00:00:01', ip: '10.1.0.1' }],
        // central's billing facts (eq update_servers): a write that does not name them keeps them
        recurring: 49.5,
        nextduedate: '2027-01-01',
        billingcycle: 'monthly',
      },
    ]);
    expect(store.servers.get(1)!.billing).toEqual({ recurring: 49.5, nextDueDate: '2027-01-01', billingCycle: 'monthly' });
  });

  const comparable = (id: number) => {
    const { updatedAt: _u, ...rest } = store.servers.get(id)!;
    return rest;
  };

  it('one field: everything else, the BMC password included, stays', () => {
    const before = comparable(1);
    servers.upsert(admin, { id: 1, rack: 'R2' });
    expect(comparable(1)).toEqual({ ...before, rack: 'R2' });
    expect(store.servers.bmcTarget(1).password).toBe(BMC_PASSWORD);
  });

  it('one BMC field: the others and the password stay', () => {
    servers.upsert(admin, { id: 1, bmc: { host: '10.0.0.9' } });
    expect(store.servers.bmcTarget(1)).toMatchObject({ host: '10.0.0.9', username: 'ADMIN', password: BMC_PASSWORD, cipherSuite: 17 });
  });

  it('the record GET returned, sent back whole, changes nothing (a dry run says unchanged)', () => {
    const record = store.servers.get(1)!;
    const body = JSON.parse(JSON.stringify(record)) as Record<string, unknown>;
    expect(servers.import(admin, [body], { dryRun: true })).toMatchObject({ unchanged: 1, updated: 0, created: 0 });
    const before = comparable(1);
    servers.upsert(admin, body);
    expect(comparable(1)).toEqual(before);
    expect(store.servers.bmcTarget(1).password).toBe(BMC_PASSWORD);
  });

  it('replace mode: what is not given takes its default, and a password not given is still kept with its BMC', () => {
    servers.upsert(admin, { id: 1, name: 'web-1', bmc: { host: '10.0.0.1', username: 'ADMIN' } }, 'replace');
    expect(store.servers.get(1)).toMatchObject({ rack: '', status: 'free', tags: [], interfaces: [], ownerId: null });
    expect(store.servers.bmcTarget(1).password).toBe(BMC_PASSWORD);
  });

  it('a bad write writes nothing and names the field', () => {
    const before = store.dump('servers') + store.dump('interfaces');
    expect(() => servers.upsert(admin, { id: 1, rack_position: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', details: expect.objectContaining({ field: 'rack_position' }) }));
    expect(() => servers.upsert(admin, { id: 1, colour: 'blue' })).toThrow(expect.objectContaining({ details: expect.objectContaining({ field: 'colour' }) }));
    expect(store.dump('servers') + store.dump('interfaces')).toBe(before);
  });
});

/** The fixture's input helper must agree with the real schema (it is how other tests build servers). */
it('serverInput builds what the schema accepts', () => {
  const s: ServerInput = serverInput(3, { name: 'x' });
  expect(serverInputSchema.parse(s)).toEqual(s);
});
