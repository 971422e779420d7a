// Tasks across a crash: per-server exclusivity over HTTP, then kill -9 of the daemon mid-task and a restart —
// the task is settled (failed, TASK_INTERRUPTED, journal readable), half-done netboot is undone, and the
// store passes PRAGMA integrity_check.
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startRackhand, type RackhandProcess } from '../harness/rackhand-process.js';
import { makeServers } from '../harness/fixtures.js';

let rh: RackhandProcess;
let admin: string;
const api = () => apiClient(() => rh.url, admin);

async function waitFor<T>(fn: () => Promise<T | undefined>, what: string, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  // A slow simulated BMC: every command takes 2 s, so tasks are caught mid-flight.
  rh = await startRackhand({ config: { bmc: { simulatedDelayMs: 2000, powerPollMs: 100, sync: { enabled: false } } } });
  admin = rh.cli(['token', 'create', '--role', 'admin']).stdout.trim();
  expect((await api().post('/api/v1/servers/import', makeServers(3).map((s) => ({ ...s, status: 'rent' })))).status).toBe(200);
});
afterAll(async () => rh?.cleanup());

describe('tasks', () => {
  it('one mutating task per server: a second is refused with SERVER_BUSY naming the running task', async () => {
    const first = await api().post('/api/v1/servers/1/power', { action: 'on' });
    expect(first.status).toBe(202);
    const second = await api().eq({ action: 'off', id: 1 }, admin);
    expect(second.status).toBe(409);
    expect(second.json.error).toMatchObject({ code: 'SERVER_BUSY', details: { task: first.json.id } });
    const other = await api().post('/api/v1/servers/2/power', { action: 'on' });
    expect(other.status).toBe(202);
    const listed = await api().get('/api/v1/tasks?state=running');
    expect(listed.json.tasks.map((t: any) => t.id)).toEqual(expect.arrayContaining([first.json.id, other.json.id]));
    await waitFor(async () => ((await api().get(`/api/v1/tasks/${first.json.id}`)).json.state === 'succeeded' ? true : undefined), 'first task');
    expect((await api().eq({ action: 'off', id: 1 }, admin)).status).toBe(200);
  });

  it('kill -9 mid-task, restart: tasks settled with their journal, netboot disarmed, store intact', async () => {
    const power = await api().post('/api/v1/servers/3/power', { action: 'on' });
    const deploy = await api().eq({ action: 'reinstall', id: 2, os_id: 900, root_pass: 'Str0ng-Pass!' }, admin);
    expect(deploy.status, deploy.text).toBe(200);
    // Wait until the deploy has armed netboot and is talking to the BMC.
    await waitFor(async () => ((await api().get('/api/v1/servers/2/netboot')).json.armed ? true : undefined), 'netboot armed');
    expect((await api().eq({ action: 'status', id: 2 }, admin)).json.status).toBe('deploying');

    await rh.kill9();
    await rh.restart();

    const p = (await api().get(`/api/v1/tasks/${power.json.id}`)).json;
    expect(p).toMatchObject({ state: 'failed', error: { code: 'TASK_INTERRUPTED' } });
    expect(p.steps.at(-1)).toMatchObject({ name: 'recovery', state: 'note' });
    const d = (await api().get(`/api/v1/tasks/${deploy.json.task}`)).json;
    expect(d).toMatchObject({ state: 'failed', error: { code: 'TASK_INTERRUPTED' } });
    expect(d.steps.map((s: any) => s.name)).toEqual(expect.arrayContaining(['arm netboot (install)', 'recovery']));
    expect(JSON.stringify(d)).not.toContain('Str0ng-Pass!');
    // Nothing left half-done: netboot disarmed, the server's status restored, and the server takes new tasks.
    expect((await api().get('/api/v1/servers/2/netboot')).json).toEqual({ armed: false });
    expect((await api().eq({ action: 'status', id: 2 }, admin)).json.status).toBe('rent');
    expect(rh.output()).toMatch(/tasks interrupted by the last stop/);
    // The host must not be left PXE-looping: once the BMC answers, its boot device is set back to disk.
    const follow = (await api().get('/api/v1/tasks?server=2&kind=boot_device')).json.tasks[0];
    expect(follow).toMatchObject({ requestedBy: `rackhand:recovery#${deploy.json.task}`, params: { device: 'disk', persistent: true } });
    const restored = await waitFor(async () => {
      const t = (await api().get(`/api/v1/tasks/${follow.id}`)).json;
      return t.state === 'running' || t.state === 'queued' ? undefined : t;
    }, 'boot device restored');
    expect(restored).toMatchObject({ state: 'succeeded', result: { device: 'disk' } });
    expect((await api().post('/api/v1/servers/2/power', { action: 'off' })).status).toBe(202);

    const db = new Database(`${rh.stateDir}/rackhand.db`, { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(db.prepare(`SELECT count(*) AS n FROM tasks WHERE state IN ('queued','running') AND id <= ?`).get(deploy.json.task)).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });

  it('a backup taken while the daemon runs is a consistent database', async () => {
    const out = `${rh.stateDir}/backup-test.db`;
    const r = rh.cli(['backup', out]);
    expect(r.code, r.stderr).toBe(0);
    const db = new Database(out, { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect((db.prepare('SELECT count(*) AS n FROM servers').get() as { n: number }).n).toBe(3);
    } finally {
      db.close();
    }
  });
});
