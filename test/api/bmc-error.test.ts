// What the page needs of the API, on the real agent: power.bmcError (and eq status bmc_error) names the last BMC
// failure — set by the sweep and by tasks, null after a success — and a fresh sensor read is stored in the history.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSite, type TestSite } from '../web/test-site.js';

let site: TestSite;

async function call(method: string, p: string, body?: unknown) {
  const r = await fetch(site.url + p, {
    method,
    headers: { authorization: `Bearer ${site.tokens.admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
}
const power = async (id: number) => (await call('GET', `/api/v1/servers/${id}`)).json.power;
const eqStatus = async (id: number) =>
  (await (await fetch(`${site.url}/api/eq`, { method: 'POST', body: new URLSearchParams({ action: 'status', id: String(id), token: site.tokens.admin }) })).json());
async function taskEnd(id: number) {
  await expect.poll(async () => (await call('GET', `/api/v1/tasks/${id}`)).json.state, { timeout: 15_000 }).toMatch(/succeeded|failed/);
  return (await call('GET', `/api/v1/tasks/${id}`)).json;
}

beforeAll(async () => {
  site = await startTestSite();
});
afterAll(async () => site?.close());

describe('power.bmcError', () => {
  it('a server never talked to has none; a wrong password is BMC_AUTH_FAILED after the sweep, in v1 and eq status', async () => {
    expect(await power(1010)).toEqual({ state: 'unknown', readAt: null, bmcReachable: null, bmcError: null });
    const bmc = site.bmcOf(1010);
    bmc.users = [bmc.users[0], { id: 2, name: 'ADMIN', password: 'changed-on-the-bmc', enabled: true, privilege: 'administrator' }];
    await site.agent.parts.powerSync.syncOnce();
    expect(await power(1010)).toMatchObject({ bmcError: 'BMC_AUTH_FAILED' });
    expect(await eqStatus(1010)).toMatchObject({ result: 'OK', server_id: 1010, bmc_error: 'BMC_AUTH_FAILED' });
  });

  it('a BMC task sets it too; fixing the credentials and a successful task clear it', async () => {
    const t = await call('POST', '/api/v1/servers/1010/power', { action: 'on' });
    expect((await taskEnd(t.json.id)).error.code).toBe('BMC_AUTH_FAILED');
    expect((await power(1010)).bmcError).toBe('BMC_AUTH_FAILED');
    // the admin corrects the stored password (a merge: only the password changes)
    expect((await call('PUT', '/api/v1/servers/1010', { bmc: { password: 'changed-on-the-bmc' } })).status).toBe(200);
    const ok = await call('POST', '/api/v1/servers/1010/power', { action: 'on' });
    expect((await taskEnd(ok.json.id)).state).toBe('succeeded');
    expect(await power(1010)).toMatchObject({ state: 'on', bmcReachable: true, bmcError: null });
    expect((await eqStatus(1010)).bmc_error).toBeNull();
  });

  it('an unreachable BMC is BMC_UNREACHABLE, a refused login stays told apart from it', async () => {
    site.driver.injectFault(site.bmcKey(1009), { kind: 'unreachable' });
    try {
      await site.agent.parts.powerSync.syncOnce();
      expect(await power(1009)).toMatchObject({ bmcReachable: false, bmcError: 'BMC_UNREACHABLE' });
    } finally {
      site.driver.clearFaults(site.bmcKey(1009));
    }
    await site.agent.parts.powerSync.syncOnce();
    expect(await power(1009)).toMatchObject({ bmcReachable: true, bmcError: null });
  });

  it('an unchanged outcome is not written again: a second sweep of healthy BMCs changes no bmc_error', () => {
    const db = site.agent.db;
    const changes = () => (db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
    site.agent.repos.servers.recordBmcError(1001, null);
    const before = changes();
    for (let i = 0; i < 5; i++) site.agent.repos.servers.recordBmcError(1001, null);
    expect(changes()).toBe(before);
    site.agent.repos.servers.recordBmcError(1001, 'BMC_TIMEOUT');
    expect(changes()).toBe(before + 1);
    site.agent.repos.servers.recordBmcError(1001, null);
  });
});

describe('GET /servers/:id/sensors', () => {
  it('the fresh read is stored in the sensor history at its read time', async () => {
    const countBefore = site.agent.repos.sensors.count(1002);
    const r = await call('GET', '/api/v1/servers/1002/sensors');
    expect(r.status).toBe(200);
    expect(site.agent.repos.sensors.count(1002)).toBe(countBefore + r.json.sensors.length);
    const h = await call('GET', '/api/v1/servers/1002/sensors/history?hours=1');
    const inlet = h.json.sensors.find((s: any) => s.name === 'Inlet Temp');
    expect(inlet.points.at(-1)).toEqual({ at: r.json.read_at, value: 83, status: 'warning' });
  });
});
