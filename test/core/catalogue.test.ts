// The OS catalogue's readiness (core/catalogue.ts) over a real ImageStore in a temp directory: an entry whose images
// are missing or damaged is IMAGE_MISSING, naming the image, its file and the command that fixes it — and a deploy is
// refused with it before anything is armed or submitted.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalogue } from '../../src/core/catalogue.js';
import { Deploys } from '../../src/core/deploys.js';
import { ImageStore } from '../../src/images/image-store.js';
import { ImagesRepo, type ImageKind, type ImageRecord } from '../../src/store/repos/images-repo.js';
import { defaultOsCatalogue, type OsCatalogue } from '../../src/boot/templates/index.js';
import { TaskRunner } from '../../src/tasks/task-runner.js';
import { RackhandError } from '../../src/errors.js';
import type { Principal } from '../../src/auth/tokens.js';
import { memoryStore, serverInput, type MemoryStore } from '../store/memory-store.js';

let dir: string;
let store: MemoryStore;
let images: ImageStore;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), `rh-catalogue-${process.pid}-`));
  store = memoryStore();
  images = new ImageStore(dir, new ImagesRepo(store.db));
});
afterEach(() => {
  store.db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Put an image into the store the way an import does: files staged, then added. */
function addImage(name: string, kind: ImageKind, files: Record<string, string>, osOffer: ImageRecord['os'] = null) {
  const staged = Object.entries(files).map(([file, content], i) => {
    const p = path.join(images.staging(), `${name}-${i}`);
    fs.writeFileSync(p, content);
    return { file, staged: p, sha256: createHash('sha256').update(content).digest('hex'), sizeBytes: Buffer.byteLength(content) };
  });
  return images.add(name, kind, staged, { source: 'test', os: osOffer });
}

const addDebianNetboot = () => addImage('debian-12-netboot', 'netboot', { linux: 'kernel bytes', 'initrd.gz': 'initrd bytes' });
const addRamdisk = () => addImage('rackhand-ramdisk', 'ramdisk', { vmlinuz: 'k', 'initramfs.cpio.gz': 'i' });

function imageMissing(fn: () => unknown): RackhandError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RackhandError);
    expect((e as RackhandError).code).toBe('IMAGE_MISSING');
    return e as RackhandError;
  }
  throw new Error('expected IMAGE_MISSING, the entry was ready');
}

describe('readiness', () => {
  it('with an empty store no entry is ready, and each says which image it lacks', () => {
    const c = new Catalogue(defaultOsCatalogue, images);
    const list = c.list();
    expect(list.map((e) => e.os_id).sort()).toEqual(Object.keys(defaultOsCatalogue).sort());
    expect(list.every((e) => !e.ready)).toBe(true);
    expect(list.find((e) => e.os_id === 'debian-12')).toEqual({
      id: 1,
      os_id: 'debian-12',
      name: 'Debian 12 (bookworm)',
      family: 'debian',
      ready: false,
      missing: [{ image: 'debian-12-netboot', file: '*', state: 'missing', detail: 'no image named debian-12-netboot' }],
    });
  });

  it('IMAGE_MISSING names the image and the command: import for an installer, build for the ramdisk', () => {
    const c = new Catalogue(defaultOsCatalogue, images);
    const debian = imageMissing(() => c.requireReady('debian-12', defaultOsCatalogue['debian-12']));
    expect(debian.status).toBe(409);
    expect(debian.details).toEqual({ os_id: 'debian-12', image: 'debian-12-netboot', file: '*', state: 'missing' });
    expect(debian.message).toBe('debian-12 needs the image debian-12-netboot, which is not in the store: rackhand images import debian-12-netboot …');
    const diag = imageMissing(() => c.requireReady('diagnostics', defaultOsCatalogue.diagnostics));
    expect(diag.message).toMatch(/rackhand-ramdisk.*rackhand images build$/);
  });

  it('is ready once every file of every image is there with its size', () => {
    const c = new Catalogue(defaultOsCatalogue, images);
    addDebianNetboot();
    expect(() => c.requireReady('debian-12', defaultOsCatalogue['debian-12'])).not.toThrow();
    expect(c.list().find((e) => e.os_id === 'debian-12')).toMatchObject({ ready: true, missing: [] });
    expect(c.list().find((e) => e.os_id === 'rocky-9')!.ready).toBe(false);
  });

  it('a file gone from disk, or of another size, makes the entry not ready again', () => {
    const c = new Catalogue(defaultOsCatalogue, images);
    addDebianNetboot();
    fs.writeFileSync(path.join(dir, 'debian-12-netboot', 'linux'), 'truncated');
    const damaged = imageMissing(() => c.requireReady('debian-12', defaultOsCatalogue['debian-12']));
    expect(damaged.details).toMatchObject({ image: 'debian-12-netboot', file: 'linux', state: 'corrupt' });
    expect(damaged.message).toContain('(file linux), which is damaged');
    fs.rmSync(path.join(dir, 'debian-12-netboot', 'initrd.gz'));
    expect(c.missing(defaultOsCatalogue['debian-12']).map((m) => [m.file, m.state])).toEqual([
      ['linux', 'corrupt'],
      ['initrd.gz', 'missing'],
    ]);
  });
});

describe('disk images offered as an OS', () => {
  it('become entries of family image, ready only with the ramdisk that writes them', () => {
    const c = new Catalogue(defaultOsCatalogue, images);
    addImage('alma-9-disk', 'disk', { 'disk.raw': 'raw disk' }, { ids: [40, 41], name: 'AlmaLinux 9 (image)' });
    const { osId, os: entry } = c.find({ osId: 41 });
    expect(osId).toBe('alma-9-disk');
    expect(entry).toMatchObject({ family: 'image', disk: 'alma-9-disk', images: ['rackhand-ramdisk', 'alma-9-disk'] });
    expect(imageMissing(() => c.requireReady(osId, entry)).details).toMatchObject({ image: 'rackhand-ramdisk' });
    addRamdisk();
    expect(() => c.requireReady(osId, entry)).not.toThrow();
  });

  it('a configured entry wins over an image of the same name; an image whose ids collide is left out', () => {
    const configured: OsCatalogue = { ...defaultOsCatalogue };
    const c = new Catalogue(configured, images);
    addImage('debian-12', 'disk', { 'disk.raw': 'x' }, { ids: [50], name: 'shadow' });
    expect(c.all()['debian-12'].name).toBe('Debian 12 (bookworm)');
    addImage('clash-disk', 'disk', { 'disk.raw': 'y' }, { ids: [1], name: 'collides with debian-12' });
    expect(c.all()).not.toHaveProperty('clash-disk');
    expect(c.find({ osId: 1 }).osId).toBe('debian-12');
  });

  it('images that are not disks, or offer no OS, add no entry', () => {
    const c = new Catalogue(defaultOsCatalogue, images);
    addImage('plain-disk', 'disk', { 'disk.raw': 'z' });
    addDebianNetboot();
    expect(Object.keys(c.all()).sort()).toEqual(Object.keys(defaultOsCatalogue).sort());
  });
});

describe('a deploy of an OS that is not ready', () => {
  const admin: Principal = { tokenId: 1, name: 'ops', role: 'admin', ownerId: null };
  /** Collaborators a refused deploy must never reach. */
  const untouchable = <T,>(name: string) => new Proxy({}, { get: (_t, k) => { throw new Error(`${name}.${String(k)} reached`); } }) as T;

  it('is IMAGE_MISSING before anything is armed, validated against templates, or submitted', () => {
    store.servers.upsertMany([serverInput(1, { bmc: { host: '10.0.0.1', username: 'ADMIN', password: 'x' }, interfaces: [{ mac: '02:00:00:00:00:01' }] })]);
    const runner = new TaskRunner(store.tasks, pino({ level: 'silent' }));
    const deploys = new Deploys(store.servers, store.users, runner, untouchable('netboot'), untouchable('notifier'), new Catalogue(defaultOsCatalogue, images), 'AMS1');
    const request = { os: 1, rootPassword: 'Str0ng-Enough-Passw0rd!', postInstallCallback: 'https://central.example/cb' };
    for (const call of [
      () => deploys.reinstall(admin, 1, request),
      () => deploys.createPxe(admin, 1, request),
      () => deploys.diagnostics(admin, 1),
      () => deploys.wipe(admin, 1, 'quick'),
      () => deploys.rescue(admin, 1, { sshKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKx' }),
    ]) {
      imageMissing(call);
    }
    expect(store.tasks.list().total).toBe(0);
    expect(store.dump('netboot')).toBe('[]');
    // With the images there, the same request gets past readiness (to the next collaborator).
    addDebianNetboot();
    expect(() => deploys.reinstall(admin, 1, request)).toThrow(/notifier\.check reached/);
  });
});
