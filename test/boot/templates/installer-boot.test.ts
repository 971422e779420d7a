// Integration: the rendered rackhand-test iPXE script's kernel arguments boot a real kernel + busybox initramfs
// in qemu (TCG) whose /init gets a DHCP lease and calls rackhand's callback on the host's loopback.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInstallPlan, renderBootScript } from '../../../src/boot/templates/install-plan.js';
import { TemplateDir } from '../../../src/boot/templates/template-dir.js';
import { osCatalogueSchema } from '../../../src/boot/templates/os-catalogue.js';
import { TEST_OS_CATALOGUE } from '../../harness/fixtures.js';
import {
  bootInQemu,
  buildInstallerImage,
  GUEST_FORWARD_IP,
  INSTALLER_DONE_MARKER,
  type InstallerImage,
  type QemuRun,
} from '../../harness/installer-image.js';

const TOKEN = `tok${process.pid}abcdefghijklmnop`;

describe('test installer image boots and calls back (qemu TCG, user-mode net)', () => {
  let image: InstallerImage;
  let server: Server;
  let port = 0;
  const hits: Array<{ method: string; url: string }> = [];
  const runs: QemuRun[] = [];

  beforeAll(async () => {
    image = buildInstallerImage();
    server = createServer((req, res) => {
      hits.push({ method: req.method ?? '', url: req.url ?? '' });
      res.writeHead(req.url?.startsWith('/callback/') ? 200 : 404, { 'content-type': 'text/plain' });
      res.end('ok\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    for (const r of runs) await r.kill();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    image?.cleanup();
  });

  function kernelArgsFromIpxe(script: string): string {
    const line = script.split('\n').find((l) => l.startsWith('kernel '));
    expect(line).toBeDefined();
    // "kernel URL arg… || goto failed": drop the URL, iPXE's initrd= and the failure branch
    return (line as string)
      .replace(/ \|\| goto failed$/, '')
      .split(' ')
      .slice(2)
      .filter((a) => !a.startsWith('initrd='))
      .join(' ');
  }

  it('image has the NIC modules the Debian kernel lacks built in', () => {
    expect(image.modules).toContain('e1000.ko');
    expect(image.modules).toContain('virtio_net.ko');
    // prerequisites come before their users
    expect(image.modules.indexOf('virtio.ko')).toBeLessThan(image.modules.indexOf('virtio_net.ko'));
  });

  it('e1000: rendered rackhand-test arguments → DHCP → callback arrives → marker → powers off', async () => {
    const plan = buildInstallPlan({
      host: { serverId: 7, mac: '52:54:00:12:34:56', hostname: 'node7' },
      osId: 'rackhand-test',
      params: { root_pass: 'Unused-1' },
      urls: { base: `http://${GUEST_FORWARD_IP}`, callback: `http://${GUEST_FORWARD_IP}/callback` },
      callbackToken: TOKEN,
    }, osCatalogueSchema.parse(TEST_OS_CATALOGUE));
    const script = renderBootScript('ipxe', plan, new TemplateDir());
    const append = kernelArgsFromIpxe(script);
    expect(append).toContain(`rackhand.callback=http://${GUEST_FORWARD_IP}/callback/${TOKEN}`);

    const run = bootInQemu({
      kernel: image.kernel,
      initramfs: image.initramfs,
      append,
      nic: 'e1000',
      forwards: [{ guestPort: 80, hostPort: port }],
    });
    runs.push(run);
    const out = await run.waitFor(new RegExp(`${INSTALLER_DONE_MARKER} status=\\S+ [^\\r\\n]*[\\r\\n]`), 150_000);
    expect(out).toMatch(new RegExp(`${INSTALLER_DONE_MARKER} status=ok reason=called-back action=install`));
    expect(hits).toContainEqual({ method: 'GET', url: `/callback/${TOKEN}` });
    // rackhand.after defaults to poweroff: qemu ends by itself
    const code = await Promise.race([run.exited, new Promise((r) => setTimeout(() => r('still running'), 60_000))]);
    expect(code).toBe(0);
  });

  it('virtio-net with rackhand.after=reboot and a wipe action', async () => {
    hits.length = 0;
    const run = bootInQemu({
      kernel: image.kernel,
      initramfs: image.initramfs,
      append: `quiet rackhand.callback=http://${GUEST_FORWARD_IP}/callback/${TOKEN}v rackhand.action=wipe rackhand.wipe_mode=zero rackhand.after=reboot`,
      nic: 'virtio-net-pci',
      forwards: [{ guestPort: 80, hostPort: port }],
    });
    runs.push(run);
    const out = await run.waitFor(new RegExp(`${INSTALLER_DONE_MARKER} status=\\S+ [^\\r\\n]*[\\r\\n]`), 150_000);
    expect(out).toMatch(/status=ok reason=called-back action=wipe wipe_mode=zero/);
    expect(hits).toContainEqual({ method: 'GET', url: `/callback/${TOKEN}v` });
    // with -no-reboot a guest reboot also ends qemu
    const code = await Promise.race([run.exited, new Promise((r) => setTimeout(() => r('still running'), 60_000))]);
    expect(code).toBe(0);
  });

  it('reports a failed callback on the console instead of hanging', async () => {
    hits.length = 0;
    const run = bootInQemu({
      kernel: image.kernel,
      initramfs: image.initramfs,
      append: `quiet rackhand.callback=http://${GUEST_FORWARD_IP}/nothing-here rackhand.action=diag`,
      nic: 'e1000',
      forwards: [{ guestPort: 80, hostPort: port }],
    });
    runs.push(run);
    const out = await run.waitFor(new RegExp(`${INSTALLER_DONE_MARKER} status=\\S+ [^\\r\\n]*[\\r\\n]`), 180_000);
    expect(out).toMatch(/status=fail reason=callback-failed action=diag/);
    expect(hits.filter((h) => h.url === '/nothing-here').length).toBeGreaterThanOrEqual(1);
  });
});
