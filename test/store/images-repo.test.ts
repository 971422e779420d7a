// ImagesRepo on the real schema: images named once, their files, manifest and OS offer read back as written.
import { beforeEach, describe, expect, it } from 'vitest';
import { memoryStore } from './memory-store.js';
import { ImagesRepo, type ImageRecord } from '../../src/store/repos/images-repo.js';

let images: ImagesRepo;
beforeEach(() => {
  images = new ImagesRepo(memoryStore().db);
});

const disk: Omit<ImageRecord, 'createdAt'> = {
  name: 'debian-12-disk',
  kind: 'disk',
  source: 'https://images.example/debian-12.raw.zst',
  files: [{ file: 'disk.raw.zst', sha256: 'a'.repeat(64), sizeBytes: 123456789, format: 'raw.zst' }],
  manifest: null,
  os: { ids: [31, 32], name: 'Debian 12 (disk image)' },
};

describe('ImagesRepo', () => {
  it('reads back what was put, with its time', () => {
    expect(images.put(disk)).toEqual({ ...disk, createdAt: expect.any(String) });
    expect(images.get('debian-12-disk')).toEqual({ ...disk, createdAt: expect.any(String) });
    expect(images.get('nothing')).toBeUndefined();
  });

  it('replaces an image of the same name as a whole', () => {
    images.put(disk);
    const ramdisk = { name: 'debian-12-disk', kind: 'ramdisk' as const, source: 'built', files: [], manifest: { packages: { busybox: '1.36' } }, os: null };
    images.put(ramdisk);
    expect(images.list()).toEqual([{ ...ramdisk, createdAt: expect.any(String) }]);
  });

  it('lists by name and removes by name', () => {
    for (const name of ['zeta', 'alpha', 'mid']) images.put({ ...disk, name });
    expect(images.list().map((i) => i.name)).toEqual(['alpha', 'mid', 'zeta']);
    expect(images.remove('mid')).toBe(true);
    expect(images.remove('mid')).toBe(false);
    expect(images.list().map((i) => i.name)).toEqual(['alpha', 'zeta']);
  });

  it('refuses a kind the table does not know', () => {
    expect(() => images.put({ ...disk, kind: 'iso' as never })).toThrow(/CHECK constraint/);
    expect(images.list()).toEqual([]);
  });
});
