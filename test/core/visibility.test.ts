// The access rule as the capabilities apply it: every per-server operation answers a client about another owner's
// server exactly as about a missing one (NOT_FOUND, same message), before touching anything else; lists show a
// client its own servers and tasks only; role-gated operations are FORBIDDEN to the roles the rules exclude.
import { beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { memoryStore, serverInput, type MemoryStore } from '../store/memory-store.js';
import { RackhandError } from '../../src/errors.js';
import type { Principal, Role } from '../../src/auth/tokens.js';
import { TaskRunner } from '../../src/tasks/task-runner.js';
import { ServerViews } from '../../src/core/server-views.js';
import { Servers } from '../../src/core/servers.js';
import { Tasks } from '../../src/core/tasks.js';
import { SensorHistory } from '../../src/core/history.js';
import { Netboot } from '../../src/core/netboot.js';
import { Consoles } from '../../src/core/consoles.js';
import { Power } from '../../src/core/power.js';
import { Deploys } from '../../src/core/deploys.js';
import { Ipam } from '../../src/core/ipam.js';
import { SwitchPorts } from '../../src/core/switch-ports.js';
import { BootHistory } from '../../src/core/boot-history.js';
import { Audit } from '../../src/core/audit.js';
import { Tokens } from '../../src/core/tokens.js';
import { Images } from '../../src/core/images.js';
import { SensorHistoryRepo } from '../../src/store/repos/sensor-history-repo.js';
import { NetbootRepo } from '../../src/store/repos/netboot-repo.js';
import { ConsoleRepo } from '../../src/store/repos/console-repo.js';
import { BmcAccountsRepo } from '../../src/store/repos/bmc-accounts-repo.js';
import { IpamRepo } from '../../src/store/repos/ipam-repo.js';
import { SwitchesRepo } from '../../src/store/repos/switches-repo.js';
import { BootHistoryRepo } from '../../src/store/repos/boot-history-repo.js';
import { AuditRepo } from '../../src/store/repos/audit-repo.js';

const silent = pino({ level: 'silent' });

/** A collaborator these checks must never reach: any use of it throws, naming it. */
function unused<T>(name: string): T {
  return new Proxy({}, { get: (_t, k) => { throw new Error(`${name}.${String(k)} reached`); } }) as T;
}

function build(store: MemoryStore) {
  const { db, secrets, servers, users, tasks } = store;
  const runner = new TaskRunner(tasks, silent);
  const inventory = new Servers(servers, users, false);
  const ipam = new Ipam(new IpamRepo(db), servers, runner);
  const netboot = new Netboot(servers, new NetbootRepo(db, secrets), unused('plans'), runner, silent);
  return {
    runner,
    servers: inventory,
    views: new ServerViews(inventory, ipam, netboot, tasks, users),
    tasks: new Tasks(runner, servers),
    history: new SensorHistory(servers, new SensorHistoryRepo(db)),
    netboot,
    consoles: new Consoles(new ConsoleRepo(db), servers, { ticketTtlMs: 30_000, sessionTtlMs: 3_600_000, basePath: '/console' }, () => 'http://127.0.0.1'),
    power: new Power(servers, new BmcAccountsRepo(db), runner, { sensorsWaitMs: 1000, maxAddedBmcUsers: 4 }, { power: unused('power sync'), sensors: unused('sensor sampler') }),
    deploys: new Deploys(servers, users, runner, unused('netboot'), unused('notifier'), unused('catalogue'), 'AMS1'),
    ipam,
    switchPorts: new SwitchPorts(new SwitchesRepo(db, secrets), servers, runner),
    bootHistory: new BootHistory(new BootHistoryRepo(db), servers, () => ({ findByMac: () => undefined, findByIp: () => undefined }), { perHost: 10, maxEvents: 100, retentionDays: 1 }, silent),
    audit: new Audit(new AuditRepo(db), { retentionDays: 30, maxEntries: 100 }),
    tokens: new Tokens(store.tokens, users),
    images: new Images(unused('store'), unused('catalogue'), unused('netbootRepo'), runner),
  };
}
type Caps = ReturnType<typeof build>;

/** What a call did: its value, or the error it threw or rejected with. */
async function outcome(fn: () => unknown): Promise<{ ok: true; value: unknown } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

async function rackhandError(fn: () => unknown): Promise<RackhandError> {
  const r = await outcome(fn);
  if (r.ok) throw new Error('expected a RackhandError, the call succeeded');
  expect(r.error).toBeInstanceOf(RackhandError);
  return r.error as RackhandError;
}

const who = (role: Role, ownerId: number | null, tokenId = 50): Principal => ({ tokenId, name: `${role}-token`, role, ownerId });

let store: MemoryStore;
let c: Caps;
let alice: number;
let bob: number;
const MINE = 1;
const BOBS = 2;
const UNOWNED = 3;
const MISSING = 999;

beforeEach(() => {
  store = memoryStore();
  c = build(store);
  alice = store.users.create({ email: 'alice@example.com' }).id;
  bob = store.users.create({ email: 'bob@example.com' }).id;
  const bmc = { driver: 'ipmi', host: '10.0.0.9', username: 'ADMIN', password: 'x' };
  store.servers.upsertMany([
    serverInput(MINE, { owner_id: alice, bmc, interfaces: [{ mac: '02:00:00:00:00:01' }] }),
    serverInput(BOBS, { owner_id: bob, bmc, interfaces: [{ mac: '02:00:00:00:00:02' }] }),
    serverInput(UNOWNED, { bmc }),
  ]);
});

/** Every operation on one server, as a client would call it. */
const PER_SERVER: [name: string, call: (c: Caps, p: Principal, id: number) => unknown][] = [
  ['servers.show', (c, p, id) => c.servers.show(p, id)],
  ['servers.inspection', (c, p, id) => c.servers.inspection(p, id)],
  ['history.read', (c, p, id) => c.history.read(p, id)],
  ['netboot.view', (c, p, id) => c.netboot.view(p, id)],
  ['consoles.open', (c, p, id) => c.consoles.open(p, id)],
  ['consoles.recreate', (c, p, id) => c.consoles.recreate(p, id)],
  ['consoles.stop', (c, p, id) => c.consoles.stop(p, id)],
  ['consoles.history', (c, p, id) => c.consoles.history(p, id)],
  ['power.power', (c, p, id) => c.power.power(p, id, 'reset')],
  ['power.bootDevice', (c, p, id) => c.power.bootDevice(p, id, { device: 'pxe', mode: 'legacy', persistent: false })],
  ['power.sensors', (c, p, id) => c.power.sensors(p, id)],
  ['power.addUser', (c, p, id) => c.power.addUser(p, id, {})],
  ['power.removeUser', (c, p, id) => c.power.removeUser(p, id, 'someone')],
  ['power.resetBmc', (c, p, id) => c.power.resetBmc(p, id, 'cold')],
  ['deploys.createPxe', (c, p, id) => c.deploys.createPxe(p, id, { os: 1, rootPassword: 'x' } as never)],
  ['deploys.clearPxe', (c, p, id) => c.deploys.clearPxe(p, id)],
  ['deploys.reinstall', (c, p, id) => c.deploys.reinstall(p, id, { os: 1, rootPassword: 'x' } as never)],
  ['deploys.diagnostics', (c, p, id) => c.deploys.diagnostics(p, id)],
  ['deploys.wipe', (c, p, id) => c.deploys.wipe(p, id, 'quick')],
  ['deploys.rescue', (c, p, id) => c.deploys.rescue(p, id, { sshKey: 'ssh-ed25519 AAAA' })],
  ['deploys.orderInstance with id', (c, p, id) => c.deploys.orderInstance(p, { id, preset: '', locationName: 'AMS1', os: 1, rootPassword: 'x' } as never)],
  ['ipam.serverAddresses', (c, p, id) => c.ipam.serverAddresses(p, id)],
  ['ipam.address', (c, p, id) => c.ipam.address(p, id, 1)],
  ['ipam.allocate', (c, p, id) => c.ipam.allocate(p, id, {} as never)],
  ['ipam.release', (c, p, id) => c.ipam.release(p, id, 1)],
  ['switchPorts.setSuspended', (c, p, id) => c.switchPorts.setSuspended(p, id, true)],
  ['bootHistory.forServer', (c, p, id) => c.bootHistory.forServer(p, id, { limit: 10, offset: 0 })],
];

describe('a client and another owner\'s server', () => {
  const client = () => who('client', alice);

  it.each(PER_SERVER)('%s: NOT_FOUND, word for word as for a server that does not exist', async (_name, call) => {
    const hidden = await rackhandError(() => call(c, client(), BOBS));
    const missing = await rackhandError(() => call(c, client(), MISSING));
    expect(hidden.code).toBe('NOT_FOUND');
    expect(hidden.message).toBe(`server ${BOBS} not found`);
    expect(missing.message).toBe(`server ${MISSING} not found`);
    expect(hidden.details).toEqual({ id: BOBS });
    // An unowned server is not the client's either.
    expect((await rackhandError(() => call(c, client(), UNOWNED))).message).toBe(`server ${UNOWNED} not found`);
    // Nothing was started or written for the refused calls.
    expect(store.tasks.list().total).toBe(0);
  });

  it.each(PER_SERVER)('%s: the client\'s own server gets past the visibility rule', async (_name, call) => {
    const r = await outcome(() => call(c, client(), MINE));
    if (!r.ok) expect((r.error as Error).message).not.toBe(`server ${MINE} not found`);
  });

  it.each(PER_SERVER)('%s: staff get past the visibility rule on anyone\'s server', async (_name, call) => {
    const r = await outcome(() => call(c, who('tech', null), BOBS));
    if (!r.ok) expect((r.error as Error).message).not.toBe(`server ${BOBS} not found`);
  });

  it('a client token without an owner sees no server at all', async () => {
    const p = who('client', null);
    expect(c.servers.list(p, {}).total).toBe(0);
    expect((await rackhandError(() => c.servers.show(p, UNOWNED))).code).toBe('NOT_FOUND');
  });
});

describe('lists', () => {
  it('show a client its own servers only, whatever filter it sends', () => {
    const p = who('client', alice);
    expect(c.servers.list(p, {}).servers.map((s) => s.id)).toEqual([MINE]);
    expect(c.servers.list(p, { ownerId: bob }).servers.map((s) => s.id)).toEqual([MINE]);
    expect(c.servers.list(p, { id: BOBS }).total).toBe(0);
    expect(c.views.billed(p, { limit: 100, offset: 0 }).list.map((v) => v.server.id)).toEqual([MINE]);
    expect(c.servers.list(who('tech', null), {}).total).toBe(3);
  });

  it('show a client the tasks of its own servers only, and hide who else asked', async () => {
    const mine = store.tasks.insert({ kind: 'power', serverId: MINE, mutating: true, params: {}, requestedBy: 'admin:ops#1' });
    const ownRequest = store.tasks.insert({ kind: 'sensors', serverId: MINE, mutating: false, params: {}, requestedBy: 'client:alice#50' });
    const bobs = store.tasks.insert({ kind: 'power', serverId: BOBS, mutating: true, params: {}, requestedBy: 'admin:ops#1' });
    const siteWide = store.tasks.insert({ kind: 'image_build', serverId: null, mutating: false, params: {}, requestedBy: 'admin:ops#1' });
    const p = who('client', alice, 50);
    const listed = c.tasks.list(p, {});
    expect(listed.tasks.map((t) => t.id).sort()).toEqual([mine, ownRequest].sort());
    expect(listed.total).toBe(2);
    expect(listed.tasks.find((t) => t.id === mine)!.requestedBy).toBe('staff');
    expect(listed.tasks.find((t) => t.id === ownRequest)!.requestedBy).toBe('client:alice#50');
    expect(c.tasks.show(p, mine).requestedBy).toBe('staff');
    for (const id of [bobs, siteWide]) {
      const e = await rackhandError(() => c.tasks.show(p, id));
      expect([e.code, e.message]).toEqual(['NOT_FOUND', `task ${id} not found`]);
      expect((await rackhandError(() => c.tasks.cancel(p, id))).code).toBe('NOT_FOUND');
    }
    expect(c.tasks.canSee(p, null)).toBe(false);
    expect(c.tasks.canSee(who('tech', null), null)).toBe(true);
    expect(c.tasks.list(who('tech', null), {}).total).toBe(4);
    expect(c.tasks.show(who('tech', null), mine).requestedBy).toBe('admin:ops#1');
  });
});

describe('role-gated operations', () => {
  const client = () => who('client', alice);
  const tech = () => who('tech', null);
  const central = () => who('central', null);
  const cases: [name: string, p: () => Principal, call: (c: Caps, p: Principal) => unknown][] = [
    ['client suspends its own server', client, (c, p) => c.switchPorts.setSuspended(p, MINE, false)],
    ['client allocates an address to its own server', client, (c, p) => c.ipam.allocate(p, MINE, {} as never)],
    ['client creates an administrator BMC account', client, (c, p) => c.power.addUser(p, MINE, { privilege: 'administrator' })],
    ['client syncs the site', client, (c, p) => c.power.syncAll(p)],
    ['client samples the site\'s sensors', client, (c, p) => c.power.sampleAll(p)],
    ['client lists images', client, (c, p) => c.images.list(p)],
    ['client reads a MAC\'s boot history', client, (c, p) => c.bootHistory.forMac(p, '02:00:00:00:00:09', { limit: 1, offset: 0 })],
    ['client assigns an owner', client, (c, p) => c.servers.setOwner(p, MINE, bob)],
    ['client imports servers', client, (c, p) => c.servers.import(p, [])],
    ['client adopts a host', client, (c, p) => c.servers.adopt(p, { id: 40, name: 'x' })],
    ['tech imports servers', tech, (c, p) => c.servers.import(p, [])],
    ['tech changes a server', tech, (c, p) => c.servers.upsert(p, { id: MINE, name: 'renamed' })],
    ['tech removes a server', tech, (c, p) => c.servers.remove(p, MINE)],
    ['tech adopts a host with BMC credentials', tech, (c, p) => c.servers.adopt(p, { id: 40, name: 'x', bmc: { host: '10.0.0.1', username: 'a', password: 'b' } })],
    ['tech creates users', tech, (c, p) => c.servers.createUser(p, { email: 'eve@example.com' })],
    ['tech reads the audit log', tech, (c, p) => c.audit.list(p, {})],
    ['tech lists tokens', tech, (c, p) => c.tokens.list(p)],
    ['tech creates an administrator BMC account', tech, (c, p) => c.power.addUser(p, MINE, { privilege: 'administrator' })],
    ['tech orders a server for a customer', tech, (c, p) => c.deploys.orderInstance(p, { preset: '', locationName: 'AMS1', ownerEmail: 'bob@example.com', os: 1, rootPassword: 'x' } as never)],
    ['central reads the audit log', central, (c, p) => c.audit.list(p, {})],
    ['central creates tokens', central, (c, p) => c.tokens.create(p, { name: 'x', role: 'admin' })],
  ];

  it.each(cases)('%s: FORBIDDEN, nothing written', async (_name, p, call) => {
    const before = [store.dump('servers'), store.dump('users'), store.dump('tasks'), store.dump('tokens')];
    const e = await rackhandError(() => call(c, p()));
    expect(e.code).toBe('FORBIDDEN');
    expect([store.dump('servers'), store.dump('users'), store.dump('tasks'), store.dump('tokens')]).toEqual(before);
  });

  it('a tech adopts a discovered host without secrets', () => {
    const s = c.servers.adopt(who('tech', null), { id: 40, name: 'adopted', interfaces: [{ mac: '02:00:00:00:00:40' }] });
    expect(s).toMatchObject({ id: 40, name: 'adopted', bmc: null, ownerId: null });
  });

  it('an admin reads the audit log and manages tokens', () => {
    const admin = who('admin', null);
    expect(c.audit.list(admin, {})).toEqual({ list: [], total: 0 });
    expect(c.tokens.create(admin, { name: 'ops', role: 'tech' })).toMatchObject({ name: 'ops', role: 'tech' });
    expect(c.tokens.list(admin)).toHaveLength(1);
  });
});
