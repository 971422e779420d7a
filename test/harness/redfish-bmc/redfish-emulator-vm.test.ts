// The emulated Redfish BMC in front of a real qemu VM, driven by redfishtool and sushy: power starts and stops the
// VM, a one-time boot override decides what the next reset boots (disk, network, virtual CD: each leaves its own
// mark on the serial console), virtual media lands in the VM's CD drive.

import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createNetnsLab, type NetnsLab } from '../netns-lab.js';
import { CD_BOOT_MARKER, DISK_BOOT_MARKER, QemuMachine, writeMarkerCd } from './qemu-machine.js';
import { redfishtool, sushy, type RedfishPeer } from './redfish-clients.js';
import { RedfishEmulator } from './redfish-emulator.js';

/** iPXE prints this only when it really boots (its ROM banner alone appears at every POST). */
const PXE_BOOT = /Configuring \(net0 52:54:00:5a:00:01/;

let lab: NetnsLab;
let machine: QemuMachine;
let emu: RedfishEmulator;
let images: Server;
let dir: string;
let peer: RedfishPeer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), `rh-rfvm-test-${process.pid}-`));
  writeMarkerCd(join(dir, 'marker.iso'));
  images = createServer((req, res) => {
    if (req.url === '/marker.iso') res.writeHead(200).end(readFileSync(join(dir, 'marker.iso')));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => images.listen(0, '127.0.0.1', () => r()));
  lab = await createNetnsLab({ ipv6: 'off' });
  machine = await QemuMachine.create({ lab, name: 'rfconf', mac: '52:54:00:5a:00:01' });
  emu = await new RedfishEmulator({ machine, username: 'admin', password: 'rf-Secret-42' }).start();
  peer = { host: '127.0.0.1', port: emu.port, username: 'admin', password: 'rf-Secret-42', tls: true };
});

afterAll(async () => {
  await emu?.stop();
  await machine?.close();
  await lab?.destroy();
  await new Promise((r) => images.close(r));
  rmSync(dir, { recursive: true, force: true });
});

it('power, boot override and virtual media reach the VM', async () => {
  const imageUrl = `http://127.0.0.1:${(images.address() as { port: number }).port}/marker.iso`;

  // redfishtool powers it on: no override, so the machine's own order boots the disk.
  expect((await redfishtool(peer, ['Systems', '-1', 'reset', 'On'])).code).toBe(0);
  expect(machine.powerState()).toBe('On');
  await machine.waitForSerial(new RegExp(DISK_BOOT_MARKER), 60_000);

  // sushy asks for one network boot; redfishtool's reset carries it out; the next reset is back to the disk.
  let from = machine.serialOffset();
  let out = await sushy(peer, [{ op: 'boot', target: 'Pxe', enabled: 'Once' }]);
  expect(out.error).toBeUndefined();
  expect((await redfishtool(peer, ['Systems', '-1', 'reset', 'ForceRestart'])).code).toBe(0);
  await machine.waitForSerial(PXE_BOOT, 60_000, from);
  expect(emu.boot.enabled).toBe('Disabled');
  from = machine.serialOffset();
  expect((await sushy(peer, [{ op: 'reset', value: 'ForceRestart' }])).error).toBeUndefined();
  await machine.waitForSerial(new RegExp(DISK_BOOT_MARKER), 60_000, from);
  expect(machine.serial(from)).not.toMatch(PXE_BOOT);

  // Virtual media: the BMC fetches the image into the VM's CD drive; a one-time Cd boot starts it.
  from = machine.serialOffset();
  out = await sushy(peer, [{ op: 'insert', image: imageUrl }, { op: 'boot', target: 'Cd', enabled: 'Once' }, { op: 'reset', value: 'ForceRestart' }]);
  expect(out.error).toBeUndefined();
  expect(await machine.insertedMedia()).toMatch(/\.iso$/);
  await machine.waitForSerial(new RegExp(CD_BOOT_MARKER), 60_000, from);
  out = await sushy(peer, [{ op: 'eject' }]);
  expect(out.results[0]).toMatchObject({ inserted: false });
  expect(await machine.insertedMedia()).toBeUndefined();

  // Off: qemu is gone, and PowerState says so.
  const pid = machine.pid!;
  expect((await redfishtool(peer, ['Systems', '-1', 'reset', 'ForceOff'])).code).toBe(0);
  expect(machine.powerState()).toBe('Off');
  expect(() => process.kill(pid, 0)).toThrow();
  out = await sushy(peer, [{ op: 'state' }]);
  expect(out.results[0]).toMatchObject({ power: 'Off' });
  expect(machine.boots.map((b) => b.target)).toEqual(['None', 'Pxe', 'None', 'Cd']);

  // BootSourceOverrideMode UEFI: the BMC starts the VM with the other firmware (OVMF, whose own PXE runs).
  from = machine.serialOffset();
  out = await sushy(peer, [{ op: 'boot', target: 'Pxe', enabled: 'Once', mode: 'UEFI' }, { op: 'reset', value: 'On' }]);
  expect(out.error).toBeUndefined();
  await machine.waitForSerial(/Start PXE over IPv4/, 120_000, from);
  expect(machine.boots.at(-1)).toMatchObject({ target: 'Pxe', mode: 'UEFI', how: 'power-on' });
  expect((await redfishtool(peer, ['Systems', '-1', 'reset', 'ForceOff'])).code).toBe(0);
}, 300_000);
