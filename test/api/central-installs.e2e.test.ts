// Issue 13 findings about installs and orders, through the real daemon on simulated BMCs: install input is
// checked before any task on every path; post_install_callback (signed, retried) on every deploy path, on success
// and failure — create_pxe included, when its installer reports; orders set their owner and give back a server
// they claimed when they fail; DCImanager's operation bodies and example values; tasks under /api/dci/v3.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startRackhand, type RackhandProcess } from '../harness/rackhand-process.js';
import { makeServers } from '../harness/fixtures.js';
import { ED25519 } from '../boot/templates/ssh-key-fixture.js';
import { startCallbackReceiver, type CallbackReceiver } from './callback-receiver.js';
import { finishedTask, until } from './until.js';

const STRONG = 'Str0ng-Pass!';
let rh: RackhandProcess;
let central: CallbackReceiver;
let admin: string;
let centralToken: string;
let bob: number;
let bobToken: string;
const api = (tok = admin) => apiClient(() => rh.url, tok);
const eq = (params: Record<string, string | number>, tok = admin) => api(tok).eq(params, tok);
const mac = (id: number) => makeServers(1, id)[0].interfaces[0].mac;


const task = async (id: number) => (await api().get(`/api/v1/tasks/${id}`)).json;
const finished = (id: number) => finishedTask((p) => api().get(p), id);
const taskCount = async () => (await api().get('/api/v1/tasks?limit=1')).json.total as number;
const freeCount = async () => (await api().get('/api/dci/v3/server/configuration')).json.list.reduce((n: number, c: any) => n + c.free_server_count, 0) as number;

/** What a booted installer does last: fetch its host's script for the callback URL, then call it. */
async function installerReports(serverId: number, query = '') {
  await until(`server ${serverId} to be armed`, async () => (await api().get(`/api/v1/servers/${serverId}/netboot`)).json.armed);
  const script = await (await fetch(`${rh.url}/boot/ipxe/${mac(serverId)}`)).text();
  const url = /rackhand\.callback=(\S+)/.exec(script)?.[1];
  expect(url, script).toBeTruthy();
  const r = await fetch(url! + query);
  expect(r.status, await r.text()).toBe(200);
}

beforeAll(async () => {
  central = await startCallbackReceiver();
  rh = await startRackhand({
    // operation_diag and the wipes boot the ramdisk: its files must be in the store
    placeholderImages: ['rackhand-ramdisk'],
    config: {
      bmc: { simulatedDelayMs: 5, powerPollMs: 50, sync: { enabled: false } },
      sensors: { enabled: false },
      boot: { installTimeoutMs: 60_000, rebootGraceMs: 0, verifyClient: 'off' },
      central: { callbackHosts: [central.host], callbackAttempts: 3, callbackBackoffMs: 50 },
    },
  });
  admin = rh.cli(['token', 'create', '--role', 'admin']).stdout.trim();
  centralToken = rh.cli(['token', 'create', '--role', 'central']).stdout.trim();
  bob = (await api().post('/api/dci/v3/user', { email: 'bob@example.com', password: 'bob-password-1' })).json.id;
  bobToken = (await api().post('/api/v1/tokens', { name: 'bob', role: 'client', owner_id: bob })).json.token;
  expect((await api().post('/api/dci/v3/user', { email: 'carol@example.com', password: 'carol-password-1' })).status).toBe(200);
  const servers = makeServers(60).map((s) => ({ ...s, status: 'free', owner_id: undefined, preset: s.id > 50 ? 'order' : 'fixed' }));
  expect((await api().post('/api/v1/servers/import', servers)).status).toBe(200);
});
afterAll(async () => {
  await rh?.cleanup();
  await central?.close();
});

describe('install input is checked before any task, on every path', () => {
  const bad = [
    { field: 'ssh_key', value: 'not-a-key' },
    { field: 'hostname', value: 'bad_host!' },
    { field: 'post_install_callback', value: 'ftp://203.0.113.9/done' },
    { field: 'root_pass', value: 'weak' },
  ];
  const paths: { name: string; send(field: string, value: string): Promise<{ status: number; json: any }>; dciName?: Record<string, string> }[] = [
    { name: 'eq create_pxe', send: (f, v) => eq({ action: 'create_pxe', id: 10, os_id: 900, root_pass: STRONG, [f]: v }) },
    { name: 'eq reinstall', send: (f, v) => eq({ action: 'reinstall', id: 10, os_id: 900, root_pass: STRONG, [f]: v }) },
    { name: 'eq order_instance with id', send: (f, v) => eq({ action: 'order_instance', id: 10, location_name: 'site-1', os_id: 900, root_pass: STRONG, email: 'bob@example.com', [f]: v }) },
    { name: 'eq order_instance', send: (f, v) => eq({ action: 'order_instance', preset: 'order', location_name: 'site-1', os_id: 900, root_pass: STRONG, email: 'bob@example.com', [f]: v }) },
    { name: 'v1 reinstall', send: (f, v) => api().post('/api/v1/servers/10/reinstall', { os_id: 900, root_pass: STRONG, [f]: v }) },
    {
      name: 'DCImanager operation_os',
      dciName: { ssh_key: 'ssh_pub_keys', root_pass: 'password', hostname: 'hostname' },
      send: (f, v) => {
        const body: Record<string, unknown> = { os_template_id: 900, password: STRONG };
        if (f === 'ssh_key') body.ssh_pub_keys = [v];
        else if (f === 'root_pass') body.password = v;
        else body[f] = v;
        return api().post('/api/dci/v3/server/10/operation_os', body);
      },
    },
  ];
  for (const p of paths) {
    it(`${p.name}: a bad ssh key, host name, callback URL or weak root password is a 400 naming it; no task, nothing claimed`, async () => {
      const before = [await taskCount(), await freeCount()];
      for (const b of bad) {
        if (p.dciName && !(b.field in p.dciName)) continue; // operation_os has no post_install_callback
        const r = await p.send(b.field, b.value);
        const field = p.dciName?.[b.field] ?? b.field;
        expect(r.status, `${p.name} ${b.field}: ${JSON.stringify(r.json)}`).toBe(400);
        expect(r.json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field } });
      }
      expect([await taskCount(), await freeCount()]).toEqual(before);
    });
  }

  it('the root password policy error says what the policy is, also for the seed placeholder "pass"', async () => {
    const r = await api().post('/api/dci/v3/server/10/operation_os', { os_template_id: 900, password: 'pass' });
    expect(r.json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'password' } });
    expect(r.json.error.message).toMatch(/8\+ characters with an upper-case letter, a digit and a special character/);
    const user = await api().post('/api/dci/v3/user', { email: 'p@example.com', password: 'pass' });
    expect(user.json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'password' } });
    expect(user.json.error.message).toMatch(/at least 8 characters/);
  });
});

describe('post_install_callback', () => {
  const key = () => Buffer.from(rh.cli(['callback-key']).stdout.trim(), 'hex');
  const verify = (cb: { headers: Record<string, unknown>; body: string }) => {
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(cb.headers['x-rackhand-signature']));
    expect(m, String(cb.headers['x-rackhand-signature'])).toBeTruthy();
    expect(m![2]).toBe(createHmac('sha256', key()).update(`${m![1]}.${cb.body}`).digest('hex'));
    expect(cb.headers['content-type']).toBe('application/json');
  };

  it('only http(s), and only to central.callbackHosts unless an admin asks', async () => {
    const other = 'http://203.0.113.9/done';
    const byCentral = await eq({ action: 'reinstall', id: 11, os_id: 900, root_pass: STRONG, post_install_callback: other, imitate_deploy: 1 }, centralToken);
    expect(byCentral.status).toBe(403);
    expect(byCentral.json.error).toMatchObject({ code: 'FORBIDDEN', details: { field: 'post_install_callback' } });
    const byAdmin = await eq({ action: 'reinstall', id: 11, os_id: 900, root_pass: STRONG, post_install_callback: other, imitate_deploy: 1 });
    expect(byAdmin.status, JSON.stringify(byAdmin.json)).toBe(200);
    await finished(byAdmin.json.task);
  });

  it('reinstall: signed, retried after a failed attempt, status ok', async () => {
    central.failNext(1);
    const r = await eq({ action: 'reinstall', id: 12, os_id: 900, root_pass: STRONG, post_install_callback: central.url('/cb/12') }, centralToken);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    await installerReports(12);
    const got = await central.delivered('/cb/12');
    expect(got.map((c) => c.answered)).toEqual([500, 204]);
    expect(got[1].json).toMatchObject({ server_id: 12, task: r.json.task, os_id: 'rackhand-test', status: 'ok' });
    verify(got[1]);
    expect((await finished(r.json.task)).state).toBe('succeeded');
  });

  it('reinstall that fails: the callback says failed, with the code and the installer\'s reason', async () => {
    const r = await eq({ action: 'reinstall', id: 13, os_id: 900, root_pass: STRONG, post_install_callback: central.url('/cb/13') }, centralToken);
    await installerReports(13, '?status=failed&code=DISK_MISSING&reason=no%20disk%20found');
    const [cb] = await central.delivered('/cb/13');
    expect(cb.json).toMatchObject({ server_id: 13, task: r.json.task, status: 'failed', code: 'INSTALL_FAILED' });
    expect(cb.json.reason).toContain('no disk found');
    verify(cb);
  });

  it('create_pxe: the callback goes out when the armed host\'s installer reports, ok or failed', async () => {
    const ok = await eq({ action: 'create_pxe', id: 14, os_id: 900, root_pass: STRONG, post_install_callback: central.url('/cb/14') }, centralToken);
    expect((await finished(ok.json.task)).state).toBe('succeeded');
    expect(central.received.filter((c) => c.path === '/cb/14')).toEqual([]);
    await installerReports(14);
    const [cb] = await central.delivered('/cb/14');
    expect(cb.json).toMatchObject({ server_id: 14, task: ok.json.task, os_id: 'rackhand-test', status: 'ok' });
    verify(cb);
    const sent = (await api().get('/api/v1/tasks?server=14&kind=install_callback')).json.tasks;
    expect(sent).toHaveLength(1);
    expect((await finished(sent[0].id)).state).toBe('succeeded');

    const bad = await eq({ action: 'create_pxe', id: 15, os_id: 900, root_pass: STRONG, post_install_callback: central.url('/cb/15') }, centralToken);
    await finished(bad.json.task);
    await installerReports(15, '?status=failed&code=IMAGE_CORRUPT&reason=checksum%20mismatch');
    const [failed] = await central.delivered('/cb/15');
    expect(failed.json).toMatchObject({ server_id: 15, task: bad.json.task, status: 'failed', code: 'IMAGE_CORRUPT', reason: 'checksum mismatch' });
  });

  it('an imitated deploy calls back too, ok or failed', async () => {
    const ok = await eq({ action: 'reinstall', id: 16, os_id: 900, root_pass: STRONG, imitate_deploy: 1, post_install_callback: central.url('/cb/16') });
    expect((await central.delivered('/cb/16'))[0].json).toMatchObject({ task: ok.json.task, status: 'ok' });
    const bad = await eq({ action: 'reinstall', id: 17, os_id: 900, root_pass: STRONG, imitate_error: 1, post_install_callback: central.url('/cb/17') });
    expect((await central.delivered('/cb/17'))[0].json).toMatchObject({ task: bad.json.task, status: 'failed', code: 'BOOT_ERROR' });
  });
});

describe('order_instance: the owner, and the free pool', () => {
  const order = (extra: Record<string, string | number>, tok = centralToken) =>
    eq({ action: 'order_instance', preset: 'order', location_name: 'site-1', os_id: 900, root_pass: STRONG, imitate_deploy: 1, ...extra }, tok);

  it('a central token names the owner with email; the claimed server is the owner\'s, rent', async () => {
    const r = await order({ email: 'bob@example.com' });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect((await finished(r.json.task)).state).toBe('succeeded');
    expect((await api().get(`/api/dci/v3/server/${r.json.id}`)).json).toMatchObject({ status: 'rent', owner: { id: bob, email: 'bob@example.com' } });
    expect((await eq({ action: 'list' }, bobToken)).json.list.map((s: any) => s.id)).toContain(r.json.id);
  });

  it('without an owner it is refused; an unknown email is not found; a client cannot order for someone else', async () => {
    expect((await order({})).json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'email' } });
    expect((await order({ email: 'nobody@example.com' })).json.error).toMatchObject({ code: 'NOT_FOUND', details: { field: 'email' } });
    expect((await order({ email: 'carol@example.com' }, bobToken)).json.error).toMatchObject({ code: 'FORBIDDEN', details: { field: 'email' } });
  });

  it('a failed order gives the server back to the free pool', async () => {
    const before = await freeCount();
    const r = await order({ email: 'bob@example.com', imitate_error: 1 });
    expect(r.status).toBe(200);
    expect(await freeCount()).toBe(before - 1);
    expect((await finished(r.json.task)).state).toBe('failed');
    expect((await api().get(`/api/dci/v3/server/${r.json.id}`)).json).toMatchObject({ status: 'free', owner: null });
    expect(await freeCount()).toBe(before);
  });

  it('with an id: preset and location must match; a free server is claimed for the owner and given back on failure', async () => {
    const base = { action: 'order_instance', id: 20, location_name: 'site-1', os_id: 900, root_pass: STRONG, imitate_deploy: 1 };
    expect((await eq({ ...base, preset: 'order', email: 'bob@example.com' })).json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'preset' } });
    expect((await eq({ ...base, location_name: 'Tokyo-9', email: 'bob@example.com' })).json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'location_name' } });
    const ok = await eq({ ...base, preset: 'fixed', location_name: 'FRA1', email: 'bob@example.com' });
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    await finished(ok.json.task);
    expect((await api().get('/api/dci/v3/server/20')).json).toMatchObject({ status: 'rent', owner: { id: bob } });
    expect((await eq({ ...base, email: 'carol@example.com' })).json.error).toMatchObject({ code: 'CONFLICT' });
    const failed = await eq({ ...base, id: 21, email: 'bob@example.com', imitate_error: 1, imitate_deploy: 0 });
    expect((await finished(failed.json.task)).state).toBe('failed');
    expect((await api().get('/api/dci/v3/server/21')).json).toMatchObject({ status: 'free', owner: null });
  });
});

describe('DCImanager operations: the seed\'s bodies and example values', () => {
  it('operation_diag: os_template_id 0 is the default diagnostics image, ipmi_pool is recorded, setup_ipmi and a wipe are refused with a stable code', async () => {
    const r = await api().post('/api/dci/v3/server/30/operation_diag', { setup_ipmi: false, ipmi_pool: 3, os_template_id: 0, clear_hdd: 'none' });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(await task(r.json.task)).toMatchObject({ kind: 'deploy', params: { purpose: 'diag', os_id: 'diagnostics', extra: { ipmi_pool: 3 } } });
    await api().post(`/api/v1/tasks/${r.json.task}/cancel`);
    await finished(r.json.task);
    const ipmi = await api().post('/api/dci/v3/server/30/operation_diag', { setup_ipmi: true, os_template_id: 0 });
    expect(ipmi.status).toBe(501);
    expect(ipmi.json.error).toMatchObject({ code: 'NOT_IMPLEMENTED', details: { field: 'setup_ipmi' } });
    const wipe = await api().post('/api/dci/v3/server/30/operation_diag', { os_template_id: 0, clear_hdd: 'zero' });
    expect(wipe.json.error).toMatchObject({ code: 'NOT_IMPLEMENTED', details: { field: 'clear_hdd' } });
  });

  it('operation_os: hdd_raid none, raid1 and raid10 choose the disk layout; anything else is refused naming the choices', async () => {
    for (const [id, raid, mirror] of [[31, 'none', undefined], [32, 'raid1', 1], [33, 'raid10', 10]] as const) {
      const r = await api().post(`/api/dci/v3/server/${id}/operation_os`, { os_template_id: 900, password: STRONG, hdd_raid: raid, ssh_pub_keys: [ED25519] });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      const t = await task(r.json.task);
      expect(t.params.install.disk_mirror).toBe(mirror);
      expect(t.params.install.ssh_key).toBe(ED25519);
      await api().post(`/api/v1/tasks/${r.json.task}/cancel`);
      await finished(r.json.task);
    }
    const bad = await api().post('/api/dci/v3/server/34/operation_os', { os_template_id: 900, password: STRONG, hdd_raid: 'raid' });
    expect(bad.json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'hdd_raid' } });
    expect(bad.json.error.message).toMatch(/none, raid1 or raid10/);
  });

  it('operation_clear_hdd "none" answers {id, task}: a task that wipes nothing, boots nothing, and says so', async () => {
    const r = await api().post('/api/dci/v3/server/35/operation_clear_hdd', { clear_hdd: 'none' });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json).toEqual({ id: 35, task: expect.any(Number) });
    const t = await finished(r.json.task);
    expect(t).toMatchObject({ kind: 'noop', state: 'succeeded', result: { operation: 'clear_hdd', performed: false } });
    expect(t.steps.map((s: any) => s.message).join(' ')).toMatch(/no disk was wiped/);
    expect((await api().get('/api/v1/servers/35/netboot')).json).toEqual({ armed: false });
    expect((await api().get('/api/v1/servers/35')).json.status).toBe('free');
  });

  it('a task is reachable under /api/dci/v3: one task with its journal, and the list by server', async () => {
    const r = await api().post('/api/dci/v3/server/36/power_on', {});
    const t = await until('the power task to end', async () => {
      const x = (await api().get(`/api/dci/v3/task/${r.json.task}`)).json;
      return !['queued', 'running'].includes(x.status) && x;
    });
    expect(t).toMatchObject({ id: r.json.task, name: 'power', server_id: 36, status: 'succeeded', status_info: {} });
    expect(t.progress_info.length).toBeGreaterThan(0);
    const list = (await api().get('/api/dci/v3/task?server=36')).json;
    expect(list).toMatchObject({ size: 1, list: [{ id: r.json.task }] });
    expect((await api(bobToken).get(`/api/dci/v3/task/${r.json.task}`)).status).toBe(404);
  });

  it('eq clear_pxe records the hostname it was given with its task', async () => {
    const r = await eq({ action: 'clear_pxe', id: 37, hostname: 'web-37.example.com' });
    expect(await finished(r.json.task)).toMatchObject({ kind: 'clear_pxe', state: 'succeeded', params: { hostname: 'web-37.example.com' } });
  });
});
