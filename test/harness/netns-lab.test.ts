// The namespace/VM harness itself: lab setup and teardown, qemu argv, a VM that starts and answers its monitor.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createNetnsLab } from './netns-lab.js';
import { bootVm, buildQemuArgv, qemuCommand, qemuMonitor, shellQuote, type QemuVmSpec } from './qemu-vm.js';


const namespaces = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });

describe('qemu argv', () => {
  const spec: QemuVmSpec = { name: 'x', firmware: 'bios', mac: '52:54:00:00:00:01', tap: 'tap0', workDir: '/w', serialLog: '/w/s.log' };

  it('BIOS: e1000 (iPXE ROM) first, SeaBIOS serial console, TCG', () => {
    const a = buildQemuArgv(spec);
    expect(a.join(' ')).toContain('-accel tcg');
    expect(a).toContain('e1000,netdev=n0,mac=52:54:00:00:00:01,id=nic0,bootindex=1');
    expect(a).toContain('name=etc/sercon-port,file=/w/sercon-port');
    expect(a).not.toContain('-no-reboot');
  });

  it('UEFI: OVMF pflash, virtio-net without option ROM, disk second unless asked', () => {
    const a = buildQemuArgv({ ...spec, firmware: 'uefi', diskImage: '/w/d.img', noReboot: true });
    expect(a.some((x) => x.includes('OVMF_CODE_4M.fd') && x.includes('readonly=on'))).toBe(true);
    expect(a).toContain('if=pflash,format=raw,unit=1,file=/w/OVMF_VARS.fd');
    expect(a).toContain('virtio-net-pci,romfile=,netdev=n0,mac=52:54:00:00:00:01,id=nic0,bootindex=1');
    expect(a).toContain('ide-hd,drive=d0,id=disk0,bootindex=2');
    expect(a).toContain('-no-reboot');
    const d = buildQemuArgv({ ...spec, diskImage: '/w/d.img', bootFirst: 'disk' });
    expect(d).toContain('ide-hd,drive=d0,id=disk0,bootindex=1');
  });

  it('builds a namespaced, shell-quoted command line for hooks', () => {
    const cmd = qemuCommand(spec, 'lab1');
    expect(cmd.slice(0, 5)).toEqual(['ip', 'netns', 'exec', 'lab1', 'qemu-system-x86_64']);
    expect(shellQuote(['a b', "it's", 'plain=1,x'])).toBe(`'a b' 'it'\\''s' plain=1,x`);
  });
});

describe('netns lab', () => {
  it('creates br0 with its address and a broadcast route, runs processes inside, and removes everything', async () => {
    const lab = await createNetnsLab();
    try {
      expect(namespaces()).toContain(lab.ns);
      const addr = await lab.exec('ip', ['-4', '-o', 'addr', 'show', 'dev', 'br0']);
      expect(addr.stdout).toContain(`${lab.bridgeIp}/24`);
      const routes = await lab.exec('ip', ['route', 'show', 'table', 'local']);
      expect(routes.stdout + (await lab.exec('ip', ['route'])).stdout).toContain('255.255.255.255');
      await lab.addTap('tstap0');
      expect((await lab.exec('ip', ['-o', 'link', 'show', 'master', 'br0'])).stdout).toContain('tstap0');
      const sleeper = lab.spawnIn('sleep', ['600']);
      // `ip netns exec` joins the namespace right after it starts: poll for it (bounded)
      const inside = () => execFileSync('ip', ['netns', 'pids', lab.ns], { encoding: 'utf8' }).split(/\s+/).includes(String(sleeper.pid));
      for (let i = 0; i < 100 && !inside(); i++) await new Promise((r) => setTimeout(r, 50));
      expect(inside()).toBe(true);
      await lab.destroy();
      expect(sleeper.exitCode !== null || sleeper.signalCode !== null).toBe(true);
      expect(namespaces()).not.toContain(lab.ns);
    } finally {
      await lab.destroy();
    }
  });

  it('boots a BIOS VM whose console reaches serial and whose monitor answers', async () => {
    const lab = await createNetnsLab();
    try {
      const vm = await bootVm({ lab, firmware: 'bios', mac: '52:54:00:d5:0f:01', timeoutMs: 120_000 });
      // SeaBIOS sercon mirrors the iPXE ROM banner (no DHCP server here, so it stops at DHCP).
      await vm.waitForSerial(/iPXE/, 60_000);
      expect(await qemuMonitor(vm.monitorSocket, 'info status')).toContain('running');
      const dir = vm.serialLog.replace(/\/serial\.log$/, '');
      await vm.kill();
      expect(existsSync(dir)).toBe(false);
    } finally {
      await lab.destroy();
    }
  }, 180_000);
});
