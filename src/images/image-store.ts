// The image store: the files booting hosts fetch (/boot/images/<name>/<file>), kept content-addressed under the
// images directory (.store/sha256/<hex>, hard-linked as <name>/<file>), named and described in SQLite.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, linkSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { RackhandError } from '../errors.js';
import type { ImageFile, ImageKind, ImageRecord, ImagesRepo } from '../store/repos/images-repo.js';

/** Image and file names: plain, lower-case-ish slugs that are safe in a URL path and a file name. */
export const IMAGE_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const IMAGE_FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** What is wrong with one file of an image, if anything. */
export interface FileState {
  file: string;
  state: 'ok' | 'missing' | 'corrupt';
  detail?: string;
}

export interface ImageView extends ImageRecord {
  /** Every file present with its recorded size (a full check re-hashes: `rackhand images verify`). */
  ready: boolean;
  problems: FileState[];
}

export interface NewImageFile {
  file: string;
  /** A file already written inside the store's staging area (staging()), with its sha256 and size. */
  staged: string;
  sha256: string;
  sizeBytes: number;
  format?: ImageFile['format'];
}

export class ImageStore {
  constructor(
    readonly dir: string,
    private readonly repo: ImagesRepo,
  ) {}

  /** Where imports write before a file joins the store (same filesystem: a rename, never a copy). */
  staging(): string {
    const d = path.join(this.dir, '.store', 'staging');
    mkdirSync(d, { recursive: true, mode: 0o755 });
    return d;
  }

  list(): ImageView[] {
    return this.repo.list().map((r) => this.view(r));
  }

  get(name: string): ImageView | undefined {
    const r = this.repo.get(name);
    return r && this.view(r);
  }

  /** The file every booting host fetches for this image, or NOT_FOUND. */
  file(name: string, file: string): { path: string; meta: ImageFile; record: ImageRecord } {
    const record = this.repo.get(name);
    const meta = record?.files.find((f) => f.file === file);
    if (!record || !meta) throw new RackhandError('IMAGE_MISSING', `image ${name} has no file ${file}: import it (rackhand images import)`, { image: name, file });
    return { path: path.join(this.dir, name, file), meta, record };
  }

  /**
   * Cheap checks for arming a host: every file is there with its recorded size. A deeper corruption is caught by
   * the host, which verifies the sha256 while it streams.
   */
  problems(name: string): FileState[] {
    const r = this.repo.get(name);
    if (!r) return [{ file: '*', state: 'missing', detail: `no image named ${name}` }];
    return r.files.flatMap((f): FileState[] => {
      const p = path.join(this.dir, name, f.file);
      let size: number;
      try {
        size = statSync(p).size;
      } catch {
        return [{ file: f.file, state: 'missing', detail: `${p} is gone` }];
      }
      return size === f.sizeBytes ? [] : [{ file: f.file, state: 'corrupt', detail: `${p} has ${size} bytes, not ${f.sizeBytes}` }];
    });
  }

  /** Re-hash every file against what the store recorded. */
  async verify(name: string): Promise<FileState[]> {
    const r = this.repo.get(name);
    if (!r) throw new RackhandError('NOT_FOUND', `no image named ${name}`);
    const out: FileState[] = [];
    for (const f of r.files) {
      const p = path.join(this.dir, name, f.file);
      if (!existsSync(p)) {
        out.push({ file: f.file, state: 'missing' });
        continue;
      }
      const sum = await sha256File(p);
      out.push(sum === f.sha256 ? { file: f.file, state: 'ok' } : { file: f.file, state: 'corrupt', detail: `sha256 ${sum}, recorded ${f.sha256}` });
    }
    return out;
  }

  /** Move staged files into the store and name them; an image of the same name is replaced as a whole. */
  add(name: string, kind: ImageKind, files: NewImageFile[], meta: { source: string; manifest?: unknown; os?: ImageRecord['os'] }): ImageView {
    if (!IMAGE_NAME_RE.test(name)) throw new RackhandError('INVALID_INPUT', `image name ${JSON.stringify(name)}: lower-case letters, digits, . _ - (1-64)`, { field: 'name' });
    for (const f of files) {
      if (!IMAGE_FILE_RE.test(f.file)) throw new RackhandError('INVALID_INPUT', `file name ${JSON.stringify(f.file)} is not a plain name`, { field: 'file' });
    }
    const blobs = path.join(this.dir, '.store', 'sha256');
    mkdirSync(blobs, { recursive: true, mode: 0o755 });
    // The new name directory is built aside and swapped in, so a host mid-download keeps its (old) file.
    const next = path.join(this.dir, '.store', 'staging', `${name}.${process.pid}.${Date.now()}`);
    mkdirSync(next, { recursive: true, mode: 0o755 });
    for (const f of files) {
      const blob = path.join(blobs, f.sha256);
      if (existsSync(blob)) rmSync(f.staged, { force: true });
      else renameSync(f.staged, blob);
      linkSync(blob, path.join(next, f.file));
    }
    const target = path.join(this.dir, name);
    const old = existsSync(target) ? `${next}.old` : undefined;
    if (old) renameSync(target, old);
    renameSync(next, target);
    if (old) rmSync(old, { recursive: true, force: true });
    this.repo.put({
      name,
      kind,
      source: meta.source,
      files: files.map((f) => ({ file: f.file, sha256: f.sha256, sizeBytes: f.sizeBytes, ...(f.format ? { format: f.format } : {}) })),
      manifest: meta.manifest ?? null,
      os: meta.os ?? null,
    });
    this.collect();
    return this.get(name)!;
  }

  remove(name: string): void {
    if (!this.repo.remove(name)) throw new RackhandError('NOT_FOUND', `no image named ${name}`);
    rmSync(path.join(this.dir, name), { recursive: true, force: true });
    this.collect();
  }

  /** Blobs no name links to any more (hard-link count 1) are deleted. */
  private collect(): void {
    const blobs = path.join(this.dir, '.store', 'sha256');
    if (!existsSync(blobs)) return;
    for (const b of readdirSync(blobs)) {
      const p = path.join(blobs, b);
      if (statSync(p).nlink <= 1) rmSync(p, { force: true });
    }
  }

  private view(r: ImageRecord): ImageView {
    const problems = this.problems(r.name);
    return { ...r, ready: problems.length === 0, problems };
  }
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}
