// The allocated main IPv4 reaches the wire: rackhand's DhcpServer, fed by the agent's own BootLookup (which asks
// IPAM for a server's host network), offers it to the server's MAC.
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { macToChaddr, parseDhcpPacket, serializeDhcpPacket, type DhcpPacket } from '../../src/boot/dhcp/dhcp-codec.js';
import { DhcpServer } from '../../src/boot/dhcp/dhcp-server.js';
import { apiClient } from '../harness/rackhand-process.js';
import { makeServers } from '../harness/fixtures.js';
import { startIpamServer } from './ipam-test-server.js';

let srv: Awaited<ReturnType<typeof startIpamServer>>;
let dhcp: DhcpServer;
let client: dgram.Socket;

beforeAll(async () => {
  srv = await startIpamServer();
  client = dgram.createSocket('udp4');
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
  dhcp = new DhcpServer({
    mode: 'reservation',
    lookup: srv.content, // the agent's own BootLookup, fed by IPAM
    listenAddress: '127.0.0.1',
    port: 0,
    proxyPort: 0,
    clientPort: (client.address() as AddressInfo).port,
    broadcastAddress: '127.0.0.1',
    serverIp: '192.0.2.1',
    bootFiles: { bios: 'undionly.kpxe', uefiX64: 'ipxe.efi' },
    scriptUrl: 'http://{serverIp}:{port}/boot/{mac}.ipxe',
    httpPort: 8080,
  });
  await dhcp.start();
});

afterAll(async () => {
  await dhcp?.stop();
  client?.close();
  await srv?.stop();
});

function discover(mac: string): Promise<DhcpPacket> {
  const p: DhcpPacket = {
    op: 1, htype: 1, hlen: 6, hops: 0, xid: 0x51a7e, secs: 0, flags: 0x8000,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
    chaddr: macToChaddr(mac), sname: '', file: '',
    options: { messageType: 1, parameterRequestList: [1, 3, 6, 12, 15, 66, 67], clientArch: [0], vendorClass: 'PXEClient:Arch:00000:UNDI:002001' },
  };
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no DHCP offer')), 5000);
    client.once('message', (m) => {
      clearTimeout(t);
      resolve(parseDhcpPacket(m));
    });
    client.send(serializeDhcpPacket(p), dhcp.port!, '127.0.0.1');
  });
}

it("DHCP offers the server's allocated main IPv4 with its network's mask, gateway and DNS", async () => {
  const admin = srv.tokens.create({ name: 'admin', role: 'admin' }).token;
  const api = apiClient(() => srv.url, admin);
  expect((await api.post('/api/v1/servers/import', makeServers(3))).status).toBe(200);
  await api.post('/api/ip/v3/ipnet', { name: '192.0.2.0/24', gateway: '192.0.2.1', dns: ['192.0.2.53'] });
  await api.post('/api/dci/v3/server/1/ip', { ip_net: '192.0.2.0/24' }); // takes .2, not main
  const r = await api.post('/api/dci/v3/server/2/ip', { ip_net: '192.0.2.0/24', set_as_main_ipv4: 1 });
  expect(r.status, r.text).toBe(200);
  const mac = (await api.get('/api/dci/v3/server/2')).json.interfaces[0].mac;
  const offer = await discover(mac);
  expect(offer.options.messageType).toBe(2);
  expect(offer.yiaddr).toBe('192.0.2.3');
  expect(offer.options).toMatchObject({ subnetMask: '255.255.255.0', routers: ['192.0.2.1'], dnsServers: ['192.0.2.53'] });
});
