// Getting images into the store: installer netboot files (from a file, a URL, or Debian's d-i netboot package),
// disk images (raw, qcow2, raw.gz/zst/xz; from a file or a URL, resumed on a broken download), and the rackhand
// ramdisk built from this machine's packages. Every file is checked against the sha256 it was given.
import { execFile } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, openSync, readFileSync, readSync, closeSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { RackhandError } from '../errors.js';
import type { DiskFormat, ImageRecord } from '../store/repos/images-repo.js';
import { buildRamdisk } from './ramdisk-builder.js';
import { sha256File, type ImageStore, type ImageView, type NewImageFile } from './image-store.js';

const run = promisify(execFile);

/** The name `images build` gives the ramdisk, and the names of its files: the OS catalogue boots these. */
export const RAMDISK_IMAGE = 'rackhand-ramdisk';
export const RAMDISK_FILES = { kernel: 'vmlinuz', initrd: 'initramfs.cpio.gz' } as const;

export type Progress = (line: string) => void;

const SHA256_RE = /^[0-9a-f]{64}$/;

/** A source: a local file, or an http(s) URL. */
function isUrl(src: string): boolean {
  return /^https?:\/\//i.test(src);
}

function requireSha(sha: string | undefined, what: string): string {
  const s = sha?.trim().toLowerCase();
  if (!s || !SHA256_RE.test(s)) throw new RackhandError('INVALID_INPUT', `${what}: a sha256 (64 hex digits) to check it against is required`, { field: 'sha256' });
  return s;
}

/** Copy (or download) `src` into the store's staging area, hashing as it goes; a mismatch deletes it. */
export async function stage(store: ImageStore, src: string, o: { sha256?: string; label: string; progress?: Progress; signal?: AbortSignal }): Promise<NewImageFile & { file: '' }> {
  const dest = path.join(store.staging(), `${createHash('sha256').update(src).digest('hex').slice(0, 16)}.part`);
  const sha = isUrl(src) ? await download(src, dest, o) : await copyHashing(src, dest, o);
  if (o.sha256 && sha !== o.sha256) {
    rmSync(dest, { force: true });
    throw new RackhandError('IMAGE_CORRUPT', `${o.label}: sha256 is ${sha}, not the ${o.sha256} it was given; nothing was imported`, { sha256: sha });
  }
  return { file: '', staged: dest, sha256: sha, sizeBytes: statSync(dest).size };
}

async function copyHashing(src: string, dest: string, o: { label: string; progress?: Progress; signal?: AbortSignal }): Promise<string> {
  if (!existsSync(src)) throw new RackhandError('NOT_FOUND', `${o.label}: ${src} does not exist`);
  const h = createHash('sha256');
  const total = statSync(src).size;
  let done = 0;
  await pipeline(createReadStream(src), hashing(h, 0, meter(o.label, total, o.progress)), createWriteStream(dest), { signal: o.signal });
  return h.digest('hex');
}

/** GET with resume: a partial file left by a broken transfer continues with a Range request. */
async function download(url: string, dest: string, o: { label: string; progress?: Progress; signal?: AbortSignal }): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const have = existsSync(dest) ? statSync(dest).size : 0;
    try {
      const res = await fetch(url, { headers: have ? { range: `bytes=${have}-` } : {}, redirect: 'follow', signal: o.signal });
      if (res.status === 416 && have) {
        // The part is already whole.
        return await sha256File(dest);
      }
      if (!res.ok || !res.body) throw new RackhandError('NOT_FOUND', `${o.label}: ${url} answered HTTP ${res.status}`, { status: res.status });
      const resumed = res.status === 206 && have > 0;
      const h = createHash('sha256');
      if (resumed) await hashInto(dest, h);
      const length = Number(res.headers.get('content-length') ?? NaN);
      const total = Number.isFinite(length) ? length + (resumed ? have : 0) : NaN;
      let done = resumed ? have : 0;
      const report = meter(o.label, total, o.progress);
      await pipeline(
        Readable.fromWeb(res.body as never),
        hashing(h, done, (n) => report((done = n))),
        createWriteStream(dest, { flags: resumed ? 'a' : 'w' }),
        { signal: o.signal },
      );
      if (Number.isFinite(total) && done !== total) throw new Error(`transfer ended at ${done} of ${total} bytes`);
      return h.digest('hex');
    } catch (e) {
      if (e instanceof RackhandError || o.signal?.aborted || attempt >= 5) {
        if (!(e instanceof RackhandError)) {
          throw new RackhandError('IMAGE_MISSING', `${o.label}: download of ${url} failed after ${attempt} attempts: ${(e as Error).message}; run the import again to resume`);
        }
        throw e;
      }
      o.progress?.(`${o.label}: ${(e as Error).message}; resuming (attempt ${attempt + 1})`);
      await sleep(1000 * attempt);
    }
  }
}

/** A pipeline step that hashes what passes through and reports the running byte count (from `start`). */
function hashing(h: Hash, start: number, report: (done: number) => void) {
  let done = start;
  return async function* (chunks: AsyncIterable<Buffer>) {
    for await (const c of chunks) {
      h.update(c);
      done += c.length;
      report(done);
      yield c;
    }
  };
}

async function hashInto(file: string, h: Hash): Promise<void> {
  for await (const c of createReadStream(file)) h.update(c as Buffer);
}

/** A progress line every 2 s: "label: 120 MiB of 512 MiB (23 %)" (a copy done sooner says nothing). */
function meter(label: string, total: number, progress?: Progress): (done: number) => void {
  let last = Date.now();
  const mib = (n: number) => `${(n / 1048576).toFixed(0)} MiB`;
  return (done) => {
    const now = Date.now();
    if (!progress || now - last < 2000) return;
    last = now;
    progress(Number.isFinite(total) && total > 0 ? `${label}: ${mib(done)} of ${mib(total)} (${Math.floor((100 * done) / total)} %)` : `${label}: ${mib(done)}`);
  };
}

/** The format a disk image's first bytes say it is. */
export function sniffFormat(file: string): DiskFormat | 'qcow2' {
  const fd = openSync(file, 'r');
  const b = Buffer.alloc(8);
  try {
    readSync(fd, b, 0, 8, 0);
  } finally {
    closeSync(fd);
  }
  if (b.subarray(0, 4).equals(Buffer.from('QFI\xfb', 'latin1'))) return 'qcow2';
  if (b.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'raw.zst';
  if (b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'raw.xz';
  if (b[0] === 0x1f && b[1] === 0x8b) return 'raw.gz';
  return 'raw';
}

export interface DiskImport {
  src: string;
  sha256: string;
  /** Checked against the file's own first bytes; guessed from them when absent. */
  format?: DiskFormat | 'qcow2';
  /** Offer it as an operating system (eq os_id numbers, a name). */
  os?: { ids: number[]; name: string };
}

/**
 * A disk image: verified against its sha256, then stored as the agent streams it. qcow2 cannot be streamed to a
 * disk, so it is converted here (qemu-img) and stored as raw.zst; the stored file's own sha256 is what hosts check.
 */
export async function importDisk(store: ImageStore, name: string, d: DiskImport, progress?: Progress, signal?: AbortSignal): Promise<ImageView> {
  const sha = requireSha(d.sha256, `disk image ${name}`);
  const staged = await stage(store, d.src, { sha256: sha, label: name, progress, signal });
  try {
    const found = sniffFormat(staged.staged);
    if (d.format && d.format !== found) {
      throw new RackhandError('INVALID_INPUT', `${d.src} is ${found}, not ${d.format} as given`, { field: 'format' });
    }
    let file: NewImageFile;
    if (found === 'qcow2') {
      progress?.(`${name}: converting qcow2 to raw.zst (qemu-img, zstd)`);
      file = { ...(await qcow2ToRawZst(store, staged.staged)), file: 'disk.raw.zst', format: 'raw.zst' };
      rmSync(staged.staged, { force: true });
    } else {
      file = { ...staged, file: `disk.${found}`, format: found };
    }
    return store.add(name, 'disk', [file], { source: `${d.src} (sha256 ${sha})`, os: d.os });
  } catch (e) {
    rmSync(staged.staged, { force: true });
    throw e;
  }
}

async function qcow2ToRawZst(store: ImageStore, qcow2: string): Promise<Omit<NewImageFile, 'file'>> {
  const raw = `${qcow2}.raw`;
  const zst = `${qcow2}.raw.zst`;
  try {
    await run('qemu-img', ['convert', '-O', 'raw', qcow2, raw], { maxBuffer: 1 << 20 });
    await run('zstd', ['-q', '-f', '-T0', '-3', raw, '-o', zst], { maxBuffer: 1 << 20 });
  } catch (e) {
    rmSync(zst, { force: true });
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new RackhandError('INVALID_INPUT', 'qcow2 images need qemu-img and zstd (Debian qemu-utils, zstd)');
    throw new RackhandError('INVALID_INPUT', `the qcow2 image could not be converted: ${(err.stderr ?? err.message).trim().split('\n')[0]}`);
  } finally {
    rmSync(raw, { force: true });
  }
  return { staged: zst, sha256: await sha256File(zst), sizeBytes: statSync(zst).size };
}

export interface NetbootImport {
  kernel: string;
  kernelSha256: string;
  initrd: string;
  initrdSha256: string;
  /** The names the catalogue's entry boots (e.g. linux and initrd.gz for Debian). */
  kernelFile?: string;
  initrdFile?: string;
}

/** An installer's kernel and initrd, from files or URLs, each verified. */
export async function importNetboot(store: ImageStore, name: string, n: NetbootImport, progress?: Progress, signal?: AbortSignal): Promise<ImageView> {
  const kernel = await stage(store, n.kernel, { sha256: requireSha(n.kernelSha256, `${name} kernel`), label: `${name} kernel`, progress, signal });
  const initrd = await stage(store, n.initrd, { sha256: requireSha(n.initrdSha256, `${name} initrd`), label: `${name} initrd`, progress, signal });
  return store.add(
    name,
    'netboot',
    [
      { ...kernel, file: n.kernelFile ?? path.basename(new URL(n.kernel, 'file:///').pathname) },
      { ...initrd, file: n.initrdFile ?? path.basename(new URL(n.initrd, 'file:///').pathname) },
    ],
    { source: `${n.kernel}, ${n.initrd}` },
  );
}

/** Debian's d-i netboot package (debian-installer-12-netboot-amd64): its files are checked against dpkg's md5sums. */
export async function importDebianInstaller(store: ImageStore, name: string, pkg = 'debian-installer-12-netboot-amd64'): Promise<ImageView> {
  let version: string;
  try {
    version = (await run('dpkg-query', ['-W', '-f', '${Version}', pkg])).stdout.trim();
  } catch {
    throw new RackhandError('NOT_FOUND', `the Debian package ${pkg} is not installed (apt-get install ${pkg})`);
  }
  const sums = new Map(
    readFileSync(`/var/lib/dpkg/info/${pkg}.md5sums`, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => [`/${l.slice(34)}`, l.slice(0, 32)] as const),
  );
  const pick = (suffix: string) => {
    const f = [...sums.keys()].find((p) => p.endsWith(`/text/debian-installer/amd64/${suffix}`));
    if (!f) throw new RackhandError('NOT_FOUND', `${pkg} has no text/debian-installer/amd64/${suffix}`);
    const md5 = createHash('md5').update(readFileSync(f)).digest('hex');
    if (md5 !== sums.get(f)) throw new RackhandError('IMAGE_CORRUPT', `${f} does not match dpkg's md5sum: reinstall ${pkg}`);
    return f;
  };
  const files: NewImageFile[] = [];
  for (const [file, src] of [
    ['linux', pick('linux')],
    ['initrd.gz', pick('initrd.gz')],
  ] as const) {
    files.push({ ...(await stage(store, src, { label: `${name} ${file}` })), file });
  }
  return store.add(name, 'netboot', files, { source: `Debian package ${pkg} ${version}` });
}

/** Build the rackhand ramdisk from this machine's packages and store it under RAMDISK_IMAGE. */
export async function buildRamdiskImage(store: ImageStore, progress?: Progress): Promise<ImageView> {
  const out = path.join(store.staging(), `ramdisk-build-${process.pid}-${Date.now()}`);
  try {
    const build = await buildRamdisk({ outDir: out, log: progress });
    const files: NewImageFile[] = [];
    for (const [file, src] of [
      [RAMDISK_FILES.kernel, build.kernel],
      [RAMDISK_FILES.initrd, build.initramfs],
    ] as const) {
      files.push({ ...(await stage(store, src, { label: file })), file });
    }
    return store.add(RAMDISK_IMAGE, 'ramdisk', files, { source: `built from this machine's Debian packages (kernel ${build.manifest.kernelVersion})`, manifest: build.manifest });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export type { ImageRecord };
