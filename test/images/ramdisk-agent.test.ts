// The rackhand ramdisk's agent alone, against a job server in the test that speaks its protocol, for what the
// end-to-end tests through the daemon (test/images/provisioning.e2e.test.ts) do not reach: the LLDP neighbour of an
// inspection, a secure erase refused on a disk that cannot do it, and a RAID1 mirror deployed over a download that
// breaks and resumes with Range (each disk alone then boots the configured system).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RamdiskBuild } from '../../src/images/ramdisk-builder.js';
import { sharedRamdisk } from '../harness/shared-ramdisk.js';
import { sha512Crypt } from '../../src/boot/templates/sha512-crypt.js';
import { buildOsDiskImage, OS_MARKER, type OsDiskImage } from '../harness/os-disk-image.js';
import { bootFromDisk, bootRamdisk, startRamdiskLab, tempDir, waitExit, writeRandomFile, type LabDisk, type RamdiskLab } from '../harness/ramdisk-lab.js';
import type { AgentProgress } from '../harness/agent-job-server.js';
import type { QemuVm } from '../harness/qemu-vm.js';

const MIB = 1 << 20;
const HARNESS = join(dirname(fileURLToPath(import.meta.url)), '../harness');
let rl: RamdiskLab;
let ramdisk: RamdiskBuild;
let os: OsDiskImage;
let tmp: { dir: string; remove(): void };
let seq = 0;

const token = () => `tok${process.pid}x${++seq}`;
const mac = (n: number) => `52:54:00:7a:00:${n.toString(16).padStart(2, '0')}`;
const isZero = (b: Buffer) => b.every((x) => x === 0);
/** The agent's result; a VM that exits first or a time-out fails with the console tail and the progress so far. */
async function resultOf(t: string, vm: QemuVm, timeoutMs: number) {
  try {
    return await rl.server.waitResult(t, timeoutMs, () => (vm.process.exitCode !== null || vm.process.signalCode !== null ? 'the VM exited' : undefined));
  } catch (e) {
    throw new Error(`${(e as Error).message}\nprogress: ${JSON.stringify(rl.server.state(t).progress.slice(-8))}\nconsole:\n${vm.serial().slice(-3000)}`);
  }
}
const steps = (p: AgentProgress[]) => [...new Set(p.filter((x) => x.state === 'started').map((x) => x.step))];

describe('rackhand ramdisk agent in qemu VMs', () => {
  beforeAll(async () => {
    tmp = tempDir('rh-ramdisk-test');
    ramdisk = await sharedRamdisk();
    os = await buildOsDiskImage({ dir: join(tmp.dir, 'os'), sizeMiB: 40 });
    rl = await startRamdiskLab();
  }, 300_000);

  afterAll(async () => {
    await rl?.destroy();
    tmp?.remove();
  });

  it('inspect (UEFI, 2 CPUs, 512 MiB) reports qemu\'s real CPUs, memory, disk model/serial/size, NIC MAC and the LLDP neighbour, then powers off', async () => {
    const t = token();
    const disk: LabDisk = { file: join(tmp.dir, 'inspect.img'), serial: 'RHINSPECT01', model: 'RackhandTestDisk' };
    execFileSync('truncate', ['-s', '72M', disk.file]);
    // the lab's "switch": LLDP frames out of the bridge every second
    const lldp = rl.lab.spawnIn('python3', [join(HARNESS, 'lldp-sender.py'), rl.lab.bridge, '02:11:22:33:44:55', 'swp7', 'tor-lab', 'rack 7 port 7']);
    rl.server.arm(t, { action: 'inspect', params: { lldpWaitSeconds: 30, healthChecks: true } });
    rl.startDhcp();
    const { vm } = await bootRamdisk({ rl, ramdisk, token: t, mac: mac(1), firmware: 'uefi', disks: [disk], smp: 2, memMb: 512, dhcp: true });
    try {
      const res = await resultOf(t, vm, 240_000);
      expect(res.ok, JSON.stringify(res)).toBe(true);
      const inv = res.result.inventory;
      expect(inv.firmware.mode).toBe('uefi');
      expect(inv.cpus.threads).toBe(2);
      expect(inv.memoryBytes).toBe(512 * MIB);
      expect(inv.system.uuid.toLowerCase()).toBe(`00000000-0000-4000-8000-${mac(1).replace(/:/g, '')}`);
      expect(inv.disks).toHaveLength(1);
      expect(inv.disks[0]).toMatchObject({ name: 'sda', sizeBytes: 72 * MIB, model: disk.model, serial: disk.serial, transport: 'sata' });
      expect(inv.disks[0].smart.available).toBe(true);
      expect(inv.nics.map((n: any) => n.mac)).toEqual([mac(1)]);
      expect(inv.nics[0]).toMatchObject({ driver: 'virtio_net', link: true });
      expect(inv.nics[0].lldp).toEqual({ chassisId: '02:11:22:33:44:55', portId: 'swp7', systemName: 'tor-lab', portDescription: 'rack 7 port 7' });
      expect(inv.health.checks.find((c: any) => c.name === 'disks present').ok).toBe(true);
      expect(steps(rl.server.state(t).progress)).toContain('inspect hardware');
      // inspect ends in power off
      expect(await waitExit(vm, 60_000)).toBe(true);
    } finally {
      lldp.kill();
      await vm.kill();
    }
  }, 400_000);

  it('secure erase is refused with WIPE_UNSUPPORTED and a clear reason on a disk that cannot do it, and the disk is untouched (after retrying a 503 job fetch)', async () => {
    const d: LabDisk = { file: join(tmp.dir, 'ws.img'), serial: 'RHSECURE', model: 'PlainDisk' };
    const orig = writeRandomFile(d.file, 32 * MIB, 4);
    const t = token();
    rl.server.arm(t, { action: 'wipe', params: { mode: 'secure' } });
    rl.server.failJobFetches(t, 2); // rackhand answering 503 twice: the agent retries with backoff
    const { vm } = await bootRamdisk({ rl, ramdisk, token: t, mac: mac(3), firmware: 'bios', disks: [d] });
    try {
      const res = await resultOf(t, vm, 240_000);
      expect(res.ok).toBe(false);
      expect(res.code).toBe('WIPE_UNSUPPORTED');
      expect(res.reason).toMatch(/sda .*RHSECURE.*(security erase|security feature set).*use mode zero/);
      expect(res.result.disks).toEqual([expect.objectContaining({ serial: d.serial, ok: false, code: 'WIPE_UNSUPPORTED' })]);
      expect(rl.server.state(t).jobFetches).toBe(3);
    } finally {
      await vm.kill();
    }
    expect(readFileSync(d.file).equals(orig)).toBe(true);
  }, 400_000);

  it('deploy with mirror builds a RAID1 (metadata 1.0) of two disks, resumes a broken download with Range, and each disk alone boots the configured system', async () => {
    const a: LabDisk = { file: join(tmp.dir, 'ma.img'), serial: 'RHMIRRORA', model: 'MirrorDisk' };
    const b: LabDisk = { file: join(tmp.dir, 'mb.img'), serial: 'RHMIRRORB', model: 'MirrorDisk' };
    execFileSync('truncate', ['-s', '80M', a.file]);
    execFileSync('truncate', ['-s', '80M', b.file]);
    const t = token();
    const url = rl.server.addImage('test-os/os.raw', os.raw);
    const sha = execFileSync('sha256sum', [os.raw], { encoding: 'utf8' }).split(' ')[0];
    rl.server.cutImageOnce('test-os/os.raw', 10 * MIB + 12345); // the connection drops once, mid-image
    rl.server.arm(t, { action: 'deploy', params: { image: { url, sha256: sha, format: 'raw' }, disk: { pick: 'largest' }, mirror: true,
      config: { hostname: 'vm-mirror', rootPasswordHash: sha512Crypt('Mirror-Pass-1'), sshKeys: [] } } });
    const { vm } = await bootRamdisk({ rl, ramdisk, token: t, mac: mac(7), firmware: 'bios', disks: [a, b] });
    try {
      const res = await resultOf(t, vm, 180_000);
      expect(res.ok, JSON.stringify(res)).toBe(true);
      expect(res.result.mirror).toMatchObject({ device: '/dev/md0' });
      expect([...res.result.mirror.serials].sort()).toEqual([a.serial, b.serial]);
      expect(res.result.rootPartition).toBe('/dev/md0p2');
      expect(steps(rl.server.state(t).progress)).toContain('create mirror');
      // the download resumed where it broke off (Range), and the sha256 of the whole still matched
      const resumed = rl.server.imageRequests.filter((r) => r.name === 'test-os/os.raw' && r.status === 206);
      expect(resumed.length).toBeGreaterThan(0);
      expect(Number(/^bytes=(\d+)-$/.exec(resumed[0].range ?? '')?.[1])).toBeGreaterThan(0);
      expect(rl.server.state(t).progress.some((p) => /interrupted at byte \d+.*resuming/.test(p.message ?? ''))).toBe(true);
    } finally {
      await vm.kill();
    }
    for (const d of [a, b]) {
      const examine = execFileSync('mdadm', ['--examine', d.file], { encoding: 'utf8' });
      expect(examine).toMatch(/Version : 1\.0/);
      expect(examine).toMatch(/Raid Level : raid1/);
      const boot = await bootFromDisk({ rl, mac: mac(7), firmware: 'bios', disk: d });
      try {
        await boot.waitForSerial(new RegExp(OS_MARKER.done), 180_000);
        expect(boot.serial()).toContain(`${OS_MARKER.hostname} vm-mirror`);
      } finally {
        await boot.kill();
      }
    }
  }, 600_000);

});
