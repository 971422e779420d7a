// One rackhand ramdisk build shared by every test that boots it: built on first use into a cache keyed by its
// inputs (the agent and /init sources, the builder, the Debian packages installed), reused while they are unchanged.
// A build takes 15-50 s here; the test files that need one run one after another.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildRamdisk, RAMDISK_SOURCE_DIR, type RamdiskBuild } from '../../src/images/ramdisk-builder.js';
import { REPO_ROOT } from './rackhand-process.js';

function hashTree(h: ReturnType<typeof createHash>, dir: string): void {
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) hashTree(h, p);
    else h.update(p).update(readFileSync(p));
  }
}

function inputsHash(): string {
  const h = createHash('sha256');
  hashTree(h, RAMDISK_SOURCE_DIR);
  h.update(readFileSync(path.join(REPO_ROOT, 'src/images/ramdisk-builder.ts')));
  h.update(readFileSync(path.join(REPO_ROOT, 'src/images/newc-archive.ts')));
  h.update(execFileSync('dpkg-query', ['-W', '-f', '${Package} ${Version}\n'], { encoding: 'utf8', maxBuffer: 32 << 20 }));
  return h.digest('hex').slice(0, 16);
}

let cached: Promise<RamdiskBuild> | undefined;

export function sharedRamdisk(): Promise<RamdiskBuild> {
  cached ??= (async () => {
    const dir = path.join(tmpdir(), `rackhand-test-ramdisk-${inputsHash()}`);
    const manifestPath = path.join(dir, 'manifest.json');
    if (!existsSync(manifestPath)) {
      const work = `${dir}.${process.pid}`;
      rmSync(work, { recursive: true, force: true });
      mkdirSync(work, { recursive: true });
      await buildRamdisk({ outDir: work });
      rmSync(dir, { recursive: true, force: true });
      renameSync(work, dir);
    }
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    return { kernel: path.join(dir, 'vmlinuz'), initramfs: path.join(dir, 'initramfs.cpio.gz'), manifestPath, manifest };
  })();
  return cached;
}

/** `rackhand images import rackhand-ramdisk …` for a build: how a test puts the ramdisk in a daemon's image store. */
export function ramdiskImportArgs(r: RamdiskBuild): string[] {
  return [
    'images', 'import', 'rackhand-ramdisk',
    '--kernel', r.kernel, '--kernel-sha256', r.manifest.kernel.sha256,
    '--initrd', r.initramfs, '--initrd-sha256', r.manifest.initramfs.sha256,
  ];
}
