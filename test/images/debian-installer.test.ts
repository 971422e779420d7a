// Real installers stay possible: Debian's own d-i netboot kernel and initrd (package debian-installer-12-netboot-amd64)
// boot in a qemu VM with the kernel arguments of rackhand's rendered iPXE script, get a DHCP lease, fetch the preseed
// rendered by rackhand's templates, run its early command (a progress report to the agent-protocol URL) and go on
// unattended to the mirror step without showing a single question before it. The lab's network is closed, so the
// mirror cannot be reached: the mirror question is where the test ends, and the proof that nothing came before it.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInstallPlan, renderBootScript, renderInstallConfig } from '../../src/boot/templates/install-plan.js';
import { bootVm } from '../harness/qemu-vm.js';
import { startRamdiskLab, tempDir, type RamdiskLab } from '../harness/ramdisk-lab.js';

const DI = '/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64';
const MAC = '52:54:00:7a:01:01';
const TOKEN = `ditoken${process.pid}abcdefgh`;

let rl: RamdiskLab;
let tmp: { dir: string; remove(): void };

/** newt draws every question with a priority marker in its title: "[!] Choose a mirror", "[!!] Configure the network". */
const QUESTION_RE = /\[!{1,3}\] [^\n]*?(?=\s{2}|\n|$)/g;

describe('Debian installer (d-i) netboot with rackhand\'s preseed', () => {
  beforeAll(async () => {
    expect(existsSync(`${DI}/linux`), 'debian-installer-12-netboot-amd64 is installed').toBe(true);
    tmp = tempDir('rh-di');
    rl = await startRamdiskLab();
    // d-i asks for its address before it can fetch the preseed
    rl.startDhcp();
  }, 120_000);

  afterAll(async () => {
    await rl?.destroy();
    tmp?.remove();
  });

  it('boots, fetches and accepts the preseed (its early command reports progress), no question before the mirror step', async () => {
    const base = rl.server.base;
    const plan = buildInstallPlan({
      host: { serverId: 7, mac: MAC, hostname: 'di-test', domain: 'lab.example' },
      osId: 'debian-12',
      params: { root_pass: 'Di-Test-Pass-1', ssh_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForThePreseedTestOnly0000000000000 t@x' },
      urls: { base, callback: `${base}/api/v1/boot/callback`, agent: rl.server.agentUrl(TOKEN) },
      callbackToken: TOKEN,
    });
    const preseed = renderInstallConfig('preseed', plan);
    expect(preseed).toContain(`${rl.server.agentUrl(TOKEN)}/progress?step=installer&state=started`);
    const preseedPath = new URL(`${plan.vars.install_url}/preseed`).pathname;
    rl.server.addText(preseedPath, preseed);

    // the kernel arguments exactly as rackhand's iPXE script gives them (URL and iPXE's initrd= dropped)
    const ipxe = renderBootScript('ipxe', plan);
    const kernelLine = ipxe.split('\n').find((l) => l.startsWith('kernel ')) as string;
    const args = kernelLine.replace(/ \|\| goto failed$/, '').split(' ').slice(2).filter((a) => !a.startsWith('initrd='));
    expect(args).toContain(`url=${base}/install/${MAC.replace(/:/g, '-')}/preseed`);
    expect(args).toContain('priority=critical');

    const vm = await bootVm({
      lab: rl.lab, firmware: 'bios', mac: MAC, memMb: 1536, timeoutMs: 600_000,
      extraArgs: ['-kernel', `${DI}/linux`, '-initrd', `${DI}/initrd.gz`, '-append', args.join(' ')],
    });
    try {
      const progress = await rl.server.waitProgress(TOKEN, (p) => p.step === 'installer' && p.state === 'started', 300_000).catch((e) => {
        throw new Error(`${(e as Error).message}; preseed requests: ${JSON.stringify(rl.server.textRequests)}\n${vm.serial().slice(-3000)}`);
      });
      expect(progress.message).toBe('preseed loaded');
      expect(rl.server.textRequests).toContain(preseedPath);
      // with no way out of the lab, d-i stops at its first question: the mirror
      const m = await vm.waitForSerial(/\[!+\] [^\n]*mirror/i, 300_000);
      const questions = vm.serial().match(QUESTION_RE) ?? [];
      expect(questions.length).toBeGreaterThan(0);
      expect(questions[0]).toMatch(/mirror/i);
      expect(m[0]).toMatch(/mirror/i);
    } finally {
      await vm.kill();
    }
  }, 900_000);
});
