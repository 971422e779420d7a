// Fuzz target run inside a test namespace: rackhand's DHCP servers (reservation on 67, proxy on 6767 + 4011) and a sender replaying datagrams at them.

import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { BootLookup, HostBootInfo } from '../../../src/boot/boot-lookup.js';
import { serializeDhcpPacket, macToChaddr } from '../../../src/boot/dhcp/dhcp-codec.js';
import { DhcpServer } from '../../../src/boot/dhcp/dhcp-server.js';

interface ChildConfig {
  serverIp: string;
  hosts: HostBootInfo[];
  /** Length-prefixed datagrams (u16 big-endian length, then the bytes), sent in turn to ports 67, 6767 and 4011. */
  datagramsFile: string;
}

const cfg = JSON.parse(process.argv[2]) as ChildConfig;
const emit = (ev: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(ev)}\n`);
const lookup: BootLookup = {
  findByMac: (mac) => cfg.hosts.find((h) => h.mac === mac),
  findByIp: (ip) => cfg.hosts.find((h) => h.ip === ip),
  recordDiscovered: () => {},
};
const common = {
  lookup,
  serverIp: cfg.serverIp,
  bootFiles: { bios: 'undionly.kpxe', uefiX64: 'ipxe.efi' },
  scriptUrl: 'http://{serverIp}:{port}/boot/{mac}.ipxe',
  httpPort: 8080,
};
const reservation = new DhcpServer({ ...common, mode: 'reservation' });
// Its own DHCP port: with two sockets on 67 the kernel would give each unicast datagram to one of them only.
const PROXY_DHCP_PORT = 6767;
const proxy = new DhcpServer({ ...common, mode: 'proxy', port: PROXY_DHCP_PORT });
const PORTS = [67, PROXY_DHCP_PORT, 4011];
await reservation.start();
await proxy.start();

const counters = () => ({ reservation: { ...reservation.counters }, proxy: { ...proxy.counters } });
const received = () => reservation.counters.received + proxy.counters.received;

async function fuzz(): Promise<number> {
  const file = readFileSync(cfg.datagramsFile);
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  let n = 0;
  for (let off = 0; off < file.length; n++) {
    const len = file.readUInt16BE(off);
    const d = file.subarray(off + 2, off + 2 + len);
    off += 2 + len;
    await new Promise<void>((r) => sock.send(d, PORTS[n % PORTS.length], '127.0.0.1', () => r()));
    if (n % 100 === 99) await new Promise((r) => setTimeout(r, 2));
  }
  // A well-formed PXE request for an armed host: the proxy must still answer after all that.
  const pxe = cfg.hosts.find((h) => h.netbootArmed)!;
  const offersBefore = proxy.counters.offers;
  await new Promise<void>((r) =>
    sock.send(
      serializeDhcpPacket({
        op: 1, htype: 1, hlen: 6, hops: 0, xid: 0xabc, secs: 0, flags: 0x8000,
        ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
        chaddr: macToChaddr(pxe.mac), sname: '', file: '',
        options: { messageType: 1, clientArch: [7], vendorClass: 'PXEClient:Arch:00007:UNDI:003000' },
      }),
      PROXY_DHCP_PORT,
      '127.0.0.1',
      () => r(),
    ),
  );
  for (let prev = -1; prev !== received(); ) {
    prev = received();
    await new Promise((r) => setTimeout(r, 300));
  }
  sock.close();
  emit({ ev: 'fuzzed', sent: n, proxyOffered: proxy.counters.offers > offersBefore, counters: counters() });
  return n;
}

process.stdin.on('data', () => void fuzz());
emit({ ev: 'ready' });
const shutdown = async () => {
  await reservation.stop();
  await proxy.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown());
