// eq BMC actions end to end on Redfish: a real rackhand process drives emulated Redfish BMCs (HTTPS, self-signed)
// through servers with bmc.driver "redfish"; every effect is checked on the emulator's own state, and logins of
// added users with DMTF's redfishtool.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startRackhand, type RackhandProcess } from '../../harness/rackhand-process.js';
import { MemoryMachine } from '../../harness/redfish-bmc/emulated-machine.js';
import { redfishtool } from '../../harness/redfish-bmc/redfish-clients.js';
import { RedfishEmulator } from '../../harness/redfish-bmc/redfish-emulator.js';
import { makeSelfSignedCert } from '../../harness/redfish-bmc/self-signed-cert.js';
import { startUnreachableBmc, type UnreachableBmc } from '../../harness/redfish-bmc/unreachable-bmc.js';
import { waitTask } from '../../harness/vm-bmc-netboot-lab.js';

const PASSWORD = 'rf-Secret-42';
let rh: RackhandProcess;
let admin: string;
let machine: MemoryMachine;
let emu: RedfishEmulator;
let quirky: RedfishEmulator;
let blackhole: UnreachableBmc;
const api = (tok?: string) => apiClient(() => rh.url, tok);
const eq = (p: Record<string, string | number>) => api().eq(p, admin);

async function eqTask(p: Record<string, string | number>) {
  const r = await eq(p);
  expect(r.status, r.text).toBe(200);
  expect(r.json).toMatchObject({ result: 'OK', task: expect.any(Number) });
  return { reply: r.json, task: await waitTask(api(admin), r.json.task, 60_000) };
}

beforeAll(async () => {
  machine = new MemoryMachine({ power: 'Off' });
  emu = await new RedfishEmulator({ machine, username: 'admin', password: PASSWORD, managerResetDowntimeMs: 800 }).start();
  quirky = await new RedfishEmulator({ machine: new MemoryMachine({ power: 'Off' }), username: 'admin', password: PASSWORD, quirks: { revertOnceUefiPxe: 1, minimalBootPatch: true } }).start();
  blackhole = await startUnreachableBmc('blackholed');
  rh = await startRackhand({
    config: {
      bmc: {
        powerPollMs: 100,
        powerTimeoutMs: 10_000,
        bmcResetTimeoutMs: 20_000,
        sync: { enabled: false },
        scheduler: { operationTimeoutMs: 30_000, minSpacingMs: 10, breakerThreshold: 50 },
      },
    },
  });
  admin = rh.cli(['token', 'create', '--role', 'admin']).stdout.trim();
  const bmc = (port: number, password = PASSWORD) => ({ driver: 'redfish', host: '127.0.0.1', port, username: 'admin', password });
  const servers = [
    { id: 1, name: 'rf-1', bmc: bmc(emu.port) },
    { id: 2, name: 'rf-wrong-pass', bmc: bmc(emu.port, 'not-the-password') },
    { id: 3, name: 'rf-blackholed', bmc: bmc(blackhole.port) },
    { id: 4, name: 'rf-quirky', bmc: bmc(quirky.port) },
  ];
  const imp = await api(admin).post('/api/v1/servers/import', servers);
  expect(imp.status, imp.text).toBe(200);
}, 120_000);

afterAll(async () => {
  await rh?.cleanup();
  await emu?.stop();
  await quirky?.stop();
  await blackhole?.stop();
});

describe('eq actions with the redfish driver', () => {
  const id = 1;

  it('on: powers on once and is confirmed; on again is a no-op', async () => {
    const { task } = await eqTask({ action: 'on', id });
    expect(task).toMatchObject({ state: 'succeeded', result: { power: 'on', changed: true } });
    expect(machine.powerState()).toBe('On');
    const again = await eqTask({ action: 'on', id });
    expect(again.task).toMatchObject({ state: 'succeeded', result: { changed: false } });
    expect(emu.requests.filter((r) => r.path.endsWith('ComputerSystem.Reset')).map((r) => r.body)).toEqual([{ ResetType: 'On' }]);
    const st = await eq({ action: 'status', id });
    expect(st.json).toMatchObject({ power: 'on', bmc_reachable: true });
  });

  it('reboot: a ForceRestart, confirmed on', async () => {
    const { task } = await eqTask({ action: 'reboot', id });
    expect(task.state).toBe('succeeded');
    expect(machine.boots.at(-1)?.how).toBe('reset');
  });

  it('boot_dev: pxe (uefi) then disk, read back from the BMC', async () => {
    const pxe = await eqTask({ action: 'boot_dev', id, media: 'pxe', boot_mode: 'uefi' });
    expect(pxe.task).toMatchObject({ state: 'succeeded', result: { device: 'pxe', mode: 'uefi' } });
    expect(emu.boot).toMatchObject({ target: 'Pxe', mode: 'UEFI' });
    const disk = await eqTask({ action: 'boot_dev', id, media: 'disk' });
    expect(disk.task.state).toBe('succeeded');
    expect(emu.boot.target).toBe('Hdd');
  });

  it('sensors: the BMC\'s temperatures, fans, voltages and power, with thresholds', async () => {
    const r = await eq({ action: 'sensors', id });
    expect(r.status, r.text).toBe(200);
    const byName = Object.fromEntries(r.json.sensors.map((s: { name: string }) => [s.name, s]));
    expect(byName['CPU1 Temp']).toMatchObject({ value: 45, unit: 'degrees C', thresholds: { upperCritical: 90 } });
    expect(byName['FAN1']).toMatchObject({ value: 4800, unit: 'RPM' });
    expect(byName['12V']).toMatchObject({ value: 12, unit: 'Volts' });
  });

  it('add_ipmi_user: generated credentials that log in over Redfish; remove_ipmi_user; never its own account', async () => {
    const { reply, task } = await eqTask({ action: 'add_ipmi_user', id });
    expect(task.state, JSON.stringify(task.steps)).toBe('succeeded');
    expect(emu.accounts.map((a) => a.userName)).toContain(reply.username);
    const login = await redfishtool({ host: '127.0.0.1', port: emu.port, username: reply.username, password: reply.password, tls: true }, ['Systems', '-1', '-P', 'PowerState']);
    expect(login.code, login.stderr).toBe(0);
    expect(JSON.stringify(task)).not.toContain(reply.password);
    expect(readFileSync(`${rh.stateDir}/rackhand.db`).includes(Buffer.from(reply.password))).toBe(false);
    expect(rh.output()).not.toContain(reply.password);

    const rm = await eqTask({ action: 'remove_ipmi_user', id, username: reply.username });
    expect(rm.task.state, JSON.stringify(rm.task.steps)).toBe('succeeded');
    expect(emu.accounts.map((a) => a.userName)).not.toContain(reply.username);
    // rackhand never removes or shadows the account it logs in with.
    const takeovers: Record<string, string | number>[] = [
      { action: 'remove_ipmi_user', id, username: 'admin' },
      { action: 'add_ipmi_user', id, admin_user: 'ADMIN', admin_pass: 'Takeover-1234' },
    ];
    for (const p of takeovers) {
      const r = await eq(p);
      expect(r.status, r.text).toBe(403);
      expect(r.json.error.code).toBe('FORBIDDEN');
    }
    expect(emu.accounts.map((a) => a.userName)).toEqual(['admin']);
    expect(emu.accounts[0]!.password).toBe(PASSWORD);
  });

  it('off: powered off and confirmed', async () => {
    const { task } = await eqTask({ action: 'off', id });
    expect(task.state).toBe('succeeded');
    expect(machine.powerState()).toBe('Off');
  });

  it('unit_reset: the BMC restarts, and the task waits until it answers again', async () => {
    const { task } = await eqTask({ action: 'unit_reset', id });
    expect(task, JSON.stringify(task.steps)).toMatchObject({ state: 'succeeded', result: { firmware: emu.vendor.bmcFirmware } });
    expect(emu.managerResets).toBe(1);
  });

  it('DCImanager power_on answers {id, task}', async () => {
    const r = await api(admin).post(`/api/dci/v3/server/${id}/power_on`, {});
    expect(r.json).toEqual({ id, task: expect.any(Number) });
    expect((await waitTask(api(admin), r.json.task, 60_000)).state).toBe('succeeded');
    expect(machine.powerState()).toBe('On');
  });
});

describe('quirks and faults through the daemon', () => {
  it('a BMC that refuses the full override and drops the first UEFI PXE one still ends with it set', async () => {
    const { task } = await eqTask({ action: 'boot_dev', id: 4, media: 'pxe', boot_mode: 'uefi' });
    expect(task, JSON.stringify(task.steps)).toMatchObject({ state: 'succeeded', result: { device: 'pxe', mode: 'uefi' } });
    expect(quirky.boot).toMatchObject({ enabled: 'Once', target: 'Pxe', mode: 'UEFI' });
    expect(rh.output()).toMatch(/"quirk":"boot-minimal-payload"/);
  });

  it('wrong password → BMC_AUTH_FAILED', async () => {
    const { task } = await eqTask({ action: 'on', id: 2 });
    expect(task).toMatchObject({ state: 'failed', error: { code: 'BMC_AUTH_FAILED' } });
  });

  it('a blackholed BMC → BMC_UNREACHABLE from the connect timeout; the daemon keeps serving', async () => {
    const { task } = await eqTask({ action: 'on', id: 3 });
    expect(task).toMatchObject({ state: 'failed', error: { code: 'BMC_UNREACHABLE' } });
    expect((await api().get('/healthz')).status).toBe(200);
  });
});

describe('certificate pins in SQLite', () => {
  it('kept across a restart; a replaced certificate is refused in one line naming the command; forget-certificate (admin, audited) accepts it', async () => {
    const cert = () => api(admin).get('/api/v1/servers/1/bmc/certificate');
    expect((await cert()).json).toMatchObject({ server: 1, endpoint: `127.0.0.1:${emu.port}`, pinned: { fingerprint256: emu.certificate.fingerprint256 } });
    await rh.stop();
    await rh.restart();
    expect((await cert()).json.pinned.fingerprint256).toBe(emu.certificate.fingerprint256);

    const replaced = makeSelfSignedCert();
    emu.rotateCertificate(replaced);
    const { task } = await eqTask({ action: 'on', id: 1 });
    expect(task).toMatchObject({ state: 'failed', error: { code: 'BMC_AUTH_FAILED' } });
    expect(task.error.message).toMatch(/different TLS certificate.*refused\. If it was replaced on purpose, accept the new one with: rackhand bmc forget-certificate 1$/);
    expect(task.error.message).not.toContain('\n');

    const tech = rh.cli(['token', 'create', '--role', 'tech']).stdout.trim();
    expect((await api(tech).del('/api/v1/servers/1/bmc/certificate')).status).toBe(403);
    const cli = rh.cli(['bmc', 'forget-certificate', '1', '--url', rh.url, '--token', admin]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/server 1: forgot the certificate pinned for 127\.0\.0\.1:\d+ on \d{4}-\d\d-\d\d \(SHA-256 [0-9A-F:]+\)/);
    const audit = (await api(admin).get('/api/v1/audit?server=1')).json.list;
    expect(audit).toContainEqual(expect.objectContaining({ method: 'DELETE', route: '/api/v1/servers/:id/bmc/certificate', status: 200, serverId: 1 }));
    expect(audit).toContainEqual(expect.objectContaining({ method: 'DELETE', route: '/api/v1/servers/:id/bmc/certificate', status: 403, errorCode: 'FORBIDDEN' }));

    const again = await eqTask({ action: 'on', id: 1 });
    expect(again.task.state).toBe('succeeded');
    expect((await cert()).json.pinned.fingerprint256).toBe(replaced.fingerprint256);
  });
});
