// Test harness: a qemu VM (TCG) on a NetnsLab bridge as the machine behind an emulated Redfish BMC, driven over QMP:
// power by starting and quitting qemu, resets by system_reset, boot order by `qom-set … bootindex` (qemu rebuilds
// the firmware's boot order at every reset), virtual media by changing and ejecting an IDE CD drive.

import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetnsLab } from '../netns-lab.js';
import { stopChild } from '../netns-lab.js';
import { buildQemuArgv, prepareQemuFiles, QEMU_DISK_ID, QEMU_NIC_ID, type QemuVmSpec } from '../qemu-vm.js';
import { cleanConsole, markerBootSector, writeMarkerDisk } from '../vm-bmc.js';
import type { BootChoice, BootMode, BootRecord, EmulatedMachine } from './emulated-machine.js';
import { QmpClient } from './qmp-client.js';

export { DISK_BOOT_MARKER } from '../vm-bmc.js';
/** Printed on the serial port by the marker CD (writeMarkerCd): "the machine booted the virtual CD". */
export const CD_BOOT_MARKER = 'RACKHAND-CD-BOOT-OK';

const CD_ID = 'cd0';
/** The machine's own boot order (no override): disk, then CD, then network. */
const DEFAULT_ORDER = [QEMU_DISK_ID, CD_ID, QEMU_NIC_ID];

/** A bootable ISO (El Torito, no emulation) whose boot image prints `text` on COM1 and halts (BIOS firmware). */
export function writeMarkerCd(file: string, text = `${CD_BOOT_MARKER} firmware=bios`): void {
  const dir = mkdtempSync(join(tmpdir(), `rh-markercd-${process.pid}-`));
  try {
    const img = Buffer.alloc(2048);
    markerBootSector(text).copy(img);
    writeFileSync(join(dir, 'boot.img'), img);
    execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-V', 'RHMARKER', '-b', 'boot.img', '-no-emul-boot', '-boot-load-size', '4', '-o', file, dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface QemuMachineOptions {
  lab: NetnsLab;
  /** Short, unique per process. */
  name: string;
  mac: string;
  /** Firmware before anyone sets a BootSourceOverrideMode: Legacy (SeaBIOS, default) or UEFI (OVMF). */
  nativeMode?: BootMode;
  memMb?: number;
  /** Raw disk image; default a disk whose boot sector prints DISK_BOOT_MARKER. */
  diskImage?: string;
}

function firstDevice(c: BootChoice): string | undefined {
  switch (c.target) {
    case 'Pxe':
    case 'UefiHttp': // OVMF offers HTTP boot as a boot option of the same NIC; the DHCP answer decides
      return QEMU_NIC_ID;
    case 'Hdd':
      return QEMU_DISK_ID;
    case 'Cd':
      return CD_ID;
    default:
      return undefined; // None, BiosSetup: the machine's own order
  }
}

/** `file=` in a -drive option: commas are doubled. */
const driveFile = (f: string) => f.replace(/,/g, ',,');

export class QemuMachine implements EmulatedMachine {
  readonly boots: BootRecord[] = [];
  readonly nativeMode: BootMode;
  readonly dir: string;
  readonly serialLog: string;
  private proc: ChildProcess | undefined;
  private qmp: QmpClient | undefined;
  private firmware: BootMode | undefined;
  private media: string | undefined;
  private stderr = '';
  /** Boots started so far; a pending boot-order restore belongs to one of them. */
  private generation = 0;
  /** Machine operations one at a time (Redfish requests arrive concurrently). */
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly o: QemuMachineOptions,
    private readonly tap: string,
    dir: string,
    private readonly disk: string,
  ) {
    this.nativeMode = o.nativeMode ?? 'Legacy';
    this.dir = dir;
    this.serialLog = join(dir, 'serial.log');
    writeFileSync(this.serialLog, '');
  }

  static async create(o: QemuMachineOptions): Promise<QemuMachine> {
    const dir = mkdtempSync(join(tmpdir(), `rh-rfvm-${process.pid}-${o.name}-`));
    const hex = o.mac.toLowerCase().replace(/:/g, '');
    const tap = await o.lab.addTap(`r${hex}`.slice(0, 15));
    let disk = o.diskImage;
    if (!disk) {
      disk = join(dir, 'disk.img');
      writeMarkerDisk(disk);
    }
    return new QemuMachine(o, tap, dir, disk);
  }

  powerState(): 'On' | 'Off' {
    const p = this.proc;
    return p && p.exitCode === null && p.signalCode === null ? 'On' : 'Off';
  }

  powerOn(now: BootChoice, after: BootChoice): Promise<void> {
    return this.serialised(async () => {
      if (this.powerState() === 'On') return;
      await this.start(now, after);
    });
  }

  forceOff(): Promise<void> {
    return this.serialised(() => this.stop());
  }

  gracefulShutdown(): Promise<void> {
    return this.serialised(async () => {
      if (this.powerState() === 'On') await this.qmp!.execute('system_powerdown');
    });
  }

  reset(now: BootChoice, after: BootChoice): Promise<void> {
    return this.serialised(async () => {
      if (this.powerState() === 'Off') return;
      if (now.mode !== this.firmware) {
        // Another firmware: a BMC that switches BIOS mode restarts the host.
        await this.stop();
        await this.start(now, after);
        return;
      }
      const qmp = this.qmp!;
      await this.order(now);
      const from = this.serialOffset();
      const reset = qmp.nextEvent('RESET');
      await qmp.execute('system_reset');
      await reset;
      this.boots.push({ ...now, at: Date.now(), how: 'reset' });
      this.restoreOrderLater(now, after, from);
    });
  }

  nmi(): Promise<void> {
    return this.serialised(async () => {
      if (this.powerState() === 'On') await this.qmp!.execute('inject-nmi');
    });
  }

  setMedia(file: string | undefined): Promise<void> {
    return this.serialised(async () => {
      this.media = file;
      if (this.powerState() === 'Off') return;
      if (file) await this.qmp!.execute('blockdev-change-medium', { id: CD_ID, filename: file, format: 'raw', 'read-only-mode': 'read-only' });
      else await this.qmp!.execute('eject', { id: CD_ID, force: true });
    });
  }

  /** The file in the VM's CD drive as qemu itself reports it (query-block), undefined when empty or off. */
  async insertedMedia(): Promise<string | undefined> {
    if (this.powerState() === 'Off' || !this.qmp) return undefined;
    const blocks = await this.qmp.execute<{ qdev?: string; inserted?: { file: string } }[]>('query-block');
    return blocks.find((b) => b.qdev?.endsWith(CD_ID))?.inserted?.file;
  }

  /** qemu's pid while it runs. */
  get pid(): number | undefined {
    return this.powerState() === 'On' ? this.proc!.pid : undefined;
  }

  /** Cleaned serial output of every boot so far, from byte offset `from`. */
  serial(from = 0): string {
    try {
      return cleanConsole(readFileSync(this.serialLog).subarray(from).toString('latin1'));
    } catch {
      return '';
    }
  }

  /** Raw serial log size now: pass to serial()/waitForSerial() to look only at what comes next. */
  serialOffset(): number {
    try {
      return statSync(this.serialLog).size;
    } catch {
      return 0;
    }
  }

  async waitForSerial(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpMatchArray> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = this.serial(from).match(re);
      if (m) return m;
      if (Date.now() > end) {
        throw new Error(`qemu machine ${this.o.name}: ${re} not on the serial console within ${timeoutMs} ms:\n${this.serial(from).slice(-2000)}\nqemu: ${this.stderr.slice(-500)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async close(): Promise<void> {
    await this.serialised(() => this.stop());
    await this.o.lab.removeTap(this.tap);
    rmSync(this.dir, { recursive: true, force: true });
  }

  // ------------------------------------------------------------------ internals

  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Starts qemu paused (-S), programs the boot order for this boot, resets so the firmware's boot order file is
   * rebuilt from it, lets it run, then programs the order later guest resets get.
   */
  private async start(now: BootChoice, after: BootChoice): Promise<void> {
    const qmpPath = join(this.dir, 'qmp.sock');
    rmSync(qmpPath, { force: true });
    const hex = this.o.mac.toLowerCase().replace(/:/g, '');
    const firmware = now.mode === 'UEFI' ? 'uefi' : 'bios';
    const workDir = join(this.dir, firmware);
    mkdirSync(workDir, { recursive: true });
    const spec: QemuVmSpec = {
      name: `rh-rf-${this.o.name}`,
      firmware,
      mac: this.o.mac.toLowerCase(),
      tap: this.tap,
      workDir,
      serialLog: this.serialLog,
      memMb: this.o.memMb,
      uuid: `00000000-0000-4000-8000-${hex}`,
      diskImage: this.disk,
      bootFirst: 'disk',
      extraArgs: [
        '-qmp', `unix:${qmpPath},server=on,wait=off`,
        '-S',
        '-drive', `if=none,id=cd0drv,media=cdrom,readonly=on${this.media ? `,format=raw,file=${driveFile(this.media)}` : ''}`,
        '-device', `ide-cd,bus=ide.1,drive=cd0drv,id=${CD_ID},bootindex=3`,
      ],
    };
    prepareQemuFiles(spec);
    this.stderr = '';
    const proc = this.o.lab.spawnIn('qemu-system-x86_64', buildQemuArgv(spec), { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    proc.on('error', () => undefined);
    this.proc = proc;
    this.firmware = now.mode;
    try {
      const qmp = await QmpClient.connect(qmpPath);
      this.qmp = qmp;
      await this.order(now);
      const reset = qmp.nextEvent('RESET');
      await qmp.execute('system_reset');
      await reset;
      const from = this.serialOffset();
      await qmp.execute('cont');
      this.boots.push({ ...now, at: Date.now(), how: 'power-on' });
      this.restoreOrderLater(now, after, from);
    } catch (e) {
      await this.stop();
      throw new Error(`qemu machine ${this.o.name} did not start: ${(e as Error).message}; qemu: ${this.stderr.trim()}`);
    }
  }

  /**
   * qemu hands the firmware its boot order when the firmware reads it, not at the reset: the order for later guest
   * resets is programmed once the firmware has said what it boots (SeaBIOS "Booting from", OVMF "BdsDxe: loading"),
   * or after a minute. A newer boot cancels it.
   */
  private restoreOrderLater(now: BootChoice, after: BootChoice, from: number): void {
    if (firstDevice(now) === firstDevice(after)) return;
    const generation = ++this.generation;
    const end = Date.now() + 60_000;
    const tick = () => {
      if (generation !== this.generation || this.powerState() === 'Off') return;
      if (!/Booting from|BdsDxe: (loading|starting)/.test(this.serial(from)) && Date.now() < end) {
        setTimeout(tick, 100).unref();
        return;
      }
      void this.serialised(async () => {
        if (generation === this.generation && this.powerState() === 'On') await this.order(after);
      }).catch(() => undefined);
    };
    tick();
  }

  /** bootindex 1..3 in the order this choice boots (every device to -1 first: two devices may not share one). */
  private async order(c: BootChoice): Promise<void> {
    const first = firstDevice(c);
    const order = first ? [first, ...DEFAULT_ORDER.filter((d) => d !== first)] : DEFAULT_ORDER;
    const qmp = this.qmp!;
    for (const id of DEFAULT_ORDER) await qmp.execute('qom-set', { path: `/machine/peripheral/${id}`, property: 'bootindex', value: -1 });
    for (const [i, id] of order.entries()) await qmp.execute('qom-set', { path: `/machine/peripheral/${id}`, property: 'bootindex', value: i + 1 });
  }

  private async stop(): Promise<void> {
    this.generation++;
    const p = this.proc;
    const qmp = this.qmp;
    this.qmp = undefined;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      await qmp?.execute('quit').catch(() => undefined);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      await stopChild(p, 500);
    }
    qmp?.close();
  }
}
