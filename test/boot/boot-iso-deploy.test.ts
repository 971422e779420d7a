// Virtual-media deploys in the real agent (in-process, simulated BMCs): refused at the edge when the host cannot boot
// that way; otherwise the host's boot ISO is built, served under the install's token only while it is armed, ejected,
// inserted and booted once from CD, then ejected and removed when the install reports — or when it is cancelled.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSite, type TestSite } from '../web/test-site.js';

let site: TestSite;
const call = async (method: string, p: string, body?: unknown, token = site.tokens.admin) => {
  const res = await fetch(site.url + p, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, text };
};
const task = (id: number) => call('GET', `/api/v1/tasks/${id}`).then((r) => r.json);
const isoFiles = () => {
  try {
    return readdirSync(path.join(site.stateDir, 'boot-iso'));
  } catch {
    return [];
  }
};

beforeAll(async () => {
  site = await startTestSite();
}, 60_000);
afterAll(async () => site?.close());

describe('refused at once when the host cannot boot that way (nothing armed, no BMC command)', () => {
  it('an IPMI BMC, an OS installer that needs DHCP, a host without an address, UEFI HTTP boot without UEFI', async () => {
    await call('POST', '/api/v1/servers', { id: 3101, name: 'vm-ipmi', interfaces: [{ mac: '02:aa:00:00:31:01', ip: '192.0.2.201' }], bmc: { driver: 'ipmi', host: '192.0.2.251', username: 'u', password: 'p' } });
    await call('POST', '/api/v1/servers', { id: 3102, name: 'vm-noip', interfaces: [{ mac: '02:aa:00:00:31:02' }], bmc: { driver: 'simulated', host: '198.51.100.202', username: 'ADMIN', password: 'x' } });
    const calls = site.driver.calls.length;
    const cases: [number, Record<string, unknown>, RegExp][] = [
      [3101, { os_id: 'debian-12', root_pass: 'Deploy-pass-1', boot_via: 'virtual_media' }, /^boot_via virtual_media: server 3101's BMC \(driver ipmi\) has no virtual media; use pxe, or the redfish driver$/],
      [3101, { os_id: 'debian-12', root_pass: 'Deploy-pass-1', boot_via: 'http', uefi: true }, /^boot_via http: server 3101's BMC \(driver ipmi\) cannot choose UEFI HTTP boot/],
      [1001, { os_id: 'debian-12', root_pass: 'Deploy-pass-1', boot_via: 'virtual_media' }, /^boot_via virtual_media: Debian 12 .* needs DHCP; virtual media boots the rackhand ramdisk/],
      [1001, { os_id: 'debian-12', root_pass: 'Deploy-pass-1', boot_via: 'http' }, /^boot_via http: UEFI HTTP boot is UEFI only: set uefi$/],
      [1001, { os_id: 'debian-12', root_pass: 'Deploy-pass-1', boot_via: 'usb' }, /boot_via/],
    ];
    for (const [id, body, message] of cases) {
      const r = await call('POST', `/api/v1/servers/${id}/reinstall`, body);
      expect(r.status, r.text).toBe(400);
      expect(r.json.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'boot_via' } });
      expect(r.json.error.message).toMatch(message);
    }
    // The server's own boot_via applies to every deploy, inspection too.
    expect((await call('PUT', '/api/v1/servers/3102', { boot_via: 'virtual_media' })).status).toBe(200);
    const noIp = await call('POST', '/api/v1/servers/3102/inspect');
    expect(noIp.status, noIp.text).toBe(400);
    expect(noIp.json.error.message).toMatch(/^boot_via virtual_media: server 3102 has no IPv4 address for 02:aa:00:00:31:02 \(the boot ISO sets it statically/);
    expect(site.driver.calls.length).toBe(calls);
    expect((await call('GET', '/api/v1/servers/1001/netboot')).json).toEqual({ armed: false });
    // eq takes it as rackhand's own parameter of reinstall.
    const form = new URLSearchParams({ action: 'reinstall', id: '3101', os_id: '1', root_pass: 'Deploy-pass-1', boot_via: 'virtual_media', token: site.tokens.admin });
    const eq = await fetch(`${site.url}/api/eq`, { method: 'POST', body: form });
    const ej = await eq.json();
    expect(ej).toMatchObject({ result: 'ERROR', error: { code: 'INVALID_INPUT', details: { field: 'boot_via' } } });
  });
});

describe('an inspection booted from the host\'s boot ISO', () => {
  it('builds, serves (Range too) only under the armed token, ejects, inserts, boots CD once; the report ejects and removes it', async () => {
    const id = 1005;
    expect((await call('PUT', `/api/v1/servers/${id}`, { boot_via: 'virtual_media' })).json.bootVia).toBe('virtual_media');
    const started = await call('POST', `/api/v1/servers/${id}/inspect`);
    expect(started.status, started.text).toBe(202);
    await expect.poll(async () => (await task(started.json.id)).waitingFor ?? JSON.stringify((await task(started.json.id)).steps), { timeout: 60_000 }).toBe('installer report');
    const t = await task(started.json.id);
    expect(t.params.boot_via).toBe('virtual_media');
    expect(t.steps.filter((s: any) => s.state === 'succeeded').map((s: any) => s.name)).toEqual([
      'arm netboot (diag)',
      "build the host's boot ISO",
      'eject virtual media',
      expect.stringMatching(/^insert the boot ISO as virtual media \(\d+ MiB\)$/),
      'boot device cdrom (legacy, next boot)',
      'power on or reset into the boot ISO',
    ]);
    const token = site.agent.core.netboot.state(id)!.token;
    const bmc = site.bmcOf(id); // made by the deploy's first call, with the inventory's login
    // Nothing in the journal carries the install's token (the ISO's URL is a secret while it is armed).
    expect(JSON.stringify(t)).not.toContain(token);
    const url = `${site.url}/boot/iso/${token}.iso`;
    expect(bmc.media).toEqual({ inserted: true, image: url });
    expect(bmc.log.filter((l) => /Media|setBootDevice|power /.test(l))).toEqual(['ejectMedia', `insertMedia ${url}`, 'setBootDevice cdrom/legacy/once', 'power on']);
    expect(isoFiles()).toHaveLength(1);
    expect(isoFiles()[0]).not.toContain(token.slice(0, 8)); // kept by the token's hash, not the token

    const iso = await fetch(url);
    expect(iso.status).toBe(200);
    expect(iso.headers.get('content-type')).toBe('application/x-iso9660-image');
    const bytes = Buffer.from(await iso.arrayBuffer());
    expect(bytes.length).toBeGreaterThan(1 << 20);
    expect(bytes.subarray(0x8001, 0x8006).toString()).toBe('CD001'); // ISO 9660
    const part = await fetch(url, { headers: { range: 'bytes=32768-32773' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).subarray(1).toString()).toBe('CD001');
    expect((await fetch(`${site.url}/boot/iso/${'A'.repeat(32)}.iso`)).status).toBe(404);
    expect((await fetch(`${site.url}/boot/iso/..%2F..%2Frackhand.db`)).status).toBe(404);
    const history = (await call('GET', `/api/v1/servers/${id}/boot-history`)).json.list;
    expect(history.find((e: any) => e.kind === 'http-iso')?.detail).toMatch(/^boot ISO fetched \(virtual media, by the BMC at 127\.0\.0\.1\): diag diagnostics/);

    // The ramdisk's host script is told its address: no DHCP answers a host booted this way.
    const script = await fetch(`${site.url}/boot/ipxe/02:de:00:00:01:05`);
    expect(script.status).toBe(403); // served only to the host's own address (the ISO brings it up with that one)

    expect((await site.installerCallback(id)).status).toBe(200);
    await expect.poll(async () => (await task(started.json.id)).state, { timeout: 30_000 }).toBe('succeeded');
    expect(bmc.media).toEqual({ inserted: false, image: null });
    expect(isoFiles()).toEqual([]);
    expect((await fetch(url)).status).toBe(404);
  }, 120_000);

  it('a cancelled virtual-media deploy ejects the ISO, removes it and leaves the host booting from disk', async () => {
    const id = 1006;
    await call('PUT', `/api/v1/servers/${id}`, { boot_via: 'virtual_media' });
    const started = await call('POST', `/api/v1/servers/${id}/inspect`);
    expect(started.status, started.text).toBe(202);
    await expect.poll(async () => (await task(started.json.id)).waitingFor ?? (await task(started.json.id)).state, { timeout: 60_000 }).toBe('installer report');
    expect(site.bmcOf(id).media.inserted).toBe(true);
    await call('POST', `/api/v1/tasks/${started.json.id}/cancel`);
    await expect.poll(async () => (await task(started.json.id)).state, { timeout: 30_000 }).toBe('cancelled');
    const t = await task(started.json.id);
    expect(t.steps.filter((s: any) => s.name.startsWith('cleanup:')).map((s: any) => `${s.name}: ${s.message}`)).toEqual([
      'cleanup: disarm netboot: done',
      'cleanup: eject virtual media: done',
      'cleanup: boot device disk: done',
    ]);
    expect(site.bmcOf(id).media).toEqual({ inserted: false, image: null });
    expect(site.bmcOf(id).boot).toMatchObject({ device: 'disk', persistent: true });
    expect(isoFiles()).toEqual([]);
  }, 120_000);

  it("UEFI HTTP boot: a one-time UefiHttp boot with the URL of rackhand's iPXE binary, which the host fetches over HTTP", async () => {
    const id = 1007;
    const started = await call('POST', `/api/v1/servers/${id}/reinstall`, { os_id: 'debian-12', root_pass: 'Deploy-pass-1', uefi: true, boot_via: 'http' });
    expect(started.status, started.text).toBe(202);
    await expect.poll(async () => (await task(started.json.id)).waitingFor ?? JSON.stringify((await task(started.json.id)).steps), { timeout: 60_000 }).toBe('installer report');
    const uri = `${site.url}/boot/files/ipxe.efi`;
    expect((await task(started.json.id)).steps.map((s: any) => s.name)).toContain(`boot device http (uefi, next boot, ${uri})`);
    expect(site.bmcOf(id).log).toContain(`setBootDevice http/uefi/once ${uri}`);
    expect((await fetch(uri)).status).toBe(200);
    expect((await site.installerCallback(id)).status).toBe(200);
    await expect.poll(async () => (await task(started.json.id)).state, { timeout: 30_000 }).toBe('succeeded');
    expect(site.bmcOf(id).boot).toMatchObject({ device: 'disk', mode: 'uefi', persistent: true });
  }, 120_000);
});
