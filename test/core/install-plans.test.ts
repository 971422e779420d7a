// A host's install plan (core/install-plans.ts) and arming it (core/netboot.ts): addressing from IPAM or the
// interface, the hostname label, bad settings named by their API name, and the root password kept only as its
// SHA-512 crypt hash — in the plan, in the netboot row, anywhere in the store.
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { InstallPlans, type InstallPlansDeps } from '../../src/core/install-plans.js';
import { Netboot } from '../../src/core/netboot.js';
import { Catalogue } from '../../src/core/catalogue.js';
import { bootUrls } from '../../src/boot/boot-urls.js';
import { defaultOsCatalogue, verifySha512Crypt } from '../../src/boot/templates/index.js';
import { NetbootRepo } from '../../src/store/repos/netboot-repo.js';
import { TaskRunner } from '../../src/tasks/task-runner.js';
import type { ImageStore } from '../../src/images/image-store.js';
import type { ServerRecord } from '../../src/domain/server.js';
import type { Principal } from '../../src/auth/tokens.js';
import { RackhandError } from '../../src/errors.js';
import { memoryStore, serverInput, type MemoryStore } from '../store/memory-store.js';

const ROOT_PASSWORD = 'Str0ng-R00t-Passw0rd!';
/** The plans read the catalogue's entries only; readiness is the deploy's business (catalogue.test.ts). */
const noImages = { list: () => [], problems: () => [] } as unknown as ImageStore;

let store: MemoryStore;
let ipam: Map<number, { ip: string; netmask?: string; gateway?: string; dns?: string[] }>;
let plans: InstallPlans;

beforeEach(() => {
  store = memoryStore();
  ipam = new Map();
  const deps: InstallPlansDeps = {
    catalogue: new Catalogue(defaultOsCatalogue, noImages),
    urls: () => bootUrls('http://10.0.0.1:8080/'),
    network: { netmask: '255.255.255.0', gateway: '10.1.0.254', dns: ['10.0.0.53'], domain: 'dc1.example' },
    hostNetwork: (id) => ipam.get(id),
  };
  plans = new InstallPlans(deps);
  store.servers.upsertMany([
    serverInput(1, { name: 'web-1.customer.example', interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', ip: '10.1.0.5' }, { name: 'eth1', mac: '02:00:00:00:00:02' }] }),
    serverInput(2, { name: 'no_valid_hostname!' }),
  ]);
});

const server = (id: number): ServerRecord => store.servers.get(id)!;

describe('addressing', () => {
  it('takes the interface address with the site defaults when IPAM knows nothing', () => {
    expect(plans.addressing(server(1), '02:00:00:00:00:01')).toEqual({ ip: '10.1.0.5', netmask: '255.255.255.0', gateway: '10.1.0.254', dns: ['10.0.0.53'], domain: 'dc1.example' });
    expect(plans.addressing(server(1), '02:00:00:00:00:02').ip).toBeUndefined();
  });

  it('prefers what IPAM holds for the host, field by field', () => {
    ipam.set(1, { ip: '192.0.2.10', gateway: '192.0.2.1' });
    expect(plans.addressing(server(1), '02:00:00:00:00:01')).toEqual({ ip: '192.0.2.10', netmask: '255.255.255.0', gateway: '192.0.2.1', dns: ['10.0.0.53'], domain: 'dc1.example' });
  });
});

describe('hostLabel', () => {
  it('is the first label of the armed hostname, else of the inventory name, if it is a valid name', () => {
    expect(plans.hostLabel(server(1))).toBe('web-1');
    expect(plans.hostLabel(server(1), 'db-7.example.net')).toBe('db-7');
    expect(plans.hostLabel(server(2))).toBeUndefined();
  });
});

describe('plan', () => {
  const plan = (id: number, extra: Partial<Parameters<InstallPlans['plan']>[1]> = {}) =>
    plans.plan(server(id), { osId: 'debian-12', settings: {}, uefi: false, rootPasswordHash: '$6$abcdefgh$' + 'x'.repeat(86), ...extra });

  it('builds the variables the templates render, with this install\'s token in its URLs', () => {
    const p = plan(1, { token: 'tok-1234567890abcdefghij' });
    expect(p.osId).toBe('debian-12');
    expect(p.vars).toMatchObject({
      server_id: '1',
      hostname: 'web-1',
      mac: '02:00:00:00:00:01',
      ip: '10.1.0.5',
      gateway: '10.1.0.254',
      domain: 'dc1.example',
      base_url: 'http://10.0.0.1:8080',
      install_url: 'http://10.0.0.1:8080/boot/install/tok-1234567890abcdefghij',
      callback_url: 'http://10.0.0.1:8080/boot/callback/tok-1234567890abcdefghij',
      agent_url: 'http://10.0.0.1:8080/boot/agent/tok-1234567890abcdefghij',
      kernel_url: 'http://10.0.0.1:8080/boot/images/debian-12-netboot/linux',
      uefi: false,
    });
  });

  it('validates before a token exists (a probe token), for the given MAC', () => {
    const p = plan(1, { mac: '02:00:00:00:00:02' });
    expect(p.vars.callback_url).toMatch(/^http:\/\/10\.0\.0\.1:8080\/boot\/callback\/\S+$/);
    expect(p.vars).toMatchObject({ mac: '02:00:00:00:00:02', ip: '' });
  });

  it('names a bad setting as the API does (hostname, not params.hostname)', () => {
    let e: unknown;
    try {
      plan(1, { settings: { hostname: 'bad host name' } });
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(RackhandError);
    expect((e as RackhandError).code).toBe('INVALID_INPUT');
    expect((e as RackhandError).details).toMatchObject({ field: 'hostname' });
    expect((e as RackhandError).message).toMatch(/^hostname: /);
  });

  it('refuses a server without an interface to boot from, and an unknown OS', () => {
    expect(() => plan(2)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', message: 'server 2 has no network interface to boot from' }));
    expect(() => plan(1, { osId: 'windows-95' })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});

describe('arming (Netboot)', () => {
  let netboot: Netboot;
  beforeEach(() => {
    netboot = new Netboot(store.servers, new NetbootRepo(store.db, store.secrets), plans, new TaskRunner(store.tasks, pino({ level: 'silent' })), pino({ level: 'silent' }));
  });
  const request = { purpose: 'install' as const, osId: '1', settings: { hostname: 'web-1' }, uefi: true, rootPassword: ROOT_PASSWORD, taskId: null };

  it('keeps the root password only as its SHA-512 crypt hash', () => {
    const nb = netboot.arm(1, request);
    expect(nb).toMatchObject({ serverId: 1, purpose: 'install', osId: 'debian-12', params: { hostname: 'web-1', uefi: true } });
    const hash = nb.params.root_password_hash as string;
    expect(hash).toMatch(/^\$6\$/);
    expect(verifySha512Crypt(ROOT_PASSWORD, hash)).toBe(true);
    expect(JSON.stringify(nb)).not.toContain(ROOT_PASSWORD);
    for (const table of ['netboot', 'tasks', 'task_steps', 'servers']) expect(store.dump(table)).not.toContain(ROOT_PASSWORD);
  });

  it('validate arms nothing; a bad setting is refused before arming', () => {
    netboot.validate(1, { osId: 'debian-12', settings: {}, uefi: false, rootPassword: ROOT_PASSWORD });
    expect(netboot.state(1)).toBeUndefined();
    expect(() => netboot.arm(1, { ...request, settings: { hostname: '-bad-' } })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(netboot.state(1)).toBeUndefined();
  });

  it('shows a caller whether a host is armed, never its token', () => {
    const tech: Principal = { tokenId: 2, name: 'rack', role: 'tech', ownerId: null };
    expect(netboot.view(tech, 1)).toEqual({ armed: false });
    const nb = netboot.arm(1, request);
    const view = netboot.view(tech, 1);
    expect(view).toMatchObject({ armed: true, purpose: 'install', osId: 'debian-12', callbackAt: null });
    expect(JSON.stringify(view)).not.toContain(nb.token);
    netboot.report(nb.token, { ok: true });
    expect(netboot.view(tech, 1)).toMatchObject({ armed: false, callbackAt: expect.any(String) });
    expect(() => netboot.report(nb.token, { ok: true })).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });
});
