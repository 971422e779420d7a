// Test harness: a small bootable Linux disk image (GPT; BIOS via syslinux, UEFI via a standalone GRUB) built from
// Debian packages without root or loop devices, whose init prints what rackhand's deploy configured, then powers off.
//
// Layout: partition 1 = ESP (FAT16, legacy-BIOS-bootable attribute for syslinux's gptmbr.bin) holding the Debian
// kernel, a busybox initramfs, syslinux.cfg and EFI/BOOT/BOOTX64.EFI; partition 2 = root (GPT type "Linux root
// x86-64", name and ext4 label "root"/"rhroot") up to the end of the image: the partition the agent grows.
// The OS prints, on ttyS0:
//   RACKHAND-OS-BOOT firmware=bios|uefi
//   RACKHAND-OS-HOSTNAME <contents of /etc/hostname>
//   RACKHAND-OS-ROOTHASH <the root: line of /etc/shadow>
//   RACKHAND-OS-KEY <each line of /root/.ssh/authorized_keys>
//   RACKHAND-OS-ROOTFS-KIB <size of / in KiB>
//   RACKHAND-OS-FILE <path> <lines joined>  for the network files, the post-install marker and the cloud-init
//                                           NoCloud seed (the image has /etc/cloud/cloud.cfg), when present
//   RACKHAND-OS-DONE
// and powers off.

import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { newcArchive, type NewcEntry } from '../../src/images/newc-archive.js';
import { newestKernel, resolveModules } from '../../src/images/ramdisk-builder.js';

const run = promisify(execFile);

export const OS_MARKER = {
  boot: 'RACKHAND-OS-BOOT',
  hostname: 'RACKHAND-OS-HOSTNAME',
  rootHash: 'RACKHAND-OS-ROOTHASH',
  key: 'RACKHAND-OS-KEY',
  rootKiB: 'RACKHAND-OS-ROOTFS-KIB',
  file: 'RACKHAND-OS-FILE',
  done: 'RACKHAND-OS-DONE',
} as const;

/** What the image's own /etc holds before any deploy configures it. */
export const OS_IMAGE_DEFAULTS = { hostname: 'unconfigured', shadowRoot: 'root:*:19000:0:99999:7:::' };

export interface OsDiskImage {
  dir: string;
  raw: string;
  zst: string;
  rawBytes: number;
  zstBytes: number;
  /** Partition 2's start in bytes (the root filesystem). */
  rootOffset: number;
  cleanup(): void;
}

const ESP_MIB = 20;
const OS_MODULES = ['ata_piix', 'ahci', 'sd_mod', 'virtio_blk', 'virtio_pci', 'nvme', 'ext4', 'crc32c_generic'];

const OS_INITRAMFS_INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo 1 > /proc/sys/kernel/printk
while read -r m; do insmod "/lib/modules/$m" 2>/dev/null; done < /etc/modules.order
i=0
while [ $i -lt 100 ]; do
  dev=$(findfs LABEL=rhroot 2>/dev/null) && break
  sleep 0.1; i=$((i+1))
done
[ -n "$dev" ] || { echo "RACKHAND-OS-FAIL no root filesystem"; poweroff -f; }
mkdir -p /newroot
mount -t ext4 "$dev" /newroot || { echo "RACKHAND-OS-FAIL cannot mount $dev"; poweroff -f; }
exec switch_root /newroot /sbin/init
`;

const OS_ROOT_INIT = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
B=/bin/busybox
if [ -d /sys/firmware/efi ]; then fw=uefi; else fw=bios; fi
echo "${OS_MARKER.boot} firmware=$fw"
echo "${OS_MARKER.hostname} $($B cat /etc/hostname)"
echo "${OS_MARKER.rootHash} $($B grep '^root:' /etc/shadow)"
if [ -f /root/.ssh/authorized_keys ]; then
  while read -r k; do echo "${OS_MARKER.key} $k"; done < /root/.ssh/authorized_keys
fi
echo "${OS_MARKER.rootKiB} $($B df -k / | $B awk 'NR==2{print $2}')"
for f in /etc/systemd/network/*.network /etc/network/interfaces.d/* /root/post-install-marker /var/lib/cloud/seed/nocloud/*; do
  [ -f "$f" ] && echo "${OS_MARKER.file} $f $($B grep -v '^#' "$f" | $B tr '\\n' ' ')"
done
echo "${OS_MARKER.done}"
$B sync
$B poweroff -f
`;

async function sh(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  try {
    return (await run(cmd, args, { maxBuffer: 32 << 20, env: { ...process.env, ...env } })).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${(err.stderr || err.message).trim()}`);
  }
}

function osInitramfs(version: string): Buffer {
  const entries: NewcEntry[] = [];
  const dirs = new Set<string>();
  const dir = (p: string) => {
    const parts = p.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ path: d, type: 'dir' });
      }
    }
  };
  for (const d of ['bin', 'proc', 'sys', 'dev', 'etc', 'lib/modules', 'newroot']) dir(d);
  entries.push({ path: 'dev/console', type: 'char', major: 5, minor: 1 });
  entries.push({ path: 'bin/busybox', type: 'file', data: readFileSync(busyboxPath()), mode: 0o755 });
  entries.push({ path: 'init', type: 'file', data: Buffer.from(OS_INITRAMFS_INIT), mode: 0o755 });
  const mods = resolveModules(version, OS_MODULES);
  for (const m of mods) entries.push({ path: `lib/modules/${path.basename(m)}`, type: 'file', data: readFileSync(path.join('/lib/modules', version, m)) });
  entries.push({ path: 'etc/modules.order', type: 'file', data: Buffer.from(mods.map((m) => path.basename(m)).join('\n') + '\n') });
  return gzipSync(newcArchive(entries), { level: 6 });
}

function busyboxPath(): string {
  const p = ['/bin/busybox', '/usr/bin/busybox'].find((x) => existsSync(x));
  if (!p) throw new Error('busybox-static is needed');
  return p;
}

function findFile(candidates: string[], pkg: string): string {
  const f = candidates.find((c) => existsSync(c));
  if (!f) throw new Error(`${candidates[0]} is missing (Debian package ${pkg})`);
  return f;
}

/**
 * Builds <dir>/os.raw and <dir>/os.raw.zst. sizeMiB is the whole image (≥ 32); the root partition takes what the
 * ESP leaves. No root, no loop device: sgdisk on the file, mkfs.fat --offset + mtools, mkfs.ext4 -d -E offset.
 */
export async function buildOsDiskImage(o: { sizeMiB?: number; dir?: string } = {}): Promise<OsDiskImage> {
  const sizeMiB = o.sizeMiB ?? 40;
  if (sizeMiB < 32) throw new Error('the OS image needs at least 32 MiB');
  const dir = o.dir ?? mkdtempSync(path.join(tmpdir(), `rh-osimg-${process.pid}-`));
  const own = o.dir === undefined;
  const raw = path.join(dir, 'os.raw');
  const work = path.join(dir, 'work');
  try {
    mkdirSync(work, { recursive: true });
    const version = newestKernel();
    const mib = 1 << 20;
    writeFileSync(raw, '');
    await sh('truncate', ['-s', `${sizeMiB}M`, raw]);
    const espStart = 1; // MiB
    const rootStart = espStart + ESP_MIB;
    await sh('sgdisk', ['-o',
      '-n', `1:${espStart * 2048}:+${ESP_MIB}M`, '-t', '1:ef00', '-c', '1:ESP', '-A', '1:set:2',
      '-n', `2:${rootStart * 2048}:0`, '-t', '2:8304', '-c', '2:root', raw]);
    // BIOS: syslinux's GPT MBR code boots the partition with the legacy-BIOS-bootable attribute
    const gptmbr = readFileSync(findFile(['/usr/lib/syslinux/mbr/gptmbr.bin'], 'syslinux-common'));
    const fd = readFileSync(raw);
    gptmbr.copy(fd, 0, 0, 440);
    writeFileSync(raw, fd);

    // ESP: kernel, initramfs, syslinux, GRUB
    const espDir = path.join(work, 'esp');
    mkdirSync(path.join(espDir, 'EFI/BOOT'), { recursive: true });
    copyFileSync(path.join('/boot', `vmlinuz-${version}`), path.join(espDir, 'vmlinuz'));
    writeFileSync(path.join(espDir, 'initrd.img'), osInitramfs(version));
    const append = 'console=ttyS0,115200 panic=5';
    writeFileSync(path.join(espDir, 'syslinux.cfg'), `DEFAULT os\nPROMPT 0\nTIMEOUT 0\nSERIAL 0 115200\nLABEL os\n  KERNEL /vmlinuz\n  APPEND initrd=/initrd.img ${append}\n`);
    writeFileSync(path.join(work, 'grub.cfg'),
      `set timeout=0\nsearch --no-floppy --file --set=root /rackhand-os\nlinux /vmlinuz ${append}\ninitrd /initrd.img\nboot\n`);
    writeFileSync(path.join(espDir, 'rackhand-os'), 'rackhand test OS\n');
    await sh('grub-mkstandalone', ['-O', 'x86_64-efi', '-o', path.join(espDir, 'EFI/BOOT/BOOTX64.EFI'),
      '--modules=part_gpt fat search search_fs_file linux normal configfile echo', '--install-modules=part_gpt fat search search_fs_file linux normal configfile echo boot gzio',
      '--locales=', '--fonts=', '--themes=', `boot/grub/grub.cfg=${path.join(work, 'grub.cfg')}`]);
    await sh('mkfs.fat', ['-F', '16', '-n', 'ESP', '-h', String(espStart * 2048), '--offset', String(espStart * 2048), raw, String(ESP_MIB * 1024)]);
    const fat = `${raw}@@${espStart * mib}`;
    const mtoolsEnv = { MTOOLS_SKIP_CHECK: '1' };
    await sh('mmd', ['-i', fat, '::/EFI', '::/EFI/BOOT'], mtoolsEnv);
    for (const f of ['vmlinuz', 'initrd.img', 'syslinux.cfg', 'rackhand-os']) await sh('mcopy', ['-i', fat, path.join(espDir, f), `::/${f}`], mtoolsEnv);
    await sh('mcopy', ['-i', fat, path.join(espDir, 'EFI/BOOT/BOOTX64.EFI'), '::/EFI/BOOT/BOOTX64.EFI'], mtoolsEnv);
    await sh('syslinux', ['--offset', String(espStart * mib), '--install', raw]);

    // root filesystem
    const rootDir = path.join(work, 'root');
    for (const d of ['bin', 'sbin', 'etc/systemd/network', 'root', 'proc', 'sys', 'dev', 'tmp', 'var/lib']) mkdirSync(path.join(rootDir, d), { recursive: true });
    copyFileSync(busyboxPath(), path.join(rootDir, 'bin/busybox'));
    chmodSync(path.join(rootDir, 'bin/busybox'), 0o755);
    symlinkSync('busybox', path.join(rootDir, 'bin/sh'));
    writeFileSync(path.join(rootDir, 'sbin/init'), OS_ROOT_INIT, { mode: 0o755 });
    writeFileSync(path.join(rootDir, 'etc/hostname'), `${OS_IMAGE_DEFAULTS.hostname}\n`);
    // what tells the agent the image has cloud-init (cloud-init itself is not in this test image)
    mkdirSync(path.join(rootDir, 'etc/cloud'), { recursive: true });
    writeFileSync(path.join(rootDir, 'etc/cloud/cloud.cfg'), '# rackhand test OS: marks the image as a cloud-init image\n');
    writeFileSync(path.join(rootDir, 'etc/hosts'), '127.0.0.1\tlocalhost\n');
    writeFileSync(path.join(rootDir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(path.join(rootDir, 'etc/shadow'), `${OS_IMAGE_DEFAULTS.shadowRoot}\n`, { mode: 0o640 });
    chmodSync(path.join(rootDir, 'root'), 0o700);
    const rootKiB = (sizeMiB - rootStart) * 1024 - 64; // the backup GPT takes the last 33 sectors
    await sh('mkfs.ext4', ['-q', '-F', '-L', 'rhroot', '-d', rootDir, '-E', `offset=${rootStart * mib},root_owner=0:0`, raw, `${rootKiB}k`]);
    await sh('zstd', ['-q', '-f', '-T1', '-9', raw, '-o', `${raw}.zst`]);
    rmSync(work, { recursive: true, force: true });
    return {
      dir, raw, zst: `${raw}.zst`, rawBytes: statSync(raw).size, zstBytes: statSync(`${raw}.zst`).size, rootOffset: rootStart * mib,
      cleanup: () => { if (own) rmSync(dir, { recursive: true, force: true }); },
    };
  } catch (e) {
    if (own) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
