// Test harness: builds a tiny real "installer" (Debian's kernel + a busybox initramfs whose /init gets a DHCP
// lease, requests the rackhand.callback URL and powers off) into a temp dir, and boots it in qemu (TCG).
//
// Facts this relies on (checked on Debian 12, kernel 6.1): the Debian kernel has the serial console, devtmpfs,
// AF_PACKET and gzip initramfs built in, but e1000 and virtio-net are modules, so their .ko files (and their
// modules.dep prerequisites) are copied into the initramfs and insmod-ed by /init. Modules are uncompressed there.
//
// /init understands these kernel arguments:
//   rackhand.callback=URL   requested (GET, busybox wget) once the network is up; retried a few times
//   rackhand.action=X       echoed in the markers (install|diag|wipe)
//   rackhand.wipe_mode=X    echoed (the test image never touches a disk)
//   rackhand.after=poweroff|reboot|halt|shell   what to do at the end (default poweroff)
// and prints, on the console:
//   RACKHAND-INSTALLER-START action=X
//   RACKHAND-INSTALLER-DONE status=ok|fail reason=… action=X

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { newestKernel, resolveModules } from '../../src/images/ramdisk-builder.js';

export const INSTALLER_DONE_MARKER = 'RACKHAND-INSTALLER-DONE';
export const INSTALLER_START_MARKER = 'RACKHAND-INSTALLER-START';

export type NicModule = 'e1000' | 'virtio_net';

export interface InstallerImage {
  dir: string;
  kernel: string;
  initramfs: string;
  kernelVersion: string;
  /** Modules loaded by /init, in load order. */
  modules: string[];
  cleanup(): void;
}

export interface InstallerImageOptions {
  /** NIC drivers to include (default both e1000 and virtio_net). */
  nics?: NicModule[];
  /** Build here instead of a fresh temp dir (the caller then owns removal). */
  dir?: string;
}

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

function findBusybox(): string {
  for (const p of BUSYBOX_CANDIDATES) {
    if (!existsSync(p)) continue;
    const r = spawnSync('file', ['-L', p], { encoding: 'utf8' });
    // without `file`, trust the busybox-static package's location
    if (r.status !== 0 || /statically linked|static-pie/.test(r.stdout)) return p;
  }
  throw new Error('a static busybox is needed (Debian package busybox-static)');
}

/** The newest /boot/vmlinuz-* that has a matching /lib/modules tree. */
export function findKernel(): { kernel: string; version: string } {
  const version = newestKernel();
  return { kernel: path.join('/boot', `vmlinuz-${version}`), version };
}

/** Module files for the NIC drivers plus their prerequisites (the ramdisk builder's resolver), prerequisites first. */
function nicModules(version: string, names: string[]): string[] {
  // the PCI transport is what binds virtio-net to the device; it is a separate module on Debian
  const wanted = names.includes('virtio_net') ? [...names, 'virtio_pci'] : names;
  return resolveModules(version, wanted).map((f) => path.join('/lib/modules', version, f));
}

const INIT = `#!/bin/sh
# rackhand test installer: DHCP, call back, mark the console, leave.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo 1 > /proc/sys/kernel/printk
CB= ACTION=install WIPE= AFTER=poweroff
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    rackhand.callback=*) CB="\${arg#rackhand.callback=}" ;;
    rackhand.action=*) ACTION="\${arg#rackhand.action=}" ;;
    rackhand.wipe_mode=*) WIPE="\${arg#rackhand.wipe_mode=}" ;;
    rackhand.after=*) AFTER="\${arg#rackhand.after=}" ;;
  esac
done
echo "${INSTALLER_START_MARKER} action=$ACTION"
finish() {
  echo "${INSTALLER_DONE_MARKER} status=$1 reason=$2 action=$ACTION\${WIPE:+ wipe_mode=$WIPE}"
  sync
  case "$AFTER" in
    reboot) reboot -f ;;
    halt) halt -f ;;
    shell) exec sh ;;
    *) poweroff -f ;;
  esac
  sleep 5; poweroff -f
}
while read -r m; do [ -n "$m" ] && insmod "/lib/modules/$m" 2>/dev/null; done < /etc/rackhand-modules
ip link set lo up
IF=
i=0
while [ -z "$IF" ] && [ $i -lt 50 ]; do
  for n in /sys/class/net/*; do
    n=\${n##*/}
    [ "$n" != lo ] && [ -e "/sys/class/net/$n" ] && IF=$n && break
  done
  [ -z "$IF" ] && sleep 0.2
  i=$((i+1))
done
[ -n "$IF" ] || finish fail no-nic
ip link set "$IF" up
udhcpc -i "$IF" -n -q -f -t 10 -T 2 -s /etc/udhcpc.script >/dev/null 2>&1 || finish fail no-dhcp
[ -n "$CB" ] || finish fail no-callback-arg
n=0
while [ $n -lt 5 ]; do
  # Debian's static busybox wget crashes on -T, so bound it with timeout(1) instead
  if timeout 20 wget -q -O /tmp/callback.out "$CB"; then finish ok called-back; fi
  n=$((n+1))
  sleep 1
done
finish fail callback-failed
`;

const UDHCPC_SCRIPT = `#!/bin/sh
# udhcpc hook: apply the lease to the interface.
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" dev "$interface"
    if [ -n "$router" ]; then
      for r in $router; do ip route add default via "$r" dev "$interface" && break; done
    fi
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    ;;
  deconfig)
    ip addr flush dev "$interface"
    ;;
esac
exit 0
`;

/** Builds kernel + initramfs paths for a netboot "installer"; nothing is written outside `dir`. */
export function buildInstallerImage(options: InstallerImageOptions = {}): InstallerImage {
  const busybox = findBusybox();
  const { kernel, version } = findKernel();
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), `rackhand-installer-${process.pid}-`));
  const ownsDir = options.dir === undefined;
  try {
    const root = path.join(dir, 'root');
    for (const d of ['bin', 'dev', 'proc', 'sys', 'tmp', 'etc', 'lib/modules']) mkdirSync(path.join(root, d), { recursive: true });
    copyFileSync(busybox, path.join(root, 'bin/busybox'));
    chmodSync(path.join(root, 'bin/busybox'), 0o755);
    symlinkSync('busybox', path.join(root, 'bin/sh'));
    const modules = nicModules(version, options.nics ?? ['e1000', 'virtio_net']);
    const names: string[] = [];
    for (const m of modules) {
      if (!m.endsWith('.ko')) throw new Error(`compressed module ${m}: add decompression to the harness`);
      const name = path.basename(m);
      copyFileSync(m, path.join(root, 'lib/modules', name));
      names.push(name);
    }
    writeFileSync(path.join(root, 'etc/rackhand-modules'), names.join('\n') + '\n');
    writeFileSync(path.join(root, 'init'), INIT, { mode: 0o755 });
    writeFileSync(path.join(root, 'etc/udhcpc.script'), UDHCPC_SCRIPT, { mode: 0o755 });

    const list = spawnSync('find', ['.', '-mindepth', '1'], { cwd: root, encoding: 'utf8' });
    if (list.status !== 0) throw new Error(`find failed: ${list.stderr}`);
    const cpio = spawnSync('cpio', ['--quiet', '-o', '-H', 'newc', '-R', '0:0'], { cwd: root, input: list.stdout, maxBuffer: 256 * 1024 * 1024 });
    if (cpio.status !== 0) throw new Error(`cpio failed: ${cpio.stderr.toString()}`);
    const initramfs = path.join(dir, 'initramfs.cpio.gz');
    writeFileSync(initramfs, gzipSync(cpio.stdout, { level: 6 }));
    rmSync(root, { recursive: true, force: true });
    return {
      dir,
      kernel,
      initramfs,
      kernelVersion: version,
      modules: names,
      cleanup: () => {
        if (ownsDir) rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (ownsDir) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

export interface QemuBootOptions {
  kernel: string;
  initramfs: string;
  /** Kernel command line; console=ttyS0 is added when missing. */
  append: string;
  nic?: 'e1000' | 'virtio-net-pci';
  /**
   * user-mode networking in restrict mode (nothing leaves the VM) plus guest forwards: a guest TCP
   * connection to 10.0.2.100:guestPort is handed to a new `busybox nc 127.0.0.1 hostPort` per connection.
   */
  forwards?: Array<{ guestPort: number; hostPort: number }>;
  memoryMiB?: number;
}

export interface QemuRun {
  proc: ChildProcess;
  /** Serial console output so far. */
  output(): string;
  /** Resolves with the console once `pattern` appears; rejects on exit or after timeoutMs. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** Resolves when qemu exits (the guest powered off, or it was killed). */
  exited: Promise<number | null>;
  kill(): Promise<void>;
}

/** The address guest forwards listen on inside the VM. */
export const GUEST_FORWARD_IP = '10.0.2.100';

/** Boots kernel + initramfs under TCG with the serial console on stdio. */
export function bootInQemu(opts: QemuBootOptions): QemuRun {
  const busybox = findBusybox();
  const fwd = (opts.forwards ?? [])
    .map((f) => `,guestfwd=tcp:${GUEST_FORWARD_IP}:${f.guestPort}-cmd:${busybox} nc 127.0.0.1 ${f.hostPort}`)
    .join('');
  const append = /(^|\s)console=/.test(opts.append) ? opts.append : `console=ttyS0 ${opts.append}`;
  const args = [
    '-accel', 'tcg',
    '-machine', 'pc',
    '-m', String(opts.memoryMiB ?? 256),
    '-smp', '1',
    '-nographic',
    '-nodefaults',
    '-serial', 'stdio',
    '-monitor', 'none',
    '-no-reboot',
    '-kernel', opts.kernel,
    '-initrd', opts.initramfs,
    '-append', append,
    '-netdev', `user,id=n0,restrict=on,ipv6=off${fwd}`,
    '-device', `${opts.nic ?? 'e1000'},netdev=n0,romfile=`,
  ];
  const proc = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (b: Buffer) => {
    out += b.toString('utf8');
    for (const w of waiters) w();
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => {
    proc.on('exit', (code) => {
      for (const w of waiters) w();
      resolve(code);
    });
    proc.on('error', () => resolve(null));
  });
  let done = false;
  void exited.then(() => {
    done = true;
    for (const w of waiters) w();
  });
  return {
    proc,
    output: () => out,
    exited,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(out)) {
            cleanup();
            resolve(out);
          } else if (done) {
            cleanup();
            reject(new Error(`qemu exited before ${pattern}; console:\n${out.slice(-4000)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timeout waiting for ${pattern}; console:\n${out.slice(-4000)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
    },
  };
}
