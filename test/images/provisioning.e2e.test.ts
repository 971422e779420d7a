// Provisioning that really provisions, through the real daemon: qemu VMs whose ipmi_sim BMC powers them, each with
// a real disk file, network-boot rackhand's ramdisk from rackhand (DHCP, TFTP, HTTP) and its agent inspects, wipes or
// writes a disk image built in the test from Debian packages; afterwards the disk files are read from the host and
// the VMs boot from their disks. Also: a corrupt image, a failing agent, missing images, a discovered host adopted
// with its hardware.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOsDiskImage, OS_IMAGE_DEFAULTS, OS_MARKER, type OsDiskImage } from '../harness/os-disk-image.js';
import { ramdiskImportArgs, sharedRamdisk } from '../harness/shared-ramdisk.js';
import { bootVm, qemuMonitor, type QemuVm } from '../harness/qemu-vm.js';
import { startVmBmc, type VmBmc } from '../harness/vm-bmc.js';
import { startNetbootLab, waitTask, type NetbootLab } from '../harness/vm-bmc-netboot-lab.js';
import { ED25519 } from '../boot/templates/ssh-key-fixture.js';

const MIB = 1 << 20;
const ROOT_PASS = 'Deploy-Root-9';
const IMAGE_OS = 700;
const BAD_IMAGE_OS = 701;
const DISK_MIB = 64;

let L: NetbootLab;
let osImage: OsDiskImage;
const vms: VmBmc[] = [];

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const mac = (i: number) => `52:54:00:77:00:${(0x10 + i).toString(16)}`;

/** Server id of VM i; its BMC listens on 127.0.0.1:6300+i inside the lab. */
const serverOf = (i: number) => 700 + i;

function cli(args: string[], timeoutMs = 120_000) {
  const r = L.rh.cli(args, undefined, timeoutMs);
  expect(r.code, `rackhand ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

function readRange(file: string, offset: number, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(length);
    readSync(fd, b, 0, length, offset);
    return b;
  } finally {
    closeSync(fd);
  }
}

const isZero = (b: Buffer) => b.every((x) => x === 0);
const stepNames = (t: any): string[] => t.steps.map((s: any) => s.name);

async function eqTask(p: Record<string, unknown>, timeoutMs = 600_000) {
  const r = await L.api.eq(p, L.admin);
  expect(r.status, r.text).toBe(200);
  return waitTask(L.api, r.json.task, timeoutMs);
}

beforeAll(async () => {
  L = await startNetbootLab({ boot: () => ({ installTimeoutMs: 600_000, lldpWaitSeconds: 0, rebootGraceMs: 1000 }) });
  const ramdisk = await sharedRamdisk();
  cli(ramdiskImportArgs(ramdisk));
  osImage = await buildOsDiskImage({ sizeMiB: 48 });
  cli(['images', 'import', 'test-os', '--disk', osImage.zst, '--sha256', sha256(osImage.zst), '--os-id', String(IMAGE_OS), '--os-name', 'Test OS image']);
  for (let i = 0; i < 4; i++) {
    vms.push(
      await startVmBmc({
        lab: L.lab,
        name: `p${i}`,
        mac: mac(i),
        bmcPort: 6300 + i,
        firmware: i % 2 ? 'uefi' : 'bios',
        memMb: 512,
        disk: { sizeMiB: DISK_MIB, serial: `RHDISK0${i}`, model: 'RackhandDisk' },
      }),
    );
  }
  const imp = await L.api.post(
    '/api/v1/servers/import',
    vms.map((vm, i) => ({
      id: serverOf(i),
      name: `prov-${i}`,
      interfaces: [{ name: 'eth0', mac: vm.mac, ip: `${L.lab.prefix}.${70 + i}` }],
      bmc: { driver: 'ipmi', host: vm.bmc.host, port: vm.bmc.port, username: vm.bmc.username, password: vm.bmc.password },
    })),
  );
  expect(imp.status, imp.text).toBe(200);
}, 600_000);

afterAll(async () => {
  for (const vm of vms) await vm.stop().catch(() => undefined);
  await L?.destroy();
  osImage?.cleanup();
});

describe('provisioning through rackhand, on real disks', () => {
  it('the catalogue says which entries are ready: the image entry is, the Debian installer is not', async () => {
    const os = (await L.api.get('/api/v1/os')).json.list;
    expect(os.find((o: any) => o.id === IMAGE_OS)).toMatchObject({ os_id: 'test-os', family: 'image', ready: true, missing: [] });
    expect(os.find((o: any) => o.os_id === 'diagnostics')).toMatchObject({ ready: true });
    expect(os.find((o: any) => o.os_id === 'debian-12')).toMatchObject({ ready: false, missing: [expect.objectContaining({ image: 'debian-12-netboot' })] });
  });

  it('missing images: the request is refused at once, nothing armed, no BMC command sent', async () => {
    const vm = vms[0];
    const events = vm.events().length;
    const tasks = (await L.api.get(`/api/v1/tasks?server=${serverOf(0)}`)).json.total;
    const r = await L.api.eq({ action: 'reinstall', id: serverOf(0), os_id: 1, root_pass: ROOT_PASS }, L.admin);
    expect(r.status, r.text).toBe(409);
    expect(r.json.error).toMatchObject({ code: 'IMAGE_MISSING', details: { image: 'debian-12-netboot' } });
    expect(r.json.error.message).toMatch(/debian-12-netboot.*rackhand images import/);
    expect((await L.api.get(`/api/v1/servers/${serverOf(0)}/netboot`)).json).toEqual({ armed: false });
    expect((await L.api.get(`/api/v1/tasks?server=${serverOf(0)}`)).json.total).toBe(tasks);
    expect(vm.events().length).toBe(events);
    expect(vm.poweredOn()).toBe(false);
  });

  it('eq reinstall of a disk image on four VMs at once (BIOS and UEFI): live steps, then each boots from its disk with what was asked', async () => {
    const froms = vms.map((vm) => vm.serialOffset());
    const replies = await Promise.all(
      vms.map((_, i) => L.api.eq({ action: 'reinstall', id: serverOf(i), os_id: IMAGE_OS, root_pass: ROOT_PASS, hostname: `web-${i}`, ssh_key: `${ED25519} ops@site` }, L.admin)),
    );
    for (const r of replies) expect(r.status, r.text).toBe(200);
    const tasks = await Promise.all(replies.map((r) => waitTask(L.api, r.json.task, 600_000)));
    for (const [i, t] of tasks.entries()) {
      expect(t.state, `VM ${i}: ${JSON.stringify(t.error)} ${JSON.stringify(t.steps.slice(-6))}`).toBe('succeeded');
      // the agent's own steps, live in the journal
      expect(stepNames(t)).toEqual(expect.arrayContaining(['host: choose disk', 'host: stream image', 'host: verify checksum', 'host: configure system', 'reboot into the installed system']));
      expect(t.steps.some((s: any) => s.name === 'host: stream image' && /%/.test(s.message))).toBe(true);
      expect(t.result).toMatchObject({ os_id: 'test-os', purpose: 'install', report: { disk: expect.stringMatching(/^\/dev\//), serial: `RHDISK0${i}` } });
    }
    for (const [i, vm] of vms.entries()) {
      // from its disk, not the network: the installed system's own init speaks
      await vm.waitForSerial(new RegExp(OS_MARKER.done), 300_000, froms[i]);
      const out = vm.serial(froms[i]);
      expect(out).toContain(`${OS_MARKER.boot} firmware=${i % 2 ? 'uefi' : 'bios'}`);
      expect(out).toContain(`${OS_MARKER.hostname} web-${i}`);
      expect(out).toMatch(new RegExp(`${OS_MARKER.rootHash} root:\\$6\\$[^:]+:`));
      expect(out).not.toContain(OS_IMAGE_DEFAULTS.shadowRoot);
      expect(out).toContain(`${OS_MARKER.key} ${ED25519} ops@site`);
      expect(vm.bootDevice()).toBe('default');
      expect((await L.api.get(`/api/v1/servers/${serverOf(i)}/netboot`)).json.armed).toBe(false);
    }
  }, 1_200_000);

  it('operation_diag: eq show then lists the VM\'s real CPUs, memory, disk and NIC', async () => {
    const r = await L.api.post(`/api/dci/v3/server/${serverOf(1)}/operation_diag`, { setup_ipmi: false, ipmi_pool: 0, os_template_id: 0, clear_hdd: 'none' });
    expect(r.status, r.text).toBe(200);
    const t = await waitTask(L.api, r.json.task, 600_000);
    expect(t.state, JSON.stringify(t.steps.slice(-5))).toBe('succeeded');
    expect(t.result.report.inventory).toMatchObject({ memoryBytes: expect.any(Number), disks: [expect.objectContaining({ serial: 'RHDISK01', sizeBytes: DISK_MIB * MIB })] });
    const show = (await L.api.eq({ action: 'show', id: serverOf(1) }, L.admin)).json;
    const parts = show.hardware.components;
    expect(parts.find((c: any) => c.Type === 'CPU')).toMatchObject({ Threads: 1 });
    const mem = parts.find((c: any) => c.Type === 'Memory');
    expect(mem.SizeBytes).toBeGreaterThan(400 * MIB);
    expect(mem.SizeBytes).toBeLessThanOrEqual(512 * MIB);
    expect(parts.find((c: any) => c.Type === 'Disk')).toMatchObject({ Model: 'RackhandDisk', Serial: 'RHDISK01', SizeBytes: DISK_MIB * MIB });
    expect(parts.find((c: any) => c.Type === 'NIC')).toMatchObject({ MAC: vms[1].mac });
    expect((await L.api.get(`/api/v1/servers/${serverOf(1)}/hardware`)).json.inventory.nics[0].mac).toBe(vms[1].mac);
  }, 900_000);

  it('operation_clear_hdd quick zeroes the first and last MiB and leaves the rest; zero zeroes every byte; per-disk results', async () => {
    const vm = vms[0];
    const middle = osImage.rootOffset + 4 * MIB;
    const before = readRange(vm.diskFile, middle, MIB);
    expect(isZero(before)).toBe(false);
    const quick = await L.api.post(`/api/dci/v3/server/${serverOf(0)}/operation_clear_hdd`, { clear_hdd: 'fast' });
    expect(quick.status, quick.text).toBe(200);
    const tq = await waitTask(L.api, quick.json.task, 600_000);
    expect(tq.state, JSON.stringify(tq.steps.slice(-5))).toBe('succeeded');
    expect(tq.result.report.disks).toEqual([expect.objectContaining({ serial: 'RHDISK00', mode: 'quick', ok: true })]);
    expect(tq.steps.some((s: any) => s.name.startsWith('disk ') && /wiped \(quick/.test(s.message))).toBe(true);
    expect(isZero(readRange(vm.diskFile, 0, MIB))).toBe(true);
    expect(isZero(readRange(vm.diskFile, DISK_MIB * MIB - MIB, MIB))).toBe(true);
    expect(readRange(vm.diskFile, middle, MIB).equals(before)).toBe(true);

    const zero = await L.api.post(`/api/dci/v3/server/${serverOf(0)}/operation_clear_hdd`, { clear_hdd: 'zero' });
    const tz = await waitTask(L.api, zero.json.task, 600_000);
    expect(tz.state, JSON.stringify(tz.steps.slice(-5))).toBe('succeeded');
    expect(tz.result.report.disks).toEqual([expect.objectContaining({ serial: 'RHDISK00', mode: 'zero', ok: true })]);
    expect(isZero(readFileSync(vm.diskFile))).toBe(true);
  }, 900_000);

  it('a corrupted image fails the deploy promptly with IMAGE_CORRUPT; netboot disarmed, boot device disk', async () => {
    cli(['images', 'import', 'test-os-bad', '--disk', osImage.zst, '--sha256', sha256(osImage.zst), '--os-id', String(BAD_IMAGE_OS), '--os-name', 'Damaged image']);
    // One byte changed on the store's disk, size kept: only the host, hashing while it streams, can tell.
    const stored = join(L.images, 'test-os-bad', 'disk.raw.zst');
    const fd = openSync(stored, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, 4096);
    writeSync(fd, Buffer.from([b[0] ^ 0xff]), 0, 1, 4096);
    closeSync(fd);
    const t = await eqTask({ action: 'reinstall', id: serverOf(2), os_id: BAD_IMAGE_OS, root_pass: ROOT_PASS });
    expect(t).toMatchObject({ state: 'failed', error: { code: 'IMAGE_CORRUPT' } });
    expect(t.steps.find((s: any) => s.name === 'host report' && s.state === 'failed').message).toMatch(/^IMAGE_CORRUPT: the host reported IMAGE_CORRUPT/);
    expect((await L.api.get(`/api/v1/servers/${serverOf(2)}/netboot`)).json.armed).toBe(false);
    expect(vms[2].bootDevice()).toBe('default');
  }, 900_000);

  it('an agent that reports failure fails the task at once with its reason (a disk serial that is not there)', async () => {
    const t = await eqTask({ action: 'reinstall', id: serverOf(3), os_id: IMAGE_OS, root_pass: ROOT_PASS, manual_choice_dsk: 'NO-SUCH-DISK' });
    expect(t).toMatchObject({ state: 'failed', error: { code: 'DISK_NOT_FOUND' } });
    expect(t.error.message).toMatch(/NO-SUCH-DISK/);
    // the failure came from the host's report, not from the install timeout
    expect(t.steps.some((s: any) => s.name === 'wait for installer callback' && s.state === 'succeeded')).toBe(true);
    expect(t.steps.find((s: any) => s.name === 'host report' && s.state === 'failed')).toBeDefined();
    expect(vms[3].bootDevice()).toBe('default');
  }, 900_000);

  it('a discovered host (no BMC) is adopted, booted into the inspection at the rack, and carries its hardware', async () => {
    const unknown = '52:54:00:77:00:99';
    const vm: QemuVm = await bootVm({ lab: L.lab, firmware: 'bios', mac: unknown, memMb: 512, timeoutMs: 900_000, diskImage: undefined, extraArgs: [] });
    try {
      const seen = async () => (await L.api.get('/api/v1/discovered')).json.list.find((d: any) => d.mac === unknown);
      for (let i = 0; i < 120 && !(await seen()); i++) await new Promise((r) => setTimeout(r, 500));
      expect(await seen()).toBeDefined();
      const adopted = await L.api.post(`/api/v1/discovered/${unknown}/adopt`, { id: 790, name: 'found-rack-3', ip: `${L.lab.prefix}.79`, inspect: true });
      expect(adopted.status, adopted.text).toBe(201);
      expect(adopted.json.task).toBeDefined();
      // the technician presses reset: the host network-boots again, now known and armed
      await qemuMonitor(vm.monitorSocket, 'system_reset');
      const t = await waitTask(L.api, adopted.json.task.id, 600_000);
      expect(t.state, JSON.stringify(t.steps.slice(-5))).toBe('succeeded');
      const server = (await L.api.get('/api/v1/servers/790')).json;
      expect(server.hardware.find((c: any) => c.Type === 'NIC')).toMatchObject({ MAC: unknown });
      expect(server.hardware.find((c: any) => c.Type === 'Memory').SizeBytes).toBeGreaterThan(400 * MIB);
    } finally {
      await vm.kill();
    }
  }, 900_000);

  it('rescue: the ramdisk with SSH for the given key until clear_pxe; then it powers off and boots from disk', async () => {
    const keyDir = mkdtempSync(join(tmpdir(), 'rh-rescue-key-'));
    try {
      const keyFile = join(keyDir, 'id_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
      const pub = readFileSync(`${keyFile}.pub`, 'utf8').trim();
      const r = await L.api.post(`/api/v1/servers/${serverOf(3)}/rescue`, { ssh_key: pub });
      expect(r.status, r.text).toBe(202);
      const t = await waitTask(L.api, r.json.id, 600_000);
      expect(t.state, JSON.stringify(t.steps.slice(-5))).toBe('succeeded');
      const ip = `${L.lab.prefix}.73`;
      expect(t.result).toMatchObject({ purpose: 'rescue', armed: true, rescue: expect.stringContaining(`ssh root@${ip}`) });
      const ssh = (key: string, cmd: string) =>
        L.lab.exec('ssh', ['-i', key, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20', `root@${ip}`, cmd]);
      const out = await ssh(keyFile, 'cat /etc/rackhand-release; /usr/sbin/smartctl -i /dev/sda 2>&1; true');
      expect(out.stdout).toContain('rackhand ramdisk');
      expect(out.stdout).toContain('RHDISK03');
      const other = join(keyDir, 'other');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
      await expect(ssh(other, 'true')).rejects.toThrow(/Permission denied/);
      // clear_pxe: the rescue system sees its job gone and powers off; the next boot is from disk
      const clear = await L.api.eq({ action: 'clear_pxe', id: serverOf(3) }, L.admin);
      expect((await waitTask(L.api, clear.json.task, 120_000)).state).toBe('succeeded');
      for (let i = 0; i < 120 && vms[3].poweredOn(); i++) await new Promise((res) => setTimeout(res, 500));
      expect(vms[3].poweredOn()).toBe(false);
      expect(vms[3].bootDevice()).toBe('default');
    } finally {
      rmSync(keyDir, { recursive: true, force: true });
    }
  }, 900_000);

  it("Debian's own d-i netboot files, imported from the Debian package, boot from rackhand and accept its preseed: no question before the mirror step", async () => {
    cli(['images', 'import', 'debian-12-netboot', '--debian-installer']);
    expect((await L.api.get('/api/v1/os')).json.list.find((o: any) => o.os_id === 'debian-12')).toMatchObject({ ready: true });
    // d-i asks about low memory below ~1 GiB
    const vm = await startVmBmc({ lab: L.lab, name: 'pdi', mac: mac(8), bmcPort: 6308, firmware: 'bios', memMb: 1536, disk: { sizeMiB: 64 } });
    try {
      const imp = await L.api.post('/api/v1/servers/import', [
        {
          id: 708,
          name: 'di-host',
          interfaces: [{ name: 'eth0', mac: vm.mac, ip: `${L.lab.prefix}.78` }],
          bmc: { driver: 'ipmi', host: vm.bmc.host, port: vm.bmc.port, username: vm.bmc.username, password: vm.bmc.password },
        },
      ]);
      expect(imp.status, imp.text).toBe(200);
      const r = await L.api.eq({ action: 'reinstall', id: 708, os_id: 1, root_pass: ROOT_PASS, hostname: 'di-host', ssh_key: `${ED25519} ops@site` }, L.admin);
      expect(r.status, r.text).toBe(200);
      // the preseed's early command reports to the task: it was fetched from rackhand and loaded
      for (let i = 0; i < 600; i++) {
        const t = (await L.api.get(`/api/v1/tasks/${r.json.task}`)).json;
        if (t.steps.some((s: any) => s.name === 'host: installer' && s.state === 'started')) break;
        expect(t.state, JSON.stringify(t.steps.slice(-4))).toBe('running');
        // a question before the preseed is loaded (the network's) fails here, not after the mirror's timeout
        const asked = vm.serial().match(/\[!{1,3}\] [^\n]*?(?=\s{2}|\n|$)/g) ?? [];
        if (asked.length) {
          const history = (await L.api.get('/api/v1/servers/708/boot-history')).json.list.map((e: any) => `${e.kind} ${e.detail}`);
          expect(asked, `${vm.serial().slice(-1500)}\n${history.join('\n')}`).toEqual([]);
        }
        await new Promise((res) => setTimeout(res, 500));
      }
      // with no way out of the lab, d-i stops at its first question, which must be the mirror
      await vm.waitForSerial(/\[!+\] /, 600_000);
      const questions = vm.serial().match(/\[!{1,3}\] [^\n]*?(?=\s{2}|\n|$)/g) ?? [];
      expect(questions[0]).toMatch(/mirror/i);
      const cancel = await L.api.post(`/api/v1/tasks/${r.json.task}/cancel`);
      expect(cancel.status).toBe(200);
    } finally {
      await vm.stop();
    }
  }, 1_200_000);
});
