// Test harness: boots the rackhand ramdisk in qemu VMs on a NetnsLab bridge against an AgentJobServer that runs in
// the test process (a TCP relay inside the namespace forwards <bridge>:8080 to it over a veth link).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetnsLab, type NetnsLab } from './netns-lab.js';
import { bootVm, type Firmware, type QemuVm } from './qemu-vm.js';
import { linkIntoLab, type ApiLink } from './vm-bmc-netboot-lab.js';
import { startAgentJobServer, type AgentJobServer } from './agent-job-server.js';

export const RELAY_PORT = 8080;

const RELAY = `
const net = require('node:net');
const [lhost, lport, thost, tport] = process.argv.slice(1);
net.createServer((c) => {
  const s = net.connect(Number(tport), thost);
  c.pipe(s).pipe(c);
  c.on('error', () => s.destroy());
  s.on('error', () => c.destroy());
}).listen(Number(lport), lhost, () => console.log('relay ready'));
`;

export interface RamdiskLab {
  lab: NetnsLab;
  link: ApiLink;
  server: AgentJobServer;
  /** A fresh address for a VM on the bridge (static ip=, no DHCP server needed). */
  nextIp(): string;
  /** Starts busybox udhcpd on the bridge (.100-.120, router and DNS = the bridge); idempotent. */
  startDhcp(): void;
  destroy(): Promise<void>;
}

export async function startRamdiskLab(): Promise<RamdiskLab> {
  const lab = await createNetnsLab();
  try {
    const link = await linkIntoLab(lab);
    const server = await startAgentJobServer(link.hostAddress);
    const relay = lab.spawnIn('node', ['-e', RELAY, lab.bridgeIp, String(RELAY_PORT), link.hostAddress, String(server.port)]);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('relay did not start')), 15_000);
      relay.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('relay ready')) {
          clearTimeout(t);
          resolve();
        }
      });
      relay.once('exit', (code) => reject(new Error(`relay exited ${code}`)));
    });
    server.base = `http://${lab.bridgeIp}:${RELAY_PORT}`;
    let ip = 40;
    let dhcpDir: string | undefined;
    return {
      lab,
      link,
      server,
      nextIp: () => `${lab.prefix}.${ip++}`,
      startDhcp() {
        if (dhcpDir) return;
        dhcpDir = mkdtempSync(join(tmpdir(), `rh-udhcpd-${process.pid}-`));
        const conf = join(dhcpDir, 'udhcpd.conf');
        writeFileSync(conf, [
          `start ${lab.prefix}.100`, `end ${lab.prefix}.120`, `interface ${lab.bridge}`,
          `lease_file ${join(dhcpDir, 'leases')}`, `pidfile ${join(dhcpDir, 'udhcpd.pid')}`,
          'option subnet 255.255.255.0', `option router ${lab.bridgeIp}`, `option dns ${lab.bridgeIp}`, 'option lease 3600', '',
        ].join('\n'));
        writeFileSync(join(dhcpDir, 'leases'), '');
        lab.spawnIn('busybox', ['udhcpd', '-f', conf], { stdio: 'ignore' });
      },
      async destroy() {
        await server.close();
        await link.remove();
        await lab.destroy();
        if (dhcpDir) rmSync(dhcpDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await lab.destroy();
    throw e;
  }
}

export interface LabDisk {
  file: string;
  serial: string;
  model: string;
}

/**
 * qemu arguments for SATA disks on an AHCI controller, with a serial and model (what inspect must report). AHCI,
 * not the machine's PIIX IDE: booted by OVMF's -kernel loader, Linux's ata_piix here never finds the IDE disk.
 */
export function diskArgs(disks: LabDisk[]): string[] {
  if (disks.length > 6) throw new Error('one AHCI controller has 6 ports');
  return ['-device', 'ahci,id=ahci0', ...disks.flatMap((d, i) => [
    '-drive', `if=none,id=ld${i},file=${d.file},format=raw`,
    '-device', `ide-hd,drive=ld${i},bus=ahci0.${i},serial=${d.serial},model=${d.model},bootindex=${10 + i}`,
  ])];
}

export interface RamdiskBoot {
  kernel: string;
  initramfs: string;
}

/** Boots the ramdisk (qemu -kernel/-initrd) with the agent pointed at the token; static address on the bridge. */
export async function bootRamdisk(o: {
  rl: RamdiskLab;
  ramdisk: RamdiskBoot;
  token: string;
  mac: string;
  firmware: Firmware;
  disks: LabDisk[];
  memMb?: number;
  smp?: number;
  /** DHCP (the lab's udhcpd, see startDhcp) instead of a static address. */
  dhcp?: boolean;
}): Promise<{ vm: QemuVm; ip: string }> {
  const ip = o.dhcp ? '' : o.rl.nextIp();
  const append = [
    'console=ttyS0,115200', 'quiet',
    `rackhand.url=${o.rl.server.agentUrl(o.token)}`,
    o.dhcp ? 'ip=dhcp' : `ip=${ip}::${o.rl.lab.bridgeIp}:255.255.255.0:::off`,
    `rackhand.mac=${o.mac}`,
  ].join(' ');
  const vm = await bootVm({
    lab: o.rl.lab,
    firmware: o.firmware,
    mac: o.mac,
    memMb: o.memMb ?? 512,
    smp: o.smp,
    timeoutMs: 600_000,
    extraArgs: ['-kernel', o.ramdisk.kernel, '-initrd', o.ramdisk.initramfs, '-append', append, ...diskArgs(o.disks)],
  });
  return { vm, ip };
}

/** Boots a VM from its (deployed) disk only: no kernel given, the disk first. */
export async function bootFromDisk(o: { rl: RamdiskLab; mac: string; firmware: Firmware; disk: LabDisk }): Promise<QemuVm> {
  return bootVm({
    lab: o.rl.lab,
    firmware: o.firmware,
    mac: o.mac,
    memMb: 512,
    bootFirst: 'disk',
    timeoutMs: 300_000,
    diskImage: o.disk.file,
  });
}

/** Waits for the qemu process to end (the guest powered off); false when it is still running after timeoutMs. */
export function waitExit(vm: QemuVm, timeoutMs: number): Promise<boolean> {
  if (vm.process.exitCode !== null || vm.process.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), timeoutMs);
    vm.process.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-${process.pid}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeRandomFile(file: string, bytes: number, seed: number): Buffer {
  // deterministic, incompressible-looking content so "untouched" is checkable byte for byte
  const b = Buffer.alloc(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  writeFileSync(file, b);
  return b;
}
