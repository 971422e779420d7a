// The spine end to end: a real rackhand process, its CLI, 1,000 servers, the eq / DCImanager / v1 faces and auth.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startRackhand, type RackhandProcess } from '../harness/rackhand-process.js';
import { BMC_TEST_PASSWORD, CONSOLE_TEST_PASSWORD, makeServers } from '../harness/fixtures.js';

let rh: RackhandProcess;
let admin: string;
let clientToken: string;
let ownerId: number;
const api = (tok?: string) => apiClient(() => rh.url, tok);

beforeAll(async () => {
  // debug: request lines are logged at debug level, and the redaction of their URLs is checked below. No power
  // sync: "never read" (power unknown) is asserted below.
  rh = await startRackhand({ env: { RACKHAND_LOG_LEVEL: 'debug' }, config: { bmc: { sync: { enabled: false } } } });
  const r = rh.cli(['token', 'create', '--role', 'admin', '--name', 'bootstrap']);
  expect(r.code, r.stderr).toBe(0);
  admin = r.stdout.trim();
  expect(admin).toMatch(/^rh_[A-Za-z0-9_-]{40,}$/);

  const user = await api(admin).post('/api/dci/v3/user', { email: 'alice@example.com', password: 'correct-horse-9', full_name: 'Alice' });
  expect(user.status).toBe(200);
  ownerId = user.json.id;
  const imp = await api(admin).post('/api/v1/servers/import', makeServers(1000, 1, { ownerId: (id) => (id % 100 === 7 ? ownerId : undefined) }));
  expect(imp.status, imp.text).toBe(200);
  expect(imp.json).toEqual({ created: 1000, updated: 0 });
  const tok = await api(admin).post('/api/v1/tokens', { name: 'alice', role: 'client', owner_id: ownerId });
  expect(tok.status).toBe(201);
  clientToken = tok.json.token;
});

afterAll(async () => {
  await rh?.cleanup();
});

describe('inventory through the faces', () => {
  it('re-importing is idempotent (upsert by id)', async () => {
    const again = await api(admin).post('/api/v1/servers/import', { servers: makeServers(3, 1) });
    expect(again.json).toEqual({ created: 0, updated: 3 });
    const list = await api(admin).get('/api/v1/servers?limit=1');
    expect(list.json.total).toBe(1000);
  });

  it('eq show has the seed shape and never a password', async () => {
    const r = await api().eq({ action: 'show', id: 42 }, admin);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      result: 'OK',
      module: 'eq',
      action: 'show',
      server_data: { id: 42, name: 'srv-42', status: 'free', location: 'FRA1', ip: '10.0.0.42', type: 'Server' },
      hardware: { components: [{ Type: 'CPU', Name: 'Intel Xeon E-2236', Cores: 6 }] },
      groups: [{ id: 3, name: 'group-3' }],
      licenses: [],
      location: { dc_name: 'Frankfurt 1', rack_name: 'R2' },
      OS: { id: 10, name: 'Ubuntu 24.04' },
      // 10.0.0.42 lies in no IPAM pool: its range (RFC 1918) makes it private
      IP: [{ IP: '10.0.0.42', type: 'private', family: 'ipv4', main: true }],
      interfaces: [{ type: 'eth0', mac: '52:54:00:00:00:2a' }],
      IPMI: { model: 'Supermicro X11', password: 'set', interfaces: [{ IP: '10.99.0.42' }] },
      tags: [{ tag: 'preset', value: 'i9' }],
      preset: 'i9',
    });
    expect(r.text).not.toContain(BMC_TEST_PASSWORD);
    expect(r.text).not.toContain(CONSOLE_TEST_PASSWORD);
  });

  it('eq show and status also answer GET with the token as a query parameter', async () => {
    const show = await api().get(`/api/eq?action=show&id=5&token=${admin}`);
    expect(show.json.server_data.id).toBe(5);
    const st = await api().get(`/api/eq?action=status&id=5&token=${admin}`);
    expect(st.json).toMatchObject({ result: 'OK', action: 'status', server_id: 5, status: 'free', power: 'unknown', power_read_at: null });
  });

  it('eq list honours every filter', async () => {
    const eq = (p: Record<string, string | number>) => api().eq({ action: 'list', ...p }, admin);
    const all = await eq({});
    expect(all.json.total).toBe(1000);
    expect((await eq({ id: 77 })).json.list.map((s: any) => s.id)).toEqual([77]);
    const loc = await eq({ location: 1 });
    expect(loc.json.total).toBe(500);
    expect(loc.json.list.every((s: any) => s.location === 'AMS1')).toBe(true);
    const sw = await eq({ type: 'Switch' });
    expect(sw.json.total).toBe(20);
    const grp = await eq({ group: 'group-2' });
    expect(grp.json.total).toBe(250);
    expect(grp.json.list.every((s: any) => s.groups[0].name === 'group-2')).toBe(true);
    expect((await eq({ group: '2' })).json.total).toBe(250);
    // 100 imported as rent, and the 10 imported free with an owner: an owner makes a server rent
    const rent = await eq({ status: 'rent' });
    expect(rent.json.total).toBe(110);
    const ip = await eq({ ip: '10.0.1.44' });
    expect(ip.json.list.map((s: any) => s.id)).toEqual([300]);
    const full = await eq({ id: 9, full: 1 });
    expect(full.json.list[0]).toMatchObject({ server_data: { id: 9 }, IPMI: { password: 'set' } });
  });

  it('DCImanager list, info and configuration', async () => {
    const list = await api().get('/api/dci/v3/server', { cookie: `ses6=${admin}` });
    expect(list.status).toBe(200);
    // the default page; size is the total
    expect(list.json.list).toHaveLength(100);
    expect(list.json.size).toBe(1000);
    expect(list.json.list[0]).toMatchObject({ id: 1, name: 'srv-1', configuration: 'E-2236-32Gb-2x480SSD', power_status: expect.stringMatching(/^(on|off|unknown)$/) });
    const info = await api().get('/api/dci/v3/server/107', { 'x-xsrf-token': admin });
    expect(info.json).toMatchObject({ id: 107, owner: { id: ownerId, email: 'alice@example.com' } });
    const conf = await api().get('/api/dci/v3/server/configuration', { cookie: `ses6=${admin}` });
    expect(conf.json).toEqual({
      list: [
        // free and unowned: ids with status free (not %10, not %17) and not owned
        { configuration: 'E-2236-32Gb-2x480SSD', free_server_count: expect.any(Number) },
        { configuration: 'i9-9900K-64Gb-2x1024NVMe', free_server_count: expect.any(Number) },
      ],
      size: 2,
    });
    const expected = makeServers(1000).filter((s) => s.status === 'free' && s.id % 100 !== 7);
    const total = conf.json.list.reduce((a: number, c: any) => a + c.free_server_count, 0);
    expect(total).toBe(expected.length);
    const users = await api(admin).get('/api/dci/v3/user');
    expect(users.json.list).toEqual([
      { id: ownerId, email: 'alice@example.com', full_name: 'Alice', server_count: 10, roles: '[@user]', vlans_per_user: 5 },
    ]);
  });

  it('DCImanager owner assignment and release', async () => {
    const set = await api(admin).post('/api/dci/v3/server/500/owner', { owner: ownerId });
    expect(set.json).toEqual({ id: 500 });
    expect((await api(admin).get('/api/dci/v3/server/500')).json.owner.id).toBe(ownerId);
    const rel = await api(admin).del('/api/dci/v3/server/500/owner');
    expect(rel.json).toEqual({ id: 500 });
    expect((await api(admin).get('/api/dci/v3/server/500')).json.owner).toBeNull();
    const bad = await api(admin).post('/api/dci/v3/server/500/owner', { owner: 999999 });
    expect(bad.status).toBe(404);
  });
});

describe('auth', () => {
  it('no token or a wrong one is 401 on every face', async () => {
    for (const r of [
      await api().get('/api/v1/servers'),
      await api('rh_wrong').get('/api/v1/servers'),
      await api().get('/api/dci/v3/server'),
      await api().eq({ action: 'show', id: 1 }),
      await api().eq({ action: 'show', id: 1 }, 'rh_nope'),
    ]) {
      expect(r.status).toBe(401);
    }
    const eq = await api().eq({ action: 'list' });
    expect(eq.json).toMatchObject({ result: 'ERROR', module: 'eq', action: 'list', error: { code: 'UNAUTHORIZED' } });
  });

  it('a client token sees only the servers its user owns', async () => {
    const mine = [7, 107, 207, 307, 407, 507, 607, 707, 807, 907];
    const list = await api().eq({ action: 'list' }, clientToken);
    expect(list.json.list.map((s: any) => s.id)).toEqual(mine);
    const upd = await api().eq({ action: 'update_servers' }, clientToken);
    expect(upd.json).toMatchObject({ result: 'OK', servers: mine, deploy_keys: {} });
    expect(upd.json.billing_servers[0]).toMatchObject({ id: 7, name: 'srv-7', config: 'E-2236-32Gb-2x480SSD' });
    expect((await api().eq({ action: 'show', id: 107 }, clientToken)).status).toBe(200);
    const other = await api().eq({ action: 'show', id: 8 }, clientToken);
    expect(other.status).toBe(404);
    expect(other.json.error.code).toBe('NOT_FOUND');
    expect((await api(clientToken).get('/api/dci/v3/server/8')).status).toBe(404);
    expect((await api(clientToken).get('/api/dci/v3/server')).json.list).toHaveLength(10);
    expect((await api(clientToken).get('/api/v1/servers')).json.total).toBe(10);
  });

  it('roles: tech and client cannot write inventory or manage tokens; central cannot manage tokens', async () => {
    const tech = (await api(admin).post('/api/v1/tokens', { name: 'tech', role: 'tech' })).json.token;
    const central = (await api(admin).post('/api/v1/tokens', { name: 'central', role: 'central' })).json.token;
    expect((await api(tech).post('/api/v1/servers/import', makeServers(1, 5000))).status).toBe(403);
    expect((await api(clientToken).post('/api/v1/servers/import', makeServers(1, 5000))).status).toBe(403);
    expect((await api(central).get('/api/v1/tokens')).status).toBe(403);
    expect((await api(tech).get('/api/v1/servers?limit=1')).json.total).toBe(1000);
    expect((await api(central).post('/api/v1/servers/import', makeServers(1, 5000))).status).toBe(200);
    expect((await api(admin).del('/api/v1/servers/5000')).status).toBe(204);
  });

  it('a revoked token stops working', async () => {
    const t = (await api(admin).post('/api/v1/tokens', { name: 'short', role: 'tech' })).json;
    expect((await api(t.token).get('/api/v1/whoami')).json).toMatchObject({ role: 'tech', name: 'short' });
    expect((await api(admin).del(`/api/v1/tokens/${t.id}`)).status).toBe(204);
    expect((await api(t.token).get('/api/v1/whoami')).status).toBe(401);
    const listed = await api(admin).get('/api/v1/tokens');
    expect(JSON.stringify(listed.json)).not.toContain(t.token);
  });

  it('tokens are stored hashed: the database never holds a token in clear', async () => {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(`${rh.stateDir}/rackhand.db`, { readonly: true });
    const dump = JSON.stringify(db.prepare('SELECT * FROM tokens').all()) + JSON.stringify(db.prepare('SELECT * FROM servers').all());
    db.close();
    expect(dump).not.toContain(admin);
    expect(dump).not.toContain(clientToken);
    expect(dump).not.toContain(BMC_TEST_PASSWORD);
    expect(dump).not.toContain(CONSOLE_TEST_PASSWORD);
  });

  it('no token, password or key appears in the captured log', async () => {
    const { readFileSync } = await import('node:fs');
    const key = readFileSync(`${rh.stateDir}/secret.key`, 'utf8').trim();
    const log = rh.output();
    expect(log).toContain('/api/eq?action=show&id=5&token=[redacted]');
    for (const secret of [admin, clientToken, BMC_TEST_PASSWORD, CONSOLE_TEST_PASSWORD, 'correct-horse-9', key]) {
      expect(log).not.toContain(secret);
    }
  });
});

describe('OpenAPI', () => {
  it('documents the native and DCImanager routes from the validating schemas', async () => {
    const doc = (await api().get('/api/v1/openapi.json')).json;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/servers', '/api/v1/servers/{id}', '/api/v1/tasks/{id}', '/api/dci/v3/server/{id}/owner']));
    const list = doc.paths['/api/v1/servers'].get;
    expect(list.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(['q', 'status', 'limit']));
    expect(doc.paths['/api/v1/tokens'].post.requestBody.content['application/json'].schema.properties.role.enum).toEqual([
      'admin',
      'central',
      'tech',
      'client',
    ]);
  });
});
