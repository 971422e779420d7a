// The ramdisk builder: two builds from the same Debian packages give identical bytes, the archive is a valid newc
// cpio (read back by GNU cpio) with what the agent needs, and the manifest records the installed package versions.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRamdisk, RAMDISK_TOOLS, type RamdiskBuild } from '../../src/images/ramdisk-builder.js';
import { sharedRamdisk } from '../harness/shared-ramdisk.js';
import { newcArchive } from '../../src/images/newc-archive.js';
import { tempDir } from '../harness/ramdisk-lab.js';

const installed = (pkg: string) => execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' });

describe('ramdisk builder', () => {
  let tmp: { dir: string; remove(): void };
  let first: RamdiskBuild;
  let second: RamdiskBuild;
  const lines: string[] = [];

  beforeAll(async () => {
    tmp = tempDir('rh-ramdisk-build');
    first = await buildRamdisk({ outDir: join(tmp.dir, 'a'), log: (l) => lines.push(l) });
    // The suite's shared build (made earlier in this run or a previous one from the same inputs) is the second.
    second = await sharedRamdisk();
  }, 300_000);
  afterAll(() => tmp?.remove());

  it('two builds give byte-identical kernel, initramfs and manifest', () => {
    expect(readFileSync(second.initramfs).equals(readFileSync(first.initramfs))).toBe(true);
    expect(readFileSync(second.kernel).equals(readFileSync(first.kernel))).toBe(true);
    expect(readFileSync(second.manifestPath, 'utf8')).toBe(readFileSync(first.manifestPath, 'utf8'));
    const sha = execFileSync('sha256sum', [first.initramfs], { encoding: 'utf8' }).split(' ')[0];
    expect(first.manifest.initramfs.sha256).toBe(sha);
    expect(lines.some((l) => /^cpio: \d+ entries/.test(l))).toBe(true);
  });

  it('the manifest lists the Debian packages the files came from, with their installed versions', () => {
    const pkgs = new Map(first.manifest.packages.map((p) => [p.name, p.version]));
    const kernelPkg = `linux-image-${first.manifest.kernelVersion}`;
    for (const name of ['busybox-static', 'dmidecode', 'util-linux', 'fdisk', 'nvme-cli', 'hdparm', 'smartmontools', 'gdisk',
      'e2fsprogs', 'mdadm', 'dropbear-bin', 'zstd', 'xz-utils', 'libc6', kernelPkg]) {
      expect(pkgs.get(name), name).toBe(installed(name));
    }
    expect([...pkgs.keys()].some((n) => /^golang-1\.\d+-go$/.test(n))).toBe(true);
    expect(first.manifest.tools).toEqual(RAMDISK_TOOLS.map((t) => t.split('/').pop()));
  });

  it('GNU cpio reads the archive back: /init, the agent, the tools, the device nodes, the modules in load order', () => {
    const cpio = gunzipSync(readFileSync(first.initramfs));
    const list = execFileSync('cpio', ['-itv', '--quiet'], { input: cpio, encoding: 'utf8', maxBuffer: 64 << 20 });
    const names = list.split('\n').filter(Boolean).map((l) => l.split(/\s+/).slice(8).join(' '));
    for (const f of ['init', 'usr/bin/rackhand-agent', 'usr/sbin/sfdisk', 'usr/sbin/dropbear', 'usr/bin/busybox', 'etc/udhcpc.script', 'etc/rackhand/modules']) {
      expect(names, f).toContain(f);
    }
    expect(list).toMatch(/^crw------- .* 5,\s+1 .* dev\/console$/m);
    expect(list).toMatch(/^lrwxrwxrwx .* bin -> usr\/bin$/m);
    const modules = execFileSync('cpio', ['-i', '--quiet', '--to-stdout', 'etc/rackhand/modules'], { input: cpio, encoding: 'utf8' }).trim().split('\n');
    expect(modules.length).toBe(first.manifest.initramfs.modules);
    // a dependency loads before what needs it
    expect(modules.findIndex((m) => m.endsWith('/libata.ko'))).toBeLessThan(modules.findIndex((m) => m.endsWith('/ahci.ko')));
    expect(modules.findIndex((m) => m.endsWith('/crc32c_generic.ko'))).toBe(0);
  });

  it('newc archives are independent of entry order and reject unsafe paths', () => {
    const a = newcArchive([{ path: 'b', type: 'file', data: Buffer.from('x') }, { path: 'a', type: 'dir' }]);
    const b = newcArchive([{ path: 'a', type: 'dir' }, { path: 'b', type: 'file', data: Buffer.from('x') }]);
    expect(a.equals(b)).toBe(true);
    expect(() => newcArchive([{ path: '../etc', type: 'dir' }])).toThrow(/relative/);
    expect(() => newcArchive([{ path: '/etc', type: 'dir' }])).toThrow(/relative/);
    expect(() => newcArchive([{ path: 'a', type: 'dir' }, { path: 'a', type: 'dir' }])).toThrow(/twice/);
  });
});
