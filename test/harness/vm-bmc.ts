// Test harness: a "server behind a real BMC" — an OpenIPMI ipmi_sim LAN BMC inside a NetnsLab namespace whose
// chassis_control hook (vm-bmc-hook.sh) really starts, kills and resets a qemu VM on the lab bridge.
//
// power on → qemu with the BMC's current boot device first (pxe → NIC, anything else → disk); off → SIGKILL;
// reset → HMP system_reset with the boot order pushed first; status → "is that qemu alive". The boot device
// is sticky (the sim drops the once/persistent bits) and is pushed into a running VM, so a guest-initiated
// reboot honours it too. The BMC listens on 127.0.0.1:<port> of the namespace, where a daemon under test
// running in the same namespace reaches it.

import { execFile, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetnsLab } from './netns-lab.js';
import { stopChild } from './netns-lab.js';
import { buildQemuArgv, prepareQemuFiles, shellQuote, type Firmware, type QemuVmSpec } from './qemu-vm.js';
import { hookPower, lanConf } from './ipmi-sim.js';

const HOOK = join(import.meta.dirname, 'vm-bmc-hook.sh');

/** Printed on the serial port by the marker disk's boot sector: "the installed OS booted". */
export const DISK_BOOT_MARKER = 'RACKHAND-DISK-BOOT-OK';

/**
 * Serial text without ANSI escapes, backspace overstrikes and CRs. ESC c (terminal reset, which SeaBIOS and Linux
 * print) takes no argument: it must not swallow the next character (qemu-vm.ts's cleanSerial eats it).
 */
export function cleanConsole(raw: string): string {
  return raw
    .replace(/\x1b\[[0-9;?=]*[A-Za-z]/g, '')
    .replace(/\x1b[()][0-9A-Za-z]/g, '')
    .replace(/\x1b[c78=>]/g, '')
    .replace(/.\x08/g, '')
    .replace(/\r/g, '');
}

export interface VmBmcOptions {
  lab: NetnsLab;
  /** Short unique name (tap name is derived from the MAC). */
  name: string;
  mac: string;
  /** UDP port of the BMC on the namespace's 127.0.0.1. */
  bmcPort: number;
  firmware?: Firmware; // default bios
  username?: string; // default admin
  password?: string; // default password
  memMb?: number;
  smp?: number;
  /**
   * A blank disk (sparse, zeros) of this size instead of the 1 MiB marker disk: what a deploy writes to. Its serial
   * and model are what the guest's IDE identify shows.
   */
  disk?: { sizeMiB: number; serial?: string; model?: string };
  /** Boot device before anyone sets one (default none → disk first). */
  initialBoot?: 'none' | 'pxe' | 'default';
}

export interface IpmitoolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface VmBmc {
  bmc: { host: '127.0.0.1'; port: number; username: string; password: string };
  mac: string;
  dir: string;
  serialLog: string;
  /** The VM's disk file (what a deploy writes, what a wipe zeroes). */
  diskFile: string;
  /** Cleaned serial output (every boot of this VM, appended), from byte offset `from`. */
  serial(from?: number): string;
  /** Raw serial log size now: pass to serial()/waitForSerial() to look only at what comes next. */
  serialOffset(): number;
  waitForSerial(re: RegExp, timeoutMs: number, from?: number): Promise<RegExpMatchArray>;
  /** The hook's boot device file: none | pxe | default | cdrom | bios (ipmitool "disk" arrives as "default"). */
  bootDevice(): string;
  /** Is the VM's qemu alive (pid + starttime, zombies count as dead) — what the BMC reports as power. */
  poweredOn(): boolean;
  /** One line per power/reset/boot-device change the hook performed. */
  events(): string[];
  /** ipmitool lanplus -C 3 against this BMC, run inside the namespace; the password travels in the environment. */
  ipmitool(args: string[], timeoutMs?: number): Promise<IpmitoolResult>;
  /**
   * Make the BMC acknowledge the next reset at once but carry it out only once the VM has powered itself off, or
   * after `seconds` (0: cancel).
   */
  setResetDelay(seconds: number): void;
  /** Kill qemu and the BMC; remove the tap and the state dir. */
  stop(): Promise<void>;
}

// 16-bit boot sector, loaded at linear 0x7C00 (a disk's MBR, or a CD's no-emulation El Torito image): print `text`
// on COM1 (0x3F8), then halt.
//   cld; xor ax,ax; mov ds,ax; mov si,MSG; mov dx,0x3f8
//   next: lodsb; test al,al; jz halt; out dx,al; jmp next
//   halt: cli; hlt; jmp halt
export function markerBootSector(text = `${DISK_BOOT_MARKER} firmware=bios`): Buffer {
  const msg = Buffer.from(`\r\n${text}\r\n\0`, 'latin1');
  if (msg.length > 510 - 23) throw new Error('marker text too long for a boot sector');
  const codeLen = 23;
  const msgAddr = 0x7c00 + codeLen;
  const code = Buffer.from([
    0xfc, 0x31, 0xc0, 0x8e, 0xd8, 0xbe, msgAddr & 0xff, msgAddr >> 8, 0xba, 0xf8, 0x03,
    0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8,
    0xfa, 0xf4, 0xeb, 0xfd,
  ]);
  if (code.length !== codeLen) throw new Error('boot sector layout');
  const sector = Buffer.alloc(512);
  code.copy(sector, 0);
  msg.copy(sector, codeLen);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

/** A 1 MiB raw disk whose MBR prints DISK_BOOT_MARKER (BIOS firmware). */
export function writeMarkerDisk(file: string): void {
  const img = Buffer.alloc(1 << 20);
  markerBootSector().copy(img, 0);
  writeFileSync(file, img);
}

const EMU = `mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02
sel_enable 0x20 1000 0x0a
mc_enable 0x20
`;


function readPidFile(file: string): { pid: number; start: string } | undefined {
  try {
    const [pid, start] = readFileSync(file, 'utf8').trim().split(/\s+/);
    return pid ? { pid: Number(pid), start: start ?? '' } : undefined;
  } catch {
    return undefined;
  }
}

function processAlive(pid: number, start: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return f[0] !== 'Z' && f[0] !== 'X' && f[19] === start;
  } catch {
    return false;
  }
}

export async function startVmBmc(o: VmBmcOptions): Promise<VmBmc> {
  const firmware = o.firmware ?? 'bios';
  const username = o.username ?? 'admin';
  const password = o.password ?? 'password';
  const mac = o.mac.toLowerCase();
  const hex = mac.replace(/:/g, '');
  const dir = mkdtempSync(join(tmpdir(), `rh-vmbmc-${process.pid}-${o.name}-`));
  const simDir = join(dir, 'sim');
  mkdirSync(join(simDir, 'ipmi_sim', o.name), { recursive: true });
  const tap = await o.lab.addTap(`b${hex}`.slice(0, 15));
  let sim: ChildProcess | undefined;

  const stopAll = async (): Promise<void> => {
    const q = readPidFile(join(dir, 'qemu.pid'));
    if (q && processAlive(q.pid, q.start)) {
      try {
        process.kill(q.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (sim) await stopChild(sim, 1000);
    await o.lab.removeTap(tap);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const serialLog = join(dir, 'serial.log');
    writeFileSync(serialLog, '');
    const disk = join(dir, 'disk.img');
    if (o.disk) {
      writeFileSync(disk, '');
      truncateSync(disk, o.disk.sizeMiB << 20);
    }
    else writeMarkerDisk(disk);
    const spec = (bootFirst: 'network' | 'disk'): QemuVmSpec => ({
      name: `rh-bmc-${hex}`,
      firmware,
      mac,
      tap,
      workDir: dir,
      serialLog,
      memMb: o.memMb,
      smp: o.smp,
      uuid: `00000000-0000-4000-8000-${hex}`,
      diskImage: disk,
      diskSerial: o.disk?.serial,
      diskModel: o.disk?.model,
      diskBus: o.disk ? 'ahci' : 'ide',
      bootFirst,
      monitorSocket: join(dir, 'mon.sock'),
      // The hook's HMP path: a FIFO pair it can write with shell builtins (no socat in the hook).
      extraArgs: ['-chardev', `pipe,id=ctl,path=${join(dir, 'ctl')}`, '-mon', 'chardev=ctl,mode=readline'],
    });
    prepareQemuFiles(spec('network'));
    writeFileSync(join(dir, 'qemu-pxe.argv'), shellQuote(['qemu-system-x86_64', ...buildQemuArgv(spec('network'))]) + '\n');
    writeFileSync(join(dir, 'qemu-disk.argv'), shellQuote(['qemu-system-x86_64', ...buildQemuArgv(spec('disk'))]) + '\n');
    writeFileSync(join(dir, 'boot'), `${o.initialBoot ?? 'none'}\n`);
    writeFileSync(join(dir, 'lan.conf'), lanConf(o.name, o.bmcPort, hookPower(`/bin/sh ${HOOK}`, dir), username, password, 10));
    writeFileSync(join(dir, 'bmc.emu'), EMU);

    const log = openSync(join(dir, 'ipmi_sim.log'), 'a');
    // pdeathsig: a crashed test run takes the BMC down with it (the namespace's cleanup gets the rest).
    sim = o.lab.spawnIn(
      'setpriv',
      ['--pdeathsig', 'KILL', '--', 'ipmi_sim', '-n', '-c', join(dir, 'lan.conf'), '-f', join(dir, 'bmc.emu'), '-s', simDir],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    sim.on('error', () => undefined);
  } catch (e) {
    await stopAll();
    throw e;
  }

  const bmc = { host: '127.0.0.1' as const, port: o.bmcPort, username, password };
  const ipmitool = (args: string[], timeoutMs = 20_000): Promise<IpmitoolResult> =>
    new Promise((resolve) => {
      execFile(
        'ip',
        ['netns', 'exec', o.lab.ns, 'ipmitool', '-I', 'lanplus', '-C', '3', '-N', '1', '-R', '2', '-H', bmc.host, '-p', String(bmc.port), '-U', username, '-E', ...args],
        { env: { ...process.env, IPMI_PASSWORD: password }, timeout: timeoutMs, killSignal: 'SIGKILL' },
        (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
          resolve({ code, stdout: String(stdout), stderr: String(stderr) });
        },
      );
    });

  // Ready when it answers a real IPMI command (the namespace's loopback is not reachable from here).
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (sim!.exitCode !== null || sim!.signalCode !== null) {
      const why = readFileSync(join(dir, 'ipmi_sim.log'), 'utf8');
      await stopAll();
      throw new Error(`vm-bmc: ipmi_sim exited: ${why}`);
    }
    const r = await ipmitool(['chassis', 'power', 'status'], 5000);
    if (r.code === 0) break;
    if (Date.now() > deadline) {
      await stopAll();
      throw new Error(`vm-bmc: BMC on port ${bmc.port} not answering: ${r.stderr}`);
    }
    await new Promise((r2) => setTimeout(r2, 200));
  }

  const serialLog = join(dir, 'serial.log');
  const serial = (from = 0): string => {
    try {
      return cleanConsole(readFileSync(serialLog).subarray(from).toString('latin1'));
    } catch {
      return '';
    }
  };
  const poweredOn = (): boolean => {
    const q = readPidFile(join(dir, 'qemu.pid'));
    return !!q && processAlive(q.pid, q.start);
  };
  return {
    bmc,
    mac,
    dir,
    serialLog,
    diskFile: join(dir, 'disk.img'),
    serial,
    serialOffset: () => {
      try {
        return statSync(serialLog).size;
      } catch {
        return 0;
      }
    },
    async waitForSerial(re, timeoutMs, from = 0) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const m = serial(from).match(re);
        if (m) return m;
        if (Date.now() > end) {
          const tail = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8').slice(-1500) : '');
          throw new Error(
            `vm-bmc ${o.name}: ${re} not on the serial console within ${timeoutMs} ms:\n${serial(from).slice(-2000)}\n` +
              `--- BMC events:\n${tail('events.log')}\n--- qemu.log:\n${tail('qemu.log')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    bootDevice: () => {
      try {
        return readFileSync(join(dir, 'boot'), 'utf8').trim();
      } catch {
        return 'none';
      }
    },
    poweredOn,
    events: () => (existsSync(join(dir, 'events.log')) ? readFileSync(join(dir, 'events.log'), 'utf8').split('\n').filter(Boolean) : []),
    ipmitool,
    setResetDelay: (seconds) => {
      if (seconds > 0) writeFileSync(join(dir, 'reset_delay'), `${seconds}\n`);
      else rmSync(join(dir, 'reset_delay'), { force: true });
    },
    stop: stopAll,
  };
}
