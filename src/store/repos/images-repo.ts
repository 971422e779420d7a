// The images table: the names of the images rackhand serves to booting hosts and what each file must be.
import type { Db } from '../sqlite-store.js';
import { nowIso, statements } from '../sqlite-store.js';

export type ImageKind = 'ramdisk' | 'netboot' | 'disk';
export type DiskFormat = 'raw' | 'raw.gz' | 'raw.zst' | 'raw.xz';

export interface ImageFile {
  file: string;
  sha256: string;
  sizeBytes: number;
  /** Disk images: how the served bytes are encoded (the agent decompresses while writing). */
  format?: DiskFormat;
}

export interface ImageRecord {
  name: string;
  kind: ImageKind;
  /** Where it came from: a file, a URL, a Debian package and version, or "built". */
  source: string;
  files: ImageFile[];
  manifest: unknown | null;
  /** A disk image offered as an operating system: the eq os_id numbers and its name. */
  os: { ids: number[]; name: string } | null;
  createdAt: string;
}

interface Row {
  name: string;
  kind: ImageKind;
  source: string;
  files: string;
  manifest: string | null;
  os: string | null;
  created_at: string;
}

export class ImagesRepo {
  private readonly sql: ReturnType<typeof statements>;

  constructor(db: Db) {
    this.sql = statements(db);
  }

  put(r: Omit<ImageRecord, 'createdAt'>): ImageRecord {
    this.sql(
      `INSERT INTO images (name, kind, source, files, manifest, os, created_at) VALUES (@name, @kind, @source, @files, @manifest, @os, @at)
       ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, source = excluded.source, files = excluded.files,
         manifest = excluded.manifest, os = excluded.os, created_at = excluded.created_at`,
    ).run({
      name: r.name,
      kind: r.kind,
      source: r.source,
      files: JSON.stringify(r.files),
      manifest: r.manifest === null ? null : JSON.stringify(r.manifest),
      os: r.os === null ? null : JSON.stringify(r.os),
      at: nowIso(),
    });
    return this.get(r.name)!;
  }

  get(name: string): ImageRecord | undefined {
    const r = this.sql('SELECT * FROM images WHERE name = ?').get(name) as Row | undefined;
    return r && toRecord(r);
  }

  list(): ImageRecord[] {
    return (this.sql('SELECT * FROM images ORDER BY name').all() as Row[]).map(toRecord);
  }

  remove(name: string): boolean {
    return this.sql('DELETE FROM images WHERE name = ?').run(name).changes > 0;
  }
}

function toRecord(r: Row): ImageRecord {
  return {
    name: r.name,
    kind: r.kind,
    source: r.source,
    files: JSON.parse(r.files),
    manifest: r.manifest === null ? null : JSON.parse(r.manifest),
    os: r.os === null ? null : JSON.parse(r.os),
    createdAt: r.created_at,
  };
}
