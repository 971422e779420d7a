// The demo's hosts: a server on the simulated BMC that is powered on with netboot armed plays the booted host — it
// asks rackhand's HTTP boot routes for its job and reports progress and a result the way the ramdisk agent does (or
// calls back the way an installer does), so a reinstall on the demo site runs to the end.
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Agent } from '../agent.js';
import type { ImageStore } from '../images/image-store.js';
import { importDisk, importNetboot, RAMDISK_FILES, RAMDISK_IMAGE } from '../images/image-import.js';

/** The demo's images: stand-ins named as the built-in catalogue needs them, and a disk image offered as os 800. */
export async function demoImages(store: ImageStore): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'rackhand-demo-images-'));
  try {
    const file = (name: string, text: string) => {
      const p = path.join(dir, name);
      writeFileSync(p, text);
      return { p, sha: createHash('sha256').update(text).digest('hex') };
    };
    const stand = async (image: string, kernel: string, initrd: string) => {
      if (store.get(image)) return;
      const k = file(kernel, `demo stand-in for ${image}/${kernel}\n`);
      const i = file(initrd, `demo stand-in for ${image}/${initrd}\n`);
      await importNetboot(store, image, { kernel: k.p, kernelSha256: k.sha, initrd: i.p, initrdSha256: i.sha });
    };
    await stand(RAMDISK_IMAGE, RAMDISK_FILES.kernel, RAMDISK_FILES.initrd);
    await stand('debian-12-netboot', 'linux', 'initrd.gz');
    if (!store.get('demo-linux')) {
      const disk = file('demo-linux.raw', 'demo disk image\n'.repeat(4096));
      await importDisk(store, 'demo-linux', { src: disk.p, sha256: disk.sha, os: { ids: [800], name: 'Demo Linux (disk image)' } });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Until stop(): every second, armed hosts that the simulated BMC has powered on play their part. */
export function simulateHosts(agent: Agent, baseUrl: string): { stop(): void } {
  const playing = new Set<string>();
  let stopped = false;
  const tick = async () => {
    const sim = agent.parts.simulated;
    if (!sim) return;
    for (const nb of agent.repos.netboot.all()) {
      if (nb.callbackAt || playing.has(nb.token)) continue;
      let target;
      try {
        target = agent.repos.servers.bmcTarget(nb.serverId);
      } catch {
        continue;
      }
      if (target.driver !== 'simulated' || sim.state(target).power !== 'on') continue;
      playing.add(nb.token);
      void playHost(baseUrl, nb.token, nb.purpose).catch((e) => agent.log.warn({ err: e, server: nb.serverId }, 'demo host failed to play its part'));
    }
  };
  const timer = setInterval(() => {
    if (!stopped) void tick();
  }, 1000);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

async function playHost(base: string, token: string, purpose: string): Promise<void> {
  const agent = `${base}/boot/agent/${token}`;
  const post = (what: string, body: unknown) => fetch(`${agent}/${what}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await sleep(3000); // firmware, DHCP, the kernel
  const res = await fetch(`${agent}/job`);
  if (!res.ok) {
    // an installer (d-i, kickstart): it installs, then calls back
    await sleep(5000);
    await fetch(`${base}/boot/callback/${token}`);
    return;
  }
  const job = (await res.json()) as { action: string; params: { mode?: string } };
  const step = async (name: string, ms: number) => {
    await post('progress', { step: name, state: 'started' });
    await sleep(ms);
    await post('progress', { step: name, state: 'succeeded' });
  };
  const disk = { name: 'sda', serial: 'DEMO-SSD-0001', sizeBytes: 480 * 2 ** 30, model: 'Demo SSD 480' };
  switch (job.action) {
    case 'inspect':
      await step('inspect hardware', 2000);
      await post('result', {
        ok: true,
        result: {
          inventory: {
            system: { vendor: 'Supermicro', model: 'Demo X11', serial: 'DEMO0001', uuid: '' },
            firmware: { mode: 'uefi', vendor: 'AMI', version: '3.4' },
            cpus: { model: 'Intel Xeon E-2236', sockets: 1, cores: 6, threads: 12 },
            memoryBytes: 32 * 2 ** 30,
            disks: [{ ...disk, path: '/dev/sda', rotational: false, transport: 'sata', smart: { available: true, healthy: true } }],
            nics: [],
          },
        },
      });
      return;
    case 'wipe':
      await step(`wipe /dev/sda (${job.params.mode})`, 3000);
      await post('result', { ok: true, result: { disks: [{ ...disk, mode: job.params.mode, ok: true }] } });
      return;
    case 'deploy':
      for (const [name, ms] of [['choose disk', 500], ['stream image', 4000], ['verify checksum', 500], ['grow root partition', 500], ['configure system', 1000]] as const) {
        await step(name, ms);
      }
      await post('result', { ok: true, result: { disk: '/dev/sda', serial: disk.serial, bytesWritten: 0, sha256: '' } });
      return;
    case 'rescue':
      await post('progress', { step: 'rescue', state: 'started', message: 'rescue ready: ssh root@demo-host' });
      return;
    default:
      void purpose;
  }
}
