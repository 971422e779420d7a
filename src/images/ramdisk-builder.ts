// Builds the rackhand ramdisk (kernel + initramfs with the agent and the Debian tools its jobs need) from this
// machine's Debian packages, reproducibly, without root, and writes a manifest of package versions and hashes.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { RackhandError } from '../errors.js';
import { newcArchive, type NewcEntry } from './newc-archive.js';

const run = promisify(execFile);

/** The ramdisk sources (agent, /init) in the repository: <repo>/ramdisk. */
export const RAMDISK_SOURCE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../ramdisk');

/** Every tool the agent's jobs exec, as installed by Debian (the package that brings it is in the manifest). */
export const RAMDISK_TOOLS = [
  '/usr/sbin/dmidecode',
  '/usr/bin/lsblk', '/usr/sbin/wipefs', '/usr/sbin/blkdiscard', '/usr/sbin/blkid', '/usr/sbin/blockdev', '/usr/sbin/sfdisk',
  '/usr/sbin/nvme', '/usr/sbin/hdparm', '/usr/sbin/smartctl', '/usr/sbin/sgdisk',
  '/usr/sbin/e2fsck', '/usr/sbin/resize2fs', '/usr/sbin/tune2fs',
  '/usr/sbin/mdadm',
  '/usr/sbin/dropbear', '/usr/bin/dropbearkey',
  '/usr/bin/zstd', '/usr/bin/xz',
];

/** Drivers for the disks, NICs, RAID and filesystems of real servers and of qemu; their dependencies are added. */
export const RAMDISK_MODULES = [
  // first: libcrc32c (xfs, bnx2x) needs the crc32c algorithm registered when it loads
  'crc32c_generic',
  // storage controllers
  'ahci', 'ata_piix', 'ata_generic', 'sd_mod', 'sg', 'nvme', 'virtio_blk', 'virtio_scsi', 'virtio_pci',
  'megaraid_sas', 'mpt3sas', 'hpsa', 'smartpqi', 'aacraid',
  // network
  'e1000', 'e1000e', 'igb', 'igc', 'ixgbe', 'i40e', 'ice', 'bnxt_en', 'tg3', 'bnx2x', 'mlx4_en', 'mlx5_core', 'r8169',
  'virtio_net', 'vmxnet3',
  // software RAID (deploy's mirror) and filesystems the agent mounts to configure an image
  'md_mod', 'raid1', 'raid0', 'raid10', 'ext4', 'xfs', 'vfat', 'nls_cp437', 'nls_iso8859_1', 'nls_ascii',
];

export interface RamdiskBuildOptions {
  outDir: string;
  /** The agent's Go sources; default <repo>/ramdisk/agent. */
  agentSource?: string;
  log?: (line: string) => void;
  /** Kernel version under /boot and /lib/modules; default the newest with both. */
  kernelVersion?: string;
}

export interface RamdiskManifest {
  format: 1;
  kernelVersion: string;
  kernel: { file: string; sha256: string; sizeBytes: number };
  initramfs: { file: string; sha256: string; sizeBytes: number; files: number; modules: number };
  agent: { sha256: string; sizeBytes: number; goVersion: string };
  /** Every Debian package a file in the ramdisk (or the Go compiler) came from, sorted by name. */
  packages: Array<{ name: string; version: string }>;
  tools: string[];
}

export interface RamdiskBuild {
  kernel: string;
  initramfs: string;
  manifestPath: string;
  manifest: RamdiskManifest;
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function fail(message: string): never {
  throw new RackhandError('INTERNAL', `ramdisk build: ${message}`);
}

async function tool(cmd: string, args: string[], what: string, env?: NodeJS.ProcessEnv): Promise<string> {
  try {
    const r = await run(cmd, args, { maxBuffer: 64 << 20, env: env ?? process.env });
    return r.stdout;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') fail(`${cmd} is missing: install the Debian package that provides it (${what})`);
    const line = (err.stderr ?? err.message).trim().split('\n').slice(-3).join(' | ');
    fail(`${what}: ${line}`);
  }
}

/** The newest kernel version with both /boot/vmlinuz-<v> and /lib/modules/<v>. */
export function newestKernel(): string {
  const versions = readdirSync('/boot')
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => existsSync(path.join('/lib/modules', v, 'modules.dep')))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const v = versions[versions.length - 1];
  if (!v) fail('no /boot/vmlinuz-* with its /lib/modules (install linux-image-amd64)');
  return v;
}

/** Module paths (relative to /lib/modules/<v>) for the names and their dependencies, dependencies first. */
export function resolveModules(version: string, names: string[]): string[] {
  const root = path.join('/lib/modules', version);
  const builtin = new Set(
    readFileSync(path.join(root, 'modules.builtin'), 'utf8').split('\n').filter(Boolean).map((l) => path.basename(l).replace(/\.ko.*$/, '').replace(/-/g, '_')),
  );
  const deps = new Map<string, string[]>();
  const byName = new Map<string, string>();
  for (const line of readFileSync(path.join(root, 'modules.dep'), 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const file = line.slice(0, i);
    deps.set(file, line.slice(i + 1).trim().split(/\s+/).filter(Boolean));
    byName.set(path.basename(file).replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_'), file);
  }
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const d of deps.get(file) ?? []) visit(d);
    order.push(file);
  };
  for (const n of names) {
    if (builtin.has(n)) continue;
    const file = byName.get(n);
    if (!file) fail(`kernel ${version} has no module ${n}`);
    visit(file);
  }
  for (const f of order) if (!f.endsWith('.ko')) fail(`module ${f} is compressed: this builder copies plain .ko files`);
  return order;
}

/** Shared libraries (and the dynamic loader) a binary needs, as ldd names them. */
async function librariesOf(binary: string): Promise<string[]> {
  const out = await tool('ldd', [binary], `ldd ${binary}`).catch((e) => {
    if (/not a dynamic executable/.test(String(e))) return '';
    throw e;
  });
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

/** Merged-/usr: /lib/x → usr/lib/x, /bin/x → usr/bin/x; the top-level names are symlinks in the ramdisk. */
function usrPath(p: string): string {
  const rel = p.replace(/^\/+/, '');
  return /^(lib|lib64|bin|sbin)\//.test(rel) ? `usr/${rel}` : rel;
}

/** The Debian packages that own these files, with their versions (one dpkg-query for all of them). */
async function packagesOwning(files: string[]): Promise<Array<{ name: string; version: string }>> {
  // merged-/usr: dpkg may know a file under either spelling
  const spellings = (f: string) => [f, f.startsWith('/usr/') ? f.slice(4) : `/usr${f}`];
  const out = await run('dpkg-query', ['-S', ...files.flatMap(spellings)], { maxBuffer: 16 << 20 })
    .then((r) => r.stdout, (e: { stdout?: string }) => e.stdout ?? ''); // exit 1 when some spelling is unknown
  const ownerOf = new Map<string, string[]>();
  for (const line of out.split('\n')) {
    if (line.startsWith('diversion')) continue;
    const i = line.indexOf(': /');
    if (i < 0) continue;
    ownerOf.set(line.slice(i + 2), line.slice(0, i).split(', ').map((p) => p.replace(/:.*$/, '')));
  }
  const owners = new Set<string>();
  for (const f of files) {
    const hit = spellings(f).map((x) => ownerOf.get(x)).find(Boolean);
    if (!hit) fail(`${f} belongs to no Debian package: the ramdisk takes files from packages only`);
    for (const p of hit) owners.add(p);
  }
  const names = [...owners].sort();
  const listed = await tool('dpkg-query', ['-W', '-f=${Package}\t${Version}\n', ...names], 'dpkg-query -W');
  return listed.split('\n').filter(Boolean).map((l) => {
    const [name, version] = l.split('\t');
    return { name, version };
  }).sort((a, b) => (a.name < b.name ? -1 : 1));
}

async function buildAgent(src: string, workDir: string, log: (l: string) => void): Promise<{ binary: Buffer; goVersion: string }> {
  const out = path.join(workDir, 'rackhand-agent');
  const env = {
    ...process.env,
    CGO_ENABLED: '0', GOOS: 'linux', GOARCH: 'amd64', GOFLAGS: '-mod=mod', GOPROXY: 'off', GO111MODULE: 'on',
    GOCACHE: process.env.GOCACHE ?? path.join(tmpdir(), 'rackhand-go-cache'),
    HOME: process.env.HOME ?? tmpdir(),
  };
  log(`go build ${src}`);
  try {
    await run('go', ['build', '-trimpath', '-buildvcs=false', '-ldflags=-buildid= -s -w', '-o', out, '.'], { cwd: src, env, maxBuffer: 16 << 20 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') fail('go is missing: install the Debian package golang-go');
    fail(`go build failed: ${(err.stderr ?? err.message).trim().split('\n').slice(0, 5).join(' | ')}`);
  }
  const goVersion = (await tool('go', ['version'], 'go version', env)).trim();
  return { binary: readFileSync(out), goVersion };
}

/** Builds vmlinuz + initramfs.cpio.gz + manifest.json into outDir; the same inputs give the same bytes. */
export async function buildRamdisk(opts: RamdiskBuildOptions): Promise<RamdiskBuild> {
  const log = opts.log ?? (() => undefined);
  const version = opts.kernelVersion ?? newestKernel();
  const kernelSrc = path.join('/boot', `vmlinuz-${version}`);
  if (!existsSync(kernelSrc)) fail(`${kernelSrc} is missing (install linux-image-${version})`);
  const agentSource = opts.agentSource ?? path.join(RAMDISK_SOURCE_DIR, 'agent');
  const rootfsSource = path.join(RAMDISK_SOURCE_DIR, 'rootfs');
  mkdirSync(opts.outDir, { recursive: true });
  const work = mkdtempSync(path.join(tmpdir(), 'rackhand-ramdisk-'));
  try {
    const entries = new Map<string, NewcEntry>();
    const dir = (p: string, mode = 0o755) => {
      const parts = p.split('/');
      for (let i = 1; i <= parts.length; i++) {
        const d = parts.slice(0, i).join('/');
        if (!entries.has(d)) entries.set(d, { path: d, type: 'dir', mode });
      }
    };
    const put = (e: NewcEntry) => {
      const parent = path.posix.dirname(e.path);
      if (parent !== '.') dir(parent);
      entries.set(e.path, e);
    };
    const hostFiles: string[] = [kernelSrc];

    // merged-/usr layout
    for (const d of ['usr/bin', 'usr/sbin', 'usr/lib', 'usr/lib64', 'proc', 'sys', 'dev', 'run', 'tmp', 'mnt/target', 'etc/rackhand', 'var/lib', 'var/log']) dir(d);
    entries.set('root', { path: 'root', type: 'dir', mode: 0o700 });
    entries.set('tmp', { path: 'tmp', type: 'dir', mode: 0o1777 });
    for (const l of ['bin', 'sbin', 'lib', 'lib64']) put({ path: l, type: 'symlink', target: `usr/${l}` });
    put({ path: 'dev/console', type: 'char', major: 5, minor: 1, mode: 0o600 });
    put({ path: 'dev/null', type: 'char', major: 1, minor: 3, mode: 0o666 });

    // busybox and its applets; a real tool copied later replaces an applet of the same name
    const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
    if (!busybox) fail('busybox is missing: install busybox-static');
    if (!/statically linked|static-pie/.test(await tool('file', ['-L', busybox], 'file').catch(() => 'statically linked'))) {
      fail(`${busybox} is not static: install busybox-static`);
    }
    hostFiles.push(busybox);
    put({ path: 'usr/bin/busybox', type: 'file', data: readFileSync(busybox), mode: 0o755 });
    for (const applet of (await tool(busybox, ['--list-full'], 'busybox --list-full')).split('\n').filter(Boolean)) {
      const dest = usrPath(`/${applet}`);
      if (dest === 'usr/bin/busybox') continue;
      put({ path: dest, type: 'symlink', target: path.posix.relative(path.posix.dirname(dest), 'usr/bin/busybox') });
    }

    // tools and their libraries
    const libs = new Set<string>();
    for (const t of RAMDISK_TOOLS) {
      if (!existsSync(t)) fail(`${t} is missing: install the packages in test/install-peers.d/ramdisk.txt`);
      hostFiles.push(t);
      put({ path: usrPath(t), type: 'file', data: readFileSync(t), mode: 0o755 });
      for (const l of await librariesOf(t)) libs.add(l);
    }
    for (const l of [...libs].sort()) {
      hostFiles.push(l);
      put({ path: usrPath(l), type: 'file', data: readFileSync(realpathSync(l)), mode: 0o755 });
    }

    // kernel modules, in load order
    const modules = resolveModules(version, RAMDISK_MODULES);
    const modRoot = path.join('/lib/modules', version);
    for (const m of modules) put({ path: `usr/lib/modules/${version}/${m}`, type: 'file', data: readFileSync(path.join(modRoot, m)), mode: 0o644 });
    hostFiles.push(path.join(modRoot, modules[0]));
    put({ path: 'etc/rackhand/modules', type: 'file', data: Buffer.from(modules.join('\n') + '\n') });

    // the agent and the ramdisk's own files
    const agent = await buildAgent(agentSource, work, log);
    put({ path: 'usr/bin/rackhand-agent', type: 'file', data: agent.binary, mode: 0o755 });
    put({ path: 'init', type: 'file', data: readFileSync(path.join(rootfsSource, 'init')), mode: 0o755 });
    put({ path: 'etc/udhcpc.script', type: 'file', data: readFileSync(path.join(rootfsSource, 'udhcpc.script')), mode: 0o755 });
    put({ path: 'etc/passwd', type: 'file', data: Buffer.from('root:x:0:0:root:/root:/bin/sh\n') });
    put({ path: 'etc/group', type: 'file', data: Buffer.from('root:x:0:\n') });
    put({ path: 'etc/shadow', type: 'file', data: Buffer.from('root:*:19000:0:99999:7:::\n'), mode: 0o600 });
    put({ path: 'etc/shells', type: 'file', data: Buffer.from('/bin/sh\n') });
    put({ path: 'etc/nsswitch.conf', type: 'file', data: Buffer.from('passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n') });
    put({ path: 'etc/hosts', type: 'file', data: Buffer.from('127.0.0.1\tlocalhost\n') });
    put({ path: 'etc/mdadm/mdadm.conf', type: 'file', data: Buffer.from('# rackhand ramdisk: assemble nothing by itself\nAUTO -all\n') });

    const packages = await packagesOwning(hostFiles);
    const goPkg = await packagesOwning([realpathSync((await tool('sh', ['-c', 'command -v go'], 'locate go')).trim())]);
    const allPackages = [...new Map([...packages, ...goPkg].map((p) => [p.name, p])).values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    const release = `rackhand ramdisk (agent ${sha256(agent.binary).slice(0, 12)}, kernel ${version})`;
    put({ path: 'etc/rackhand-release', type: 'file', data: Buffer.from(release + '\n') });
    put({ path: 'etc/rackhand/packages', type: 'file', data: Buffer.from(allPackages.map((p) => `${p.name} ${p.version}`).join('\n') + '\n') });

    log(`cpio: ${entries.size} entries, ${modules.length} modules, ${libs.size} libraries`);
    const cpio = newcArchive([...entries.values()]);
    const initramfs = gzipSync(cpio, { level: 9 });
    const kernel = readFileSync(kernelSrc);
    const kernelPath = path.join(opts.outDir, 'vmlinuz');
    const initramfsPath = path.join(opts.outDir, 'initramfs.cpio.gz');
    writeFileSync(kernelPath, kernel);
    writeFileSync(initramfsPath, initramfs);
    const manifest: RamdiskManifest = {
      format: 1,
      kernelVersion: version,
      kernel: { file: 'vmlinuz', sha256: sha256(kernel), sizeBytes: kernel.length },
      initramfs: { file: 'initramfs.cpio.gz', sha256: sha256(initramfs), sizeBytes: initramfs.length, files: entries.size, modules: modules.length },
      agent: { sha256: sha256(agent.binary), sizeBytes: agent.binary.length, goVersion: agent.goVersion },
      packages: allPackages,
      tools: RAMDISK_TOOLS.map((t) => path.basename(t)),
    };
    const manifestPath = path.join(opts.outDir, 'manifest.json');
    writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
    log(`ramdisk: kernel ${kernel.length} bytes, initramfs ${initramfs.length} bytes (${statSync(initramfsPath).size})`);
    return { kernel: kernelPath, initramfs: initramfsPath, manifestPath, manifest };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
