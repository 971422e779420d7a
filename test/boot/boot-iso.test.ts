// The per-host boot ISO: what it says (unit), what it refuses, and real VMs — BIOS and UEFI — on a network where no
// DHCP server answers, booting it from virtual media (inserted through the redfish driver and the emulated BMC) and
// fetching their boot script from an HTTP server by the static address the ISO gave them.

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBootIso, bootIsoScripts, type BootIsoSpec } from '../../src/boot/boot-iso.js';
import { MemoryCertificatePins } from '../harness/redfish-bmc/memory-certificate-pins.js';
import type { BmcTarget } from '../../src/bmc/bmc-driver.js';
import { RedfishDriver } from '../../src/bmc/redfish/redfish-driver.js';
import { createNetnsLab, type NetnsLab } from '../harness/netns-lab.js';
import { QemuMachine } from '../harness/redfish-bmc/qemu-machine.js';
import { RedfishEmulator } from '../harness/redfish-bmc/redfish-emulator.js';

const spec: BootIsoSpec = {
  mac: '52:54:00:5A:03:01',
  ip: '10.213.7.50',
  prefix: 24,
  gateway: '10.213.7.1',
  dns: ['10.213.7.1'],
  ipxeScriptUrl: 'http://10.213.7.1:8080/boot/ipxe/52:54:00:5a:03:01',
  grubConfigUrl: 'http://10.213.7.1:8080/boot/grub/52:54:00:5a:03:01',
};

describe('boot ISO scripts', () => {
  it('iPXE: finds the NIC by MAC, sets the static address, chains the host script, retries, then reboots', () => {
    const { ipxe } = bootIsoScripts(spec);
    expect(ipxe.split('\n')[0]).toBe('#!ipxe');
    expect(ipxe).toContain('iseq ${net0/mac} 52:54:00:5a:03:01 && set rhnic net0 ||');
    expect(ipxe).toContain('set ${rhnic}/ip 10.213.7.50\nset ${rhnic}/netmask 255.255.255.0\nset ${rhnic}/gateway 10.213.7.1\nset dns 10.213.7.1');
    expect(ipxe).toContain('chain --autofree http://10.213.7.1:8080/boot/ipxe/52:54:00:5a:03:01 ||');
    expect(ipxe).not.toMatch(/\bdhcp\b/);
  });

  it('GRUB: BIOS hands over to iPXE; UEFI brings the card up itself and loads the host GRUB config', () => {
    const { grubCfg } = bootIsoScripts({ ...spec, prefix: 26, ip: '10.1.2.77', gateway: '10.1.2.65' });
    expect(grubCfg).toContain('linux16 /ipxe.lkrn\n  initrd16 /rackhand/host.ipxe');
    expect(grubCfg).toContain('if [ "$net_rhprobe_mac" = "52:54:00:5a:03:01" ]; then set rhcard=$card; fi');
    expect(grubCfg).toContain('net_add_addr rh $rhcard 10.1.2.77\nnet_add_route rhlan 10.1.2.64/26 rh\nnet_add_route rhgw 0.0.0.0/0 gw 10.1.2.65');
    expect(grubCfg).toContain('configfile (http,10.213.7.1:8080)/boot/grub/52:54:00:5a:03:01');
  });

  it.each([
    [{ ipxeScriptUrl: 'http://10.0.0.1/boot/ipxe/x;reboot' }, 'ipxeScriptUrl'],
    [{ ipxeScriptUrl: 'http://10.0.0.1/${net0/ip}' }, 'ipxeScriptUrl'],
    [{ grubConfigUrl: 'https://10.0.0.1/boot/grub/x' }, 'grubConfigUrl'],
    [{ grubConfigUrl: 'http://10.0.0.1/a b' }, 'grubConfigUrl'],
    [{ ip: '10.0.0.256' }, 'ip'],
    [{ mac: '52:54:00:5a:03' }, 'mac'],
    [{ gateway: '10.9.9.1' }, 'gateway'],
    [{ prefix: 33 }, 'prefix'],
    [{ dns: ['1.1.1.1', '8.8.8.8', '9.9.9.9', '1.0.0.1'] }, 'dns'],
  ])('refuses %o as INVALID_INPUT naming %s', async (bad, field) => {
    const out = join(tmpdir(), `rh-iso-never-${process.pid}.iso`);
    await expect(buildBootIso({ ...spec, ...bad } as BootIsoSpec, out)).rejects.toMatchObject({ code: 'INVALID_INPUT', details: { field } });
    expect(() => statSync(out)).toThrow();
  });

  it('a missing tool is BOOT_ERROR naming the packages, and leaves no file', async () => {
    const out = join(tmpdir(), `rh-iso-none-${process.pid}.iso`);
    await expect(buildBootIso(spec, out, { tools: { grubMkrescue: '/nonexistent/grub-mkrescue', ipxeLkrn: '/usr/lib/ipxe/ipxe.lkrn' } })).rejects.toMatchObject({
      code: 'BOOT_ERROR',
      message: expect.stringContaining('grub-pc-bin grub-efi-amd64-bin xorriso mtools'),
    });
    expect(() => statSync(out)).toThrow();
  });
});

// ---------------------------------------------------------------------- real VMs, no DHCP

/** An HTTP server inside the namespace (where the VMs are), logging each request path on stdout. */
const NS_HTTP = `
const http = require('node:http');
http.createServer((req, res) => {
  process.stdout.write(JSON.stringify({ path: req.url, from: req.socket.remoteAddress }) + '\\n');
  if (req.url.startsWith('/boot/ipxe/')) return res.end('#!ipxe\\necho RACKHAND-HOST-SCRIPT-REACHED from \${net0/ip}\\nsleep 600\\n');
  if (req.url.startsWith('/boot/grub/')) return res.end('echo "RACKHAND-HOST-GRUB-REACHED"\\nsleep 600\\n');
  res.statusCode = 404; res.end();
}).listen(8080, process.argv[1]);
`;

describe('booting the ISO from virtual media with no DHCP on the network', () => {
  let lab: NetnsLab;
  let nsHttp: ChildProcess;
  const requests: { path: string; from: string }[] = [];
  let isoServer: Server;
  let isoDir: string;
  let isoBase: string;

  beforeAll(async () => {
    lab = await createNetnsLab({ ipv6: 'off' });
    nsHttp = lab.spawnIn(process.execPath, ['-e', NS_HTTP, lab.bridgeIp], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    nsHttp.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const r = JSON.parse(buf.slice(0, nl)) as { path: string; from: string };
        requests.push({ ...r, path: decodeURIComponent(r.path) }); // iPXE sends the MAC's colons as %3A
        buf = buf.slice(nl + 1);
      }
    });
    isoDir = mkdtempSync(join(tmpdir(), `rh-iso-test-${process.pid}-`));
    // The BMC fetches the ISO from here (as it would from rackhand's HTTP server).
    isoServer = createServer((req, res) => {
      try {
        res.writeHead(200).end(readFileSync(join(isoDir, (req.url ?? '').replace(/^\/boot\/iso\//, ''))));
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => isoServer.listen(0, '127.0.0.1', () => r()));
    isoBase = `http://127.0.0.1:${(isoServer.address() as { port: number }).port}/boot/iso`;
  });

  afterAll(async () => {
    await lab?.destroy();
    await new Promise((r) => isoServer.close(r));
    rmSync(isoDir, { recursive: true, force: true });
  });

  async function deployByVirtualMedia(mac: string, firmware: 'Legacy' | 'UEFI', hostIp: string) {
    // Nothing in the namespace answers DHCP: no process listens on UDP 67 there.
    expect((await lab.exec('ss', ['-Hlun', 'sport = :67'])).stdout.trim()).toBe('');
    const url = `http://${lab.bridgeIp}:8080`;
    const hostSpec: BootIsoSpec = { mac, ip: hostIp, prefix: 24, gateway: lab.bridgeIp, ipxeScriptUrl: `${url}/boot/ipxe/${mac}`, grubConfigUrl: `${url}/boot/grub/${mac}` };
    const { bytes } = await buildBootIso(hostSpec, join(isoDir, `${mac.replace(/:/g, '')}.iso`));
    expect(bytes).toBeGreaterThan(1 << 20);

    const machine = await QemuMachine.create({ lab, name: `iso${firmware}`, mac, nativeMode: firmware });
    const emu = await new RedfishEmulator({ machine, username: 'admin', password: 'rf-Secret-42' }).start();
    const d = new RedfishDriver({ trust: { mode: 'pin', pins: new MemoryCertificatePins() } });
    const t: BmcTarget = { host: '127.0.0.1', port: emu.port, username: 'admin', password: 'rf-Secret-42', cipherSuite: 3, privilege: 'administrator' };
    // What the deploy workflow does: insert (ejecting first), one-time CD boot, power on.
    await d.insertMedia(t, `${isoBase}/${mac.replace(/:/g, '')}.iso`);
    await d.setBootDevice(t, { device: 'cdrom', mode: firmware === 'UEFI' ? 'uefi' : 'legacy', persistent: false });
    await d.power(t, 'on');
    return {
      machine,
      stop: async () => {
        await d.close();
        await emu.stop();
        await machine.close();
      },
    };
  }

  it('BIOS: GRUB → iPXE with the static address → the host iPXE script over HTTP', async () => {
    const mac = '52:54:00:5a:03:01';
    const ip = `${lab.prefix}.50`;
    const vm = await deployByVirtualMedia(mac, 'Legacy', ip);
    try {
      await vm.machine.waitForSerial(new RegExp(`RACKHAND-HOST-SCRIPT-REACHED from ${ip.replace(/\./g, '\\.')}`), 90_000);
      expect(requests).toContainEqual({ path: `/boot/ipxe/${mac}`, from: ip });
      expect(vm.machine.serial()).toMatch(/rackhand: net0 [\d.]+\/24, loading http:/);
    } finally {
      await vm.stop();
    }
  }, 180_000);

  it('UEFI: GRUB brings the card up with the static address → the host GRUB config over HTTP', async () => {
    const mac = '52:54:00:5a:03:02';
    const ip = `${lab.prefix}.51`;
    const vm = await deployByVirtualMedia(mac, 'UEFI', ip);
    try {
      await vm.machine.waitForSerial(/RACKHAND-HOST-GRUB-REACHED/, 150_000);
      expect(requests).toContainEqual({ path: `/boot/grub/${mac}`, from: ip });
    } finally {
      await vm.stop();
    }
  }, 240_000);
});
