// END TO END: UEFI HTTP boot. rackhand serves the configured iPXE binaries over HTTP, and an OVMF VM with PXE
// disabled HTTP-boots ipxe.efi from it (DHCP option 60 HTTPClient + URL), then iPXE fetches its script: no TFTP.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootVm, type QemuVm } from '../../harness/qemu-vm.js';
import { startRackhand, type RackhandProcess } from '../../harness/rackhand-process.js';
import { LAB_HTTP_PORT, startNetbootLab, waitTask, type NetbootLab } from '../../harness/vm-bmc-netboot-lab.js';

const run = promisify(execFile);
/** Debian 12's OVMF has HTTP boot; with its PXE switched off (a fw_cfg knob since edk2 2020) it tries HTTP first. */
const OVMF_HTTP_FIRST = ['-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=no', '-fw_cfg', 'name=opt/org.tianocore/IPv6PXESupport,string=no'];

describe('boot files over HTTP: the configured iPXE binaries, as TFTP serves them, nothing else', () => {
  let rh: RackhandProcess;
  let dir: string;
  beforeAll(async () => {
    rh = await startRackhand({ config: { bmc: { sync: { enabled: false } }, boot: { serverIp: '127.0.0.1', tftp: { enabled: true, listen: '127.0.0.1:0' } } } });
    dir = mkdtempSync(join(tmpdir(), `rh-bootfiles-${process.pid}-`));
  }, 60_000);
  afterAll(async () => {
    await rh?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('GET and HEAD /boot/files/ipxe.efi give the same bytes as the TFTP server; other names are not found', async () => {
    // Debian's /usr/lib/ipxe/ipxe.efi is a symlink out of the root: both servers resolve it the same way.
    const want = readFileSync('/usr/lib/ipxe/ipxe.efi');
    const res = await fetch(`${rh.url}/boot/files/ipxe.efi`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/efi');
    expect(Buffer.from(await res.arrayBuffer()).equals(want)).toBe(true);
    const head = await fetch(`${rh.url}/boot/files/ipxe.efi`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(want.length);
    const tftpPort = Number(/"port":(\d+)[^\n]*"msg":"TFTP listening"/.exec(rh.output())?.[1]);
    await run('tftp', ['127.0.0.1', String(tftpPort), '-m', 'binary', '-c', 'get', 'ipxe.efi', join(dir, 'via-tftp')]);
    expect(readFileSync(join(dir, 'via-tftp')).equals(want)).toBe(true);
    // In the TFTP root but not a configured boot file; a traversal; nothing at all.
    for (const name of ['ipxe.lkrn', '..%2F..%2Fetc%2Fpasswd', 'nope.efi']) {
      expect((await fetch(`${rh.url}/boot/files/${name}`)).status, name).toBe(404);
    }
  });
});

describe('UEFI HTTP boot: an OVMF VM boots iPXE over HTTP from rackhand, no TFTP server running', () => {
  const MAC = '52:54:00:e3:00:01';
  let L: NetbootLab;
  const vms: QemuVm[] = [];
  const logsFor = (msg: string) => L.logs().filter((l) => l.msg === msg && l.mac === MAC);

  beforeAll(async () => {
    L = await startNetbootLab({ boot: () => ({ tftp: { enabled: false } }) });
    const imp = await L.api.post('/api/v1/servers/import', [{ id: 1, name: 'vm-http', interfaces: [{ name: 'eth0', mac: MAC, ip: `${L.lab.prefix}.52` }] }]);
    expect(imp.status, imp.text).toBe(200);
    const armed = await L.api.eq({ action: 'create_pxe', id: 1, os_id: 900, root_pass: 'Http-B00t-Secret!' }, L.admin);
    expect((await waitTask(L.api, armed.json.task, 60_000)).state).toBe('succeeded');
  }, 180_000);
  afterAll(async () => {
    for (const vm of vms) await vm.kill().catch(() => undefined);
    await L?.destroy();
  });

  it('firmware gets option 60 HTTPClient and the URL of ipxe.efi, iPXE then gets and fetches its own script', async () => {
    // Nothing listens on UDP 69 in the lab: there is no TFTP server to fall back on.
    expect((await L.lab.exec('ss', ['-Hulnp'])).stdout).not.toMatch(/:69\s/);
    expect(L.logs().some((l) => l.msg === 'TFTP listening')).toBe(false);

    const t0 = Date.now();
    const vm = await bootVm({ lab: L.lab, firmware: 'uefi', mac: MAC, timeoutMs: 300_000, extraArgs: OVMF_HTTP_FIRST });
    vms.push(vm);
    await expect.poll(() => logsFor('serving the armed boot script').length, { timeout: 240_000, interval: 500 }).toBeGreaterThan(0);
    const script = logsFor('serving the armed boot script')[0];
    console.log(`UEFI HTTP boot: qemu start -> script ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(script).toMatchObject({ server: 1, purpose: 'install' });

    const fileUrl = `http://${L.lab.bridgeIp}:${LAB_HTTP_PORT}/boot/files/ipxe.efi`;
    const boots = [...logsFor('dhcp: offer'), ...logsFor('dhcp: ack')].map((l) => l.boot);
    expect(boots).toContain(`http:${fileUrl}`); // the firmware's HTTP boot exchange
    expect(boots).toContain(`script:http://${L.lab.bridgeIp}:${LAB_HTTP_PORT}/boot/ipxe/${MAC}`); // then iPXE's
    expect(boots.some((b: string) => b.startsWith('tftp:'))).toBe(false);
    // The firmware itself says what it did.
    expect(vm.serial()).toMatch(/Start HTTP Boot over IPv4/);
    await vm.kill();
  }, 330_000);
});
