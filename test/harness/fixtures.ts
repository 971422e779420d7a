// Generated inventory for tests and benchmarks: n servers with distinct MACs, IPs, racks, groups and locations.

export const BMC_TEST_PASSWORD = 'bmc-Secret-9f3e';
export const CONSOLE_TEST_PASSWORD = 'vnc-Secret-71a2';

export function makeServers(n: number, start = 1, opts: { ownerId?: (id: number) => number | undefined } = {}) {
  return Array.from({ length: n }, (_, k) => {
    const id = start + k;
    const hex = id.toString(16).padStart(6, '0');
    return {
      id,
      name: `srv-${id}`,
      status: id % 10 === 0 ? 'rent' : id % 17 === 0 ? 'maintenance' : 'free',
      type: id % 50 === 0 ? 'Switch' : 'Server',
      location: id % 2 ? 'AMS1' : 'FRA1',
      location_id: id % 2 ? 1 : 2,
      datacenter: id % 2 ? 'Amsterdam 1' : 'Frankfurt 1',
      rack: `R${Math.floor(id / 40) + 1}`,
      rack_position: (id % 40) + 1,
      configuration: id % 3 ? 'E-2236-32Gb-2x480SSD' : 'i9-9900K-64Gb-2x1024NVMe',
      preset: id % 3 ? 'e2236' : 'i9',
      os: { id: 10, name: 'Ubuntu 24.04' },
      owner_id: opts.ownerId?.(id),
      tags: [{ tag: 'preset', value: id % 3 ? 'e2236' : 'i9' }],
      groups: [{ id: (id % 4) + 1, name: `group-${(id % 4) + 1}` }],
      hardware: [{ Type: 'CPU', Name: 'Intel Xeon E-2236', Cores: 6 }],
      interfaces: [
        {
          name: 'eth0',
          mac: `52:54:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`,
          ip: `10.${(id >> 16) & 255}.${(id >> 8) & 255}.${id & 255}`,
          switch: `sw-${Math.floor(id / 40) + 1}`,
          switch_port: `Gi1/0/${(id % 40) + 1}`,
        },
      ],
      bmc: { driver: 'simulated', host: `10.99.${(id >> 8) & 255}.${id & 255}`, username: 'ADMIN', password: BMC_TEST_PASSWORD, model: 'Supermicro X11' },
      console: { host: '127.0.0.1', port: 5900, password: CONSOLE_TEST_PASSWORD },
    };
  });
}

/**
 * The test suite's installer (test/harness/installer-image.ts: a kernel + busybox initramfs that calls back) as an
 * OS entry. It is no built-in: tests hand it to rackhand through boot.osCatalogue; its files are placed in the
 * images directory by the lab harness, not imported (images: []).
 */
export function testInstallerEntry(ids: number[], kernelArgs: string[] = ['console=ttyS0', 'quiet'], name = 'rackhand test installer') {
  return {
    name,
    family: 'linux-test',
    ids,
    images: [] as string[],
    kernel: 'rackhand-test/vmlinuz',
    initrd: 'rackhand-test/initramfs.cpio.gz',
    kernelArgs,
    templates: { ipxe: 'ipxe/rackhand-image.ipxe', grub: 'grub/rackhand-image.cfg', pxelinux: 'pxelinux/rackhand-image.cfg' },
  };
}

export const TEST_OS_CATALOGUE = { 'rackhand-test': testInstallerEntry([900]) };
