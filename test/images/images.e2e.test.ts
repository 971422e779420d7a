// Managed images through the real daemon and its CLI: imports checked against their sha256 (a mismatch stores
// nothing), formats checked against the file's own bytes, qcow2 converted, a broken download resumed with Range,
// `images build` storing the ramdisk with its manifest, verify catching a damaged file, rm refused while armed.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startRackhand, type RackhandProcess } from '../harness/rackhand-process.js';
import { sharedRamdisk } from '../harness/shared-ramdisk.js';
import { makeServers } from '../harness/fixtures.js';

let rh: RackhandProcess;
let admin: string;
let dir: string;
let web: Server;
let webUrl = '';
const requests: { path: string; range?: string }[] = [];
/** Cut the next response for this path after half its bytes (a broken download). */
const cutOnce = new Set<string>();

const api = () => apiClient(() => rh.url, admin);
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const imagesDir = () => path.join(rh.stateDir, 'images');

function file(name: string, data: Buffer | string): string {
  const p = path.join(dir, name);
  writeFileSync(p, data);
  return p;
}

/** A disk image: 4 MiB of a recognisable pattern. */
const RAW = Buffer.alloc(4 << 20, 0);
for (let i = 0; i < RAW.length; i += 4096) RAW.write(`block ${i / 4096} of the test disk\n`, i);

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), `rh-images-${process.pid}-`));
  // A disk image offered as an OS boots the ramdisk to write it: the ramdisk must be there for it to be ready.
  rh = await startRackhand({ config: { bmc: { sync: { enabled: false } }, sensors: { enabled: false } }, placeholderImages: ['rackhand-ramdisk'] });
  admin = rh.cli(['token', 'create', '--role', 'admin']).stdout.trim();
  expect((await api().post('/api/v1/servers/import', makeServers(2))).status).toBe(200);
  web = createServer((req, res) => {
    requests.push({ path: req.url!, range: req.headers.range });
    const p = path.join(dir, decodeURIComponent(req.url!.slice(1)));
    if (!existsSync(p)) return void res.writeHead(404).end();
    const data = readFileSync(p);
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    res.writeHead(m ? 206 : 200, { 'content-length': data.length - start, ...(m ? { 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}) });
    if (cutOnce.delete(req.url!)) {
      res.write(data.subarray(start, start + (data.length - start) / 2));
      setTimeout(() => res.socket?.destroy(), 50);
      return;
    }
    res.end(data.subarray(start));
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  await rh?.cleanup();
  await new Promise((r) => web?.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('rackhand images', () => {
  it('an import whose sha256 does not match stores nothing and says so in one line', () => {
    const raw = file('disk.raw', RAW);
    const r = rh.cli(['images', 'import', 'bad', '--disk', raw, '--sha256', '0'.repeat(64)]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/IMAGE_CORRUPT.*not the 0{64} it was given; nothing was imported/);
    expect(JSON.parse(rh.cli(['images', 'list', '--json']).stdout).map((i: any) => i.name)).toEqual(['rackhand-ramdisk']);
    expect(readdirSync(path.join(imagesDir(), '.store', 'staging'))).toEqual([]);
    const noSha = rh.cli(['images', 'import', 'bad', '--disk', raw]);
    expect(noSha.stderr).toMatch(/sha256/);
  });

  it('a format is checked against the file itself; a raw image is stored as it is and offered as an OS', async () => {
    const raw = file('disk.raw', RAW);
    const wrong = rh.cli(['images', 'import', 'os-a', '--disk', raw, '--sha256', sha(RAW), '--format', 'qcow2']);
    expect(wrong.stderr).toMatch(/is raw, not qcow2/);
    const ok = rh.cli(['images', 'import', 'os-a', '--disk', raw, '--sha256', sha(RAW), '--os-id', '750', '--os-name', 'OS A', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ name: 'os-a', kind: 'disk', ready: true, files: [{ file: 'disk.raw', sha256: sha(RAW), sizeBytes: RAW.length, format: 'raw' }] });
    expect(readFileSync(path.join(imagesDir(), 'os-a', 'disk.raw')).equals(RAW)).toBe(true);
    const os = (await api().get('/api/v1/os')).json.list.find((o: any) => o.id === 750);
    expect(os).toMatchObject({ os_id: 'os-a', name: 'OS A', family: 'image', ready: true });
  });

  it('qcow2 is converted to raw.zst (streamable), its stored bytes decompress to the disk', () => {
    const raw = file('q.raw', RAW);
    const qcow2 = path.join(dir, 'q.qcow2');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
    const r = rh.cli(['images', 'import', 'os-q', '--disk', qcow2, '--sha256', sha(readFileSync(qcow2)), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const img = JSON.parse(r.stdout);
    expect(img.files[0]).toMatchObject({ file: 'disk.raw.zst', format: 'raw.zst' });
    expect(img.source).toMatch(/q\.qcow2/);
    const stored = path.join(imagesDir(), 'os-q', 'disk.raw.zst');
    expect(sha(readFileSync(stored))).toBe(img.files[0].sha256);
    expect(execFileSync('zstd', ['-dc', stored], { maxBuffer: 64 << 20 }).equals(RAW)).toBe(true);
  });

  it('a broken download resumes with a Range request', async () => {
    file('net.raw', RAW);
    cutOnce.add('/net.raw');
    const first = await rh.cliAsync(['images', 'import', 'os-net', '--disk', `${webUrl}/net.raw`, '--sha256', sha(RAW)]);
    // The CLI retries by itself: the second attempt already asks for the rest.
    expect(first.code, first.stderr).toBe(0);
    const asked = requests.filter((q) => q.path === '/net.raw');
    expect(asked[0].range).toBeUndefined();
    expect(asked.at(-1)!.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(asked.at(-1)!.range!)![0])).toBeGreaterThan(0);
    expect(readFileSync(path.join(imagesDir(), 'os-net', 'disk.raw')).equals(RAW)).toBe(true);
  });

  it('over the API: import from a URL is a task; verify finds a damaged file; rm is refused while a host is armed to boot it', async () => {
    // Its own bytes: the damage below must not reach the blob os-a and os-net share.
    const apiRaw = Buffer.concat([RAW, Buffer.from('os-api\n')]);
    file('api.raw', apiRaw);
    const imp = await api().post('/api/v1/images', { name: 'os-api', disk: { src: `${webUrl}/api.raw`, sha256: sha(apiRaw), os: { ids: [751], name: 'OS API' } } });
    expect(imp.status, imp.text).toBe(202);
    const done = await waitTask(imp.json.id);
    expect(done.state, JSON.stringify(done.steps)).toBe('succeeded');
    const listed = (await api().get('/api/v1/images')).json.list.map((i: any) => i.name);
    expect(listed).toEqual(expect.arrayContaining(['os-a', 'os-q', 'os-net', 'os-api']));

    // one byte changed, size kept: the cheap readiness check passes, a verify does not
    const stored = path.join(imagesDir(), 'os-api', 'disk.raw');
    const fd = openSync(stored, 'r+');
    writeSync(fd, Buffer.from('X'), 0, 1, 100);
    closeSync(fd);
    const v = await api().post('/api/v1/images/os-api/verify');
    expect((await waitTask(v.json.id)).error).toMatchObject({ code: 'IMAGE_CORRUPT' });
    const cliVerify = rh.cli(['images', 'verify', 'os-api']);
    expect(cliVerify.code).toBe(1);
    expect(cliVerify.stdout).toMatch(/disk\.raw: corrupt/);

    const arm = await api().eq({ action: 'create_pxe', id: 1, os_id: 750, root_pass: 'Arm-Root-1' }, admin);
    expect((await waitTask(arm.json.task)).state).toBe('succeeded');
    const refused = await api().del('/api/v1/images/os-a');
    expect(refused.status).toBe(409);
    expect(refused.json.error.message).toMatch(/armed for server 1.*clear_pxe/);
    expect((await waitTask((await api().eq({ action: 'clear_pxe', id: 1 }, admin)).json.task)).state).toBe('succeeded');
    expect((await api().del('/api/v1/images/os-a')).status).toBe(204);
    expect(existsSync(path.join(imagesDir(), 'os-a'))).toBe(false);
    // os-net holds the same bytes: its blob stays; nothing else points at os-a's
    expect(readFileSync(path.join(imagesDir(), 'os-net', 'disk.raw')).equals(RAW)).toBe(true);
  });

  it('images build stores the rackhand ramdisk with its manifest; the same inputs give the same bytes', async () => {
    const r = await rh.cliAsync(['images', 'build', '--json'], 300_000);
    expect(r.code, r.stderr).toBe(0);
    const img = JSON.parse(r.stdout);
    expect(img).toMatchObject({ name: 'rackhand-ramdisk', kind: 'ramdisk', ready: true });
    const packages = img.manifest.packages.map((p: any) => p.name);
    expect(packages).toEqual(expect.arrayContaining(['busybox-static', `linux-image-${img.manifest.kernelVersion}`]));
    const shared = await sharedRamdisk();
    expect(img.files.find((f: any) => f.file === 'initramfs.cpio.gz').sha256).toBe(shared.manifest.initramfs.sha256);
    const os = (await api().get('/api/v1/os')).json.list;
    expect(os.find((o: any) => o.os_id === 'diagnostics')).toMatchObject({ ready: true });
  }, 400_000);
});

async function waitTask(id: number): Promise<any> {
  for (let i = 0; i < 600; i++) {
    const t = (await api().get(`/api/v1/tasks/${id}`)).json;
    if (t.state !== 'running' && t.state !== 'queued') return t;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`task ${id} did not end`);
}
