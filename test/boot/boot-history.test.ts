// The per-host boot history. Unit: events of every boot server through the one sink (batched, each host found by
// MAC or address, bounded per host, in all and by age, a flood dropped not hoarded). On the real agent over HTTP:
// a deploy's script, install config and installer report, refusals, an unknown MAC, a PXE loop told apart — read
// through /api/v1 and the CLI, never showing a token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/sqlite-store.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { ServersRepo } from '../../src/store/repos/servers-repo.js';
import { BootHistoryRepo } from '../../src/store/repos/boot-history-repo.js';
import { BootHistory } from '../../src/core/boot-history.js';
import type { BootEvent } from '../../src/boot/boot-event.js';
import type { HostBootInfo } from '../../src/boot/boot-lookup.js';
import { createLogger } from '../../src/log.js';
import type { Principal } from '../../src/auth/tokens.js';
import { startTestSite, type TestSite } from '../web/test-site.js';
import { buildCli, cliRunner } from '../cli/tech-cli-runner.js';

const ADMIN: Principal = { tokenId: 1, name: 'admin', role: 'admin', ownerId: null };
const MAC = '52:54:00:b0:00:01';
const UNKNOWN = '52:54:00:b0:ff:ff';

function unitSetup(bounds = { perHost: 500, maxEvents: 200_000, retentionDays: 30 }) {
  const db = openDatabase(':memory:', MIGRATIONS);
  const servers = new ServersRepo(db, SecretBox.fromKey(Buffer.alloc(32, 7)));
  servers.upsertMany([
    { id: 1, name: 'a', status: 'free', type: 'Server', location: '', datacenter: '', rack: '', configuration: '', preset: '', tags: [], groups: [], hardware: [], interfaces: [{ name: 'eth0', mac: MAC, ip: '10.0.0.1' }] },
  ]);
  // DHCP's own view of the inventory (the reservation): in-process, as the boot servers see it.
  const lookup = {
    findByMac: (mac: string): HostBootInfo | undefined => (servers.findByMac(mac) ? { serverId: servers.findByMac(mac)!.id, name: '', mac, ip: '10.0.0.1', netbootArmed: false } : undefined),
    findByIp: (ip: string): HostBootInfo | undefined => (ip === '10.0.0.1' ? { serverId: 1, name: '', mac: MAC, ip, netbootArmed: false } : undefined),
  };
  const repo = new BootHistoryRepo(db);
  const history = new BootHistory(repo, servers, () => lookup, bounds, createLogger({ level: 'silent' }));
  return { db, servers, repo, history };
}

const ev = (kind: BootEvent['kind'], over: Partial<BootEvent> = {}): BootEvent => ({ at: Date.now(), kind, ip: '10.0.0.1', detail: kind, ...over });

describe('boot history (store and sink)', () => {
  it('DHCP events (by MAC) and TFTP events (by address only) land on the server, in order, newest first', () => {
    const { history } = unitSetup();
    history.sink(ev('dhcp-offer', { mac: MAC, detail: 'DISCOVER arch 7 PXEClient → 10.0.0.1, tftp:ipxe.efi' }));
    history.sink(ev('tftp-read', { detail: 'ipxe.efi: 1024000 bytes' }));
    history.sink(ev('tftp-refused', { ip: '10.0.0.99', detail: 'nothing.efi: error 1 file not found' }));
    history.sink(ev('dhcp-discovered', { mac: UNKNOWN, ip: '0.0.0.0', detail: 'not in the inventory: no answer' }));
    // nothing is written until the batch is flushed (the sink only queues)
    expect(history['repo'].count()).toBe(0);
    const mine = history.forServer(ADMIN, 1, { limit: 10, offset: 0 });
    expect(mine.list.map((e) => [e.kind, e.serverId, e.mac, e.ip])).toEqual([
      ['tftp-read', 1, MAC, '10.0.0.1'],
      ['dhcp-offer', 1, MAC, '10.0.0.1'],
    ]);
    expect(history.forMac(ADMIN, UNKNOWN, { limit: 10, offset: 0 }).list).toMatchObject([{ kind: 'dhcp-discovered', serverId: null }]);
  });

  it('a MAC seen before it was adopted: its earlier events show in the new server\'s history', () => {
    const { history, servers } = unitSetup();
    history.sink(ev('dhcp-discovered', { mac: UNKNOWN, ip: '0.0.0.0' }));
    history.flush();
    servers.upsertMany([{ id: 2, name: 'b', status: 'free', type: 'Server', location: '', datacenter: '', rack: '', configuration: '', preset: '', tags: [], groups: [], hardware: [], interfaces: [{ name: 'eth0', mac: UNKNOWN }] }]);
    history.sink(ev('dhcp-offer', { mac: UNKNOWN }));
    expect(history.forServer(ADMIN, 2, { limit: 10, offset: 0 }).list.map((e) => e.kind)).toEqual(['dhcp-offer', 'dhcp-discovered']);
  });

  it('bounded: each host keeps its newest perHost, all hosts maxEvents, nothing older than retentionDays', () => {
    const { history, repo } = unitSetup({ perHost: 10, maxEvents: 1000, retentionDays: 1 });
    for (let i = 0; i < 25; i++) history.sink(ev('dhcp-offer', { mac: MAC, detail: `offer ${i}` }));
    history.flush();
    const kept = history.forServer(ADMIN, 1, { limit: 100, offset: 0 });
    expect(kept.total).toBe(10);
    expect(kept.list[0].detail).toBe('offer 24');
    expect(kept.list.at(-1)!.detail).toBe('offer 15');
    // a flood of spoofed MACs: bounded in all
    for (let i = 0; i < 1500; i++) history.sink(ev('dhcp-discovered', { mac: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, ip: '0.0.0.0' }));
    history.flush();
    expect(repo.count()).toBeLessThanOrEqual(1000);
    // by age
    history.sink(ev('dhcp-offer', { mac: MAC, at: Date.now() - 2 * 86400_000, detail: 'old' }));
    history.flush();
    history.prune();
    expect(history.forServer(ADMIN, 1, { limit: 100, offset: 0 }).list.some((e) => e.detail === 'old')).toBe(false);
  });

  it('a flood beyond the queue is dropped and counted, not held in memory; the sink never throws', () => {
    const { history, db } = unitSetup();
    for (let i = 0; i < 20_050; i++) history.sink(ev('tftp-refused', { ip: '10.9.9.9' }));
    expect(history.dropped).toBe(50);
    db.close(); // a store that fails: the flush logs, the sink's callers never see it
    expect(history.flush()).toBe(0);
    expect(() => history.sink(ev('dhcp-offer', { mac: MAC }))).not.toThrow();
  });

  it('a client sees only its own servers\' history, and no MAC history', () => {
    const { history } = unitSetup();
    const client: Principal = { tokenId: 9, name: 'c', role: 'client', ownerId: 5 };
    expect(() => history.forServer(client, 1, { limit: 1, offset: 0 })).toThrow(/not found/);
    expect(() => history.forMac(client, MAC, { limit: 1, offset: 0 })).toThrow(/may not/);
  });
});

describe('boot history on the real agent (HTTP boot)', () => {
  let site: TestSite;
  const SERVER = 1003;
  const api = async (path: string, token = site.tokens.tech) => {
    const r = await fetch(site.url + path, { headers: { authorization: `Bearer ${token}` } });
    return { status: r.status, json: await r.json() };
  };

  beforeAll(async () => {
    // verifyClient off: this test fetches a host's script from loopback, not from its reserved address
    site = await startTestSite({ config: { boot: { verifyClient: 'off' } } });
  });
  afterAll(async () => site?.close());

  it('a deploy: armed script served, install config fetched, installer report; a second report refused; an unknown MAC', async () => {
    const mac = (await api(`/api/v1/servers/${SERVER}`)).json.interfaces[0].mac as string;
    const local = await fetch(`${site.url}/boot/ipxe/${mac}`);
    expect(local.status).toBe(200);
    const r = await fetch(`${site.url}/api/v1/servers/${SERVER}/reinstall`, {
      method: 'POST',
      headers: { authorization: `Bearer ${site.tokens.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ os_id: 'debian-12', root_pass: 'Deploy-pass-1' }),
    });
    expect(r.status).toBe(202);
    const task = (await r.json()).id;
    await expect.poll(() => site.agent.core.netboot.state(SERVER)?.taskId ?? null).toBe(task);
    // the host boots: its script (twice: a host that loops fetches it again and again), its preseed
    for (let i = 0; i < 2; i++) expect((await fetch(`${site.url}/boot/ipxe/${mac}`)).status).toBe(200);
    const token = site.agent.core.netboot.state(SERVER)!.token;
    expect((await fetch(`${site.url}/boot/install/${token}/preseed`)).status).toBe(200);
    expect((await fetch(`${site.url}/boot/install/not-a-token/preseed`)).status).toBe(404);
    await expect.poll(async () => (await api(`/api/v1/tasks/${task}`)).json.waitingFor).toBe('installer report');
    expect((await site.installerCallback(SERVER)).status).toBe(200);
    expect((await fetch(`${site.url}/boot/callback/${token}`)).status).toBe(404);
    expect((await fetch(`${site.url}/boot/ipxe/${UNKNOWN}`)).status).toBe(404);

    const h = await api(`/api/v1/servers/${SERVER}/boot-history`);
    expect(h.status).toBe(200);
    const kinds = h.json.list.map((e: any) => `${e.kind}: ${e.detail}`).reverse();
    expect(kinds).toEqual([
      'http-script: local-disk ipxe script (nothing armed): boot from disk',
      `http-script: armed ipxe script: install debian-12 (task ${task})`,
      `http-script: armed ipxe script: install debian-12 (task ${task})`,
      'http-config: preseed for install debian-12',
      'installer-report: installer reported success (install debian-12)',
    ]);
    expect(h.json.list.every((e: any) => e.serverId === SERVER && e.ip === '127.0.0.1')).toBe(true);
    expect(JSON.stringify(h.json)).not.toContain(token);
    // refusals that name no server are kept by address and MAC
    const unknown = await api(`/api/v1/discovered/${UNKNOWN}/boot-history`);
    expect(unknown.json.list).toMatchObject([{ kind: 'http-script-refused', mac: UNKNOWN, serverId: null, detail: 'ipxe script: no server has this MAC (not in the inventory)' }]);
    // a client token does not see a server it does not own
    expect((await api(`/api/v1/servers/${SERVER}/boot-history`, site.tokens.client)).status).toBe(404);
  });

  it('the CLI shows it as a table, newest first, with what happened how often', async () => {
    await buildCli();
    const r = await cliRunner().run(['boot-history', String(SERVER), '--limit', '3'], { RACKHAND_URL: site.url, RACKHAND_TOKEN: site.tokens.tech, HOME: site.stateDir });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+EVENT\s+FROM\s+MAC\s+DETAIL$/);
    expect(lines[1]).toMatch(/installer-report\s+127\.0\.0\.1\s+-\s+installer reported success \(install debian-12\)$/);
    expect(lines.at(-1)).toMatch(/^3 of 5 events since \S+: installer-report 1, http-config 1, http-script 1$/);
  }, 120_000);
});
