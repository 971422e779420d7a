// INTEGRATION: rackhand's DhcpServer in a private namespace network-boots real qemu VMs (BIOS iPXE ROM, UEFI OVMF PXE).

import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostBootInfo } from '../../../src/boot/boot-lookup.js';
import { createNetnsLab, type NetnsLab } from '../../harness/netns-lab.js';
import { compileForChild, type CompiledChild } from '../../harness/netns-ts-child.js';
import { bootVm, type QemuVm } from '../../harness/qemu-vm.js';

type Ev = Record<string, any> & { ev: string; t: number; src: string };



const HTTP_PORT = 8080;

/** One namespace + TFTP root + the compiled child, and the event log of every child started in it. */
function labFixture() {
  const f = {
    lab: undefined as unknown as NetnsLab,
    child: undefined as unknown as CompiledChild,
    tftpRoot: '',
    events: [] as Ev[],
    vms: [] as QemuVm[],
    waiters: [] as Array<() => void>,

    /** tftpd: 'rackhand' = the child serves tftpRoot with src/boot/tftp; 'tftpd-hpa' = in.tftpd (interop). */
    async setup(tftpd: 'rackhand' | 'tftpd-hpa'): Promise<void> {
      f.lab = await createNetnsLab();
      f.child = await compileForChild(join(import.meta.dirname, 'netboot-child.ts'));
      // Firmware PXE (UEFI path) fetches ipxe.efi over TFTP.
      f.tftpRoot = mkdtempSync(join(tmpdir(), `rh-dhcp-tftp-${process.pid}-`));
      copyFileSync('/usr/lib/ipxe/ipxe.efi', join(f.tftpRoot, 'ipxe.efi'));
      copyFileSync('/usr/lib/ipxe/undionly.kpxe', join(f.tftpRoot, 'undionly.kpxe'));
      chmodSync(f.tftpRoot, 0o755); // in.tftpd drops to user nobody: mkdtemp's 0700 would hide the files
      if (tftpd === 'tftpd-hpa') f.lab.spawnIn('in.tftpd', ['-L', '-a', `${f.lab.bridgeIp}:69`, '-s', f.tftpRoot]);
    },

    async startServer(src: string, cfg: Record<string, unknown>): Promise<void> {
      const proc = f.lab.spawnIn(process.execPath, [f.child.js, JSON.stringify({ serverIp: f.lab.bridgeIp, ...cfg })]);
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        try {
          f.events.push({ ...JSON.parse(line), t: Date.now(), src });
        } catch {
          f.events.push({ ev: 'stdout', line, t: Date.now(), src });
        }
        f.waiters.splice(0).forEach((w) => w());
      });
      proc.stderr!.on('data', (d: Buffer) => f.events.push({ ev: 'stderr', text: d.toString(), t: Date.now(), src }));
      await f.waitForEvent((e) => e.ev === 'ready' && e.src === src, 30_000, `${src} ready`);
    },

    async waitForEvent(pred: (e: Ev) => boolean, timeoutMs: number, what: string): Promise<Ev> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = f.events.find(pred);
        if (hit) return hit;
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for ${what}; last events:\n${f.events.slice(-15).map((e) => JSON.stringify(e)).join('\n')}`);
        }
        await new Promise<void>((r) => {
          f.waiters.push(r);
          setTimeout(r, 500);
        });
      }
    },

    async teardown(): Promise<void> {
      for (const vm of f.vms) await vm.kill().catch(() => undefined);
      if (f.lab) await f.lab.destroy();
      f.child?.remove();
      if (f.tftpRoot) rmSync(f.tftpRoot, { recursive: true, force: true });
    },
  };
  return f;
}

const doneFor = (mac: string) => (e: Ev) => e.ev === 'http' && e.url.startsWith(`/done?mac=${mac}`);
const logs = (f: ReturnType<typeof labFixture>, msg: string, mac: string, src?: string) =>
  f.events.filter((e) => e.ev === 'log' && e.msg === msg && e.mac === mac && (src === undefined || e.src === src));

describe('DHCP reservation mode netboots qemu VMs in a private namespace', () => {
  const BIOS_MAC = '52:54:00:d5:00:01';
  const UEFI_MAC = '52:54:00:d5:00:02';
  const UNKNOWN_MAC = '52:54:00:d5:00:99';
  const f = labFixture();

  beforeAll(async () => {
    await f.setup('rackhand');
    const p = f.lab.prefix;
    const hosts: HostBootInfo[] = [
      { serverId: 1, name: 'vm-bios', mac: BIOS_MAC, ip: `${p}.50`, netmask: '255.255.255.0', gateway: f.lab.bridgeIp, dns: [f.lab.bridgeIp], hostname: 'vm-bios', domain: 'lab.test', netbootArmed: true },
      { serverId: 2, name: 'vm-uefi', mac: UEFI_MAC, ip: `${p}.51`, netmask: '255.255.255.0', gateway: f.lab.bridgeIp, hostname: 'vm-uefi', netbootArmed: true },
    ];
    await f.startServer('rackhand', { mode: 'reservation', httpPort: HTTP_PORT, hosts, tftpRoot: f.tftpRoot });
  }, 120_000);
  afterAll(() => f.teardown());

  it('BIOS: iPXE ROM gets its reservation and the HTTP script URL, and fetches its own script', async () => {
    const t0 = Date.now();
    const vm = await bootVm({ lab: f.lab, firmware: 'bios', mac: BIOS_MAC, timeoutMs: 240_000 });
    f.vms.push(vm);
    const done = await f.waitForEvent(doneFor(BIOS_MAC), 180_000, 'BIOS VM chaining to /done');
    console.log(`BIOS: qemu start -> /done ${((done.t - t0) / 1000).toFixed(1)} s (ipv6 ${f.lab.ipv6})`);
    const script = f.events.find((e) => e.ev === 'http' && e.url === `/boot/${BIOS_MAC}.ipxe`);
    expect(script?.from).toBe(`${f.lab.prefix}.50`);
    expect(logs(f, 'dhcp: ack', BIOS_MAC)[0]?.boot).toBe(`script:http://${f.lab.bridgeIp}:${HTTP_PORT}/boot/${BIOS_MAC}.ipxe`);
    expect(done.url).toContain('platform=pcbios');
    // The script ran in the VM (SeaBIOS mirrors iPXE's console to serial).
    await vm.waitForSerial(/RACKHAND-SCRIPT host=vm-bios/, 60_000);
    await vm.kill();
  }, 300_000);

  it('an unknown MAC gets no offer and is recorded as discovered', async () => {
    const vm = await bootVm({ lab: f.lab, firmware: 'bios', mac: UNKNOWN_MAC, timeoutMs: 240_000 });
    f.vms.push(vm);
    // Two DISCOVERs: the client retried, so it really got nothing the first time.
    await f.waitForEvent(
      () => f.events.filter((e) => e.ev === 'discovered' && e.client.mac === UNKNOWN_MAC).length >= 2,
      120_000,
      'two discovered records',
    );
    const rec = f.events.find((e) => e.ev === 'discovered' && e.client.mac === UNKNOWN_MAC)!;
    // option 97 shows the SMBIOS UUID qemu was given (-uuid), i.e. as the BMC / dmidecode would show it
    expect(rec.client).toMatchObject({ mac: UNKNOWN_MAC, arch: 0, userClass: 'iPXE', uuid: '00000000-0000-4000-8000-525400d50099' });
    expect(rec.client.vendorClass).toMatch(/^PXEClient:Arch:00000/);
    expect(logs(f, 'dhcp: offer', UNKNOWN_MAC)).toHaveLength(0);
    expect(logs(f, 'dhcp: ack', UNKNOWN_MAC)).toHaveLength(0);
    await vm.kill();
  }, 300_000);

  it('UEFI: OVMF PXE gets ipxe.efi over rackhand TFTP, then iPXE gets and fetches its own script', async () => {
    const t0 = Date.now();
    const vm = await bootVm({ lab: f.lab, firmware: 'uefi', mac: UEFI_MAC, timeoutMs: 300_000 });
    f.vms.push(vm);
    const done = await f.waitForEvent(doneFor(UEFI_MAC), 240_000, 'UEFI VM chaining to /done');
    console.log(`UEFI: qemu start -> /done ${((done.t - t0) / 1000).toFixed(1)} s (ipv6 ${f.lab.ipv6})`);
    const offers = logs(f, 'dhcp: offer', UEFI_MAC).map((e) => e.boot);
    expect(offers).toContain('tftp:ipxe.efi');
    expect(offers).toContain(`script:http://${f.lab.bridgeIp}:${HTTP_PORT}/boot/${UEFI_MAC}.ipxe`);
    expect(done.url).toContain('platform=efi');
    const tftp = f.events.filter((e) => e.ev === 'tftp-stats').at(-1)?.stats;
    expect(tftp?.transfersOk).toBeGreaterThanOrEqual(1);
    await vm.kill();
  }, 330_000);
});

describe('DHCP proxy mode beside a site DHCP server (same host, shared port 67)', () => {
  const UEFI_MAC = '52:54:00:d5:01:02';
  const BIOS_MAC = '52:54:00:d5:01:01';
  const f = labFixture();

  beforeAll(async () => {
    await f.setup('tftpd-hpa');
    const p = f.lab.prefix;
    const host = (serverId: number, mac: string, ip: string, armed: boolean): HostBootInfo => ({
      serverId, name: `vm-${serverId}`, mac, ip, netmask: '255.255.255.0', netbootArmed: armed,
    });
    // The "site" server only leases addresses (nothing armed there); rackhand in proxy mode adds the boot info.
    await f.startServer('site', { mode: 'reservation', reuseAddr: true, hosts: [host(1, BIOS_MAC, `${p}.60`, false), host(2, UEFI_MAC, `${p}.61`, false)] });
    await f.startServer('rackhand', { mode: 'proxy', reuseAddr: true, httpPort: HTTP_PORT, hosts: [host(1, BIOS_MAC, `${p}.60`, true), host(2, UEFI_MAC, `${p}.61`, true)] });
  }, 120_000);
  afterAll(() => f.teardown());

  it('UEFI: OVMF takes the site lease and the proxy offer, boots ipxe.efi, then iPXE gets the script', async () => {
    const vm = await bootVm({ lab: f.lab, firmware: 'uefi', mac: UEFI_MAC, timeoutMs: 300_000 });
    f.vms.push(vm);
    const done = await f.waitForEvent(doneFor(UEFI_MAC), 240_000, 'UEFI VM (proxy) chaining to /done');
    expect(done.from).toBe(`${f.lab.prefix}.61`); // the site server's lease
    expect(logs(f, 'dhcp: ack', UEFI_MAC, 'site').length).toBeGreaterThan(0);
    expect(logs(f, 'dhcp: proxy offer', UEFI_MAC, 'rackhand').map((e) => e.boot)).toContain('tftp:ipxe.efi');
    // Discovery control 8 in option 43 ("boot file is in this offer") lets OVMF skip the port-4011 exchange;
    // the 4011 path is covered by the unit tests for clients that still ask there.
    expect(logs(f, 'dhcp: proxy offer', UEFI_MAC, 'rackhand').map((e) => e.boot)).toContain(
      `script:http://${f.lab.bridgeIp}:${HTTP_PORT}/boot/${UEFI_MAC}.ipxe`,
    );
    await vm.kill();
  }, 330_000);

  it('BIOS: the iPXE ROM combines the site lease with the proxy boot info', async () => {
    const vm = await bootVm({ lab: f.lab, firmware: 'bios', mac: BIOS_MAC, timeoutMs: 240_000 });
    f.vms.push(vm);
    const done = await f.waitForEvent(doneFor(BIOS_MAC), 180_000, 'BIOS VM (proxy) chaining to /done');
    expect(done.from).toBe(`${f.lab.prefix}.60`);
    expect(logs(f, 'dhcp: offer', BIOS_MAC, 'rackhand')).toHaveLength(0); // proxy never hands out addresses
    await vm.kill();
  }, 300_000);
});
