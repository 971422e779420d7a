// Test harness: the real rackhand daemon serving DHCP (reservation), TFTP and HTTP boot inside a NetnsLab, with a
// veth pair (a private /30) from the test's namespace into the lab so the test reaches the API directly.

import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createNetnsLab, type NetnsLab } from './netns-lab.js';
import { buildInstallerImage } from './installer-image.js';
import { apiClient, startRackhand, type RackhandProcess } from './rackhand-process.js';

const run = promisify(execFile);

/** Port of rackhand's HTTP server inside the lab namespace (the namespace is private: no collisions). */
export const LAB_HTTP_PORT = 8080;


export interface ApiLink {
  /** rackhand's API as the test process reaches it (the namespace side of the veth). */
  base: string;
  /** The test process's own address on the link (what rackhand sees as the client address). */
  hostAddress: string;
  nsAddress: string;
  /** Delete the pair now (it would go with the namespace, but the kernel frees namespaces lazily). */
  remove(): Promise<void>;
}

let vethSeq = 0;

/**
 * A veth pair from this namespace into the lab, addressed inside a /30 of 10.214.0.0/16 that nothing here uses.
 * It disappears with the lab's namespace (deleting either end deletes the pair).
 */
export async function linkIntoLab(lab: NetnsLab): Promise<ApiLink> {
  const seq = ++vethSeq;
  const host = `rh${process.pid % 1_000_000}${seq}h`;
  const peer = `rh${process.pid % 1_000_000}${seq}n`;
  const used = execFileSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' });
  let block = (process.pid * 8 + seq) % 16384;
  let a = '';
  let b = '';
  for (let i = 0; i < 64; i++, block = (block + 1) % 16384) {
    const base = block * 4;
    const third = (base >> 8) & 0xff;
    const fourth = base & 0xff;
    a = `10.214.${third}.${fourth + 1}`;
    b = `10.214.${third}.${fourth + 2}`;
    const net = `10.214.${third}.${fourth}/30`;
    const routes = execFileSync('ip', ['-4', 'route', 'show', 'match', net], { encoding: 'utf8' });
    if (!used.includes(` ${a}/`) && !used.includes(` ${b}/`) && !routes.split('\n').some((l) => l.startsWith('10.214.'))) break;
  }
  await run('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
  try {
    await run('ip', ['link', 'set', peer, 'netns', lab.ns]);
    await run('ip', ['addr', 'add', `${a}/30`, 'dev', host]);
    await run('ip', ['link', 'set', host, 'up']);
    await run('ip', ['-n', lab.ns, 'addr', 'add', `${b}/30`, 'dev', peer]);
    await run('ip', ['-n', lab.ns, 'link', 'set', peer, 'up']);
  } catch (e) {
    await run('ip', ['link', 'del', host]).catch(() => undefined);
    throw e;
  }
  return {
    base: `http://${b}:${LAB_HTTP_PORT}`,
    hostAddress: a,
    nsAddress: b,
    remove: () => run('ip', ['link', 'del', host]).then(() => undefined, () => undefined),
  };
}

/** images dir with rackhand-test/vmlinuz + initramfs.cpio.gz (the test installer of installer-image.ts). */
export function buildImagesDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `rh-images-${process.pid}-`));
  try {
    const os = join(dir, 'rackhand-test');
    mkdirSync(os);
    const img = buildInstallerImage({ dir: os });
    // a copy, not a symlink: the images route refuses anything that resolves outside its root
    copyFileSync(img.kernel, join(os, 'vmlinuz'));
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface NetbootLab {
  lab: NetnsLab;
  link: ApiLink;
  images: string;
  rh: RackhandProcess;
  admin: string;
  api: ReturnType<typeof apiClient>;
  /** Daemon config used (pass overrides to restartDaemon). */
  config(overrides?: { boot?: Record<string, unknown> }): Record<string, unknown>;
  /** Stop the daemon and start it again on the same state dir with changed boot settings. */
  restartDaemon(overrides: { boot?: Record<string, unknown> }): Promise<void>;
  /** Parsed JSON log lines of the daemon (all starts). */
  logs(): Array<Record<string, any>>;
  destroy(): Promise<void>;
}

/** `boot`: the daemon's boot settings over the lab's (the link into the lab too: an address the test's own peers reach). */
export async function startNetbootLab(o: { boot?: (lab: NetnsLab, link: ApiLink) => Record<string, unknown> } = {}): Promise<NetbootLab> {
  const lab = await createNetnsLab();
  let handleRef: NetbootLab | undefined;
  const cleanups: Array<() => Promise<void> | void> = [() => lab.destroy()];
  const destroy = async () => {
    // RH_E2E_LOG=FILE keeps the daemon's output for a post-mortem
    if (process.env.RH_E2E_LOG && handleRef) writeFileSync(process.env.RH_E2E_LOG, handleRef.logs().map((l) => JSON.stringify(l)).join('\n'));
    for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    const link = await linkIntoLab(lab);
    cleanups.push(() => link.remove());
    const images = buildImagesDir();
    cleanups.push(() => images.cleanup());
    // Debian's /usr/lib/ipxe/ipxe.efi is a symlink to /boot/ipxe.efi, which TFTP (rightly) will not follow out of
    // its root: serve copies from a root of our own, as a site would from /srv/tftp.
    const stateDir = mkdtempSync(join(tmpdir(), `rh-netboot-state-${process.pid}-`));
    cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
    const config = (over: { boot?: Record<string, unknown> } = {}) => ({
      log: { level: 'info' },
      bmc: {
        powerPollMs: 200,
        powerTimeoutMs: 30_000,
        sync: { enabled: false },
        scheduler: { operationTimeoutMs: 10_000, minSpacingMs: 10 },
      },
      boot: {
        serverIp: lab.bridgeIp,
        dhcp: { mode: 'reservation', leaseSeconds: 600 },
        // The default root, /usr/lib/ipxe, where Debian's ipxe.efi is a symlink out of the root.
        tftp: { enabled: true },
        // A site names its DNS servers; without one, d-i stops to ask for them before it reads the preseed. Here
        // it is rackhand's own address: nothing answers DNS there, and the queries stay inside the lab.
        network: { netmask: '255.255.255.0', dns: [lab.bridgeIp] },
        imagesDir: images.dir,
        installTimeoutMs: 180_000,
        rebootGraceMs: 3_000,
        ...o.boot?.(lab, link),
        ...over.boot,
      },
    });
    let outBefore = '';
    let rh = await startRackhand({ netns: lab.ns, listen: `0.0.0.0:${LAB_HTTP_PORT}`, stateDir, config: config() });
    cleanups.push(() => rh.cleanup());
    const admin = rh.cli(['token', 'create', '--role', 'admin']).stdout.trim();
    if (!admin) throw new Error(`no admin token: ${rh.cli(['token', 'create', '--role', 'admin']).stderr}`);
    const api = apiClient(() => link.base, admin);
    const handle: NetbootLab = {
      lab,
      link,
      images: images.dir,
      get rh() {
        return rh;
      },
      admin,
      api,
      config,
      async restartDaemon(over) {
        outBefore += rh.output();
        await rh.stop();
        rh = await startRackhand({ netns: lab.ns, listen: `0.0.0.0:${LAB_HTTP_PORT}`, stateDir, config: config(over) });
      },
      logs: () =>
        (outBefore + rh.output())
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => {
            try {
              return JSON.parse(l) as Record<string, any>;
            } catch {
              return {};
            }
          }),
      destroy,
    };
    handleRef = handle;
    return handle;
  } catch (e) {
    await destroy();
    throw e;
  }
}

/** Poll a task until it leaves queued/running. */
export async function waitTask(api: ReturnType<typeof apiClient>, id: number, timeoutMs: number): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = (await api.get(`/api/v1/tasks/${id}`)).json;
    if (t && !['queued', 'running'].includes(t.state)) return t;
    if (Date.now() > deadline) throw new Error(`task ${id} still ${t?.state}: ${JSON.stringify(t?.steps)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
