// The graceful stop, proven on the real daemon: SIGTERM while a deploy waits for its installer, a restart on the
// same state dir, and the deploy goes on — netboot still armed, the host's script still served — and completes
// when the installer calls back (the callback URL read from the host's own boot script, as the installer gets it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startRackhand, type RackhandProcess } from '../harness/rackhand-process.js';
import { DEPLOY_STEPS } from '../web/test-site.js';

const MAC = '52:54:00:5e:00:01';
const SERVER = 41;

let rh: RackhandProcess;
let admin: string;
const api = () => apiClient(() => rh.url, admin);

const task = async (id: number) => (await api().get(`/api/v1/tasks/${id}`)).json;
const startedSteps = (t: any): string[] => t.steps.filter((s: any) => s.state === 'started').map((s: any) => s.name);

/** The installer's callback URL, from the script rackhand serves the host (verifyClient off: any address may read it). */
async function callbackUrlFromScript(): Promise<string> {
  const script = await api().get(`/boot/ipxe/${MAC}`);
  expect(script.status, script.text).toBe(200);
  const m = /rackhand\.callback=(\S+)/.exec(script.text);
  expect(m, script.text).not.toBeNull();
  return m![1];
}

beforeAll(async () => {
  rh = await startRackhand({
    config: {
      bmc: { simulatedDelayMs: 20, powerPollMs: 100, sync: { enabled: false } },
      boot: { verifyClient: 'off', rebootGraceMs: 0, installTimeoutMs: 600_000 },
      tasks: { stopGraceMs: 5_000 },
    },
  });
  admin = rh.cli(['token', 'create', '--role', 'admin']).stdout.trim();
  const imp = await api().post('/api/v1/servers/import', [
    {
      id: SERVER,
      name: 'stop-1',
      status: 'rent',
      interfaces: [{ name: 'eth0', mac: MAC, ip: '10.77.0.41' }],
      bmc: { driver: 'simulated', host: '10.99.77.41', username: 'ADMIN', password: 'bmc-Secret-77' },
    },
  ]);
  expect(imp.status, imp.text).toBe(200);
});
afterAll(async () => rh?.cleanup());

describe('graceful stop (SIGTERM) during a deploy waiting for its installer', () => {
  it('the deploy survives the stop and a restart, then completes when the installer calls back', async () => {
    const r = await api().post(`/api/v1/servers/${SERVER}/reinstall`, { os_id: 900, root_pass: 'Str0ng-Pass!' });
    expect(r.status, r.text).toBe(202);
    const taskId = r.json.id as number;
    await expect.poll(async () => (await task(taskId)).waitingFor, { timeout: 30_000 }).toBe('installer report');
    const before = await callbackUrlFromScript();

    await rh.stop();
    expect(rh.child().exitCode, rh.output().slice(-2000)).toBe(0);
    expect(rh.output()).toMatch(/task suspended by the stop; it resumes at the next start/);
    await rh.restart();

    // Still the same deploy, still waiting, nothing undone: netboot armed, the server deploying.
    const resumed = await task(taskId);
    expect(resumed, JSON.stringify(resumed)).toMatchObject({ state: 'running', waitingFor: 'installer report', error: null });
    expect(resumed.steps.map((s: any) => s.name)).toEqual(expect.arrayContaining(['stop', 'recovery']));
    expect((await api().get(`/api/v1/servers/${SERVER}/netboot`)).json).toMatchObject({ armed: true, task: taskId });
    expect((await api().get(`/api/v1/servers/${SERVER}`)).json.status).toBe('deploying');
    expect(rh.output()).toMatch(/resumed a task that was waiting when rackhand stopped/);

    // The installer (which booted before the stop) calls back now: its URL is the one the host's script names.
    const url = await callbackUrlFromScript();
    // the same install token (the port is a new one: the test daemon listens on port 0)
    expect(new URL(url).pathname).toBe(new URL(before).pathname);
    const cb = await fetch(url.replace(/^http:\/\/[^/]+/, rh.url));
    expect(cb.status, await cb.text()).toBe(200);

    await expect.poll(async () => (await task(taskId)).state, { timeout: 30_000 }).toMatch(/succeeded|failed|cancelled/);
    const done = await task(taskId);
    expect(done.state, JSON.stringify(done, null, 1)).toBe('succeeded');
    expect(startedSteps(done)).toEqual(DEPLOY_STEPS);
    expect(done.steps.filter((s: any) => s.name === 'wait for installer callback').at(-1).state).toBe('succeeded');
    expect((await api().get(`/api/v1/servers/${SERVER}/netboot`)).json).toEqual({ armed: false });
    expect((await api().get(`/api/v1/servers/${SERVER}`)).json.status).toBe('rent');
    // The installer's token was single use.
    expect((await fetch(url.replace(/^http:\/\/[^/]+/, rh.url))).status).toBe(404);
  }, 120_000);
});
