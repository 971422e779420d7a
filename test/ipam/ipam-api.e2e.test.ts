// IPAM over real HTTP: networks, pools, allocation, exhaustion, release, 200 concurrent requests, main IPv4 -> host network.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from '../harness/rackhand-process.js';
import { makeServers } from '../harness/fixtures.js';
import { startIpamServer } from './ipam-test-server.js';

let srv: Awaited<ReturnType<typeof startIpamServer>>;
let admin: string;
let tech: string;
let client: string;
const api = (tok?: string) => apiClient(() => srv.url, tok);

beforeAll(async () => {
  srv = await startIpamServer();
  admin = srv.tokens.create({ name: 'admin', role: 'admin' }).token;
  tech = srv.tokens.create({ name: 'tech', role: 'tech' }).token;
  const owner = srv.users.create({ email: 'ipam-owner@example.com', password: 'correct-horse-9' });
  client = srv.tokens.create({ name: 'client', role: 'client', ownerId: owner.id }).token;
  const imp = await api(admin).post('/api/v1/servers/import', makeServers(450, 1, { ownerId: (id) => (id === 1 ? owner.id : undefined) }));
  expect(imp.status, imp.text).toBe(200);
});

afterAll(async () => {
  await srv?.stop();
});

describe('networks and pools', () => {
  it('creates and lists networks with the seed shape', async () => {
    const r = await api(admin).post('/api/ip/v3/ipnet', { name: '192.0.2.0/24', gateway: '192.0.2.1', vlan: '100', note: 'public', dns: ['192.0.2.53'] });
    expect(r.status, r.text).toBe(201);
    expect(r.json).toMatchObject({ name: '192.0.2.0/24', family: 2, mask: 24, gateway: '192.0.2.1', vlan: '100', note: 'public', size: '256', using_ip: '0', total_ip: '253' });
    const six = await api(admin).post('/api/ip/v3/ipnet', { name: '2001:db8:5::', mask: 64, family: 'ipv6' });
    expect(six.json).toMatchObject({ name: '2001:db8:5::/64', family: 10, mask: 64, size: '18446744073709551616' });
    const list = await api(tech).get('/api/ip/v3/ipnet');
    expect(list.status).toBe(200);
    expect(list.json.list.map((n: any) => n.name)).toEqual(['192.0.2.0/24', '2001:db8:5::/64']);
    for (const k of ['id', 'name', 'family', 'mask', 'gateway', 'userspace', 'vlan', 'note', 'size', 'using_ip', 'total_ip']) expect(list.json.list[0]).toHaveProperty(k);
  });

  it('refuses bad networks and writers without the right role', async () => {
    expect((await api(admin).post('/api/ip/v3/ipnet', { name: '192.0.2.128/25' })).json.error.code).toBe('CONFLICT');
    const bad = await api(admin).post('/api/ip/v3/ipnet', { name: '10.1.1.1/24' });
    expect([bad.status, bad.json.error.code, bad.json.error.details.field]).toEqual([400, 'INVALID_INPUT', 'name']);
    expect((await api(admin).post('/api/ip/v3/ipnet', { name: '10.1.0.0/24', extra: 1 })).json.error.code).toBe('INVALID_INPUT');
    expect((await api(tech).post('/api/ip/v3/ipnet', { name: '10.2.0.0/24' })).status).toBe(403);
    expect((await api(client).get('/api/ip/v3/ipnet')).status).toBe(403);
    expect((await api().get('/api/ip/v3/ipnet')).status).toBe(401);
  });

  it('creates pools from ranges and counts them', async () => {
    const r = await api(admin).post('/api/ip/v3/ippool', { name: 'small', is_public: true, ranges: ['192.0.2.10-192.0.2.12', '2001:db8:5::100-2001:db8:5::1ff'] });
    expect(r.status, r.text).toBe(201);
    expect(r.json).toMatchObject({ name: 'small', is_public: 'on', total_ipv4: '3', total_ipv6: '256', total_ip: '259', using_ip: '0' });
    const list = await api(admin).get('/api/ip/v3/ippool');
    for (const k of ['id', 'name', 'userspace', 'note', 'is_public', 'using_ip', 'using_ipv4', 'using_ipv6', 'total_ip', 'total_ipv4', 'total_ipv6']) {
      expect(list.json.list[0]).toHaveProperty(k);
    }
    const overlap = await api(admin).post('/api/ip/v3/ippool', { name: 'clash', ranges: ['192.0.2.12-192.0.2.20'] });
    expect(overlap.json.error.code).toBe('CONFLICT');
  });
});

describe('allocation', () => {
  let poolId: number;
  beforeAll(async () => {
    poolId = (await api(admin).get('/api/ip/v3/ippool')).json.list.find((p: any) => p.name === 'small').id;
  });

  it('allocates from a pool, answers {id, task} with a finished task, and exhausts with a clear error', async () => {
    const got: string[] = [];
    for (const server of [10, 11, 12]) {
      const r = await api(admin).post(`/api/dci/v3/server/${server}/ip`, { family: 'ipv4', ip_pool: poolId, domain: `srv${server}.example.com` });
      expect(r.status, r.text).toBe(200);
      expect(Object.keys(r.json).sort()).toEqual(['id', 'task']);
      const task = await api(admin).get(`/api/v1/tasks/${r.json.task}`);
      expect(task.json).toMatchObject({ kind: 'ip_allocate', state: 'succeeded', serverId: server });
      const mine = await api(admin).get(`/api/dci/v3/server/${server}/ip`);
      expect(mine.json.list).toHaveLength(1);
      expect(mine.json.list[0]).toMatchObject({ id: r.json.id, family: 'ipv4', network: '192.0.2.0/24', gateway: '192.0.2.1', domain: `srv${server}.example.com`, status: 'active', status_info: {}, server: `srv-${server}` });
      got.push(mine.json.list[0].name);
    }
    expect(got).toEqual(['192.0.2.10', '192.0.2.11', '192.0.2.12']);
    const none = await api(admin).post('/api/dci/v3/server/13/ip', { family: 'ipv4', ip_pool: poolId });
    expect(none.status).toBe(409);
    expect(none.json.error.code).toBe('IP_EXHAUSTED');
    expect(none.json.error.message).toMatch(/no free IPv4 address left in pool/);
    expect((await api(admin).get('/api/dci/v3/server/13/ip')).json.list).toEqual([]);
    // IPv6 from the same pool walks from the range start.
    const six = await api(admin).post('/api/dci/v3/server/13/ip', { family: 'ipv6', ip_pool: poolId });
    expect(six.status, six.text).toBe(200);
    expect((await api(admin).get('/api/dci/v3/server/13/ip')).json.list[0]).toMatchObject({ name: '2001:db8:5::100', family: 'ipv6' });
  });

  it('releases with POST /server/:id/ip/:ip_id, and the address is given again', async () => {
    const list = (await api(admin).get('/api/dci/v3/server/11/ip')).json.list;
    const r = await api(admin).post(`/api/dci/v3/server/11/ip/${list[0].id}`, {});
    expect(r.status, r.text).toBe(200);
    expect(r.json.id).toBe(list[0].id);
    expect((await api(admin).get(`/api/v1/tasks/${r.json.task}`)).json).toMatchObject({ kind: 'ip_release', state: 'succeeded' });
    expect((await api(admin).get('/api/dci/v3/server/11/ip')).json.list).toEqual([]);
    expect((await api(admin).post(`/api/dci/v3/server/11/ip/${list[0].id}`, {})).status).toBe(404);
    const again = await api(admin).post('/api/dci/v3/server/14/ip', { ip_pool: 'small', family: 4 });
    expect(again.status).toBe(200);
    expect((await api(admin).get('/api/dci/v3/server/14/ip')).json.list[0].name).toBe('192.0.2.11');
  });

  it('validates explicit ip_name requests', async () => {
    const net = (await api(admin).get('/api/ip/v3/ipnet')).json.list[0].id;
    const outside = await api(admin).post('/api/dci/v3/server/15/ip', { ip_net: net, ip_name: '198.51.100.7' });
    expect([outside.status, outside.json.error.details.field]).toEqual([400, 'ip_name']);
    const taken = await api(admin).post('/api/dci/v3/server/15/ip', { ip_net: net, ip_name: '192.0.2.10' });
    expect(taken.json.error.code).toBe('CONFLICT');
    const ok = await api(admin).post('/api/dci/v3/server/15/ip', { ip_net: net, ip_name: '192.0.2.200', domain: '', userspace: '' });
    expect(ok.status, ok.text).toBe(200);
    const garbage = await api(admin).post('/api/dci/v3/server/15/ip', { ip_net: net, family: 'ipx' });
    expect(garbage.json.error.details.field).toBe('family');
    const badDomain = await api(admin).post('/api/dci/v3/server/15/ip', { ip_net: net, domain: 'a\nb' });
    expect(badDomain.json.error.details.field).toBe('domain');
  });

  it('applies the access rules to addresses', async () => {
    await api(admin).post('/api/dci/v3/server/1/ip', { ip_net: '192.0.2.0/24' });
    const mine = await api(client).get('/api/dci/v3/ip');
    expect(mine.status).toBe(200);
    expect(mine.json.list.map((a: any) => a.server_id)).toEqual([1]);
    expect((await api(client).get('/api/dci/v3/server/10/ip')).status).toBe(404);
    expect((await api(client).post('/api/dci/v3/server/1/ip', { ip_net: '192.0.2.0/24' })).status).toBe(403);
    expect((await api(client).post('/api/dci/v3/server/10/ip', { ip_net: '192.0.2.0/24' })).status).toBe(404);
    const all = await api(admin).get('/api/dci/v3/ip');
    expect(all.json.size).toBeGreaterThan(4);
  });

  it('makes the main IPv4 the host network (DHCP reservation, install config) and the interface address', async () => {
    const r = await api(admin).post('/api/dci/v3/server/20/ip', { ip_net: '192.0.2.0/24', set_as_main_ipv4: true });
    expect(r.status, r.text).toBe(200);
    const ip = (await api(admin).get('/api/dci/v3/server/20/ip')).json.list[0];
    expect(ip.main_ipv4).toBe(true);
    expect(srv.ipam.hostNetwork(20)).toEqual({ ip: ip.name, netmask: '255.255.255.0', gateway: '192.0.2.1', dns: ['192.0.2.53'], prefixLength: 24 });
    const info = await api(admin).get('/api/dci/v3/server/20');
    expect(info.json.ip).toBe(ip.name);
    expect(info.json.interfaces[0].ip).toBe(ip.name);
    const byIp = await api(admin).get(`/api/v1/servers?ip=${ip.name}`);
    expect(byIp.json.servers.map((s: any) => s.id)).toEqual([20]);
    await api(admin).post(`/api/dci/v3/server/20/ip/${ip.id}`, {});
    expect(srv.ipam.hostNetwork(20)).toBeUndefined();
    expect((await api(admin).get('/api/dci/v3/server/20')).json.interfaces[0].ip).toBeNull();
  });
});

describe('200 concurrent allocations', () => {
  const allocateAll = (servers: number[], body: Record<string, unknown>) =>
    Promise.all(servers.map((s) => api(admin).post(`/api/dci/v3/server/${s}/ip`, body)));

  it('never give an address twice when there is room', async () => {
    const net = await api(admin).post('/api/ip/v3/ipnet', { name: '100.64.0.0/23', gateway: '100.64.0.1' });
    expect(net.status).toBe(201);
    const servers = Array.from({ length: 200 }, (_, i) => 100 + i);
    const res = await allocateAll(servers, { ip_net: net.json.id });
    expect(res.map((r) => r.status)).toEqual(servers.map(() => 200));
    expect(new Set(res.map((r) => r.json.id)).size).toBe(200);
    expect(new Set(res.map((r) => r.json.task)).size).toBe(200);
    const ips = (await api(admin).get('/api/dci/v3/ip?limit=10000')).json.list.filter((a: any) => a.network === '100.64.0.0/23');
    expect(ips).toHaveLength(200);
    expect(new Set(ips.map((a: any) => a.name)).size).toBe(200);
    // Lowest-first under concurrency too: exactly .2 … .201 (the gateway .1 skipped).
    const expected = Array.from({ length: 200 }, (_, i) => `100.64.0.${i + 2}`);
    expect(ips.map((a: any) => a.name).sort()).toEqual(expected.sort());
    expect(new Set(ips.map((a: any) => a.server_id))).toEqual(new Set(servers));
  });

  it('hand out exactly the pool and refuse the rest with IP_EXHAUSTED', async () => {
    await api(admin).post('/api/ip/v3/ipnet', { name: '100.65.0.0/24' });
    const pool = await api(admin).post('/api/ip/v3/ippool', { name: 'p150', ranges: ['100.65.0.50-100.65.0.199'] });
    expect(pool.json.total_ipv4).toBe('150');
    const servers = Array.from({ length: 200 }, (_, i) => 250 + i);
    const res = await allocateAll(servers, { ip_pool: pool.json.id, family: 4 });
    const ok = res.filter((r) => r.status === 200);
    const refused = res.filter((r) => r.status !== 200);
    expect(ok).toHaveLength(150);
    expect(refused).toHaveLength(50);
    expect(new Set(refused.map((r) => r.json.error.code))).toEqual(new Set(['IP_EXHAUSTED']));
    const ips = (await api(admin).get('/api/dci/v3/ip?limit=10000')).json.list.filter((a: any) => a.network === '100.65.0.0/24');
    expect(new Set(ips.map((a: any) => a.name)).size).toBe(150);
    expect((await api(admin).get('/api/ip/v3/ippool')).json.list.find((p: any) => p.name === 'p150')).toMatchObject({ using_ipv4: '150', total_ipv4: '150' });
    const dup = srv.db.prepare('SELECT ip, count(*) AS n FROM ip_addresses GROUP BY family, ip HAVING n > 1').all();
    expect(dup).toEqual([]);
    expect(srv.db.pragma('integrity_check', { simple: true })).toBe('ok');
  });
});
