// The redfish driver driving real qemu VMs through the emulated BMC: power starts and stops the VM, a one-time boot
// override decides what the next boot is (its mark on the serial console says which), virtual media reaches the VM's
// CD drive, and a one-time UEFI PXE override the BMC silently dropped is re-asserted before the power-on (OVMF).

import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemoryCertificatePins } from '../../harness/redfish-bmc/memory-certificate-pins.js';
import type { BmcTarget } from '../../../src/bmc/bmc-driver.js';
import { RedfishDriver } from '../../../src/bmc/redfish/redfish-driver.js';
import { createNetnsLab, type NetnsLab } from '../../harness/netns-lab.js';
import { CD_BOOT_MARKER, DISK_BOOT_MARKER, QemuMachine, writeMarkerCd } from '../../harness/redfish-bmc/qemu-machine.js';
import { RedfishEmulator } from '../../harness/redfish-bmc/redfish-emulator.js';

const PASSWORD = 'rf-Secret-42';
let lab: NetnsLab;
let images: Server;
let dir: string;
let imageUrl: string;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), `rh-rfdrv-vm-${process.pid}-`));
  writeMarkerCd(join(dir, 'marker.iso'));
  images = createServer((req, res) => (req.url === '/boot/iso/marker.iso' ? res.writeHead(200).end(readFileSync(join(dir, 'marker.iso'))) : res.writeHead(404).end()));
  await new Promise<void>((r) => images.listen(0, '127.0.0.1', () => r()));
  imageUrl = `http://127.0.0.1:${(images.address() as { port: number }).port}/boot/iso/marker.iso`;
  lab = await createNetnsLab({ ipv6: 'off' });
});

afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  await lab?.destroy();
  await new Promise((r) => images.close(r));
  rmSync(dir, { recursive: true, force: true });
});

async function vmBehindBmc(name: string, mac: string, opts: ConstructorParameters<typeof RedfishEmulator>[0]['quirks'] = {}, nativeMode: 'Legacy' | 'UEFI' = 'Legacy') {
  const machine = await QemuMachine.create({ lab, name, mac, nativeMode });
  const emu = await new RedfishEmulator({ machine, username: 'admin', password: PASSWORD, quirks: opts }).start();
  const d = new RedfishDriver({ trust: { mode: 'pin', pins: new MemoryCertificatePins() }, reassertPauseMs: 50 });
  cleanup.push(() => d.close(), () => emu.stop(), () => machine.close());
  const t: BmcTarget = { host: '127.0.0.1', port: emu.port, username: 'admin', password: PASSWORD, cipherSuite: 3, privilege: 'administrator' };
  return { machine, emu, d, t };
}

it('BIOS VM: power, one-time PXE and CD boots, virtual media, off', async () => {
  const { machine, d, t } = await vmBehindBmc('drvbios', '52:54:00:5a:01:01');
  expect(await d.powerStatus(t)).toBe('off');
  await d.power(t, 'on');
  expect(await d.powerStatus(t)).toBe('on');
  await machine.waitForSerial(new RegExp(DISK_BOOT_MARKER), 60_000);

  // One network boot, then the disk again.
  let from = machine.serialOffset();
  await d.setBootDevice(t, { device: 'pxe', mode: 'legacy', persistent: false });
  await d.power(t, 'reset');
  await machine.waitForSerial(/Configuring \(net0 52:54:00:5a:01:01/, 60_000, from);
  expect((await d.getBootDevice(t)).device).toBe('none'); // consumed
  from = machine.serialOffset();
  await d.power(t, 'reset');
  await machine.waitForSerial(new RegExp(DISK_BOOT_MARKER), 60_000, from);

  // Virtual media + a one-time CD boot.
  from = machine.serialOffset();
  await d.insertMedia(t, imageUrl);
  expect(await machine.insertedMedia()).toMatch(/\.iso$/);
  await d.setBootDevice(t, { device: 'cdrom', mode: 'legacy', persistent: false });
  await d.power(t, 'reset');
  await machine.waitForSerial(new RegExp(CD_BOOT_MARKER), 60_000, from);
  await d.ejectMedia(t);
  expect(await machine.insertedMedia()).toBeUndefined();

  // ACPI power button: the marker "OS" ignores it and stays on; a hard off stops qemu.
  await d.power(t, 'soft');
  expect(await d.powerStatus(t)).toBe('on');
  const pid = machine.pid!;
  await d.power(t, 'off');
  expect(await d.powerStatus(t)).toBe('off');
  expect(() => process.kill(pid, 0)).toThrow();
  expect(machine.boots.map((b) => `${b.how}:${b.target}`)).toEqual(['power-on:None', 'reset:Pxe', 'reset:None', 'reset:Cd']);
}, 240_000);

it('UEFI VM: a one-time UEFI PXE override the BMC dropped after the read-back is re-asserted before the power-on', async () => {
  const { machine, emu, d, t } = await vmBehindBmc('drvuefi', '52:54:00:5a:01:02', { revertOnceUefiPxe: 1, revertAfterMs: 100 }, 'UEFI');
  await d.setBootDevice(t, { device: 'pxe', mode: 'uefi', persistent: false });
  for (let i = 0; i < 300 && emu.boot.enabled === 'Once'; i++) await new Promise((r) => setTimeout(r, 10));
  expect(emu.boot.enabled).toBe('Disabled'); // the BMC dropped it behind rackhand's back
  await d.power(t, 'on');
  // The VM was started with the network first in its boot order (without the override: the disk first).
  expect(machine.boots).toMatchObject([{ how: 'power-on', target: 'Pxe', mode: 'UEFI' }]);
  await machine.waitForSerial(/Start PXE over IPv4/, 120_000);
  expect(d.quirksSeen(t)).toContain('boot-override-revert');
  await d.power(t, 'off');
}, 240_000);
