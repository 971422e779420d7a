// END TO END: the real rackhand daemon serves DHCP (reservation), TFTP and HTTP boot inside a private network
// namespace, and real qemu VMs (TCG) network-boot from it: BIOS (iPXE ROM → HTTP script) and UEFI (OVMF PXE →
// TFTP ipxe.efi → iPXE → HTTP script), each fetching its own per-host script and booting the test installer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootVm, type QemuVm } from '../harness/qemu-vm.js';
import { LAB_HTTP_PORT, startNetbootLab, waitTask, type NetbootLab } from '../harness/vm-bmc-netboot-lab.js';

const BIOS_MAC = '52:54:00:e2:00:01';
const UEFI_MAC = '52:54:00:e2:00:02';
const UNKNOWN_MAC = '52:54:00:e2:00:99';
const GHOST_MAC = '52:54:00:e2:00:03';
const ROOT_PASS = 'Netb00t-Secret!';

let L: NetbootLab;
const vms: QemuVm[] = [];

const logsFor = (msg: string, mac: string) => L.logs().filter((l) => l.msg === msg && l.mac === mac);

async function eqTask(params: Record<string, string | number>) {
  const r = await L.api.eq(params, L.admin);
  expect(r.status, r.text).toBe(200);
  return waitTask(L.api, r.json.task, 60_000);
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('network boot end to end: rackhand in a namespace, qemu VMs booting from it', () => {
  beforeAll(async () => {
    // The Debian install below is armed and rendered, never booted: placeholder files stand for its netboot image.
    L = await startNetbootLab({ placeholderImages: ['debian-12-netboot'] });
    const p = L.lab.prefix;
    const servers = [
      { id: 1, name: 'vm-bios', interfaces: [{ name: 'eth0', mac: BIOS_MAC, ip: `${p}.50` }] },
      { id: 2, name: 'vm-uefi', interfaces: [{ name: 'eth0', mac: UEFI_MAC, ip: `${p}.51` }] },
      // No VM behind this one: its reserved address is the test process's end of the API link, so the test can
      // ask for its script as that host.
      { id: 3, name: 'ghost', interfaces: [{ name: 'eth0', mac: GHOST_MAC, ip: L.link.hostAddress }] },
    ];
    const imp = await L.api.post('/api/v1/servers/import', servers);
    expect(imp.status, imp.text).toBe(200);
    for (const id of [1, 2]) {
      const t = await eqTask({ action: 'create_pxe', id, os_id: 900, root_pass: ROOT_PASS });
      expect(t.state, JSON.stringify(t)).toBe('succeeded');
    }
  }, 180_000);

  afterAll(async () => {
    for (const vm of vms) await vm.kill().catch(() => undefined);
    await L?.destroy();
  });

  it('armed hosts are shown armed', async () => {
    for (const id of [1, 2]) {
      expect((await L.api.get(`/api/v1/servers/${id}/netboot`)).json).toMatchObject({ armed: true, osId: 'rackhand-test', purpose: 'install' });
    }
    expect((await L.api.get('/api/v1/servers/3/netboot')).json).toEqual({ armed: false });
  });

  it('BIOS: iPXE ROM → DHCP reservation → its own HTTP script → the installer kernel boots and calls back', async () => {
    const vm = await bootVm({ lab: L.lab, firmware: 'bios', mac: BIOS_MAC, timeoutMs: 240_000 });
    vms.push(vm);
    // its own script: the echo names this host
    await vm.waitForSerial(/rackhand: booting rackhand-test \(install\) on vm-bios/, 120_000);
    const ack = logsFor('dhcp: ack', BIOS_MAC);
    expect(ack.length).toBeGreaterThan(0);
    expect(ack.map((l) => l.ip)).toContain(`${L.lab.prefix}.50`);
    expect(ack.map((l) => l.boot)).toContain(`script:http://${L.lab.bridgeIp}:${LAB_HTTP_PORT}/boot/ipxe/${BIOS_MAC}`);
    expect(L.logs().some((l) => l.msg === 'serving the armed boot script' && l.mac === BIOS_MAC && l.server === 1)).toBe(true);
    // the kernel and initramfs came over HTTP, /init got a lease and called the per-install callback
    await vm.waitForSerial(/RACKHAND-INSTALLER-DONE status=ok reason=called-back action=install/, 150_000);
    const nb = await until('callback recorded', async () => {
      const j = (await L.api.get('/api/v1/servers/1/netboot')).json;
      return j.callbackAt ? j : undefined;
    }, 10_000);
    expect(nb).toMatchObject({ armed: false, osId: 'rackhand-test' });
    await until('the callback in the log', () => L.logs().some((l) => l.msg === 'installer called back' && l.server === 1) || undefined, 5000);
    await vm.kill();
  }, 300_000);

  it('UEFI: OVMF PXE → TFTP ipxe.efi from rackhand → iPXE → its own HTTP script → the installer calls back', async () => {
    const vm = await bootVm({ lab: L.lab, firmware: 'uefi', mac: UEFI_MAC, timeoutMs: 300_000 });
    vms.push(vm);
    await vm.waitForSerial(/rackhand: booting rackhand-test \(install\) on vm-uefi/, 180_000);
    const offers = logsFor('dhcp: offer', UEFI_MAC).map((l) => l.boot);
    expect(offers).toContain('tftp:ipxe.efi'); // firmware PXE stage
    expect(offers).toContain(`script:http://${L.lab.bridgeIp}:${LAB_HTTP_PORT}/boot/ipxe/${UEFI_MAC}`); // iPXE stage
    expect(L.logs().some((l) => l.msg === 'serving the armed boot script' && l.mac === UEFI_MAC && l.server === 2)).toBe(true);
    // OVMF's PXE got ipxe.efi's size (tsize) and the file over TFTP — rackhand's is the only TFTP server here —
    // and the iPXE it started did the rest
    expect(vm.serial()).toMatch(/NBP filename is ipxe\.efi\s+NBP filesize is [1-9]\d* Bytes/);
    expect(vm.serial()).toMatch(/iPXE initialising devices/);
    await vm.waitForSerial(/RACKHAND-INSTALLER-DONE status=ok reason=called-back/, 180_000);
    await until('callback recorded', async () => ((await L.api.get('/api/v1/servers/2/netboot')).json.callbackAt ? true : undefined), 10_000);
    await vm.kill();
  }, 330_000);

  it('an unknown MAC gets no offer and shows up in GET /api/v1/discovered', async () => {
    const vm = await bootVm({ lab: L.lab, firmware: 'bios', mac: UNKNOWN_MAC, timeoutMs: 180_000 });
    vms.push(vm);
    // seen twice: the client retried, so it really got no answer the first time
    const rec = await until(
      'discovered twice',
      async () => ((await L.api.get('/api/v1/discovered')).json.list as any[]).find((d) => d.mac === UNKNOWN_MAC && d.seenCount >= 2),
      120_000,
    );
    expect(rec).toMatchObject({ mac: UNKNOWN_MAC, arch: 0, userClass: 'iPXE', uuid: '00000000-0000-4000-8000-525400e20099' });
    expect(logsFor('dhcp: offer', UNKNOWN_MAC)).toHaveLength(0);
    expect(logsFor('dhcp: ack', UNKNOWN_MAC)).toHaveLength(0);
    await vm.kill();
  }, 200_000);

  it("another host's script asked for from the wrong address is refused with 403", async () => {
    // re-arm the BIOS host so there is a real install script to protect
    const t = await eqTask({ action: 'create_pxe', id: 1, os_id: 900, root_pass: ROOT_PASS });
    expect(t.state).toBe('succeeded');
    const r = await L.api.get(`/boot/ipxe/${BIOS_MAC}`);
    expect(r.status).toBe(403);
    expect(r.text).not.toContain('rackhand.callback');
    await until('the refusal in the log', () => L.logs().some((l) => l.msg?.startsWith('boot script refused') && l.mac === BIOS_MAC && l.remote === L.link.hostAddress) || undefined, 5000);
    // unknown MACs and junk are not found / invalid, never a script
    expect((await L.api.get(`/boot/ipxe/${UNKNOWN_MAC}`)).status).toBe(404);
    expect((await L.api.get('/boot/ipxe/not-a-mac')).status).toBe(400);
  });

  it('a host with nothing armed gets the local-disk script; armed, its own script; the password only as a $6$ hash', async () => {
    const local = await L.api.get(`/boot/ipxe/${GHOST_MAC}`);
    expect(local.status, local.text).toBe(200);
    expect(local.text).toMatch(/^#!ipxe/);
    expect(local.text).toContain('no network install armed');
    expect(local.text).toContain('sanboot');

    // A Debian install for the same host: its script and preseed are rendered for it, the password hashed.
    const t = await eqTask({ action: 'create_pxe', id: 3, os_id: 1, root_pass: ROOT_PASS, hostname: 'ghost' });
    expect(t.state, JSON.stringify(t)).toBe('succeeded');
    const armed = await L.api.get(`/boot/ipxe/${GHOST_MAC}`);
    expect(armed.status).toBe(200);
    expect(armed.text).not.toContain('no network install armed');
    const install = /(http:\/\/\S+\/boot\/install\/[A-Za-z0-9_-]+)\//.exec(armed.text)?.[1];
    expect(install, armed.text).toBeDefined();
    const preseed = await L.api.get(new URL(`${install}/preseed`).pathname);
    expect(preseed.status, preseed.text).toBe(200);
    expect(preseed.text).toMatch(/\$6\$[./0-9A-Za-z]{0,16}\$[./0-9A-Za-z]{86}/);
    for (const text of [armed.text, preseed.text, L.rh.output(), JSON.stringify(t)]) expect(text).not.toContain(ROOT_PASS);

    const cleared = await eqTask({ action: 'clear_pxe', id: 3 });
    expect(cleared.state).toBe('succeeded');
    expect((await L.api.get(`/boot/ipxe/${GHOST_MAC}`)).text).toContain('no network install armed');
    // a spent install token is refused
    expect((await L.api.get(new URL(`${install}/preseed`).pathname)).status).toBe(404);
  });
});
