// A reinstall by virtual media, end to end through the real daemon (rackhand serve in a network namespace with no
// DHCP and no TFTP): a qemu VM behind an emulated Redfish BMC (test/harness/redfish-bmc) whose only way into its
// install is the boot ISO rackhand builds for it. The BMC fetches the ISO from rackhand and puts it in the VM's CD
// drive; the VM boots it (GRUB → iPXE with its static address → its armed script → the rackhand ramdisk with a static
// ip=), the ramdisk writes a disk image built here from Debian packages, and after the reset the VM starts from its
// disk: the installed system's own init prints what the deploy configured.
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildOsDiskImage, OS_MARKER, type OsDiskImage } from '../harness/os-disk-image.js';
import { QemuMachine } from '../harness/redfish-bmc/qemu-machine.js';
import { RedfishEmulator } from '../harness/redfish-bmc/redfish-emulator.js';
import { ramdiskImportArgs, sharedRamdisk } from '../harness/shared-ramdisk.js';
import { LAB_HTTP_PORT, startNetbootLab, waitTask, type NetbootLab } from '../harness/vm-bmc-netboot-lab.js';
import { ED25519 } from './templates/ssh-key-fixture.js';

const ROOT_PASS = 'Deploy-Root-9';
const IMAGE_OS = 760;
const SERVER = 760;
const MAC = '52:54:00:5a:07:60';
const PASSWORD = 'rf-Secret-760';

let L: NetbootLab;
let osImage: OsDiskImage;
let machine: QemuMachine;
let emu: RedfishEmulator;
let diskDir: string;

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

beforeAll(async () => {
  // No DHCP, no TFTP: the host's address reaches it only inside its boot ISO. Booting hosts reach rackhand at its
  // address on the link into the lab (through their gateway, the lab's bridge), and so does the BMC in the test's
  // own namespace, fetching the ISO.
  L = await startNetbootLab({
    boot: (lab, link) => ({
      dhcp: { mode: 'off' },
      tftp: { enabled: false },
      httpUrl: `http://${link.nsAddress}:${LAB_HTTP_PORT}`,
      network: { netmask: '255.255.255.0', gateway: lab.bridgeIp },
      installTimeoutMs: 600_000,
      lldpWaitSeconds: 0,
      rebootGraceMs: 1000,
    }),
  });
  const ramdisk = await sharedRamdisk();
  const cli = (args: string[]) => {
    const r = L.rh.cli(args, undefined, 180_000);
    expect(r.code, `rackhand ${args.join(' ')}: ${r.stderr}`).toBe(0);
  };
  cli(ramdiskImportArgs(ramdisk));
  osImage = await buildOsDiskImage({ sizeMiB: 48 });
  cli(['images', 'import', 'test-os', '--disk', osImage.zst, '--sha256', sha256(osImage.zst), '--os-id', String(IMAGE_OS), '--os-name', 'Test OS image']);

  // A blank disk: nothing boots until the install has written it.
  diskDir = mkdtempSync(join(tmpdir(), `rh-vmedia-disk-${process.pid}-`));
  const disk = join(diskDir, 'disk.raw');
  const fd = openSync(disk, 'w');
  ftruncateSync(fd, 64 << 20);
  closeSync(fd);
  machine = await QemuMachine.create({ lab: L.lab, name: 'vmedia', mac: MAC, nativeMode: 'Legacy', memMb: 512, diskImage: disk });
  emu = await new RedfishEmulator({ machine, username: 'admin', password: PASSWORD, host: L.link.hostAddress }).start();

  const imp = await L.api.post('/api/v1/servers/import', [
    {
      id: SERVER,
      name: 'vmedia-host',
      interfaces: [{ name: 'eth0', mac: MAC, ip: `${L.lab.prefix}.76` }],
      bmc: { driver: 'redfish', host: L.link.hostAddress, port: emu.port, username: 'admin', password: PASSWORD },
      boot_via: 'virtual_media',
    },
  ]);
  expect(imp.status, imp.text).toBe(200);
}, 600_000);

afterAll(async () => {
  await emu?.stop();
  await machine?.close();
  await L?.destroy();
  osImage?.cleanup();
  if (diskDir) rmSync(diskDir, { recursive: true, force: true });
});

it('eq reinstall of a VM nothing answers on DHCP: it boots its ISO from virtual media, the image is written, it starts from its disk', async () => {
  // Nothing in the lab answers DHCP or TFTP.
  expect((await L.lab.exec('ss', ['-Hlun', 'sport = :67 or sport = :69'])).stdout.trim()).toBe('');
  const hostIp = `${L.lab.prefix}.76`;
  const r = await L.api.eq({ action: 'reinstall', id: SERVER, os_id: IMAGE_OS, root_pass: ROOT_PASS, hostname: 'vmedia-1', ssh_key: `${ED25519} ops@site` }, L.admin);
  expect(r.status, r.text).toBe(200);
  const t = await waitTask(L.api, r.json.task, 900_000);
  expect(t.state, `${JSON.stringify(t.error)} ${JSON.stringify(t.steps.slice(-8))}`).toBe('succeeded');
  const done = t.steps.filter((s: any) => s.state === 'succeeded').map((s: any) => s.name);
  expect(done).toEqual(
    expect.arrayContaining([
      "build the host's boot ISO",
      'eject virtual media',
      expect.stringMatching(/^insert the boot ISO as virtual media/),
      'boot device cdrom (legacy, next boot)',
      'power on or reset into the boot ISO',
      'host: stream image',
      'wait for installer callback',
      'boot device disk (legacy, persistent)',
      'reboot into the installed system',
    ]),
  );
  expect(done.indexOf('eject virtual media', done.indexOf('wait for installer callback'))).toBeGreaterThan(0); // ejected after the report

  // It really booted the ISO: its first boot was the CD, the ISO's GRUB handed over to iPXE, which brought the NIC up
  // with the host's static address and chained the armed script from rackhand; the ramdisk came up with that address.
  expect(machine.boots[0]).toMatchObject({ target: 'Cd', mode: 'Legacy', how: 'power-on' });
  const serial = machine.serial();
  const unwrapped = serial.replace(/\r?\n/g, ''); // the firmware console wraps at 80 columns
  expect(serial).toContain(`rackhand: boot ISO for ${MAC}`);
  expect(unwrapped).toContain(`rackhand: net0 ${hostIp}/24, loading http://${L.link.nsAddress}:${LAB_HTTP_PORT}/boot/ipxe/${MAC}`);
  expect(unwrapped).toContain(`ip=${hostIp}::${L.lab.bridgeIp}:255.255.255.0:::off`); // the ramdisk, told its address
  const isoFetch = emu.requests.find((q) => q.path.endsWith('/Actions/VirtualMedia.InsertMedia'));
  expect(isoFetch?.status).toBeLessThan(300);
  expect((isoFetch?.body as { Image: string }).Image).toMatch(new RegExp(`^http://${L.link.nsAddress.replace(/\./g, '\\.')}:${LAB_HTTP_PORT}/boot/iso/[A-Za-z0-9_-]+\\.iso$`));

  // What the boot plane did for it: the ISO to its BMC, the armed script to its own address, no DHCP or TFTP at all.
  const history = (await L.api.get(`/api/v1/servers/${SERVER}/boot-history?limit=200`)).json.list as { kind: string; ip: string; detail: string }[];
  expect(history.find((e) => e.kind === 'http-iso')?.ip).toBe(L.link.hostAddress);
  expect(history.some((e) => e.kind === 'http-script' && e.ip === hostIp && /^armed ipxe script: install test-os/.test(e.detail))).toBe(true);
  expect(history.filter((e) => /^(dhcp|tftp)-/.test(e.kind))).toEqual([]);

  // Then from its disk, not the CD: the media is out, the last boot is the disk, and the installed system speaks.
  expect(emu.media).toMatchObject({ inserted: false, image: null });
  expect(machine.boots.at(-1)).toMatchObject({ target: 'Hdd' });
  const fromDisk = machine.boots.at(-1)!;
  const m = await machine.waitForSerial(new RegExp(`${OS_MARKER.boot} firmware=bios[\\s\\S]*${OS_MARKER.done}`), 300_000);
  expect(m.index).toBeGreaterThan(serial.lastIndexOf('rackhand: boot ISO for'));
  const out = machine.serial();
  expect(out).toContain(`${OS_MARKER.hostname} vmedia-1`);
  expect(out).toMatch(new RegExp(`${OS_MARKER.rootHash} root:\\$6\\$[^:]+:`));
  expect(out).toContain(`${OS_MARKER.key} ${ED25519} ops@site`);
  expect((await L.api.get(`/api/v1/servers/${SERVER}/netboot`)).json.armed).toBe(false);
  const iso = (isoFetch?.body as { Image: string }).Image.replace(`http://${L.link.nsAddress}:${LAB_HTTP_PORT}`, L.link.base);
  expect((await fetch(iso)).status).toBe(404); // gone with the install
}, 1_200_000);
