// Bad input over real HTTP: every eq action's required and typed parameters, oversize bodies, unknown
// actions — each refused with a stable code naming the field, and nothing written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startRackhand, type RackhandProcess } from '../harness/rackhand-process.js';
import { makeServers } from '../harness/fixtures.js';

let rh: RackhandProcess;
let admin: string;
const api = (tok?: string) => apiClient(() => rh.url, tok);

beforeAll(async () => {
  rh = await startRackhand();
  admin = rh.cli(['token', 'create', '--role', 'admin']).stdout.trim();
  expect((await api(admin).post('/api/v1/servers/import', makeServers(5))).status).toBe(200);
  expect((await api(admin).post('/api/v1/servers/import', makeServers(30, 1001).map((s) => ({ ...s, status: 'free' })))).status).toBe(200);
  // An order by an admin token names its owner by email.
  expect((await api(admin).post('/api/v1/users', { email: 'orders@example.com' })).status).toBe(201);
});
afterAll(async () => rh?.cleanup());

const install = { os_id: 1, root_pass: 'Very-Secret-1' };
/** action → [parameters that make a valid call, the required field to drop, an ill-typed value for a field] */
const CASES: Record<string, { ok: Record<string, string | number>; required: string[]; illTyped: [string, string][] }> = {
  show: { ok: { id: 1 }, required: ['id'], illTyped: [['id', 'abc']] },
  status: { ok: { id: 1 }, required: ['id'], illTyped: [['id', '-1']] },
  list: { ok: {}, required: [], illTyped: [['id', 'x'], ['full', 'maybe']] },
  update_servers: { ok: {}, required: [], illTyped: [] },
  on: { ok: { id: 1 }, required: ['id'], illTyped: [['id', '1.5']] },
  off: { ok: { id: 1 }, required: ['id'], illTyped: [['id', '']] },
  reboot: { ok: { id: 1 }, required: ['id'], illTyped: [['id', '1e3']] },
  boot_dev: { ok: { id: 1, media: 'pxe' }, required: ['id', 'media'], illTyped: [['media', 'floppy'], ['boot_mode', 'bios']] },
  sensors: { ok: { id: 1 }, required: ['id'], illTyped: [['id', 'one']] },
  add_ipmi_user: { ok: { id: 1 }, required: ['id'], illTyped: [['admin_user', 'x'.repeat(40)]] },
  remove_ipmi_user: { ok: { id: 1, username: 'ops' }, required: ['id', 'username'], illTyped: [['username', '']] },
  unit_reset: { ok: { id: 1 }, required: ['id'], illTyped: [['id', '0x1']] },
  create_pxe: { ok: { id: 1, ...install }, required: ['id', 'os_id', 'root_pass'], illTyped: [['os_id', 'ubuntu'], ['uefi', '2']] },
  clear_pxe: { ok: { id: 1 }, required: ['id'], illTyped: [['id', 'NaN']] },
  reinstall: { ok: { id: 1, ...install }, required: ['id', 'os_id', 'root_pass'], illTyped: [['root_size', 'big']] },
  order_instance: { ok: { location_name: 'AMS1', email: 'orders@example.com', ...install }, required: ['location_name', 'os_id', 'root_pass'], illTyped: [['id', 'x']] },
  novnc: { ok: { id: 1 }, required: ['id'], illTyped: [['white_ip', 'x'.repeat(100)]] },
  recreate_novnc: { ok: { id: 1 }, required: ['id'], illTyped: [['id', '[]']] },
  stop_novnc: { ok: { id: 1 }, required: ['id'], illTyped: [['id', 'true']] },
};

describe('eq parameter validation', () => {
  it('covers every eq action', async () => {
    const { EQ_ACTIONS } = await import('../../src/api/eq/eq-face.js');
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(EQ_ACTIONS).sort());
  });

  for (const [action, c] of Object.entries(CASES)) {
    it(`${action}: a missing required parameter is INVALID_INPUT naming it`, async () => {
      for (const field of c.required) {
        const params = { action, ...c.ok };
        delete (params as Record<string, unknown>)[field];
        const r = await api().eq(params, admin);
        expect(r.status, `${action} without ${field}: ${r.text}`).toBe(400);
        expect(r.json).toMatchObject({ result: 'ERROR', module: 'eq', action, error: { code: 'INVALID_INPUT', details: { field } } });
        expect(r.json.error.message).toContain(field);
      }
    });
    it(`${action}: an ill-typed parameter is INVALID_INPUT naming it`, async () => {
      for (const [field, value] of [...c.illTyped, ['surprise_param', '1'] as [string, string]]) {
        const r = await api().eq({ action, ...c.ok, [field]: value }, admin);
        expect(r.status, `${action} ${field}=${value}: ${r.text}`).toBe(400);
        expect(r.json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field } });
      }
    });
  }

  it('an unknown or missing action is a clear error', async () => {
    const r = await api().eq({ action: 'format_c' }, admin);
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ result: 'ERROR', error: { code: 'UNKNOWN_ACTION' } });
    const none = await api().eq({ id: 1 }, admin);
    expect(none.json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'action' } });
  });

  it('a mutating action by GET is refused', async () => {
    const r = await api().get(`/api/eq?action=off&id=1&token=${admin}`);
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('INVALID_INPUT');
  });

  it('every action is implemented: a valid call answers OK, never NOT_IMPLEMENTED', async () => {
    const { EQ_ACTIONS } = await import('../../src/api/eq/eq-face.js');
    let serverId = 1000;
    for (const action of Object.keys(EQ_ACTIONS)) {
      // Each action on a server of its own, so no call meets another's task (SERVER_BUSY).
      serverId++;
      const params = { action, ...CASES[action].ok };
      if ('id' in params) params.id = serverId;
      const r = await api().eq(params, admin);
      expect(r.status, `${action}: ${r.text}`).toBe(200);
      expect(r.json).toMatchObject({ result: 'OK', module: 'eq', action });
    }
  });
});

describe('bodies and writes', () => {
  it('an oversized body is refused with 413 and nothing is written', async () => {
    const big = makeServers(3000, 100).map((s) => ({ ...s, hardware: [{ Type: 'note', Name: 'x'.repeat(400) }] }));
    const r = await api(admin).post('/api/v1/servers', { ...big[0], name: 'x'.repeat(2 * 1024 * 1024) });
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe('PAYLOAD_TOO_LARGE');
    const eq = await api().eq({ action: 'show', id: 1, pad: 'y'.repeat(2 * 1024 * 1024) }, admin);
    expect(eq.status).toBe(413);
    expect(eq.json).toMatchObject({ result: 'ERROR', module: 'eq', error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect((await api(admin).get('/api/v1/servers/100')).status).toBe(404);
  });

  it('malformed JSON and unsupported media types', async () => {
    const bad = await api(admin).post('/api/v1/servers', '{"id": 1,', { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('INVALID_INPUT');
    const xml = await api(admin).post('/api/v1/servers', '<server/>', { 'content-type': 'application/xml' });
    expect(xml.status).toBe(415);
  });

  it('an import with one bad item writes nothing and names the item and field', async () => {
    const items = makeServers(50, 200);
    (items[37].interfaces[0] as { mac: string }).mac = 'not-a-mac';
    const r = await api(admin).post('/api/v1/servers/import', items);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: '37.interfaces.0.mac' } });
    expect((await api(admin).get('/api/v1/servers?limit=1')).json.total).toBe(35);
  });

  it('a MAC already used by another server is a conflict and the import is rolled back', async () => {
    const items = makeServers(2, 300);
    items[1].interfaces[0].mac = makeServers(1, 1)[0].interfaces[0].mac;
    const r = await api(admin).post('/api/v1/servers/import', items);
    expect(r.status).toBe(409);
    expect(r.json.error.code).toBe('CONFLICT');
    expect((await api(admin).get('/api/v1/servers/300')).status).toBe(404);
  });

  it('MACs are normalised and unique', async () => {
    const s = { ...makeServers(1, 400)[0], interfaces: [{ name: 'eth0', mac: 'AA-BB-CC-00-11-22' }, { name: 'eth1', mac: 'aabb.cc00.1122' }] };
    const dup = await api(admin).post('/api/v1/servers', s);
    expect(dup.status).toBe(400);
    expect(dup.json.error.details.field).toBe('interfaces.1.mac');
    s.interfaces = [{ name: 'eth0', mac: 'AA-BB-CC-00-11-22' }];
    const ok = await api(admin).post('/api/v1/servers', s);
    expect(ok.status).toBe(201);
    expect(ok.json.interfaces[0].mac).toBe('aa:bb:cc:00:11:22');
  });

  it('DCImanager and v1 path and body parameters are validated', async () => {
    expect((await api(admin).get('/api/dci/v3/server/abc')).json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'id' } });
    expect((await api(admin).post('/api/dci/v3/user', { email: 'not-an-email', password: 'long-enough-1' })).json.error.details.field).toBe('email');
    expect((await api(admin).post('/api/dci/v3/server/1/owner', { owner: 'bob' })).json.error.details.field).toBe('owner');
    expect((await api(admin).get('/api/v1/servers?status=exploded')).json.error.details.field).toBe('status');
    expect((await api(admin).get('/api/v1/tasks/x')).status).toBe(400);
    const tok = await api(admin).post('/api/v1/tokens', { name: 'c', role: 'client' });
    expect(tok.json.error.details.field).toBe('owner_id');
    const before = (await api(admin).get('/api/v1/tokens')).json.list.length;
    expect((await api(admin).post('/api/v1/tokens', { name: 'x', role: 'root' })).status).toBe(400);
    expect((await api(admin).get('/api/v1/tokens')).json.list.length).toBe(before);
  });

  it('unknown routes are 404 with the error shape', async () => {
    const r = await api(admin).get('/api/v1/nothing-here');
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe('NOT_FOUND');
  });
});
