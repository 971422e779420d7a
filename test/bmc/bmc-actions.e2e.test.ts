// BMC actions end to end: a real rackhand process drives real ipmi_sim BMCs through the eq RPC with both the
// native `ipmi` driver and the `ipmitool` driver; every effect is checked independently (the simulator's
// chassis hook files and a separate ipmitool session).
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startRackhand, type RackhandProcess } from '../harness/rackhand-process.js';
import { ipmitool, startSimFarm, type SimFarm } from '../harness/ipmi-sim.js';

let farm: SimFarm;
let rh: RackhandProcess;
let admin: string;
const api = (tok?: string) => apiClient(() => rh.url, tok);
const eq = (p: Record<string, string | number>) => api().eq(p, admin);

/** Server id → simulator index and driver. Servers 1-2 native, 3-4 ipmitool; 5 has a wrong password. */
const SERVERS = [
  { id: 1, sim: 0, driver: 'ipmi' },
  { id: 2, sim: 1, driver: 'ipmi' },
  { id: 3, sim: 2, driver: 'ipmitool' },
  { id: 4, sim: 3, driver: 'ipmitool' },
];

async function waitTask(id: number, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = (await api(admin).get(`/api/v1/tasks/${id}`)).json;
    if (!['queued', 'running'].includes(t.state)) return t;
    if (Date.now() > deadline) throw new Error(`task ${id} still ${t.state}: ${JSON.stringify(t.steps)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function eqTask(p: Record<string, string | number>) {
  const r = await eq(p);
  expect(r.status, r.text).toBe(200);
  expect(r.json).toMatchObject({ result: 'OK', task: expect.any(Number) });
  return { reply: r.json, task: await waitTask(r.json.task) };
}

beforeAll(async () => {
  farm = await startSimFarm({ count: 6, initialPower: 'off' });
  rh = await startRackhand({
    config: {
      bmc: {
        powerPollMs: 200,
        powerTimeoutMs: 15_000,
        bmcResetTimeoutMs: 5_000,
        sync: { enabled: false },
        scheduler: { operationTimeoutMs: 6_000, minSpacingMs: 10, busyRetries: 1, busyBackoffMs: 200, breakerThreshold: 50 },
      },
    },
  });
  admin = rh.cli(['token', 'create', '--role', 'admin']).stdout.trim();
  const servers = [
    // Servers 1 and 3 carry the seed's admin_ipmi tag: administrator BMC accounts may be made there only.
    ...SERVERS.map((s) => ({
      id: s.id,
      name: `bmc-${s.id}`,
      tags: s.id === 1 || s.id === 3 ? [{ tag: 'admin_ipmi', value: '1' }] : [],
      bmc: { driver: s.driver, host: '127.0.0.1', port: farm.bmcs[s.sim].port, username: 'admin', password: 'password' },
    })),
    { id: 5, name: 'wrong-pass', bmc: { driver: 'ipmi', host: '127.0.0.1', port: farm.bmcs[4].port, username: 'admin', password: 'not-the-password' } },
    { id: 6, name: 'faulty', bmc: { driver: 'ipmi', host: '127.0.0.1', port: farm.bmcs[5].port, username: 'admin', password: 'password' } },
    { id: 7, name: 'faulty-tool', bmc: { driver: 'ipmitool', host: '127.0.0.1', port: farm.bmcs[5].port, username: 'admin', password: 'password' } },
  ];
  expect((await api(admin).post('/api/v1/servers/import', servers)).status).toBe(200);
}, 120_000);

afterAll(async () => {
  await rh?.cleanup();
  await farm?.stop();
});

describe.each(SERVERS.filter((s) => s.id === 1 || s.id === 3))('eq actions with the $driver driver', ({ id, sim, driver }) => {
  const bmc = () => farm.bmcs[sim];

  it('on: powers on once and is confirmed; on again is a no-op, never a cycle', async () => {
    const { task } = await eqTask({ action: 'on', id });
    expect(task).toMatchObject({ state: 'succeeded', result: { power: 'on', changed: true } });
    expect(farm.powerState(sim)).toBe('on');
    expect((await ipmitool(bmc(), ['power', 'status'])).stdout).toMatch(/Chassis Power is on/);
    const before = farm.chassisLog(sim).length;
    const again = await eqTask({ action: 'on', id });
    expect(again.task).toMatchObject({ state: 'succeeded', result: { changed: false } });
    expect(farm.chassisLog(sim).length).toBe(before);
    expect(farm.chassisLog(sim).filter((l) => l === 'power 1')).toHaveLength(1);
    const st = await eq({ action: 'status', id });
    expect(st.json).toMatchObject({ power: 'on', bmc_reachable: true, power_read_at: expect.any(String) });
  });

  it('reboot: a reset, confirmed on', async () => {
    const resets = farm.resets(sim);
    const { task } = await eqTask({ action: 'reboot', id });
    expect(task.state).toBe('succeeded');
    expect(farm.resets(sim)).toBe(resets + 1);
    expect(farm.powerState(sim)).toBe('on');
  });

  it('boot_dev: pxe (uefi) then disk, read back and checked with ipmitool', async () => {
    const pxe = await eqTask({ action: 'boot_dev', id, media: 'pxe', boot_mode: 'uefi' });
    expect(pxe.task).toMatchObject({ state: 'succeeded', result: { device: 'pxe' } });
    expect(farm.bootDevice(sim)).toBe('pxe');
    expect((await ipmitool(bmc(), ['chassis', 'bootparam', 'get', '5'])).stdout).toMatch(/Force PXE/);
    const disk = await eqTask({ action: 'boot_dev', id, media: 'disk' });
    expect(disk.task.state).toBe('succeeded');
    expect(farm.bootDevice(sim)).toBe('default');
    expect((await ipmitool(bmc(), ['chassis', 'bootparam', 'get', '5'])).stdout).toMatch(/Force Boot from default Hard-Drive/);
  });

  it('sensors: the simulator\'s values, converted, with thresholds', async () => {
    const r = await eq({ action: 'sensors', id });
    expect(r.status, r.text).toBe(200);
    const byName = Object.fromEntries(r.json.sensors.map((s: any) => [s.name, s]));
    expect(byName['CPU1 Temp'].value).toBeCloseTo(45, 0);
    expect(byName['FAN1'].value).toBeCloseTo(4800, -2);
    expect(byName['12V'].value).toBeCloseTo(12, 1);
    expect(byName['CPU1 Temp'].unit).toMatch(/C/);
    expect(Object.keys(byName['CPU1 Temp'].thresholds).length).toBeGreaterThan(0);
    const tool = (await ipmitool(bmc(), ['sensor', 'get', 'CPU1 Temp'])).stdout;
    expect(tool).toMatch(/Sensor Reading\s*:\s*45/);
  });

  it('add_ipmi_user: generated credentials returned once, and they really log in', async () => {
    const { reply, task } = await eqTask({ action: 'add_ipmi_user', id });
    expect(task.state, JSON.stringify(task.steps)).toBe('succeeded');
    expect(reply.username).toMatch(/^rh[0-9a-f]{10}$/);
    expect(reply.password).toHaveLength(16);
    const login = await ipmitool({ ...bmc(), username: reply.username, password: reply.password }, ['power', 'status'], { privilege: 'OPERATOR' });
    expect(login.stdout, login.stderr).toMatch(/Chassis Power is/);
    const list = (await ipmitool(bmc(), ['user', 'list', '1'])).stdout;
    expect(list).toContain(reply.username);
    // Stored nowhere in clear: not in the task, not in the database, not in the log.
    expect(JSON.stringify(task)).not.toContain(reply.password);
    expect(readFileSync(`${rh.stateDir}/rackhand.db`).includes(Buffer.from(reply.password))).toBe(false);
    expect(rh.output()).not.toContain(reply.password);

    expect(reply.privilege).toBe('operator');
    expect(list).toMatch(new RegExp(`${reply.username}\\s.*OPERATOR`));

    const named = await eqTask({ action: 'add_ipmi_user', id, admin_user: `ops${id}`, admin_pass: 'Adm1n-Pass-42' });
    expect(named.task.state).toBe('succeeded');
    expect(named.reply).toMatchObject({ username: `ops${id}`, password: 'Adm1n-Pass-42', privilege: 'administrator' });
    const ops = await ipmitool({ ...bmc(), username: `ops${id}`, password: 'Adm1n-Pass-42' }, ['power', 'status']);
    expect(ops.stdout, ops.stderr).toMatch(/Chassis Power is/);
    expect((await ipmitool(bmc(), ['user', 'list', '1'])).stdout).toMatch(new RegExp(`ops${id}\\s.*ADMINISTRATOR`));

    // remove_ipmi_user: gone from the list and the login fails.
    const rm = await eqTask({ action: 'remove_ipmi_user', id, username: reply.username });
    expect(rm.task.state, JSON.stringify(rm.task.steps)).toBe('succeeded');
    expect((await ipmitool(bmc(), ['user', 'list', '1'])).stdout).not.toContain(reply.username);
    const denied = await ipmitool({ ...bmc(), username: reply.username, password: reply.password }, ['power', 'status']);
    expect(denied.code).not.toBe(0);
    // rackhand never removes, re-keys or shadows the account it logs in with, by any path.
    for (const p of [
      { action: 'remove_ipmi_user', id, username: 'admin' },
      { action: 'remove_ipmi_user', id, username: 'ADMIN' },
      { action: 'add_ipmi_user', id, admin_user: 'admin', admin_pass: 'Takeover-1234' },
    ]) {
      const r = await eq(p);
      expect(r.status, r.text).toBe(403);
      expect(r.json.error.code).toBe('FORBIDDEN');
    }
    const v1 = await api(admin).post(`/api/v1/servers/${id}/bmc/users`, { name: 'admin', password: 'Takeover-1234', privilege: 'administrator' });
    expect(v1.status).toBe(403);
    expect((await ipmitool(bmc(), ['power', 'status'])).stdout).toMatch(/Chassis Power is/);
  });

  it('off: powered off and confirmed', async () => {
    const { task } = await eqTask({ action: 'off', id });
    expect(task.state).toBe('succeeded');
    expect(farm.powerState(sim)).toBe('off');
    expect((await ipmitool(bmc(), ['power', 'status'])).stdout).toMatch(/Chassis Power is off/);
  });

  it('unit_reset: the simulator does not implement BMC resets, and the task says so with its code', async () => {
    const { task } = await eqTask({ action: 'unit_reset', id });
    expect(task).toMatchObject({ state: 'failed', error: { code: 'BMC_UNSUPPORTED' } });
  });

  it(`DCImanager power_on answers {id, task} (${driver})`, async () => {
    const r = await api(admin).post(`/api/dci/v3/server/${id}/power_on`, {});
    expect(r.json).toEqual({ id, task: expect.any(Number) });
    expect((await waitTask(r.json.task)).state).toBe('succeeded');
    expect(farm.powerState(sim)).toBe('on');
  });
});

describe('faults end with their stable code, release the server, and clear', () => {
  it('wrong password → BMC_AUTH_FAILED', async () => {
    const { task } = await eqTask({ action: 'on', id: 5 });
    expect(task).toMatchObject({ state: 'failed', error: { code: 'BMC_AUTH_FAILED' } });
  });

  it.each([
    ['ipmi', 6],
    ['ipmitool', 7],
  ])('%s: killed, hung, failing, busy — each its code; afterwards the next operation succeeds', async (_driver, id) => {
    await farm.fault(5, 'down');
    const down = await eqTask({ action: 'on', id });
    expect(['BMC_UNREACHABLE', 'BMC_TIMEOUT']).toContain(down.task.error.code);
    await farm.fault(5, 'up');

    await farm.fault(5, 'hang');
    const hung = await eqTask({ action: 'off', id });
    expect(['BMC_UNREACHABLE', 'BMC_TIMEOUT']).toContain(hung.task.error.code);
    expect((await api().get('/healthz')).status).toBe(200); // the daemon keeps serving meanwhile
    await farm.fault(5, 'resume');
    await farm.fault(5, 'restart'); // a hung sim may hold stale sessions

    await farm.fault(5, 'fail');
    const failing = await eqTask({ action: 'on', id });
    expect(failing.task.error.code).toBe('BMC_ERROR');
    await farm.fault(5, 'ok');

    // A fresh sim (no session of rackhand's own), then every session slot taken by someone else.
    await farm.fault(5, 'restart');
    const release = await farm.holdSessions(5, 63);
    try {
      const busy = await eqTask({ action: 'on', id });
      expect(busy.task.error.code).toBe('BMC_BUSY');
    } finally {
      await release();
      await farm.fault(5, 'restart');
    }
    // No lock stays held and the BMC answers again.
    const ok = await eqTask({ action: 'on', id });
    expect(ok.task.state, JSON.stringify(ok.task)).toBe('succeeded');
    expect(farm.powerState(5)).toBe('on');
    await eqTask({ action: 'off', id });
  }, 180_000);
});

describe('BMC account privileges follow the caller and the admin_ipmi tag', () => {
  it('administrator only for admin or central tokens on a tagged server; others are refused at once, nothing sent to the BMC', async () => {
    const users = () => ipmitool(farm.bmcs[1], ['user', 'list', '1']).then((r) => r.stdout);
    const before = await users();
    // Server 2 has no admin_ipmi tag.
    const untagged = await eq({ action: 'add_ipmi_user', id: 2, admin_user: 'boss2', admin_pass: 'Adm1n-Pass-42' });
    expect(untagged.status, untagged.text).toBe(403);
    expect(untagged.json.error.message).toMatch(/admin_ipmi/);
    const v1 = await api(admin).post('/api/v1/servers/2/bmc/users', { name: 'boss2', password: 'Adm1n-Pass-42', privilege: 'administrator' });
    expect(v1.status).toBe(403);
    // A tech token may not make administrators even on a tagged server.
    const tech = rh.cli(['token', 'create', '--role', 'tech']).stdout.trim();
    const byTech = await api(tech).post('/api/v1/servers/1/bmc/users', { name: 'boss1', password: 'Adm1n-Pass-42', privilege: 'administrator' });
    expect(byTech.status).toBe(403);
    expect(await users()).toBe(before);
  });

  it('repeated calls cannot fill the BMC user table: rackhand stops at its limit', async () => {
    const made: string[] = [];
    for (;;) {
      const r = await eq({ action: 'add_ipmi_user', id: 2 });
      if (r.status !== 200) {
        expect(r.status, r.text).toBe(409);
        expect(r.json.error.message).toMatch(/limit/);
        break;
      }
      expect((await waitTask(r.json.task)).state).toBe('succeeded');
      made.push(r.json.username);
      expect(made.length).toBeLessThanOrEqual(4);
    }
    expect(made).toHaveLength(4);
    // Removing one makes room again.
    expect((await eqTask({ action: 'remove_ipmi_user', id: 2, username: made[0] })).task.state).toBe('succeeded');
    const again = await eq({ action: 'add_ipmi_user', id: 2 });
    expect(again.status, again.text).toBe(200);
    expect((await waitTask(again.json.task)).state).toBe('succeeded');
  });
});

describe('secrets', () => {
  it('while the ipmitool driver works, no BMC password appears in any /proc/*/cmdline or in the log', async () => {
    const seen: string[] = [];
    let scanning = true;
    const scan = (async () => {
      while (scanning) {
        for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
          try {
            const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
            if (cmd.includes('ipmitool')) seen.push(cmd);
          } catch {
            /* gone */
          }
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    for (let i = 0; i < 3; i++) {
      await eqTask({ action: 'on', id: 4 });
      await eqTask({ action: 'off', id: 4 });
    }
    const added = await api(admin).post('/api/v1/servers/4/bmc/users', { name: 'cmdline', password: 'Sup3r-Secret-77' });
    expect(added.status, added.text).toBe(202);
    expect((await waitTask(added.json.task.id)).state).toBe('succeeded');
    scanning = false;
    await scan;
    expect(seen.length).toBeGreaterThan(0);
    for (const cmd of seen) {
      expect(cmd).not.toContain('password');
      expect(cmd).not.toContain('Sup3r-Secret-77');
    }
    expect(rh.output()).not.toContain('Sup3r-Secret-77');
    expect(rh.output()).not.toMatch(/"password"\s*:\s*"[^[]/);
  });
});

describe('power sync', () => {
  it('a sync pass records last known power and reachability', async () => {
    farm.setPower(1, 'on');
    await farm.fault(5, 'down');
    const r = await api(admin).post('/api/v1/power-sync');
    expect(r.status, r.text).toBe(200);
    expect((await eq({ action: 'status', id: 2 })).json).toMatchObject({ power: 'on', bmc_reachable: true });
    const down = (await eq({ action: 'status', id: 6 })).json;
    expect(down.bmc_reachable).toBe(false);
    const list = await eq({ action: 'list', id: 2 });
    expect(list.json.list[0].power).toBe('on');
    await farm.fault(5, 'up');
  });
});
