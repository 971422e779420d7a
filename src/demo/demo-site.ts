// The demo site for `rackhand serve --demo`: a dozen servers on the simulated BMC driver in two racks.
import net from 'node:net';
import type { DiscoveredClient } from '../boot/boot-lookup.js';

export interface DemoOptions {
  /** A VNC server to show as every server's console; none unless one answers (see probeVnc). */
  vnc?: { host: string; port: number } | null;
  /** The password the simulated BMCs accept (stored encrypted like any other). */
  bmcPassword?: string;
}

const MODELS = ['Supermicro X11SCH-F', 'Dell iDRAC9 R640', 'HPE iLO5 DL360'];
const CONFIGS = [
  { configuration: 'E-2236-32Gb-2x480SSD', preset: 'e2236', cpu: 'Intel Xeon E-2236', cores: 6, ram: 32 },
  { configuration: 'EPYC-7302-128Gb-2x1920NVMe', preset: 'epyc', cpu: 'AMD EPYC 7302', cores: 16, ram: 128 },
];

/** Inventory records (the /api/v1/servers/import shape) for the demo site. */
export function demoServers(opts: DemoOptions = {}): unknown[] {
  const out: unknown[] = [];
  for (let n = 1; n <= 12; n++) {
    const rack = n <= 6 ? 'A01' : 'A02';
    const pos = ((n - 1) % 6) * 2 + 1;
    const cfg = CONFIGS[n % 2];
    const hex = n.toString(16).padStart(2, '0');
    out.push({
      id: 1000 + n,
      name: `demo-${rack.toLowerCase()}-${String(pos).padStart(2, '0')}`,
      status: n % 5 === 0 ? 'maintenance' : n % 3 === 0 ? 'rent' : 'free',
      type: 'Server',
      location: 'DEMO1',
      location_id: 1,
      datacenter: 'Demo datacenter',
      rack,
      rack_position: pos,
      configuration: cfg.configuration,
      preset: cfg.preset,
      tags: [{ tag: 'demo', value: 'yes' }],
      groups: [{ id: 1, name: 'demo' }],
      hardware: [
        { Type: 'CPU', Name: cfg.cpu, Cores: cfg.cores },
        { Type: 'RAM', Size: `${cfg.ram} GB` },
      ],
      interfaces: [
        { name: 'eno1', mac: `02:de:00:00:01:${hex}`, ip: `192.0.2.${10 + n}`, switch: `sw-${rack.toLowerCase()}`, switch_port: `Gi1/0/${n}` },
        { name: 'eno2', mac: `02:de:00:00:02:${hex}` },
      ],
      bmc: {
        driver: 'simulated',
        // The simulated driver sends nothing on the wire; documentation addresses (RFC 5737) make that obvious.
        host: `198.51.100.${10 + n}`,
        port: 623,
        username: 'ADMIN',
        password: opts.bmcPassword ?? 'demo-bmc-pass',
        model: MODELS[n % MODELS.length],
        mac: `02:de:00:00:0b:${hex}`,
      },
      ...(opts.vnc ? { console: { type: 'vnc', host: opts.vnc.host, port: opts.vnc.port } } : {}),
    });
  }
  return out;
}

/** Machines that asked to network-boot but are not in the demo inventory, for the "adopt" flow. */
export function demoDiscovered(): DiscoveredClient[] {
  return [
    { mac: '02:de:00:00:ff:01', arch: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003016', uuid: '4c4c4544-0051-3610-8052-b2c04f4e4d31' },
    { mac: '02:de:00:00:ff:02', arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001' },
  ];
}

/** True when a VNC server answers at host:port with an RFB banner within timeoutMs. */
export function probeVnc(host = '127.0.0.1', port = 5900, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('data', (b) => done(b.subarray(0, 4).toString('latin1') === 'RFB '));
    s.once('error', () => done(false));
    s.once('close', () => done(false));
  });
}
