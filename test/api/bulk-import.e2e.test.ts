// Bulk import at site scale: 10,000 servers in one call, idempotent on repeat, visible through every face.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startRackhand, type RackhandProcess } from '../harness/rackhand-process.js';
import { makeServers } from '../harness/fixtures.js';

let rh: RackhandProcess;
let admin: string;
const api = () => apiClient(() => rh.url, admin);

beforeAll(async () => {
  rh = await startRackhand({ config: { bmc: { sync: { enabled: false } } } });
  admin = rh.cli(['token', 'create', '--role', 'central']).stdout.trim();
});
afterAll(async () => rh?.cleanup());

describe('bulk import', () => {
  it('10,000 servers in one call, then the same call again changes nothing but updated_at', async () => {
    const servers = makeServers(10_000);
    const first = await api().post('/api/v1/servers/import', servers);
    expect(first.status, first.text.slice(0, 300)).toBe(200);
    expect(first.json).toEqual({ created: 10_000, updated: 0 });
    const again = await api().post('/api/v1/servers/import', servers);
    expect(again.json).toEqual({ created: 0, updated: 10_000 });
    expect((await api().get('/api/v1/servers?limit=1')).json.total).toBe(10_000);
    const s = (await api().eq({ action: 'show', id: 9_999 }, admin)).json;
    expect(s.server_data).toMatchObject({ id: 9_999, name: 'srv-9999' });
    expect(s.interfaces[0].mac).toBe(servers[9_998].interfaces[0].mac);
    const dci = await api().get('/api/dci/v3/server');
    expect(dci.json.size).toBe(10_000);
  });

  it('the CLI imports the same JSON and a CSV file', async () => {
    const { writeFileSync } = await import('node:fs');
    const json = `${rh.stateDir}/import.json`;
    writeFileSync(json, JSON.stringify(makeServers(5, 20_001)));
    const r = rh.cli(['servers', 'import', json]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/5 created, 0 updated/);
    const csv = `${rh.stateDir}/import.csv`;
    writeFileSync(csv, 'id,name,mac,ip,rack,bmc_driver,bmc_host,bmc_username,bmc_password\n30001,csv-1,52:54:00:aa:00:01,10.9.0.1,R9,ipmi,10.99.9.1,ADMIN,csv-Secret-1\n');
    const c = rh.cli(['servers', 'import', csv]);
    expect(c.code, c.stderr).toBe(0);
    const s = (await api().get('/api/v1/servers/30001')).json;
    expect(s).toMatchObject({ name: 'csv-1', rack: 'R9', interfaces: [{ mac: '52:54:00:aa:00:01', ip: '10.9.0.1' }], bmc: { host: '10.99.9.1', passwordSet: true } });
    expect(JSON.stringify(s)).not.toContain('csv-Secret-1');
    const list = rh.cli(['servers', 'list']);
    expect(list.stdout).toContain('30001\tcsv-1');
  });
});
