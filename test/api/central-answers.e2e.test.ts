// Issue 13 findings about answers, through the real daemon: eq show / list / update_servers and DCImanager's
// servers carry real values (the install in progress, every address IPAM gave with its type, billing facts from
// the inventory, owner-scoped), ownership and status move together on every face, and every list pages.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startRackhand, type RackhandProcess } from '../harness/rackhand-process.js';
import { makeServers } from '../harness/fixtures.js';
import { until } from './until.js';

let rh: RackhandProcess;
let admin: string;
let alice: number;
let aliceToken: string;
const api = (tok = admin) => apiClient(() => rh.url, tok);
const eq = (params: Record<string, string | number>, tok = admin) => api(tok).eq(params, tok);


/** 2001:db8::1 → 2001:0DB8:0000:…:0001, the same address spelt in full. */
function expandV6(a: string): string {
  const [l, r] = a.split('::');
  const left = l ? l.split(':') : [];
  const right = r ? r.split(':') : [];
  return [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right].map((g) => g.padStart(4, '0')).join(':').toUpperCase();
}

beforeAll(async () => {
  rh = await startRackhand({
    config: {
      bmc: { simulatedDelayMs: 5, powerPollMs: 50, sync: { enabled: false } },
      sensors: { enabled: false },
      boot: { installTimeoutMs: 120_000, rebootGraceMs: 0 },
    },
  });
  admin = rh.cli(['token', 'create', '--role', 'admin']).stdout.trim();
  alice = (await api().post('/api/dci/v3/user', { email: 'alice@example.com', password: 'alice-password-1' })).json.id;
  aliceToken = (await api().post('/api/v1/tokens', { name: 'alice', role: 'client', owner_id: alice })).json.token;
  expect((await api().post('/api/dci/v3/user', { email: 'bob@example.com', password: 'bob-password-1' })).status).toBe(200);
  const servers = makeServers(250).map((s) => ({
    ...s,
    status: 'free',
    owner_id: [3, 4, 8, 9].includes(s.id) ? alice : undefined,
  }));
  const imp = await api().post('/api/v1/servers/import', servers);
  expect(imp.status, imp.text).toBe(200);
});
afterAll(async () => rh?.cleanup());

describe('eq show, list and DCImanager servers: every address, typed from IPAM', () => {
  let v6 = '';
  let private4 = '';
  let public4 = '';

  beforeAll(async () => {
    const nets = [
      { name: '203.0.113.0/24', gateway: '203.0.113.1' },
      { name: '10.50.0.0/24', gateway: '10.50.0.1' },
      { name: '2001:db8:50::/64' },
      { name: '198.51.100.0/24' },
    ];
    for (const n of nets) expect((await api().post('/api/ip/v3/ipnet', n)).status).toBe(201);
    const pools = [
      { name: 'public-v4', is_public: 1, ranges: ['203.0.113.10-203.0.113.50'] },
      // a pool of addresses that are public by range, kept private (a backend network): the pool decides
      { name: 'backend', is_public: 0, ranges: ['198.51.100.10-198.51.100.20'] },
      { name: 'v6', is_public: 1, ranges: ['2001:db8:50::100-2001:db8:50::1ff'] },
    ];
    for (const p of pools) expect((await api().post('/api/ip/v3/ippool', p)).status, JSON.stringify(p)).toBe(201);
    const give = async (body: Record<string, unknown>) => {
      const r = await api().post('/api/dci/v3/server/5/ip', body);
      expect(r.status, r.text).toBe(200);
      return (await api().get('/api/dci/v3/server/5/ip')).json.list.find((a: any) => a.id === r.json.id).name as string;
    };
    public4 = await give({ ip_pool: 'public-v4', set_as_main_ipv4: true });
    private4 = await give({ ip_net: '10.50.0.0/24' });
    v6 = await give({ ip_pool: 'v6', family: 'ipv6' });
    await give({ ip_pool: 'backend' });
  });

  it('eq show lists every address the server holds, main first, with its type and family', async () => {
    const r = await eq({ action: 'show', id: 5 });
    expect(r.status, r.text).toBe(200);
    expect(r.json.server_data.ip).toBe(public4);
    const ips = r.json.IP.map((a: any) => [a.IP, a.type, a.family, a.main]);
    expect(ips).toEqual([
      [public4, 'public', 'ipv4', true],
      [private4, 'private', 'ipv4', false],
      [v6, 'public', 'ipv6', false],
      ['198.51.100.10', 'private', 'ipv4', false],
    ]);
  });

  it('an interface address IPAM does not hold is typed by its range', async () => {
    const r = await eq({ action: 'show', id: 6 });
    expect(r.json.IP).toEqual([expect.objectContaining({ IP: '10.0.0.6', type: 'private', main: true, interface: 'eth0' })]);
  });

  it('eq list ip= finds a server by any of its addresses, IPv6 in any spelling', async () => {
    for (const ip of [private4, v6, expandV6(v6), '198.51.100.10']) {
      const r = await eq({ action: 'list', ip });
      expect(r.json.list.map((s: any) => s.id), ip).toEqual([5]);
    }
  });

  it('DCImanager server detail and list carry every address too', async () => {
    const one = (await api().get('/api/dci/v3/server/5')).json;
    expect(one.ip).toBe(public4);
    expect(one.ip_list.map((a: any) => [a.name, a.family, a.type])).toEqual([
      [public4, 'ipv4', 'public'],
      [private4, 'ipv4', 'private'],
      [v6, 'ipv6', 'public'],
      ['198.51.100.10', 'ipv4', 'private'],
    ]);
    const list = (await api().get('/api/dci/v3/server?limit=1&offset=4')).json;
    expect(list.list[0].id).toBe(5);
    expect(list.list[0].ip_list).toHaveLength(4);
  });
});

describe('the install in progress: eq show reinstall, update_servers deploy_keys', () => {
  it('a running reinstall shows its state and its reinstall_key; create_pxe shows armed with its task id', async () => {
    const r = await eq({ action: 'reinstall', id: 8, os_id: 900, root_pass: 'Str0ng-Pass!', reinstall_key: 'rk-8-abc123' });
    expect(r.status, r.text).toBe(200);
    const show = await until('the deploy to run', async () => {
      const s = (await eq({ action: 'show', id: 8 })).json;
      return s.reinstall === 'running' && s;
    });
    expect(show.deploy).toMatchObject({ task: r.json.task, kind: 'deploy', purpose: 'install', os_id: 'rackhand-test', key: 'rk-8-abc123' });
    const pxe = await eq({ action: 'create_pxe', id: 9, os_id: 900, root_pass: 'Str0ng-Pass!' });
    await until('create_pxe to arm', async () => (await api().get(`/api/v1/tasks/${pxe.json.task}`)).json.state === 'succeeded');
    expect((await eq({ action: 'show', id: 9 })).json).toMatchObject({ reinstall: 'armed', deploy: { kind: 'create_pxe', key: String(pxe.json.task) } });
    expect((await eq({ action: 'show', id: 10 })).json).toMatchObject({ reinstall: '', deploy: null });

    const upd = await eq({ action: 'update_servers' });
    expect(upd.json.deploy_keys).toEqual({ 8: 'rk-8-abc123', 9: String(pxe.json.task) });
    const listed = await eq({ action: 'list', id: 8 });
    expect(listed.json.list[0].reinstall).toBe('running');
    expect((await api().get('/api/dci/v3/server/8')).json.operation).toMatchObject({ id: r.json.task, status: 'running', key: 'rk-8-abc123' });

    await api().post(`/api/v1/tasks/${r.json.task}/cancel`);
    await until('the deploy to end', async () => (await eq({ action: 'show', id: 8 })).json.reinstall === '');
    expect((await eq({ action: 'update_servers' })).json.deploy_keys).toEqual({ 9: String(pxe.json.task) });
  });
});

describe('update_servers: billing facts from the inventory, scoped to the token', () => {
  it('a client token gets its own servers with recurring, nextduedate and billingcycle from the import', async () => {
    const s3 = { ...makeServers(3)[2], status: 'free', owner_id: alice, recurring: 79.5, nextduedate: '2026-01-31', billingcycle: 'Monthly' };
    const put = await api().post('/api/v1/servers', s3);
    expect(put.status, put.text).toBe(200);
    const r = await eq({ action: 'update_servers' }, aliceToken);
    expect(r.json.servers).toEqual([3, 4, 8, 9]);
    expect(r.json.billing_servers[0]).toEqual({
      id: 3,
      config: expect.any(String),
      status: 'rent',
      regdate: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      name: 'srv-3',
      recurring: 79.5,
      nextduedate: '2026-01-31',
      billingcycle: 'Monthly',
      owner: alice,
    });
    expect(r.json.billing_servers[1]).toMatchObject({ id: 4, recurring: null, nextduedate: null, billingcycle: null });
  });

  it('an admin token gets every server that has an owner, never the free pool', async () => {
    const r = await eq({ action: 'update_servers' });
    expect(r.json.servers).toEqual([3, 4, 8, 9]);
    expect(r.json.total).toBe(4);
  });

  it('a billing field in the wrong form is refused at import, naming it', async () => {
    const bad = await api().post('/api/v1/servers/import', [{ ...makeServers(1, 900)[0], nextduedate: '31/01/2026' }]);
    expect(bad.status).toBe(400);
    expect(bad.json.error.details.field).toBe('0.nextduedate');
  });
});

describe('ownership and status move together on every face', () => {
  it('assigning an owner makes a free server rent; releasing makes it free again', async () => {
    const status = async (id: number) => [
      (await eq({ action: 'show', id })).json.server_data.status,
      (await eq({ action: 'status', id })).json.status,
      (await api().get(`/api/dci/v3/server/${id}`)).json.status,
      (await api().get(`/api/v1/servers/${id}`)).json.status,
    ];
    expect(await status(20)).toEqual(['free', 'free', 'free', 'free']);
    expect((await api().post('/api/dci/v3/server/20/owner', { owner: alice })).json).toEqual({ id: 20 });
    expect(await status(20)).toEqual(['rent', 'rent', 'rent', 'rent']);
    expect((await api().get('/api/dci/v3/server/configuration')).json.list.reduce((n: number, c: any) => n + c.free_server_count, 0)).toBe(250 - 5);
    expect((await api().del('/api/dci/v3/server/20/owner')).json).toEqual({ id: 20 });
    expect(await status(20)).toEqual(['free', 'free', 'free', 'free']);
  });

  it('an import that gives a free server an owner stores it as rent', async () => {
    const s = { ...makeServers(1, 21)[0], status: 'free', owner_id: alice };
    expect((await api().post('/api/v1/servers', s)).json.status).toBe('rent');
    expect((await api().post('/api/v1/servers', { ...s, owner_id: null })).json.status).toBe('free');
  });
});

describe('paging: every list takes limit and offset and says its total', () => {
  it('eq list and update_servers page, with total; limit=OFFSET,COUNT is accepted too', async () => {
    const all = await eq({ action: 'list' });
    expect(all.json).toMatchObject({ total: 250, limit: 100, offset: 0 });
    expect(all.json.list).toHaveLength(100);
    const page = await eq({ action: 'list', limit: 5, offset: 10 });
    expect(page.json.list.map((s: any) => s.id)).toEqual([11, 12, 13, 14, 15]);
    expect((await eq({ action: 'list', limit: '10,5' })).json.list.map((s: any) => s.id)).toEqual([11, 12, 13, 14, 15]);
    const upd = await eq({ action: 'update_servers', limit: 2, offset: 1 });
    expect(upd.json).toMatchObject({ servers: [4, 8], total: 4 });
    const tooMany = await eq({ action: 'list', limit: 1_000_000 });
    expect(tooMany.json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'limit' } });
  });

  it('DCImanager /server pages by default and honours limit and offset', async () => {
    const first = (await api().get('/api/dci/v3/server')).json;
    expect(first.list).toHaveLength(100);
    expect(first.size).toBe(250);
    const page = (await api().get('/api/dci/v3/server?limit=3&offset=247')).json;
    expect(page.list.map((s: any) => s.id)).toEqual([248, 249, 250]);
    expect((await api().get('/api/dci/v3/server?limit=abc')).json.error.details.field).toBe('limit');
  });

  it('no list ignores or refuses limit: each answers one item and its total', async () => {
    // a task, a switch, a discovered MAC and a console session exist, so each list has something to page
    for (const name of ['sw-a', 'sw-b']) expect((await api().post('/api/v1/switches', { name, address: '127.0.0.1:16100', community: 'public' })).status).toBe(201);
    for (let i = 0; i < 2; i++) expect((await api().post('/api/v1/servers/1/console')).status).toBe(201);
    const lists: [string, string, string][] = [
      ['/api/dci/v3/server', 'list', 'size'],
      ['/api/dci/v3/server/configuration', 'list', 'size'],
      ['/api/dci/v3/user', 'list', 'size'],
      ['/api/dci/v3/ip', 'list', 'size'],
      ['/api/dci/v3/server/5/ip', 'list', 'size'],
      ['/api/dci/v3/task', 'list', 'size'],
      ['/api/ip/v3/ipnet', 'list', 'size'],
      ['/api/ip/v3/ippool', 'list', 'size'],
      ['/api/v1/servers', 'servers', 'total'],
      ['/api/v1/tasks', 'tasks', 'total'],
      ['/api/v1/users', 'list', 'total'],
      ['/api/v1/tokens', 'list', 'total'],
      ['/api/v1/switches', 'switches', 'total'],
      ['/api/v1/os', 'list', 'total'],
      ['/api/v1/servers/1/console/sessions', 'list', 'total'],
    ];
    for (const [path, key, total] of lists) {
      const all = await api().get(path);
      const one = await api().get(`${path}?limit=1&offset=1`);
      expect(one.status, `${path}: ${one.text}`).toBe(200);
      expect(one.json[total], path).toBe(all.json[total]);
      expect(all.json[total], `${path} has at least two items`).toBeGreaterThanOrEqual(2);
      expect(one.json[key], path).toEqual([all.json[key][1]]);
    }
    const discovered = await api().get('/api/v1/discovered?limit=1');
    expect(discovered.json).toMatchObject({ list: [], total: 0 });
  });
});
