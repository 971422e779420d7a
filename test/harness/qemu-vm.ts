// Test harness: qemu VMs (TCG) that network-boot on a NetnsLab bridge; the argv builder is reusable (BMC power hooks).

import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { stopChild, type NetnsLab } from './netns-lab.js';

export type Firmware = 'bios' | 'uefi';

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

export interface QemuVmSpec {
  name: string;
  firmware: Firmware;
  mac: string;
  /** Tap in the namespace qemu runs in. */
  tap: string;
  /** Per-VM files (sercon-port, OVMF vars copy) live here; see prepareQemuFiles. */
  workDir: string;
  serialLog: string;
  /** qemu -device model; default bios e1000 (its option ROM is iPXE), uefi virtio-net-pci without ROM (OVMF's own PXE). */
  nic?: string;
  memMb?: number;
  /** CPUs (default 1). */
  smp?: number;
  /** SMBIOS UUID (DHCP option 97). */
  uuid?: string;
  /** /dev/kvm here is nested software KVM that cannot run firmware: tcg by default. */
  accel?: 'tcg' | 'kvm';
  diskImage?: string;
  /** The disk's serial number and model as the guest sees them (IDE identify). */
  diskSerial?: string;
  /** ahci: the disk on an AHCI controller (Linux under OVMF finds no disk on qemu's PIIX IDE). Default ide. */
  diskBus?: 'ide' | 'ahci';
  diskModel?: string;
  /** Which of NIC and disk gets bootindex 1. */
  bootFirst?: 'network' | 'disk';
  /** HMP monitor on a unix socket (screendump, system_reset, qom-set bootindex). */
  monitorSocket?: string;
  /** Exit instead of rebooting (a boot loop then ends the test quickly). */
  noReboot?: boolean;
  extraArgs?: string[];
}

/** Ids the argv gives devices, so a BMC hook can `qom-set /machine/peripheral/<id> bootindex N`. */
export const QEMU_NIC_ID = 'nic0';
export const QEMU_DISK_ID = 'disk0';

function vmFile(spec: Pick<QemuVmSpec, 'workDir'>, f: string): string {
  return join(spec.workDir, f);
}

/** Writes what the argv refers to: the SeaBIOS serial-console switch and a writable copy of the OVMF vars. */
export function prepareQemuFiles(spec: QemuVmSpec): void {
  mkdirSync(spec.workDir, { recursive: true });
  // SeaBIOS "sercon": mirror the VGA text console (SeaBIOS, iPXE) to COM1 (port 0x3f8).
  writeFileSync(vmFile(spec, 'sercon-port'), Buffer.from([0xf8, 0x03]));
  if (spec.firmware === 'uefi' && !existsSync(vmFile(spec, 'OVMF_VARS.fd'))) copyFileSync(OVMF_VARS, vmFile(spec, 'OVMF_VARS.fd'));
}

/** Arguments after `qemu-system-x86_64`. */
export function buildQemuArgv(spec: QemuVmSpec): string[] {
  const nic = spec.nic ?? (spec.firmware === 'bios' ? 'e1000' : 'virtio-net-pci,romfile=');
  const netFirst = (spec.bootFirst ?? 'network') === 'network';
  const argv = [
    '-name', spec.name,
    '-machine', 'pc',
    '-accel', spec.accel ?? 'tcg',
    '-m', String(spec.memMb ?? 256),
    '-smp', String(spec.smp ?? 1),
    '-nodefaults',
    '-vga', 'std',
    '-display', 'none',
  ];
  if (spec.uuid) argv.push('-uuid', spec.uuid);
  if (spec.noReboot) argv.push('-no-reboot');
  if (spec.firmware === 'uefi') {
    argv.push(
      '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
      '-drive', `if=pflash,format=raw,unit=1,file=${vmFile(spec, 'OVMF_VARS.fd')}`,
    );
  } else {
    argv.push('-fw_cfg', `name=etc/sercon-port,file=${vmFile(spec, 'sercon-port')}`);
  }
  if (spec.diskImage) {
    if (spec.diskBus === 'ahci') argv.push('-device', 'ahci,id=ahci0');
    argv.push(
      '-drive', `if=none,id=d0,file=${spec.diskImage},format=raw`,
      '-device',
      `ide-hd,${spec.diskBus === 'ahci' ? 'bus=ahci0.0,' : ''}drive=d0,id=${QEMU_DISK_ID},bootindex=${netFirst ? 2 : 1}${spec.diskSerial ? `,serial=${spec.diskSerial}` : ''}${spec.diskModel ? `,model=${spec.diskModel}` : ''}`,
    );
  }
  argv.push(
    '-netdev', `tap,id=n0,ifname=${spec.tap},script=no,downscript=no`,
    '-device', `${nic},netdev=n0,mac=${spec.mac},id=${QEMU_NIC_ID},bootindex=${netFirst ? 1 : 2}`,
    '-chardev', `file,id=ser0,path=${spec.serialLog},append=on`,
    '-serial', 'chardev:ser0',
  );
  if (spec.monitorSocket) argv.push('-monitor', `unix:${spec.monitorSocket},server=on,wait=off`);
  argv.push(...(spec.extraArgs ?? []));
  return argv;
}

/** The full command that starts the VM inside a namespace (for a BMC power hook that launches qemu itself). */
export function qemuCommand(spec: QemuVmSpec, netns?: string): string[] {
  const qemu = ['qemu-system-x86_64', ...buildQemuArgv(spec)];
  return netns ? ['ip', 'netns', 'exec', netns, ...qemu] : qemu;
}

/** POSIX-shell quoting of an argv, for writing it into a hook script. */
export function shellQuote(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** One HMP command on a VM's monitor socket (system_reset, `qom-set /machine/peripheral/nic0 bootindex 1`, quit…). */
export function qemuMonitor(socketPath: string, command: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = '';
    let sent = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`qemu monitor ${socketPath}: no answer to ${command}`));
    }, timeoutMs);
    sock.on('data', (d) => {
      buf += d.toString();
      if (!buf.endsWith('(qemu) ')) return;
      if (!sent) {
        sent = true;
        buf = '';
        sock.write(`${command}\n`);
        return;
      }
      clearTimeout(timer);
      sock.end();
      // drop the echoed command line and the prompt
      resolve(buf.replace(/\r/g, '').split('\n').slice(1, -1).join('\n').trim());
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // `quit` closes the socket instead of prompting again
    sock.on('close', () => {
      clearTimeout(timer);
      if (sent) resolve(buf.trim());
    });
  });
}

/** Serial text without ANSI escapes, backspace overstrikes and CRs. */
export function cleanSerial(raw: string): string {
  return raw
    .replace(/\x1b\[[0-9;?=]*[A-Za-z]/g, '')
    .replace(/\x1bc|\x1b[()][0-9A-Za-z]/g, '') // RIS has no argument; charset designations have one
    .replace(/.\x08/g, '')
    .replace(/\r/g, '');
}

export interface BootVmOptions {
  lab: NetnsLab;
  firmware: Firmware;
  mac: string;
  diskImage?: string;
  /** Default <workDir>/serial.log (a workDir made here is removed by kill(), serial log included). */
  serialLog?: string;
  /** Hard limit: the VM is killed after this long (a hung boot must not hang the test run). Default 300 s. */
  timeoutMs?: number;
  workDir?: string;
  nic?: string;
  uuid?: string;
  memMb?: number;
  smp?: number;
  /** Which of NIC and disk gets bootindex 1 (default network). */
  bootFirst?: 'network' | 'disk';
  /** More qemu arguments (extra disks, -kernel/-initrd/-append, `-fw_cfg …IPv4PXESupport,string=no` for UEFI HTTP boot). */
  extraArgs?: string[];
}

export interface QemuVm {
  pid: number;
  tap: string;
  serialLog: string;
  argv: string[];
  /** HMP socket, for qemuMonitor(). */
  monitorSocket: string;
  process: ChildProcess;
  /** Cleaned serial output so far. */
  serial(): string;
  /** Resolves with the match, rejects on timeout or VM exit without a match. */
  waitForSerial(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  kill(): Promise<void>;
}

export async function bootVm(o: BootVmOptions): Promise<QemuVm> {
  const hex = o.mac.toLowerCase().replace(/:/g, '');
  const ownDir = o.workDir === undefined;
  const workDir = o.workDir ?? mkdtempSync(join(tmpdir(), `rh-vm-${process.pid}-${hex}-`));
  const tap = await o.lab.addTap(`v${hex}`);
  const spec: QemuVmSpec = {
    name: `rh-${hex}`,
    firmware: o.firmware,
    mac: o.mac.toLowerCase(),
    tap,
    workDir,
    serialLog: o.serialLog ?? join(workDir, 'serial.log'),
    nic: o.nic,
    memMb: o.memMb,
    smp: o.smp,
    bootFirst: o.bootFirst,
    extraArgs: o.extraArgs,
    uuid: o.uuid ?? `00000000-0000-4000-8000-${hex}`,
    diskImage: o.diskImage,
    monitorSocket: join(workDir, 'mon.sock'),
  };
  prepareQemuFiles(spec);
  writeFileSync(spec.serialLog, '');
  const argv = buildQemuArgv(spec);
  const child = o.lab.spawnIn('qemu-system-x86_64', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const watchdog = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 300_000);
  child.once('exit', () => clearTimeout(watchdog));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });

  const serial = () => {
    try {
      return cleanSerial(readFileSync(spec.serialLog, 'latin1'));
    } catch {
      return '';
    }
  };
  return {
    pid: child.pid!,
    tap,
    serialLog: spec.serialLog,
    argv,
    monitorSocket: spec.monitorSocket!,
    process: child,
    serial,
    async waitForSerial(re, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = serial().match(re);
        if (m) return m;
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`VM ${o.mac} exited (${child.exitCode ?? child.signalCode}) before ${re}; qemu: ${stderr.trim()}\n${serial().slice(-1500)}`);
        }
        if (Date.now() > deadline) throw new Error(`VM ${o.mac}: ${re} not seen within ${timeoutMs} ms\n${serial().slice(-1500)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async kill() {
      clearTimeout(watchdog);
      await stopChild(child, 2000);
      await o.lab.removeTap(tap);
      if (ownDir) rmSync(workDir, { recursive: true, force: true });
    },
  };
}
