// Install-type operations through the real daemon on simulated BMCs: DCImanager operation_os / _diag /
// _clear_hdd, eq create_pxe / clear_pxe, order_instance (atomic claim), imitate_deploy / imitate_error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startRackhand, type RackhandProcess } from '../harness/rackhand-process.js';
import { makeServers } from '../harness/fixtures.js';
import { finishedTask } from './until.js';

let rh: RackhandProcess;
let admin: string;
let clientToken: string;
let ownerId: number;
const api = (tok = admin) => apiClient(() => rh.url, tok);

const waitTask = (id: number) => finishedTask((p) => api().get(p), id);

beforeAll(async () => {
  rh = await startRackhand({
    config: { bmc: { simulatedDelayMs: 5, powerPollMs: 50, sync: { enabled: false } }, boot: { installTimeoutMs: 1500, rebootGraceMs: 0 } },
    placeholderImages: ['rackhand-ramdisk'],
  });
  admin = rh.cli(['token', 'create', '--role', 'admin']).stdout.trim();
  ownerId = (await api().post('/api/dci/v3/user', { email: 'bob@example.com', password: 'bob-password-1' })).json.id;
  clientToken = (await api().post('/api/v1/tokens', { name: 'bob', role: 'client', owner_id: ownerId })).json.token;
  const servers = makeServers(12).map((s) => ({ ...s, status: 'free', owner_id: undefined, preset: s.id <= 6 ? 'small' : 'big' }));
  expect((await api().post('/api/v1/servers/import', servers)).status).toBe(200);
});
afterAll(async () => rh?.cleanup());

describe('DCImanager operations', () => {
  it.each([
    ['operation_os', { os_template_id: 900, password: 'Str0ng-Pass!', ssh_pub_keys: [] }, 'install', 'rackhand-test'],
    ['operation_diag', { os_template_id: 901 }, 'diag', 'diagnostics'],
    ['operation_clear_hdd', { clear_hdd: 'zero' }, 'wipe', 'disk-wipe'],
  ])('%s answers {id, task}; with no installer callback the deploy fails BOOT_ERROR and leaves the host disarmed on disk', async (op, body, purpose, os) => {
    const id = { operation_os: 1, operation_diag: 2, operation_clear_hdd: 3 }[op]!;
    const r = await api().post(`/api/dci/v3/server/${id}/${op}`, body);
    expect(r.status, r.text).toBe(200);
    expect(r.json).toEqual({ id, task: expect.any(Number) });
    const t = await waitTask(r.json.task);
    expect(t).toMatchObject({ kind: 'deploy', state: 'failed', error: { code: 'BOOT_ERROR' }, params: { purpose, os_id: os } });
    const names = t.steps.map((s: any) => s.name);
    expect(names).toEqual(expect.arrayContaining([`arm netboot (${purpose})`, 'power on or reset into the network boot', 'cleanup: disarm netboot', 'cleanup: boot device disk']));
    expect(JSON.stringify(t)).not.toContain('Str0ng-Pass!');
    expect((await api().get(`/api/v1/servers/${id}/netboot`)).json).toEqual({ armed: false });
    expect((await api().get(`/api/v1/servers/${id}`)).json.status).toBe('free');
  });

  it('a cancelled deploy is cancelled, disarmed and set to boot from disk', async () => {
    const r = await api().post('/api/dci/v3/server/4/operation_os', { os_template_id: 900, password: 'Str0ng-Pass!' });
    for (let i = 0; i < 100 && !(await api().get('/api/v1/servers/4/netboot')).json.armed; i++) await new Promise((res) => setTimeout(res, 20));
    const c = await api().post(`/api/v1/tasks/${r.json.task}/cancel`);
    expect(c.status, c.text).toBe(200);
    const t = await waitTask(r.json.task);
    expect(t).toMatchObject({ state: 'cancelled', error: { code: 'TASK_CANCELLED' } });
    expect(t.steps.filter((s: any) => s.name.startsWith('cleanup:')).map((s: any) => `${s.name} ${s.message}`)).toEqual([
      'cleanup: disarm netboot done',
      'cleanup: boot device disk done',
    ]);
    expect((await api().get('/api/v1/servers/4/netboot')).json).toEqual({ armed: false });
  });

  it('validates their bodies', async () => {
    const bad = await api().post('/api/dci/v3/server/5/operation_clear_hdd', { clear_hdd: 'shred-everything' });
    expect(bad.json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'clear_hdd' } });
    const os = await api().post('/api/dci/v3/server/5/operation_os', { os_template_id: 900 });
    expect(os.json.error.details.field).toBe('password');
    // errors name the DCImanager parameter the caller sent, not rackhand's own name for it
    const unknownOs = await api().post('/api/dci/v3/server/5/operation_os', { os_template_id: 12345, password: 'Str0ng-Pass!' });
    expect(unknownOs.json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'os_template_id' } });
    expect(unknownOs.json.error.message).toContain('12345');
    expect((await api().get('/api/v1/tasks?server=5')).json.total).toBe(0);
  });
});

describe('eq install actions', () => {
  it('create_pxe arms (root password only as a SHA-512 crypt hash), clear_pxe disarms', async () => {
    const r = await api().eq({ action: 'create_pxe', id: 5, os_id: 900, root_pass: 'Pl4in-Text-Pw', hostname: 'web-5' }, admin);
    expect((await waitTask(r.json.task)).state).toBe('succeeded');
    expect((await api().get('/api/v1/servers/5/netboot')).json).toMatchObject({ armed: true, purpose: 'install', osId: 'rackhand-test' });
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(`${rh.stateDir}/rackhand.db`, { readonly: true });
    const row = db.prepare('SELECT params FROM netboot WHERE server_id = 5').get() as { params: string };
    db.close();
    expect(row.params).toMatch(/"root_password_hash":"\$6\$/);
    expect(row.params).not.toContain('Pl4in-Text-Pw');
    const c = await api().eq({ action: 'clear_pxe', id: 5 }, admin);
    expect((await waitTask(c.json.task)).state).toBe('succeeded');
    expect((await api().get('/api/v1/servers/5/netboot')).json).toEqual({ armed: false });
  });

  it('create_pxe refuses what would inject into a boot script at once, before any task', async () => {
    const before = (await api().get('/api/v1/tasks?server=5')).json.total;
    const r = await api().eq({ action: 'create_pxe', id: 5, os_id: 900, root_pass: 'Str0ng-Pass!', hostname: 'a\ninitrd=evil' }, admin);
    expect(r.status, r.text).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'hostname' } });
    expect((await api().get('/api/v1/tasks?server=5')).json.total).toBe(before);
    expect((await api().get('/api/v1/servers/5/netboot')).json).toEqual({ armed: false });
  });

  it('reinstall enforces the seed\'s password policy', async () => {
    const r = await api().eq({ action: 'reinstall', id: 6, os_id: 900, root_pass: 'weak' }, admin);
    expect(r.json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'root_pass' } });
  });

  it('imitate_deploy runs the steps without hardware; imitate_error fails with its code', async () => {
    const ok = await api().eq({ action: 'reinstall', id: 6, os_id: 900, root_pass: 'Str0ng-Pass!', imitate_deploy: 1 }, admin);
    expect(await waitTask(ok.json.task)).toMatchObject({ state: 'succeeded', result: { imitated: true } });
    const bad = await api().eq({ action: 'reinstall', id: 6, os_id: 900, root_pass: 'Str0ng-Pass!', imitate_error: 1 }, admin);
    expect(await waitTask(bad.json.task)).toMatchObject({ state: 'failed', error: { code: 'BOOT_ERROR' } });
  });

  it('order_instance claims free servers of the preset atomically, never one twice, for the caller\'s owner', async () => {
    const order = () =>
      api(clientToken).eq({ action: 'order_instance', preset: 'big', location_name: 'site-1', os_id: 900, root_pass: 'Str0ng-Pass!', imitate_deploy: 1 }, clientToken);
    const replies = await Promise.all(Array.from({ length: 8 }, order));
    const won = replies.filter((r) => r.status === 200).map((r) => r.json.id);
    const lost = replies.filter((r) => r.status !== 200);
    expect(new Set(won).size).toBe(won.length);
    expect(won.sort((a, b) => a - b)).toEqual([7, 8, 9, 10, 11, 12]);
    expect(lost).toHaveLength(2);
    for (const r of lost) expect(r.json.error.code).toBe('NO_FREE_SERVER');
    for (const r of replies.filter((x) => x.status === 200)) expect((await waitTask(r.json.task)).state).toBe('succeeded');
    const mine = await api(clientToken).eq({ action: 'list' }, clientToken);
    expect(mine.json.list.map((s: any) => s.id)).toEqual([7, 8, 9, 10, 11, 12]);
    expect(mine.json.list.every((s: any) => s.status === 'rent')).toBe(true);
  });
});
