// Each vendor quirk adapter of the redfish driver against the emulator playing that quirk: the operation succeeds,
// the BMC ends up in the state asked for, and the adapter is named in quirksSeen().

import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCertificatePins } from '../../harness/redfish-bmc/memory-certificate-pins.js';
import type { BmcTarget } from '../../../src/bmc/bmc-driver.js';
import { RedfishDriver } from '../../../src/bmc/redfish/redfish-driver.js';
import { MemoryMachine } from '../../harness/redfish-bmc/emulated-machine.js';
import { RedfishEmulator, type RedfishQuirks } from '../../harness/redfish-bmc/redfish-emulator.js';

const PASSWORD = 'rf-Secret-42';
const emulators: RedfishEmulator[] = [];
let d: RedfishDriver;
let images: Server;
let imageUrl: string;

beforeAll(async () => {
  images = createServer((_req, res) => res.writeHead(200).end(Buffer.alloc(4096, 1)));
  await new Promise<void>((r) => images.listen(0, '127.0.0.1', () => r()));
  imageUrl = `http://127.0.0.1:${(images.address() as { port: number }).port}/boot/iso/host-5.iso`;
});
afterAll(() => new Promise<void>((r) => images.close(() => r())));

afterEach(async () => {
  await d?.close();
  await Promise.all(emulators.splice(0).map((e) => e.stop()));
});

async function bmc(quirks: Partial<RedfishQuirks>, power: 'On' | 'Off' = 'Off'): Promise<{ emu: RedfishEmulator; machine: MemoryMachine; t: BmcTarget }> {
  const machine = new MemoryMachine({ power, nativeMode: 'UEFI' });
  const emu = await new RedfishEmulator({ machine, username: 'admin', password: PASSWORD, quirks }).start();
  emulators.push(emu);
  d = new RedfishDriver({ trust: { mode: 'pin', pins: new MemoryCertificatePins() }, reassertPauseMs: 20 });
  return { emu, machine, t: { host: '127.0.0.1', port: emu.port, username: 'admin', password: PASSWORD, cipherSuite: 3, privilege: 'administrator' } };
}

const patches = (emu: RedfishEmulator) => emu.requests.filter((r) => r.method === 'PATCH' && r.path === emu.systemPath);

/** A PATCH as a client without the adapter sends it; resolves with the status. */
function rawPatch(emu: RedfishEmulator, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: emu.port, path: emu.systemPath, method: 'PATCH', rejectUnauthorized: false, auth: `admin:${PASSWORD}`, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('boot-mode-absent', () => {
  it('leaves BootSourceOverrideMode out on a board that has none (which refuses it)', async () => {
    const { emu, t } = await bmc({ noBootOverrideMode: true });
    expect(await rawPatch(emu, { Boot: { BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Pxe', BootSourceOverrideMode: 'UEFI' } })).toBe(400);
    await d.setBootDevice(t, { device: 'pxe', mode: 'uefi', persistent: false });
    expect(emu.boot).toMatchObject({ enabled: 'Once', target: 'Pxe' });
    expect(patches(emu).filter((p) => p.status === 200).map((p) => p.body)).toEqual([{ Boot: { BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Pxe' } }]);
    expect(await d.getBootDevice(t)).toEqual({ device: 'pxe', mode: 'auto', persistent: false });
    expect(d.quirksSeen(t)).toEqual(['boot-mode-absent']);
  });
});

describe('boot-minimal-payload', () => {
  it('writes Enabled + Target alone when the full payload is refused, then the mode on its own', async () => {
    const { emu, t } = await bmc({ minimalBootPatch: true });
    emu.boot.mode = 'Legacy';
    await d.setBootDevice(t, { device: 'cdrom', mode: 'uefi', persistent: false });
    expect(emu.boot).toMatchObject({ enabled: 'Once', target: 'Cd', mode: 'UEFI' });
    expect(patches(emu).map((p) => [p.status, p.body])).toEqual([
      [400, { Boot: { BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Cd', BootSourceOverrideMode: 'UEFI' } }],
      [200, { Boot: { BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Cd' } }],
      [200, { Boot: { BootSourceOverrideMode: 'UEFI' } }],
    ]);
    expect(d.quirksSeen(t)).toEqual(['boot-minimal-payload']);
    // Learnt: the next override goes split straight away.
    await d.setBootDevice(t, { device: 'pxe', mode: 'uefi', persistent: true });
    expect(patches(emu).slice(3).map((p) => p.status)).toEqual([200, 200]);
    expect(emu.boot).toMatchObject({ enabled: 'Continuous', target: 'Pxe', mode: 'UEFI' });
  });
});

describe('boot-override-revert', () => {
  it('writes a one-time UEFI PXE override again when the read-back shows it dropped', async () => {
    const { emu, t } = await bmc({ revertOnceUefiPxe: 1 });
    await d.setBootDevice(t, { device: 'pxe', mode: 'uefi', persistent: false });
    expect(emu.boot).toMatchObject({ enabled: 'Once', target: 'Pxe', mode: 'UEFI' });
    expect(patches(emu).map((p) => p.status)).toEqual([200, 200]);
    expect(d.quirksSeen(t)).toEqual(['boot-override-revert']);
  });

  it('re-asserts an override that reverted after the read-back, right before the power-on', async () => {
    const { emu, machine, t } = await bmc({ revertOnceUefiPxe: 1, revertAfterMs: 150 });
    await d.setBootDevice(t, { device: 'pxe', mode: 'uefi', persistent: false });
    expect(emu.boot.enabled).toBe('Once'); // held at read-back …
    for (let i = 0; i < 200 && emu.boot.enabled === 'Once'; i++) await new Promise((r) => setTimeout(r, 10));
    expect(emu.boot.enabled).toBe('Disabled'); // … and dropped afterwards
    await d.power(t, 'on');
    expect(machine.boots.at(-1)).toMatchObject({ target: 'Pxe', mode: 'UEFI', how: 'power-on' });
    expect(d.quirksSeen(t)).toEqual(['boot-override-revert']);
  });

  it('gives up with a clear error on a BMC that never keeps it', async () => {
    const { emu, t } = await bmc({ revertOnceUefiPxe: 10 });
    await expect(d.setBootDevice(t, { device: 'pxe', mode: 'uefi', persistent: false })).rejects.toMatchObject({
      code: 'BMC_ERROR',
      message: expect.stringMatching(/does not keep the boot override: wrote Once\/Pxe\/UEFI 3 times, it reads Disabled\/None\/UEFI/),
    });
    expect(patches(emu)).toHaveLength(3);
  });
});

describe('virtual-cd-usb', () => {
  it('on a Supermicro board, a one-time CD boot is written as UsbCd, which boots the virtual media', async () => {
    const { emu, machine, t } = await bmc({ virtualCdIsUsbCd: true });
    await d.insertMedia(t, imageUrl);
    await d.setBootDevice(t, { device: 'cdrom', mode: 'uefi', persistent: false });
    expect(emu.boot).toMatchObject({ enabled: 'Once', target: 'UsbCd' });
    expect(await d.getBootDevice(t)).toEqual({ device: 'cdrom', mode: 'uefi', persistent: false });
    await d.power(t, 'on');
    expect(machine.boots.at(-1)).toMatchObject({ target: 'Cd', how: 'power-on' }); // the virtual CD, not the board's own
    expect(d.quirksSeen(t)).toContain('virtual-cd-usb');
  });

  it('leaves Cd alone elsewhere', async () => {
    const { emu, machine, t } = await bmc({});
    await d.setBootDevice(t, { device: 'cdrom', mode: 'uefi', persistent: false });
    expect(emu.boot.target).toBe('Cd');
    await d.power(t, 'on');
    expect(machine.boots.at(-1)?.target).toBe('Cd');
  });
});

describe('stale-image-name', () => {
  it('clears the image name an eject left behind, so the next insert works', async () => {
    const { emu, t } = await bmc({ staleImageAfterEject: true });
    await d.insertMedia(t, imageUrl);
    await d.ejectMedia(t);
    expect(emu.media).toMatchObject({ inserted: false, image: null, imageName: '' });
    await d.insertMedia(t, imageUrl.replace('host-5', 'host-6'));
    expect(emu.media).toMatchObject({ inserted: true, imageName: 'host-6.iso' });
    expect(emu.requests.filter((r) => r.method === 'PATCH').map((r) => r.body)).toEqual([{ Image: null, Inserted: false }]);
    expect(d.quirksSeen(t)).toEqual(['stale-image-name', 'virtual-media-location:Managers']);
  });
});

describe('virtual-media-location', () => {
  it.each(['Systems', 'Managers'] as const)('finds the virtual CD under %s', async (at) => {
    const { emu, machine, t } = await bmc({ virtualMediaAt: at });
    await d.insertMedia(t, imageUrl);
    expect(machine.media).toBeDefined();
    expect(await d.mediaStatus(t)).toEqual({ inserted: true, image: imageUrl });
    expect(emu.requests.find((r) => r.path.endsWith('InsertMedia'))?.path.startsWith(at === 'Systems' ? emu.systemPath : emu.managerPath)).toBe(true);
    expect(d.quirksSeen(t)).toEqual([`virtual-media-location:${at}`]);
  });
});

describe('etag-required', () => {
  it('sends the ETag it read as If-Match to a BMC that demands one (428 otherwise)', async () => {
    const { emu, t } = await bmc({ etagRequired: true });
    emu.requests.length = 0;
    await d.setBootDevice(t, { device: 'disk', mode: 'uefi', persistent: false });
    expect(emu.boot.target).toBe('Hdd');
    expect(patches(emu).every((p) => p.ifMatch && p.status === 200)).toBe(true);
  });
});
