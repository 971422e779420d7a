// BMC event logs and power readings through the real daemon: SEL entries an ipmi_sim BMC logged (Add SEL Entry, as
// its firmware would) and LogService entries of an emulated Redfish BMC read back through GET /api/v1/servers/:id/
// event-log, new critical entries counted once in /metrics, cleared by admin and tech tokens only (audited); the
// sensor sampler keeps the power the Redfish BMC measures with the sensor history, and notes once that ipmi_sim
// (no DCMI) measures none.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipmitool, startSimFarm, type SimBmc, type SimFarm } from '../harness/ipmi-sim.js';
import { apiClient, startRackhand, type RackhandProcess } from '../harness/rackhand-process.js';
import { MemoryMachine } from '../harness/redfish-bmc/emulated-machine.js';
import { RedfishEmulator } from '../harness/redfish-bmc/redfish-emulator.js';
import { waitTask } from '../harness/vm-bmc-netboot-lab.js';
import { parsePrometheusText } from '../metrics/prom-text-parser.js';
import { TEMPERATURE_EVENT } from './ipmi-sim-contract-fixture.js';

const IPMI = 1;
const REDFISH = 2;
const PASSWORD = 'rf-Secret-42';
let farm: SimFarm;
let sim: SimBmc;
let emu: RedfishEmulator;
let rh: RackhandProcess;
const tokens: Record<'admin' | 'tech' | 'central', string> = { admin: '', tech: '', central: '' };
const api = (role: keyof typeof tokens) => apiClient(() => rh.url, tokens[role]);

/** Add SEL Entry (NetFn Storage 0x0a, command 0x44) with the given record: how a BMC's firmware logs an event. */
async function addSel(record: number[]): Promise<void> {
  const r = await ipmitool(sim, ['raw', '0x0a', '0x44', ...record.map((b) => `0x${b.toString(16).padStart(2, '0')}`)]);
  expect(r.code, r.stderr).toBe(0);
}

async function criticalCount(serverId: number): Promise<number | undefined> {
  const text = await (await fetch(`${rh.url}/metrics`)).text();
  return parsePrometheusText(text).get('rackhand_bmc_event_log_critical_total')?.samples.find((s) => s.labels.server_id === String(serverId))?.value;
}

beforeAll(async () => {
  farm = await startSimFarm({ count: 1 });
  sim = farm.bmcs[0]!;
  emu = await new RedfishEmulator({ machine: new MemoryMachine({ power: 'On' }), username: 'admin', password: PASSWORD }).start();
  rh = await startRackhand({
    config: {
      bmc: { powerPollMs: 100, sync: { enabled: false }, scheduler: { minSpacingMs: 10, operationTimeoutMs: 20_000 } },
      // Passes every ~10 s, each reading every event log too.
      sensors: { enabled: true, intervalMs: 10_000, eventLogIntervalMs: 1 },
    },
  });
  for (const role of ['admin', 'tech', 'central'] as const) tokens[role] = rh.cli(['token', 'create', '--role', role]).stdout.trim();
  const imp = await api('admin').post('/api/v1/servers/import', [
    { id: IPMI, name: 'sel-ipmi', bmc: { driver: 'ipmi', host: sim.host, port: sim.port, username: sim.username, password: sim.password } },
    { id: REDFISH, name: 'sel-redfish', bmc: { driver: 'redfish', host: '127.0.0.1', port: emu.port, username: 'admin', password: PASSWORD } },
  ]);
  expect(imp.status, imp.text).toBe(200);
}, 120_000);

afterAll(async () => {
  await rh?.cleanup();
  await emu?.stop();
  await farm?.stop();
});

describe('the event log through rackhand', () => {
  it('ipmi_sim: SEL entries its firmware logged are read back, critical ones counted once; tech clears it, central may not', async () => {
    const cleared = await api('tech').del(`/api/v1/servers/${IPMI}/event-log`);
    expect(cleared.status, cleared.text).toBe(202);
    expect((await waitTask(api('admin'), cleared.json.id, 60_000)).state).toBe('succeeded');
    const before = (await criticalCount(IPMI)) ?? 0;

    await addSel(TEMPERATURE_EVENT);
    const r = await api('tech').get(`/api/v1/servers/${IPMI}/event-log`);
    expect(r.status, r.text).toBe(200);
    expect(r.json.entries).toEqual([
      // ipmi_sim stamps entries with its uptime (a BMC whose clock was never set): no time, as the contract says.
      { id: expect.any(String), time: null, severity: 'critical', message: 'temperature sensor 1: upper critical going high (asserted)', raw: expect.stringMatching(/^[0-9a-f]{32}$/) },
    ]);
    expect(await criticalCount(IPMI)).toBe(before + 1);
    // Read again (by the API or the sampler): the same entry is not counted twice.
    await api('tech').get(`/api/v1/servers/${IPMI}/event-log`);
    expect(await criticalCount(IPMI)).toBe(before + 1);
    await addSel(TEMPERATURE_EVENT);
    expect((await api('tech').get(`/api/v1/servers/${IPMI}/event-log`)).json.entries).toHaveLength(2);
    expect(await criticalCount(IPMI)).toBe(before + 2);

    const refused = await api('central').del(`/api/v1/servers/${IPMI}/event-log`);
    expect(refused.status).toBe(403);
    expect(refused.json.error.message).toBe("this token may not clear a BMC's event log");
    const clear = await api('tech').del(`/api/v1/servers/${IPMI}/event-log`);
    expect(clear.status).toBe(202);
    expect((await waitTask(api('admin'), clear.json.id, 60_000)).state).toBe('succeeded');
    expect((await api('tech').get(`/api/v1/servers/${IPMI}/event-log`)).json.entries).toEqual([]);
    expect(await criticalCount(IPMI)).toBe(before + 2); // a counter: clearing the log does not take it back
    const audit = (await api('admin').get(`/api/v1/audit?server=${IPMI}`)).json.list;
    expect(audit).toContainEqual(expect.objectContaining({ method: 'DELETE', route: '/api/v1/servers/:id/event-log', status: 202, role: 'tech' }));
    expect(audit).toContainEqual(expect.objectContaining({ method: 'DELETE', route: '/api/v1/servers/:id/event-log', status: 403, errorCode: 'FORBIDDEN', role: 'central' }));
  });

  it('redfish: LogService entries of the emulated BMC read back with severities; clearing empties it on the BMC', async () => {
    emu.addLogEntry({ severity: 'Critical', message: 'CPU1 Temp upper critical going high', messageId: 'Platform.1.0.TempCritical', sensorType: 'Temperature', entryCode: 'Assert' });
    emu.addLogEntry({ severity: 'OK', message: 'PS1 presence detected', messageId: 'Platform.1.0.PsuPresent' });
    const r = await api('admin').get(`/api/v1/servers/${REDFISH}/event-log`);
    expect(r.status, r.text).toBe(200);
    expect(r.json.entries).toEqual([
      expect.objectContaining({ severity: 'critical', message: 'CPU1 Temp upper critical going high (Temperature, Assert)' }),
      expect.objectContaining({ severity: 'ok', message: 'PS1 presence detected' }),
    ]);
    expect(JSON.parse(r.json.entries[0].raw)).toMatchObject({ MessageId: 'Platform.1.0.TempCritical' });
    expect(await criticalCount(REDFISH)).toBe(1);
    const clear = await api('admin').del(`/api/v1/servers/${REDFISH}/event-log`);
    expect((await waitTask(api('admin'), clear.json.id, 60_000)).state).toBe('succeeded');
    expect(emu.sel).toEqual([]);
  });
});

describe('the sampler', () => {
  it('keeps the power the Redfish BMC measures with the sensor history; ipmi_sim (no DCMI) is noted once, not sampled; new critical entries counted without anyone asking', async () => {
    emu.addLogEntry({ severity: 'Critical', message: 'FAN1 lower critical going low', messageId: 'Platform.1.0.FanCritical' });
    const series = async (id: number) => (await api('admin').get(`/api/v1/servers/${id}/sensors/history?hours=1`)).json.sensors as { name: string; type: string; unit: string; points: { value: number }[] }[];
    // Two passes: the first and one more.
    await expect.poll(async () => (await series(REDFISH)).find((s) => s.name === 'Power consumption')?.points.length ?? 0, { timeout: 60_000, interval: 500 }).toBeGreaterThanOrEqual(2);
    const power = (await series(REDFISH)).find((s) => s.name === 'Power consumption')!;
    expect(power).toMatchObject({ type: 'power', unit: 'Watts' });
    expect(power.points.every((p) => p.value === emu.power.onWatts)).toBe(true);
    await expect.poll(async () => (await series(IPMI)).find((s) => s.name === 'CPU1 Temp')?.points.length ?? 0, { timeout: 30_000, interval: 500 }).toBeGreaterThanOrEqual(2);
    expect((await series(IPMI)).some((s) => s.name === 'Power consumption')).toBe(false);
    const noted = rh.output().split('\n').filter((l) => l.includes(`server ${IPMI}'s BMC has no power reading: not sampled`));
    expect(noted).toHaveLength(1);
    expect(await criticalCount(REDFISH)).toBe(2); // the fan entry, read by the sampler
    const metrics = parsePrometheusText(await (await fetch(`${rh.url}/metrics`)).text());
    expect(metrics.get('rackhand_sensor_power_watts')?.samples).toContainEqual({ name: 'rackhand_sensor_power_watts', labels: { server_id: String(REDFISH), sensor: 'Power consumption' }, value: emu.power.onWatts });
  }, 90_000);
});
