// Inventory writes on the real agent: imports merge by default (a partial row keeps everything it does not give),
// replace only when asked, a dry run diffs without writing, errors name the item, its id, the field and the value;
// a server read with GET goes back with PUT as it is, and PUT changes only what it is given.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSite, type TestSite } from '../web/test-site.js';
import { BMC_TEST_PASSWORD, makeServers } from '../harness/fixtures.js';

let site: TestSite;

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(site.url + path, {
    method,
    headers: { authorization: `Bearer ${site.tokens.admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

const get = async (id: number) => (await call('GET', `/api/v1/servers/${id}`)).json;
/** What the inventory holds of a server, without the fields every write touches. */
const inventoryOf = (s: any) => {
  const { updatedAt: _u, netboot: _n, ...rest } = s;
  return rest;
};

beforeAll(async () => {
  site = await startTestSite();
  // Full records with status, rack, hardware, interfaces, BMC and console.
  const r = await call('POST', '/api/v1/servers/import', makeServers(6, 501).map((s) => ({ ...s, status: 'maintenance' })));
  expect(r.status).toBe(200);
});
afterAll(async () => site?.close());

describe('import: merge by default', () => {
  it('re-importing a partial row for an existing server keeps its rack, interfaces, hardware, status and BMC', async () => {
    const before = await get(501);
    const r = await call('POST', '/api/v1/servers/import', [{ id: 501, name: 'srv-501-renamed', rack_position: 12 }]);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json).toEqual({ created: 0, updated: 1 });
    const after = await get(501);
    expect(inventoryOf(after)).toEqual({ ...inventoryOf(before), name: 'srv-501-renamed', rackPosition: 12 });
    // the interface rows themselves stayed (their ids too), and the BMC password still opens the BMC
    expect(after.interfaces).toEqual(before.interfaces);
    expect(site.agent.repos.servers.bmcTarget(501).password).toBe(BMC_TEST_PASSWORD);
  });

  it('a row of a new server still needs what a new server needs, and gets the defaults', async () => {
    const bad = await call('POST', '/api/v1/servers/import', [{ id: 601, rack: 'R1' }]);
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: '0.name', item: 1, id: 601 } });
    const ok = await call('POST', '/api/v1/servers/import', [{ id: 601, name: 'fresh' }]);
    expect(ok.json).toEqual({ created: 1, updated: 0 });
    expect(await get(601)).toMatchObject({ status: 'free', type: 'Server', rack: '', interfaces: [], bmc: null });
  });

  it('mode=replace: the fields a row does not give take their defaults', async () => {
    const r = await call('POST', '/api/v1/servers/import?mode=replace', [{ id: 502, name: 'srv-502', rack: 'R7' }]);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(await get(502)).toMatchObject({ rack: 'R7', status: 'free', hardware: [], interfaces: [], bmc: null, console: null, rackPosition: null });
  });

  it('dry_run=1: the diff per server, passwords only as changed, and nothing written', async () => {
    const before = await get(503);
    const r = await call('POST', '/api/v1/servers/import?dry_run=1', [
      { id: 503, rack: 'R9', bmc: { password: 'a-new-Secret-1' } },
      { id: 504 },
      { id: 504.5 }, // no: ids are integers
    ]);
    expect(r.status).toBe(400);
    expect(r.json.error.details).toMatchObject({ field: '2.id', item: 3, value: 504.5 });

    const dry = await call('POST', '/api/v1/servers/import?dry_run=1', [
      { id: 503, rack: 'R9', bmc: { password: 'a-new-Secret-1' } },
      { id: 504, bmc: { password: BMC_TEST_PASSWORD } },
      { id: 602, name: 'would-be-new' },
    ]);
    expect(dry.status, JSON.stringify(dry.json)).toBe(200);
    expect(dry.json).toMatchObject({ dry_run: true, mode: 'merge', created: 1, updated: 1, unchanged: 1 });
    const [a, b, c] = dry.json.servers;
    expect(a).toEqual({
      id: 503,
      name: 'srv-503',
      action: 'update',
      changes: [
        { field: 'rack', from: before.rack, to: 'R9' },
        { field: 'bmc.password', from: '(stored)', to: '(new value)' },
      ],
    });
    // the same password as stored: nothing to change
    expect(b).toEqual({ id: 504, name: 'srv-504', action: 'unchanged', changes: [] });
    expect(c).toMatchObject({ id: 602, action: 'create', changes: expect.arrayContaining([{ field: 'name', from: null, to: 'would-be-new' }]) });
    expect(JSON.stringify(dry.json)).not.toContain('a-new-Secret-1');
    expect(JSON.stringify(dry.json)).not.toContain(BMC_TEST_PASSWORD);
    // nothing was written
    expect(await get(503)).toEqual(before);
    expect((await call('GET', '/api/v1/servers/602')).status).toBe(404);
    expect(site.agent.repos.servers.bmcTarget(503).password).toBe(BMC_TEST_PASSWORD);
  });

  it('a dry run still finds what only the write would: a MAC another server has', async () => {
    const taken = (await get(501)).interfaces[0].mac;
    const r = await call('POST', '/api/v1/servers/import?dry_run=1', [{ id: 505, interfaces: [{ name: 'eth0', mac: taken }] }]);
    expect(r.status).toBe(409);
    expect(r.json.error.message).toMatch(/server 505: MAC .* already belongs to server 501/);
  });

  it('errors name the item number, its id, the field and the value, every problem at once, never a password', async () => {
    const r = await call('POST', '/api/v1/servers/import', [
      { id: 505, rack: 'R1' },
      { id: 506, status: 'sideways', bmc: { port: 'high', password: 'hunter2-Secret' } },
      { id: 505, name: 'again' },
      { id: 603, name: 'n', bmc_pasword: 'x' },
    ]);
    expect(r.status).toBe(400);
    const e = r.json.error;
    expect(e.message).toMatch(/^servers item 2 \(id 506\): status: expected one of .* \(got "sideways"\); 3 more problems in details\.problems; nothing was written$/);
    expect(e.details).toMatchObject({ field: '1.status', item: 2, id: 506, value: 'sideways' });
    expect(e.details.problems).toEqual([
      expect.objectContaining({ item: 2, id: 506, field: 'status', value: 'sideways' }),
      expect.objectContaining({ item: 2, id: 506, field: 'bmc.port', value: 'high' }),
      { item: 3, id: 505, field: 'id', message: 'id 505 appears twice (also item 1)', value: 505 },
      { item: 4, id: 603, field: 'bmc_pasword', message: 'unknown field' },
    ]);
    expect(JSON.stringify(r.json)).not.toContain('hunter2');
    expect((await get(505)).rack).not.toBe('R1');
  });
});

describe('a stored record today\'s rules refuse', () => {
  it('is still merged over, never silently replaced: the import names the stored field to fix', async () => {
    // e.g. written by an older rackhand that allowed control characters in names
    site.agent.db.prepare('UPDATE servers SET name = ? WHERE id = 505').run('old\u0001name');
    const before = await get(505);
    const r = await call('POST', '/api/v1/servers/import', [{ id: 505, rack: 'R5' }]);
    expect(r.status).toBe(400);
    expect(r.json.error.details).toMatchObject({ field: '0.name', item: 1, id: 505 });
    expect(await get(505)).toEqual(before);
    const fixed = await call('POST', '/api/v1/servers/import', [{ id: 505, rack: 'R5', name: 'srv-505' }]);
    expect(fixed.status).toBe(200);
    expect(inventoryOf(await get(505))).toEqual({ ...inventoryOf(before), name: 'srv-505', rack: 'R5' });
  });
});

describe('one server: GET, then PUT', () => {
  it('a server read with GET is accepted back by PUT as it is, and nothing changes', async () => {
    const read = await get(504);
    const put = await call('PUT', '/api/v1/servers/504', read);
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    expect(inventoryOf(put.json)).toEqual(inventoryOf(read));
    expect(site.agent.repos.servers.bmcTarget(504).password).toBe(BMC_TEST_PASSWORD);
  });

  it('PUT changes only what it is given: a field, the BMC password alone, camelCase names as GET spells them', async () => {
    const before = await get(506);
    const rack = await call('PUT', '/api/v1/servers/506', { rack: 'R42', rackPosition: 7 });
    expect(rack.status, JSON.stringify(rack.json)).toBe(200);
    expect(inventoryOf(rack.json)).toEqual({ ...inventoryOf(before), rack: 'R42', rackPosition: 7 });
    // an adopted host's BMC credentials: only the password, write-only
    const pw = await call('PUT', '/api/v1/servers/506', { bmc: { username: 'ops', password: 'Fresh-Secret-9' } });
    expect(pw.status).toBe(200);
    expect(pw.json.bmc).toEqual({ ...before.bmc, username: 'ops', passwordSet: true });
    expect(JSON.stringify(pw.json)).not.toContain('Fresh-Secret-9');
    expect(site.agent.repos.servers.bmcTarget(506)).toMatchObject({ username: 'ops', password: 'Fresh-Secret-9', host: before.bmc.host });
    // null removes an optional part
    const off = await call('PUT', '/api/v1/servers/506', { console: null, rack_position: null });
    expect(off.json).toMatchObject({ console: null, rackPosition: null, rack: 'R42' });
  });

  it('PUT refuses what it cannot take, naming it: another id, a name given twice differently, an unknown field', async () => {
    expect((await call('PUT', '/api/v1/servers/506', { id: 7 })).json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'id' } });
    const twice = await call('PUT', '/api/v1/servers/506', { rack_position: 1, rackPosition: 2 });
    expect(twice.json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'rack_position' } });
    const unknown = await call('PUT', '/api/v1/servers/506', { rak: 'R1' });
    expect(unknown.json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'rak' } });
    expect(unknown.json.error.message).toBe('server 506: rak: unknown field; nothing was written');
  });
});

describe('garbage', () => {
  // Records shaped like servers, with any value in any field (and unknown fields, camelCase spellings, nulls).
  const field = fc.constantFrom('id', 'name', 'status', 'rack', 'rackPosition', 'rack_position', 'bmc', 'console', 'interfaces', 'hardware', 'owner_id', 'power', 'os', 'x');
  const item = fc.oneof(
    fc.jsonValue({ maxDepth: 4 }),
    fc.dictionary(field, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }),
    fc.record({ id: fc.constantFrom(501, 502, 503, 700), bmc: fc.dictionary(fc.constantFrom('host', 'port', 'password', 'passwordSet', 'x'), fc.jsonValue({ maxDepth: 2 })) }, { requiredKeys: ['id'] }),
  );

  it('imports and PUTs of anything: a 2xx, or a 4xx in the error shape naming what is wrong — never a 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(item, { maxLength: 4 }), fc.boolean(), async (items, dry) => {
        const r = await call('POST', `/api/v1/servers/import?dry_run=${dry ? 1 : 0}`, items);
        expect([200, 400, 409], JSON.stringify(r.json)).toContain(r.status);
        if (r.status !== 200) expect(r.json.error).toMatchObject({ code: expect.stringMatching(/^(INVALID_INPUT|CONFLICT)$/), message: expect.any(String) });
        const put = await call('PUT', '/api/v1/servers/503', items[0] ?? {});
        expect([200, 400, 409], JSON.stringify(put.json)).toContain(put.status);
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});
