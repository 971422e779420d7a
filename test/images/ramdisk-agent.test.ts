// The rackhand ramdisk against real peers: qemu VMs (TCG) on a network-namespace bridge boot the ramdisk built from
// this machine's Debian packages; a job server in the test speaks AGENT-PROTOCOL.md. Inspect reports qemu's real
// hardware; wipe quick/zero leave the disk files zero exactly where promised; deploy writes the test OS image, which
// then boots from disk under BIOS and UEFI and prints what was configured; a corrupt image fails promptly with
// IMAGE_CORRUPT; secure erase is refused on a disk that cannot; rescue lets the test in over SSH until disarmed.
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRamdisk, type RamdiskBuild } from '../../src/images/ramdisk-builder.js';
import { sha512Crypt } from '../../src/boot/templates/sha512-crypt.js';
import { buildOsDiskImage, OS_IMAGE_DEFAULTS, OS_MARKER, type OsDiskImage } from '../harness/os-disk-image.js';
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
    ramdisk = await buildRamdisk({ outDir: join(tmp.dir, 'ramdisk') });
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

  it('wipe quick zeroes signatures and the first and last MiB of every disk, nothing else; zero by serial wipes one disk whole; per-disk results', async () => {
    const a: LabDisk = { file: join(tmp.dir, 'wa.img'), serial: 'RHWIPEA', model: 'WipeDiskA' };
    const b: LabDisk = { file: join(tmp.dir, 'wb.img'), serial: 'RHWIPEB', model: 'WipeDiskB' };
    const origA = writeRandomFile(a.file, 48 * MIB, 1);
    const origB = writeRandomFile(b.file, 40 * MIB, 2);

    const tq = token();
    rl.server.arm(tq, { action: 'wipe', params: { mode: 'quick' } });
    let { vm } = await bootRamdisk({ rl, ramdisk, token: tq, mac: mac(2), firmware: 'bios', disks: [a, b] });
    try {
      const res = await resultOf(tq, vm, 240_000);
      expect(res.ok, JSON.stringify(res)).toBe(true);
      // the kernel names disks in probe order (sda may be either): identify them by serial
      const bySerial = [...res.result.disks].sort((x: any, y: any) => (x.serial < y.serial ? -1 : 1));
      expect(bySerial).toEqual([
        { name: expect.stringMatching(/^sd[ab]$/), serial: a.serial, sizeBytes: 48 * MIB, mode: 'quick', ok: true },
        { name: expect.stringMatching(/^sd[ab]$/), serial: b.serial, sizeBytes: 40 * MIB, mode: 'quick', ok: true },
      ]);
      expect(await waitExit(vm, 60_000)).toBe(true);
    } finally {
      await vm.kill();
    }
    for (const [d, orig] of [[a, origA], [b, origB]] as const) {
      const now = readFileSync(d.file);
      expect(isZero(now.subarray(0, MIB)), `${d.serial} first MiB`).toBe(true);
      expect(isZero(now.subarray(now.length - MIB)), `${d.serial} last MiB`).toBe(true);
      // qemu's IDE disk does not discard: the middle is exactly as before
      expect(now.subarray(MIB, now.length - MIB).equals(orig.subarray(MIB, orig.length - MIB)), `${d.serial} middle untouched`).toBe(true);
    }

    const tz = token();
    const beforeB = readFileSync(b.file);
    writeRandomFile(a.file, 48 * MIB, 3);
    rl.server.arm(tz, { action: 'wipe', params: { mode: 'zero', disks: [a.serial] } });
    ({ vm } = await bootRamdisk({ rl, ramdisk, token: tz, mac: mac(2), firmware: 'bios', disks: [a, b] }));
    try {
      const res = await resultOf(tz, vm, 240_000);
      expect(res.ok, JSON.stringify(res)).toBe(true);
      expect(res.result.disks).toEqual([{ name: expect.stringMatching(/^sd[ab]$/), serial: a.serial, sizeBytes: 48 * MIB, mode: 'zero', ok: true }]);
      const step = `wipe ${res.result.disks[0].name} (zero)`;
      const pct = rl.server.state(tz).progress.filter((p) => p.step === step && typeof p.percent === 'number').map((p) => p.percent);
      expect(pct.at(-1)).toBe(100);
      expect(await waitExit(vm, 60_000)).toBe(true);
    } finally {
      await vm.kill();
    }
    expect(isZero(readFileSync(a.file))).toBe(true);
    expect(readFileSync(b.file).equals(beforeB)).toBe(true);
  }, 600_000);

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

  it('deploy streams raw.zst to the largest disk, verifies sha256, grows root, configures (network, post-install, cloud-init seed); the disk then boots BIOS and UEFI and prints hostname, root hash and key', async () => {
    const small: LabDisk = { file: join(tmp.dir, 'dsmall.img'), serial: 'RHSMALL', model: 'SmallDisk' };
    const big: LabDisk = { file: join(tmp.dir, 'dbig.img'), serial: 'RHBIG', model: 'BigDisk' };
    execFileSync('truncate', ['-s', '36M', small.file]);
    execFileSync('truncate', ['-s', '96M', big.file]);
    const t = token();
    const hash = sha512Crypt('Deploy-Pass-1');
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxq0rackhandtestkeyrackhandtestkey0000 test@rackhand';
    const url = rl.server.addImage('test-os/os.raw.zst', os.zst);
    const sha = execFileSync('sha256sum', [os.zst], { encoding: 'utf8' }).split(' ')[0];
    rl.server.arm(t, {
      action: 'deploy',
      params: {
        image: { url, sha256: sha, format: 'raw.zst' },
        disk: { pick: 'largest' },
        config: {
          hostname: 'vm-deployed', domain: 'lab.example', rootPasswordHash: hash, sshKeys: [key],
          network: { interfaces: [{ mac: mac(4), addresses: ['192.0.2.10/24'], gateway: '192.0.2.1', dns: ['192.0.2.53'] }] },
          postInstallScript: '#!/bin/sh\necho "post-install ran on $(cat /etc/hostname)" > /root/post-install-marker\n',
          cloudInit: '#cloud-config\nruncmd: [echo rackhand-cloud-init]\n',
        },
      },
    });
    const { vm } = await bootRamdisk({ rl, ramdisk, token: t, mac: mac(4), firmware: 'bios', disks: [small, big] });
    try {
      const res = await resultOf(t, vm, 180_000);
      expect(res.ok, JSON.stringify(res)).toBe(true);
      expect(res.result).toMatchObject({ disk: expect.stringMatching(/^\/dev\/sd[ab]$/), serial: big.serial, sha256: sha, bytesWritten: os.rawBytes });
      const prog = rl.server.state(t).progress;
      expect(steps(prog)).toEqual(['choose disk', 'stream image', 'verify checksum', 'grow root partition', 'configure system', 'post-install script']);
      expect(prog.filter((p) => p.step === 'stream image' && p.percent !== undefined).at(-1)?.percent).toBe(100);
      expect(prog.find((p) => p.step === 'grow root partition' && p.state === 'succeeded')?.message).toMatch(/sd[ab]2 grown from \d+ to \d+ MiB, ext4 resized/);
      // deploy waits for rackhand to reboot it: still running
      expect(vm.process.exitCode).toBeNull();
    } finally {
      await vm.kill();
    }
    expect(isZero(readFileSync(small.file))).toBe(true);

    for (const firmware of ['bios', 'uefi'] as const) {
      const boot = await bootFromDisk({ rl, mac: mac(4), firmware, disk: big });
      try {
        await boot.waitForSerial(new RegExp(OS_MARKER.done), 180_000);
        const out = boot.serial();
        expect(out).toContain(`${OS_MARKER.boot} firmware=${firmware}`);
        expect(out).toContain(`${OS_MARKER.hostname} vm-deployed`);
        expect(out).not.toContain(OS_IMAGE_DEFAULTS.hostname);
        expect(out).toMatch(new RegExp(`${OS_MARKER.rootHash} root:${hash.replace(/[$./]/g, (c) => `\\${c}`)}:`));
        expect(out).toContain(`${OS_MARKER.key} ${key}`);
        const kib = Number(new RegExp(`${OS_MARKER.rootKiB} (\\d+)`).exec(out)?.[1]);
        expect(kib).toBeGreaterThan(60 * 1024); // grown from ~17 MiB to fill the 96 MiB disk
        expect(out).toMatch(/RACKHAND-OS-FILE \/etc\/systemd\/network\/10-rackhand-525400\w+\.network .*MACAddress=52:54:00:7a:00:04 .*Address=192\.0\.2\.10\/24 Gateway=192\.0\.2\.1 DNS=192\.0\.2\.53/);
        expect(out).toContain('RACKHAND-OS-FILE /root/post-install-marker post-install ran on vm-deployed');
        // the image has cloud-init: a NoCloud seed with the same hostname, the user's cloud-config and the network
        expect(out).toMatch(/RACKHAND-OS-FILE \/var\/lib\/cloud\/seed\/nocloud\/meta-data instance-id: rackhand-[0-9a-f]+ local-hostname: vm-deployed\.lab\.example/);
        expect(out).toContain('RACKHAND-OS-FILE /var/lib/cloud/seed/nocloud/user-data runcmd: [echo rackhand-cloud-init]');
        expect(out).toMatch(/RACKHAND-OS-FILE \/var\/lib\/cloud\/seed\/nocloud\/network-config version: 2 .*macaddress: "52:54:00:7a:00:04" +addresses: \["192\.0\.2\.10\/24"\]/);
      } finally {
        await boot.kill();
      }
    }
  }, 900_000);

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

  it('a corrupt image (sha256 mismatch) fails promptly with IMAGE_CORRUPT and leaves no partition table behind', async () => {
    const d: LabDisk = { file: join(tmp.dir, 'corrupt.img'), serial: 'RHCORRUPT', model: 'CorruptDisk' };
    writeRandomFile(d.file, 64 * MIB, 5);
    const bad = join(tmp.dir, 'os-corrupt.raw');
    copyFileSync(os.raw, bad);
    const good = execFileSync('sha256sum', [os.raw], { encoding: 'utf8' }).split(' ')[0];
    const buf = readFileSync(bad);
    buf[os.rootOffset + 4096 + 17] ^= 0xff; // one flipped bit-pattern in the root filesystem
    writeFileSync(bad, buf);
    const url = rl.server.addImage('test-os/os-corrupt.raw', bad);
    const t = token();
    rl.server.arm(t, { action: 'deploy', params: { image: { url, sha256: good, format: 'raw' }, disk: { pick: 'serial', serial: d.serial }, config: { hostname: 'never', sshKeys: [] } } });
    const { vm } = await bootRamdisk({ rl, ramdisk, token: t, mac: mac(5), firmware: 'bios', disks: [d] });
    try {
      const res = await resultOf(t, vm, 120_000);
      expect(res.ok).toBe(false);
      expect(res.code).toBe('IMAGE_CORRUPT');
      expect(res.reason).toContain(`expected ${good}`);
      const prog = rl.server.state(t).progress;
      expect(prog.find((p) => p.step === 'verify checksum' && p.state === 'failed')).toBeDefined();
      expect(steps(prog)).not.toContain('configure system');
    } finally {
      await vm.kill();
    }
    const disk = readFileSync(d.file);
    expect(isZero(disk.subarray(0, MIB))).toBe(true); // no MBR, no GPT: the disk will not boot the corrupt image
    expect(isZero(disk.subarray(disk.length - MIB))).toBe(true);
  }, 400_000);

  it('rescue: SSH in with the given key; once disarmed the job is 404 and the VM powers off', async () => {
    const keyDir = tempDir('rh-rescue-key');
    try {
      const keyFile = join(keyDir.dir, 'id_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
      const pub = readFileSync(`${keyFile}.pub`, 'utf8').trim();
      const d: LabDisk = { file: join(tmp.dir, 'rescue.img'), serial: 'RHRESCUE', model: 'RescueDisk' };
      execFileSync('truncate', ['-s', '32M', d.file]);
      const t = token();
      rl.server.arm(t, { action: 'rescue', params: { sshKeys: [pub] } });
      const { vm, ip } = await bootRamdisk({ rl, ramdisk, token: t, mac: mac(6), firmware: 'bios', disks: [d] });
      try {
        const ready = await rl.server.waitProgress(t, (p) => /rescue ready/.test(p.message ?? ''), 240_000);
        expect(ready.message).toContain(`ssh root@${ip}`);
        const ssh = (cmd: string) => rl.lab.exec('ssh', ['-i', keyFile, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
          '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20', `root@${ip}`, cmd]);
        const out = await ssh('cat /etc/rackhand-release; /usr/sbin/smartctl -i /dev/sda 2>&1; true');
        expect(out.stdout).toContain('rackhand ramdisk');
        expect(out.stdout).toContain('RHRESCUE');
        // a wrong key is refused
        const otherKey = join(keyDir.dir, 'other');
        execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
        await expect(rl.lab.exec('ssh', ['-i', otherKey, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes',
          '-o', 'ConnectTimeout=20', `root@${ip}`, 'true'])).rejects.toThrow(/Permission denied/);
        expect(rl.server.state(t).result).toBeUndefined();
        const fetches = rl.server.state(t).jobFetches;
        rl.server.arm(t, null);
        expect(await waitExit(vm, 60_000)).toBe(true);
        expect(rl.server.state(t).jobFetches).toBeGreaterThan(fetches);
      } finally {
        await vm.kill();
      }
    } finally {
      keyDir.remove();
    }
  }, 400_000);
});
