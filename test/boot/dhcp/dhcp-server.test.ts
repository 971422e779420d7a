// DhcpServer over loopback UDP with a fake BootLookup: reservation, proxy, relay, unknown and unarmed hosts.

import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { BootEvent } from '../../../src/boot/boot-event.js';
import type { BootLookup, DiscoveredClient, HostBootInfo } from '../../../src/boot/boot-lookup.js';
import { parseDhcpPacket, type DhcpPacket } from '../../../src/boot/dhcp/dhcp-codec.js';
import { DhcpServer, type DhcpServerOptions } from '../../../src/boot/dhcp/dhcp-server.js';
import { CAPTURED } from './captured-packets.js';
import { bytes, ipxeDiscover, pxeBiosDiscover, request, uefiFirmwareDiscover, uefiHttpDiscover } from './dhcp-packets.js';

const KNOWN = '52:54:00:00:00:11';
const UNARMED = '52:54:00:00:00:12';
const UNKNOWN = '52:54:00:00:00:99';
const NOIP = '52:54:00:00:00:13';

class FakeLookup implements BootLookup {
  discovered: DiscoveredClient[] = [];
  hosts = new Map<string, HostBootInfo>([
    [KNOWN, { serverId: 7, name: 'srv7', mac: KNOWN, ip: '10.9.0.50', netmask: '255.255.255.0', gateway: '10.9.0.1', dns: ['10.9.0.2', '10.9.0.3'], hostname: 'node7', domain: 'dc1.test', netbootArmed: true }],
    [UNARMED, { serverId: 8, name: 'srv8', mac: UNARMED, ip: '10.9.0.51', netmask: '255.255.255.0', netbootArmed: false }],
    [NOIP, { serverId: 9, name: 'srv9', mac: NOIP, netbootArmed: true }],
  ]);
  findByMac(mac: string) {
    return this.hosts.get(mac);
  }
  findByIp(ip: string) {
    return [...this.hosts.values()].find((h) => h.ip === ip);
  }
  recordDiscovered(c: DiscoveredClient) {
    this.discovered.push(c);
  }
}

/** A UDP endpoint that collects whatever arrives. */
class Endpoint {
  readonly sock = dgram.createSocket('udp4');
  private queue: Array<{ p: DhcpPacket; from: dgram.RemoteInfo }> = [];
  private waiters: Array<() => void> = [];
  async open(): Promise<this> {
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.1', () => r()));
    this.sock.on('message', (m, from) => {
      this.queue.push({ p: parseDhcpPacket(m), from });
      this.waiters.splice(0).forEach((w) => w());
    });
    return this;
  }
  get port(): number {
    return (this.sock.address() as AddressInfo).port;
  }
  send(p: DhcpPacket | Buffer, port: number): void {
    this.sock.send(Buffer.isBuffer(p) ? p : bytes(p), port, '127.0.0.1');
  }
  /** Next datagram; fails the test instead of hanging. */
  async next(timeoutMs = 5000): Promise<{ p: DhcpPacket; from: dgram.RemoteInfo; size: number }> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (Date.now() > deadline) throw new Error('no DHCP reply');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
    const x = this.queue.shift()!;
    return { ...x, size: bytes(x.p).length };
  }
  close(): void {
    this.sock.close();
  }
}

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(over: Partial<DhcpServerOptions> = {}) {
  const lookup = new FakeLookup();
  const client = await new Endpoint().open();
  const relay = await new Endpoint().open();
  const server = new DhcpServer({
    mode: 'reservation',
    lookup,
    listenAddress: '127.0.0.1',
    port: 0,
    proxyPort: 0,
    clientPort: client.port,
    relayPort: relay.port,
    broadcastAddress: '127.0.0.1',
    serverIp: '10.9.0.1',
    bootFiles: { bios: 'undionly.kpxe', uefiX64: 'ipxe.efi' },
    scriptUrl: 'http://{serverIp}:{port}/boot/{mac}.ipxe',
    httpPort: 8080,
    leaseSeconds: 600,
    ...over,
  });
  await server.start();
  cleanup.push(() => server.stop(), () => client.close(), () => relay.close());
  return { lookup, client, relay, server, port: server.port! };
}

/** Proves "no answer" without sleeping: a later packet's reply must be the first thing that arrives. */
async function expectSilenceThenAnswer(ep: Endpoint, port: number, silent: DhcpPacket | Buffer, probe: DhcpPacket) {
  ep.send(silent, port);
  ep.send(probe, port);
  const r = await ep.next();
  expect(r.p.xid).toBe(probe.xid);
}

describe('DhcpServer reservation mode', () => {
  it('offers the reservation and the BIOS iPXE binary to firmware PXE', async () => {
    const { client, port } = await setup();
    client.send(pxeBiosDiscover(KNOWN), port);
    const { p, size } = await client.next();
    expect(size).toBeGreaterThanOrEqual(300);
    expect(p.op).toBe(2);
    expect(p.xid).toBe(0x1234abcd);
    expect(p.yiaddr).toBe('10.9.0.50');
    expect(p.siaddr).toBe('10.9.0.1');
    expect(p.file).toBe('undionly.kpxe');
    expect(p.options).toMatchObject({
      messageType: 2,
      serverId: '10.9.0.1',
      leaseTime: 600,
      renewalTime: 300,
      rebindingTime: 525,
      subnetMask: '255.255.255.0',
      routers: ['10.9.0.1'],
      dnsServers: ['10.9.0.2', '10.9.0.3'],
      hostname: 'node7',
      domainName: 'dc1.test',
      bootfileName: 'undionly.kpxe',
      tftpServerName: '10.9.0.1',
    });
    // option 60 would make EDK2 classify the offer as BINL and ask port 4011 (proxy mode only)
    expect(p.options.vendorClass).toBeUndefined();
    expect(p.options.ipxe).toBeUndefined();
  });

  it('ACKs a REQUEST for the reserved address, NAKs another, ignores a REQUEST for another server', async () => {
    const { client, port, server } = await setup();
    client.send(pxeBiosDiscover(KNOWN, { messageType: 3, requestedIp: '10.9.0.50', serverId: '10.9.0.1' }), port);
    const ack = await client.next();
    expect(ack.p.options.messageType).toBe(5);
    expect(ack.p.yiaddr).toBe('10.9.0.50');
    expect(ack.p.file).toBe('undionly.kpxe');

    client.send(pxeBiosDiscover(KNOWN, { messageType: 3, requestedIp: '10.9.0.77' }), port);
    const nak = await client.next();
    expect(nak.p.options.messageType).toBe(6);
    expect(nak.p.yiaddr).toBe('0.0.0.0');

    const other = pxeBiosDiscover(KNOWN, { messageType: 3, requestedIp: '10.9.0.50', serverId: '10.9.0.200' });
    other.xid = 1;
    await expectSilenceThenAnswer(client, port, other, pxeBiosDiscover(KNOWN));
    expect(server.counters).toMatchObject({ acks: 1, naks: 1, offers: 1, ignored: 1 });
  });

  it('gives x86-64 UEFI firmware ipxe.efi (arch 7 and 9) and arm64 snp.efi only when configured', async () => {
    const { client, port } = await setup({ bootFiles: { bios: 'undionly.kpxe', uefiX64: 'ipxe.efi', arm64: 'snp.efi' } });
    client.send(uefiFirmwareDiscover(KNOWN), port);
    expect((await client.next()).p.file).toBe('ipxe.efi');
    client.send(uefiFirmwareDiscover(KNOWN, { clientArch: [9] }), port);
    expect((await client.next()).p.options.bootfileName).toBe('ipxe.efi');
    client.send(uefiFirmwareDiscover(KNOWN, { clientArch: [11] }), port);
    expect((await client.next()).p.file).toBe('snp.efi');

    const s2 = await setup();
    s2.client.send(uefiFirmwareDiscover(KNOWN, { clientArch: [11] }), s2.port);
    const r = await s2.client.next();
    expect(r.p.yiaddr).toBe('10.9.0.50'); // still its lease
    expect(r.p.file).toBe('');
    expect(r.p.options.bootfileName).toBeUndefined();
  });

  it('gives iPXE the HTTP script URL and option 175.176 = 1', async () => {
    const { client, port } = await setup();
    client.send(ipxeDiscover(KNOWN), port);
    const { p } = await client.next();
    expect(p.options.bootfileName).toBe('http://10.9.0.1:8080/boot/52:54:00:00:00:11.ipxe');
    expect(p.file).toBe('http://10.9.0.1:8080/boot/52:54:00:00:00:11.ipxe');
    expect(p.options.ipxe?.get(176)).toEqual(Buffer.from([1]));
    // UEFI iPXE (arch 7 + user-class iPXE) too: never chainload iPXE into itself.
    client.send(ipxeDiscover(KNOWN, { clientArch: [7], userClass: ['iPXE'], userClassFormat: 'rfc3004' }), port);
    expect((await client.next()).p.options.bootfileName).toMatch(/\.ipxe$/);
  });

  it('answers captured real client packets with the right boot file', async () => {
    const { client, port, lookup } = await setup();
    for (const [mac, ip] of [['52:54:00:d5:00:01', '10.9.0.60'], ['52:54:00:d5:00:02', '10.9.0.61']]) {
      lookup.hosts.set(mac, { serverId: 1, name: mac, mac, ip, netbootArmed: true });
    }
    const cases: Array<[Buffer, number, string]> = [
      [CAPTURED.biosIpxeDiscover, 2, 'http://10.9.0.1:8080/boot/52:54:00:d5:00:01.ipxe'],
      [CAPTURED.ovmfDiscover, 2, 'ipxe.efi'],
      [CAPTURED.uefiIpxeDiscover, 2, 'http://10.9.0.1:8080/boot/52:54:00:d5:00:02.ipxe'],
    ];
    for (const [pkt, type, file] of cases) {
      client.send(pkt, port);
      const { p } = await client.next();
      expect(p.options.messageType).toBe(type);
      expect(p.options.bootfileName).toBe(file);
    }
    // the captured REQUEST chose the lab's server (option 54 = 10.213.196.1), not this one: silence
    await expectSilenceThenAnswer(client, port, CAPTURED.ovmfRequest, pxeBiosDiscover(KNOWN));
  });

  it('accepts a scriptUrl function', async () => {
    const { client, port } = await setup({ scriptUrl: (mac, host) => `http://x/${host.serverId}/${mac.replace(/:/g, '')}` });
    client.send(ipxeDiscover(KNOWN), port);
    expect((await client.next()).p.options.bootfileName).toBe('http://x/7/525400000011');
  });

  it('gives an unarmed host its address but no boot file, and counts it', async () => {
    const { client, port, server } = await setup();
    client.send(pxeBiosDiscover(UNARMED), port);
    const { p } = await client.next();
    expect(p.yiaddr).toBe('10.9.0.51');
    expect(p.file).toBe('');
    expect(p.siaddr).toBe('0.0.0.0');
    expect(p.options.bootfileName).toBeUndefined();
    expect(server.counters.notArmed).toBe(1);
  });

  it('does not answer an unknown MAC and records it as discovered', async () => {
    const { client, port, lookup, server } = await setup();
    const unknown = ipxeDiscover(UNKNOWN, { clientArch: [7] });
    unknown.xid = 99;
    await expectSilenceThenAnswer(client, port, unknown, pxeBiosDiscover(KNOWN));
    expect(lookup.discovered).toEqual([
      { mac: UNKNOWN, arch: 7, vendorClass: 'PXEClient:Arch:00000:UNDI:002001', uuid: '00000000-0000-4000-8000-525400000001', userClass: 'iPXE', relay: undefined },
    ]);
    expect(server.counters.unknownClients).toBe(1);
  });

  it('does not answer a known host without a reserved address', async () => {
    const { client, port, server } = await setup();
    const p = pxeBiosDiscover(NOIP);
    p.xid = 5;
    await expectSilenceThenAnswer(client, port, p, pxeBiosDiscover(KNOWN));
    expect(server.counters.noAddress).toBe(1);
  });

  it('answers INFORM by unicast to ciaddr without a lease, and RELEASE with silence', async () => {
    const { client, port, server } = await setup();
    client.send(ipxeDiscover(KNOWN, { messageType: 8 }, ), port);
    // ciaddr 0 INFORM is broadcast; with ciaddr it is unicast to ciaddr:clientPort (both 127.0.0.1 here)
    const inf = request(KNOWN, { messageType: 8, userClass: ['iPXE'], vendorClass: 'PXEClient' }, { ciaddr: '127.0.0.1', flags: 0 });
    client.send(inf, port);
    await client.next();
    const { p } = await client.next();
    expect(p.options.messageType).toBe(5);
    expect(p.ciaddr).toBe('127.0.0.1');
    expect(p.yiaddr).toBe('0.0.0.0');
    expect(p.options.leaseTime).toBeUndefined();
    expect(p.options.bootfileName).toMatch(/\.ipxe$/);
    const rel = request(KNOWN, { messageType: 7, serverId: '10.9.0.1' }, { ciaddr: '10.9.0.50' });
    rel.xid = 3;
    await expectSilenceThenAnswer(client, port, rel, pxeBiosDiscover(KNOWN));
    expect(server.counters.releases).toBe(1);
    expect(server.counters.informs).toBe(2);
  });

  it('replies to the relay (giaddr) and records the relay for unknown clients', async () => {
    const { client, relay, port, lookup } = await setup();
    client.send(pxeBiosDiscover(KNOWN, {}), port);
    await client.next();
    const relayed = pxeBiosDiscover(KNOWN);
    relayed.giaddr = '127.0.0.1';
    relayed.hops = 1;
    relay.send(relayed, port);
    const { p } = await relay.next();
    expect(p.giaddr).toBe('127.0.0.1');
    expect(p.yiaddr).toBe('10.9.0.50');
    const unknown = pxeBiosDiscover(UNKNOWN);
    unknown.giaddr = '127.0.0.1';
    unknown.xid = 4;
    relay.send(unknown, port);
    relay.send(relayed, port);
    expect((await relay.next()).p.xid).toBe(relayed.xid);
    expect(lookup.discovered[0]).toMatchObject({ mac: UNKNOWN, relay: '127.0.0.1', arch: 0 });
  });

  it('drops garbage and replies from other servers, then keeps working', async () => {
    const { client, port, server } = await setup();
    await expectSilenceThenAnswer(client, port, Buffer.from('hello'), pxeBiosDiscover(KNOWN));
    const reply = pxeBiosDiscover(KNOWN);
    reply.op = 2;
    reply.xid = 8;
    await expectSilenceThenAnswer(client, port, reply, pxeBiosDiscover(KNOWN));
    expect(server.counters.malformed).toBe(1);
    expect(server.counters.ignored).toBe(1);
    expect(server.counters.received).toBe(4);
  });
});

describe('DhcpServer proxy mode', () => {
  it('answers only PXE clients, with boot info and no address, and echoes the UUID', async () => {
    const { client, port, server } = await setup({ mode: 'proxy' });
    const plain = request(KNOWN, { messageType: 1 });
    plain.xid = 1;
    await expectSilenceThenAnswer(client, port, plain, pxeBiosDiscover(KNOWN));
    // the answer above is the proxy offer
    client.send(uefiFirmwareDiscover(KNOWN), port);
    const { p } = await client.next();
    expect(p.options.messageType).toBe(2);
    expect(p.yiaddr).toBe('0.0.0.0');
    expect(p.siaddr).toBe('10.9.0.1');
    expect(p.file).toBe('ipxe.efi');
    expect(p.options.leaseTime).toBeUndefined();
    expect(p.options.subnetMask).toBeUndefined();
    expect(p.options.vendorClass).toBe('PXEClient');
    expect(p.options.serverId).toBe('10.9.0.1');
    expect(p.options.uuid).toBe('00000000-0000-4000-8000-525400000002');
    expect(p.options.pxe?.get(6)).toEqual(Buffer.from([8]));
    expect(server.counters.ignored).toBe(1);
    expect(server.proxyPort).toBeGreaterThan(0);
  });

  it('answers a port-4011 REQUEST by unicast to the sender', async () => {
    const { client, server } = await setup({ mode: 'proxy' });
    const req = ipxeDiscover(KNOWN, { messageType: 3, serverId: '10.9.0.1' }, );
    req.ciaddr = '10.9.0.50';
    client.send(req, server.proxyPort!);
    const { p, from } = await client.next();
    expect(from.port).toBe(server.proxyPort);
    expect(p.options.messageType).toBe(5);
    expect(p.ciaddr).toBe('10.9.0.50');
    expect(p.options.bootfileName).toBe('http://10.9.0.1:8080/boot/52:54:00:00:00:11.ipxe');
    expect(p.options.ipxe?.get(176)).toEqual(Buffer.from([1]));
    expect(server.counters.proxyRequests).toBe(1);
  });

  it('leaves port-67 REQUESTs to the site server, even one naming our address', async () => {
    const { client, port, server } = await setup({ mode: 'proxy' });
    const req = pxeBiosDiscover(KNOWN, { messageType: 3, serverId: '10.9.0.1', requestedIp: '10.9.0.50' });
    req.xid = 6;
    await expectSilenceThenAnswer(client, port, req, pxeBiosDiscover(KNOWN));
    expect(server.counters.ignored).toBe(1);
  });

  it('can share its port with a site server on the same host (reuseAddr)', async () => {
    const a = await setup({ mode: 'proxy', reuseAddr: true });
    const b = new DhcpServer({ mode: 'reservation', reuseAddr: true, lookup: new FakeLookup(), listenAddress: '127.0.0.1', port: a.port, serverIp: '10.9.0.1', bootFiles: { bios: 'a', uefiX64: 'b' }, scriptUrl: 'x' });
    await b.start();
    cleanup.push(() => b.stop());
    expect(b.port).toBe(a.port);
  });

  it('stays silent for unarmed hosts and records unknown PXE clients', async () => {
    const { client, port, lookup, server } = await setup({ mode: 'proxy' });
    const un = pxeBiosDiscover(UNARMED);
    un.xid = 2;
    await expectSilenceThenAnswer(client, port, un, pxeBiosDiscover(KNOWN));
    const unk = pxeBiosDiscover(UNKNOWN);
    unk.xid = 3;
    await expectSilenceThenAnswer(client, port, unk, pxeBiosDiscover(KNOWN));
    expect(server.counters.notArmed).toBe(1);
    expect(lookup.discovered.map((d) => d.mac)).toEqual([UNKNOWN]);
  });
});

describe('DhcpServer and UEFI HTTP boot clients', () => {
  const bootFileUrl = 'http://{serverIp}:{port}/boot/files/{file}';

  it('reservation: an HTTPClient gets its lease, option 60 HTTPClient and the URL of ipxe.efi, nothing about TFTP', async () => {
    const { client, port, server } = await setup({ bootFileUrl });
    client.send(uefiHttpDiscover(KNOWN), port);
    const { p } = await client.next();
    expect(p.options.messageType).toBe(2);
    expect(p.yiaddr).toBe('10.9.0.50');
    expect(p.options.vendorClass).toBe('HTTPClient');
    expect(p.options.bootfileName).toBe('http://10.9.0.1:8080/boot/files/ipxe.efi');
    expect(p.file).toBe('http://10.9.0.1:8080/boot/files/ipxe.efi');
    expect(p.options.tftpServerName).toBeUndefined();
    expect(p.options.pxe).toBeUndefined();
    client.send(uefiHttpDiscover(KNOWN, { messageType: 3, requestedIp: '10.9.0.50', serverId: '10.9.0.1' }), port);
    const ack = (await client.next()).p;
    expect(ack.options.messageType).toBe(5);
    expect(ack.options).toMatchObject({ vendorClass: 'HTTPClient', bootfileName: 'http://10.9.0.1:8080/boot/files/ipxe.efi' });
    expect(server.counters).toMatchObject({ offers: 1, acks: 1 });
  });

  it('arm64 HTTP clients get the arm64 file when one is configured; other HTTP architectures and a missing URL get no boot file', async () => {
    const { client, port } = await setup({ bootFileUrl: (f) => `http://boot.example/${f}`, bootFiles: { bios: 'undionly.kpxe', uefiX64: 'ipxe.efi', arm64: 'snp-arm64.efi' } });
    client.send(uefiHttpDiscover(KNOWN, { clientArch: [19], vendorClass: 'HTTPClient:Arch:00019:UNDI:003000' }), port);
    expect((await client.next()).p.options.bootfileName).toBe('http://boot.example/snp-arm64.efi');
    client.send(uefiHttpDiscover(KNOWN, { clientArch: [15], vendorClass: 'HTTPClient:Arch:00015:UNDI:003000' }), port);
    const ia32 = (await client.next()).p; // still the lease, but no boot file: the firmware moves on
    expect(ia32.yiaddr).toBe('10.9.0.50');
    expect(ia32.options.bootfileName).toBeUndefined();
    expect(ia32.options.vendorClass).toBeUndefined();
    const plain = await setup();
    plain.client.send(uefiHttpDiscover(KNOWN), plain.port);
    expect((await plain.client.next()).p.options.bootfileName).toBeUndefined();
  });

  it('proxy: an armed HTTPClient gets a proxy offer with HTTPClient and the URL, no address, no PXE option 43', async () => {
    const { client, port } = await setup({ mode: 'proxy', bootFileUrl });
    client.send(uefiHttpDiscover(KNOWN), port);
    const { p } = await client.next();
    expect(p.yiaddr).toBe('0.0.0.0');
    expect(p.options.vendorClass).toBe('HTTPClient');
    expect(p.options.bootfileName).toBe('http://10.9.0.1:8080/boot/files/ipxe.efi');
    expect(p.options.pxe).toBeUndefined();
    expect(p.options.leaseTime).toBeUndefined();
  });
});

describe('DhcpServer boot events (the per-host boot history)', () => {
  it('reports each known host exchange with what was asked and answered, and an unknown MAC once per interval', async () => {
    const events: BootEvent[] = [];
    const { client, port } = await setup({ onBootEvent: (e) => void events.push(e) });
    client.send(pxeBiosDiscover(KNOWN), port);
    await client.next();
    client.send(request(KNOWN, { messageType: 3, requestedIp: '10.9.0.50', serverId: '10.9.0.1', clientArch: [0], vendorClass: 'PXEClient:Arch:00000:UNDI:002001' }), port);
    await client.next();
    client.send(request(KNOWN, { messageType: 3, requestedIp: '10.9.0.99' }), port); // a stale address: NAK
    await client.next();
    client.send(ipxeDiscover(KNOWN), port);
    await client.next();
    for (let i = 0; i < 3; i++) client.send(pxeBiosDiscover(UNKNOWN), port);
    const noip = pxeBiosDiscover(NOIP);
    noip.xid = 4;
    await expectSilenceThenAnswer(client, port, noip, pxeBiosDiscover(KNOWN));
    const seen = events.map(({ kind, mac, ip, detail }) => ({ kind, mac, ip, detail }));
    expect(seen).toEqual([
      { kind: 'dhcp-offer', mac: KNOWN, ip: '10.9.0.50', detail: 'DISCOVER arch 0 PXEClient → 10.9.0.50, tftp:undionly.kpxe' },
      { kind: 'dhcp-ack', mac: KNOWN, ip: '10.9.0.50', detail: 'REQUEST arch 0 PXEClient → 10.9.0.50, tftp:undionly.kpxe' },
      { kind: 'dhcp-nak', mac: KNOWN, ip: '10.9.0.99', detail: 'REQUEST arch - → requested 10.9.0.99, reserved 10.9.0.50' },
      { kind: 'dhcp-offer', mac: KNOWN, ip: '10.9.0.50', detail: 'DISCOVER arch 0 PXEClient iPXE → 10.9.0.50, script:http://10.9.0.1:8080/boot/52:54:00:00:00:11.ipxe' },
      { kind: 'dhcp-discovered', mac: UNKNOWN, ip: '0.0.0.0', detail: 'DISCOVER arch 0 PXEClient → not in the inventory: no answer' },
      { kind: 'dhcp-ignored', mac: NOIP, ip: '0.0.0.0', detail: 'DISCOVER arch 0 PXEClient → no reserved IPv4 address' },
      { kind: 'dhcp-offer', mac: KNOWN, ip: '10.9.0.50', detail: 'DISCOVER arch 0 PXEClient → 10.9.0.50, tftp:undionly.kpxe' },
    ]);
    expect(events.every((e) => Number.isInteger(e.at) && e.at > 0)).toBe(true);
  });

  it('proxy mode reports an unarmed host left to its disk; a sink that throws never stops an answer', async () => {
    const events: BootEvent[] = [];
    const { client, port, server } = await setup({
      mode: 'proxy',
      onBootEvent: (e) => {
        events.push(e);
        throw new Error('history store is down');
      },
    });
    const un = pxeBiosDiscover(UNARMED);
    un.xid = 2;
    await expectSilenceThenAnswer(client, port, un, uefiFirmwareDiscover(KNOWN));
    expect(events.map((e) => [e.kind, e.mac, e.detail])).toEqual([
      ['dhcp-ignored', UNARMED, 'DISCOVER arch 0 PXEClient → proxy mode: netboot not armed, boots from disk'],
      ['dhcp-offer', KNOWN, 'DISCOVER arch 7 PXEClient → proxy, tftp:ipxe.efi'],
    ]);
    expect(server.counters.handlerErrors).toBe(2);
    expect(server.counters.offers).toBe(1);
  });
});

describe('DhcpServer lifecycle', () => {
  it('mode off binds nothing', async () => {
    const s = new DhcpServer({ mode: 'off', lookup: new FakeLookup(), serverIp: '10.0.0.1', bootFiles: { bios: 'a', uefiX64: 'b' }, scriptUrl: 'x' });
    await s.start();
    expect(s.port).toBeUndefined();
    await s.stop();
  });

  it('rejects a bad mode or serverIp, and an explicit undefined does not override a default', () => {
    const base = { lookup: new FakeLookup(), bootFiles: { bios: 'a', uefiX64: 'b' }, scriptUrl: 'x' };
    expect(() => new DhcpServer({ ...base, mode: 'bogus' as 'off', serverIp: '10.0.0.1' })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => new DhcpServer({ ...base, mode: 'proxy', serverIp: 'host.example' })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    const s = new DhcpServer({ ...base, mode: 'reservation', serverIp: '10.0.0.1', port: undefined, leaseSeconds: undefined });
    expect((s as unknown as { o: { port: number; leaseSeconds: number } }).o).toMatchObject({ port: 67, leaseSeconds: 3600 });
  });

  it('start fails with BOOT_ERROR when the port is taken', async () => {
    const { port } = await setup();
    const s = new DhcpServer({ mode: 'reservation', lookup: new FakeLookup(), listenAddress: '127.0.0.1', port, serverIp: '10.0.0.1', bootFiles: { bios: 'a', uefiX64: 'b' }, scriptUrl: 'x' });
    await expect(s.start()).rejects.toMatchObject({ code: 'BOOT_ERROR' });
  });
});

describe('DhcpServer under faults and floods', () => {
  const logLines = () => {
    const lines: Array<{ level: string; msg?: string; obj: Record<string, unknown> }> = [];
    const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, msg, obj: obj as Record<string, unknown> });
    return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
  };

  it('a lookup or logger that throws costs one datagram, is counted, and the next client is answered', async () => {
    const explode = () => {
      throw new TypeError('exploded');
    };
    // info works (the offer below logs there); every other level throws.
    const { client, port, lookup, server } = await setup({ logger: { debug: explode, info: () => {}, warn: explode, error: explode } });
    const original = lookup.findByMac.bind(lookup);
    lookup.findByMac = (mac: string) => {
      if (mac === UNKNOWN) throw new Error('database is locked');
      return original(mac);
    };
    const bad = pxeBiosDiscover(UNKNOWN);
    bad.xid = 11;
    client.send(bad, port); // the lookup throws, then the logger reporting it throws too
    client.send(Buffer.from('garbage'), port); // malformed: the debug line throws
    await expectSilenceThenAnswer(client, port, Buffer.from('more garbage'), pxeBiosDiscover(KNOWN));
    expect(server.counters.handlerErrors).toBe(3); // the lookup, and the debug lines of both malformed datagrams
    expect(server.counters.malformed).toBe(2);
    expect(server.counters.offers).toBe(1);
  });

  it('unknown MACs: first request recorded at once, repeats summed per interval, new MACs beyond the budget dropped, one summary line', async () => {
    const { lines, logger } = logLines();
    const { client, port, lookup, server } = await setup({ logger, maxNewDiscoveredPerInterval: 3, discoveredIntervalMs: 60_000 });
    const macs = Array.from({ length: 10 }, (_, i) => `02:00:00:00:01:${i.toString(16).padStart(2, '0')}`);
    for (let round = 0; round < 4; round++) {
      for (const [i, mac] of macs.entries()) {
        const p = pxeBiosDiscover(mac);
        p.xid = round * 100 + i;
        client.send(p, port);
      }
    }
    await expectSilenceThenAnswer(client, port, Buffer.from('x'), pxeBiosDiscover(KNOWN));
    expect(lookup.discovered.map((d) => d.mac)).toEqual(macs.slice(0, 3)); // first sightings only, so far
    expect(server.counters.unknownClients).toBe(40);
    expect(server.counters.discoveredDropped).toBe(28);
    expect(lines.filter((l) => l.msg?.includes('MACs not in the inventory'))).toHaveLength(0);
    await server.stop(); // ends the interval
    expect(lookup.discovered.slice(3)).toEqual(macs.slice(0, 3).map((mac) => expect.objectContaining({ mac, seen: 3 })));
    const summaries = lines.filter((l) => l.msg?.includes('MACs not in the inventory'));
    expect(summaries).toHaveLength(1);
    expect(summaries[0].obj).toMatchObject({ macs: 3, requests: 12, dropped: 28, sample: macs.slice(0, 3) });
  });
});
