// DHCP codec: round trips, the option forms real clients send, and fuzzing (only DhcpDecodeError may escape).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DHCP_MIN_PACKET_LENGTH,
  DhcpDecodeError,
  macOf,
  parseDhcpPacket,
  serializeDhcpPacket,
  type DhcpPacket,
} from '../../../src/boot/dhcp/dhcp-codec.js';
import { CAPTURED } from './captured-packets.js';
import { bytes, ipxeDiscover, IPXE_PRL, pxeBiosDiscover, PXE_ROM_PRL, request, uefiFirmwareDiscover } from './dhcp-packets.js';

const MAC = '52:54:00:ab:cd:ef';

function roundTrip(p: DhcpPacket): DhcpPacket {
  return parseDhcpPacket(serializeDhcpPacket(p));
}

describe('dhcp codec', () => {
  it('round-trips a firmware PXE DISCOVER with every client option', () => {
    const p = pxeBiosDiscover(MAC, { requestedIp: '10.0.0.9', hostname: 'node1' });
    const q = roundTrip(p);
    expect(macOf(q)).toBe(MAC);
    expect(q.xid).toBe(0x1234abcd);
    expect(q.flags).toBe(0x8000);
    expect(q.options).toMatchObject({
      messageType: 1,
      maxMessageSize: 1260,
      parameterRequestList: PXE_ROM_PRL,
      clientArch: [0],
      clientNdi: { type: 1, major: 2, minor: 1 },
      vendorClass: 'PXEClient:Arch:00000:UNDI:002001',
      uuid: '4c4c4544-0042-3510-8052-b4c04f4b4d32',
      requestedIp: '10.0.0.9',
      hostname: 'node1',
    });
  });

  it('decodes packets captured from SeaBIOS/iPXE, OVMF PXE and iPXE EFI', () => {
    const bios = parseDhcpPacket(CAPTURED.biosIpxeDiscover);
    expect(macOf(bios)).toBe('52:54:00:d5:00:01');
    expect(bios.options).toMatchObject({
      messageType: 1,
      maxMessageSize: 1472,
      clientArch: [0],
      clientNdi: { type: 1, major: 2, minor: 1 },
      vendorClass: 'PXEClient:Arch:00000:UNDI:002001',
      userClass: ['iPXE'],
      userClassFormat: 'plain',
      uuid: '00000000-0000-4000-8000-525400d50001',
    });
    expect(bios.options.parameterRequestList).toContain(175);
    expect(bios.options.ipxe?.get(235)).toBeDefined(); // iPXE version
    expect(parseDhcpPacket(CAPTURED.biosIpxeRequest).options).toMatchObject({ messageType: 3, requestedIp: '10.213.196.50', serverId: '10.213.196.1' });
    const ovmf = parseDhcpPacket(CAPTURED.ovmfDiscover);
    expect(ovmf.options).toMatchObject({ messageType: 1, clientArch: [7], vendorClass: 'PXEClient:Arch:00007:UNDI:003000' });
    expect(ovmf.options.userClass).toBeUndefined();
    expect(ovmf.options.parameterRequestList).toEqual([1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135]);
    expect(parseDhcpPacket(CAPTURED.ovmfRequest).options).toMatchObject({ messageType: 3, maxMessageSize: 0xff00 });
    expect(parseDhcpPacket(CAPTURED.uefiIpxeDiscover).options).toMatchObject({ clientArch: [7], userClass: ['iPXE'], vendorClass: 'PXEClient:Arch:00007:UNDI:003010' });
  });

  it('reads iPXE plain user-class, option 175 and client-id', () => {
    const q = roundTrip(ipxeDiscover(MAC));
    expect(q.options.userClass).toEqual(['iPXE']);
    expect(q.options.userClassFormat).toBe('plain');
    expect(q.options.parameterRequestList).toEqual(IPXE_PRL);
    expect(q.options.ipxe?.get(235)).toEqual(Buffer.from([1, 21, 1]));
    expect(q.options.clientId).toEqual(Buffer.from([1, 0x52, 0x54, 0, 0xab, 0xcd, 0xef]));
  });

  it('reads RFC 3004 user-class with several instances', () => {
    const q = roundTrip(request(MAC, { messageType: 1, userClass: ['iPXE', 'rack-7'], userClassFormat: 'rfc3004' }));
    expect(q.options.userClass).toEqual(['iPXE', 'rack-7']);
    expect(q.options.userClassFormat).toBe('rfc3004');
  });

  it('round-trips a server reply with all reply options and pads it to 300 bytes', () => {
    const reply = request(
      MAC,
      {
        messageType: 5,
        serverId: '10.213.0.1',
        leaseTime: 3600,
        renewalTime: 1800,
        rebindingTime: 3150,
        subnetMask: '255.255.255.0',
        routers: ['10.213.0.254'],
        dnsServers: ['10.213.0.53', '10.213.0.54'],
        hostname: 'web-01',
        domainName: 'dc1.example',
        tftpServerName: '10.213.0.1',
        bootfileName: 'undionly.kpxe',
        vendorClass: 'PXEClient',
        pxe: new Map([[6, Buffer.from([8])]]),
        ipxe: new Map([[176, Buffer.from([1])]]),
        overload: 0,
        message: 'hi',
      },
      { op: 2, yiaddr: '10.213.0.50', siaddr: '10.213.0.1', file: 'undionly.kpxe', sname: 'boot' },
    );
    const buf = serializeDhcpPacket(reply);
    expect(buf.length).toBeGreaterThanOrEqual(DHCP_MIN_PACKET_LENGTH);
    const q = parseDhcpPacket(buf);
    expect(q.op).toBe(2);
    expect(q.yiaddr).toBe('10.213.0.50');
    expect(q.siaddr).toBe('10.213.0.1');
    expect(q.file).toBe('undionly.kpxe');
    expect(q.sname).toBe('boot');
    const { pxe, ipxe, vendorSpecific, ...rest } = q.options;
    expect(rest).toMatchObject({
      messageType: 5,
      serverId: '10.213.0.1',
      leaseTime: 3600,
      renewalTime: 1800,
      rebindingTime: 3150,
      subnetMask: '255.255.255.0',
      routers: ['10.213.0.254'],
      dnsServers: ['10.213.0.53', '10.213.0.54'],
      hostname: 'web-01',
      domainName: 'dc1.example',
      tftpServerName: '10.213.0.1',
      bootfileName: 'undionly.kpxe',
      overload: 0,
      message: 'hi',
    });
    expect(vendorSpecific).toEqual(Buffer.from([6, 1, 8, 255]));
    expect(pxe?.get(6)).toEqual(Buffer.from([8]));
    expect(ipxe?.get(176)).toEqual(Buffer.from([1]));
    // 176 = 1 is encoded inside 175 exactly as iPXE expects: 175, 4, 176, 1, 1, 255.
    expect(buf.includes(Buffer.from([175, 4, 176, 1, 1, 255]))).toBe(true);
  });

  it('splits and re-joins values over 255 bytes (RFC 3396)', () => {
    const url = `http://10.0.0.1:8080/boot/${'x'.repeat(400)}.ipxe`;
    const q = roundTrip(request(MAC, { messageType: 2, bootfileName: url }));
    expect(q.options.bootfileName).toBe(url);
  });

  it('skips PAD, stops at END, ignores trailing bytes, keeps unknown options', () => {
    const base = bytes(request(MAC, { messageType: 1 })).subarray(0, 240);
    const opts = Buffer.from([0, 0, 53, 1, 3, 0, 224, 2, 0xaa, 0xbb, 52, 1, 3, 255, 99, 99, 99]);
    const q = parseDhcpPacket(Buffer.concat([base, opts]));
    expect(q.options.messageType).toBe(3);
    expect(q.options.overload).toBe(3);
    expect(q.options.extra).toEqual([[224, Buffer.from([0xaa, 0xbb])]]);
  });

  it('tolerates NUL-terminated strings, odd option 97 and unparsable 43/175', () => {
    const base = bytes(request(MAC, {})).subarray(0, 240);
    const opts = Buffer.from([60, 10, ...Buffer.from('PXEClient'), 0, 97, 3, 1, 2, 3, 43, 2, 1, 9, 175, 1, 5, 255]);
    const q = parseDhcpPacket(Buffer.concat([base, opts]));
    expect(q.options.vendorClass).toBe('PXEClient');
    expect(q.options.uuid).toBeUndefined();
    expect(q.raw?.get(97)).toEqual(Buffer.from([1, 2, 3]));
    expect(q.options.vendorSpecific).toEqual(Buffer.from([1, 9]));
    expect(q.options.pxe).toBeUndefined();
    expect(q.options.ipxe).toBeUndefined();
  });

  it('reads option 97 as a GUID (first three fields little-endian on the wire)', () => {
    const base = bytes(request(MAC, {})).subarray(0, 240);
    const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const q = parseDhcpPacket(Buffer.concat([base, Buffer.from([97, 17, 0]), guid, Buffer.from([255])]));
    expect(q.options.uuid).toBe('33221100-5544-7766-8899-aabbccddeeff');
    expect(serializeDhcpPacket(q).includes(Buffer.concat([Buffer.from([97, 17, 0]), guid]))).toBe(true);
  });

  it.each([
    ['too short', Buffer.alloc(239)],
    ['bad cookie', Buffer.alloc(300)],
    ['option without length', Buffer.concat([bytes(request(MAC, {})).subarray(0, 240), Buffer.from([53])])],
    ['option past end', Buffer.concat([bytes(request(MAC, {})).subarray(0, 240), Buffer.from([53, 5, 1])])],
    ['bad option 53 length', Buffer.concat([bytes(request(MAC, {})).subarray(0, 240), Buffer.from([53, 2, 1, 1, 255])])],
    ['bad option 54 length', Buffer.concat([bytes(request(MAC, {})).subarray(0, 240), Buffer.from([54, 3, 1, 1, 1, 255])])],
    ['odd option 93', Buffer.concat([bytes(request(MAC, {})).subarray(0, 240), Buffer.from([93, 3, 0, 0, 7, 255])])],
  ])('rejects %s with DhcpDecodeError', (_name, buf) => {
    expect(() => parseDhcpPacket(buf)).toThrow(DhcpDecodeError);
    try {
      parseDhcpPacket(buf);
    } catch (e) {
      expect((e as DhcpDecodeError).code).toBe('INVALID_INPUT');
    }
  });
});

// ---------------------------------------------------------------- fuzz

function onlyTypedErrors(buf: Buffer): void {
  try {
    parseDhcpPacket(buf);
  } catch (e) {
    if (!(e instanceof DhcpDecodeError)) throw e;
  }
}

const realPackets = [
  ...Object.values(CAPTURED),
  bytes(pxeBiosDiscover(MAC, { requestedIp: '10.213.0.50' })),
  bytes(uefiFirmwareDiscover(MAC, { requestedIp: '10.213.0.50', serverId: '10.213.0.1', messageType: 3 })),
  bytes(ipxeDiscover(MAC)),
  bytes(request(MAC, { messageType: 1, userClass: ['iPXE', 'x'], userClassFormat: 'rfc3004', clientArch: [9, 7] })),
];

const ipArb = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
const strArb = fc.string({ minLength: 1, maxLength: 40, unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) });
const packetArb: fc.Arbitrary<DhcpPacket> = fc.record({
  op: fc.constantFrom(1, 2),
  htype: fc.constant(1),
  hlen: fc.constant(6),
  hops: fc.nat(255),
  xid: fc.nat(0xffffffff),
  secs: fc.nat(0xffff),
  flags: fc.nat(0xffff),
  ciaddr: ipArb,
  yiaddr: ipArb,
  siaddr: ipArb,
  giaddr: ipArb,
  chaddr: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)),
  sname: fc.string({ maxLength: 63, unit: fc.integer({ min: 1, max: 0x7e }).map((c) => String.fromCharCode(c)) }),
  file: fc.string({ maxLength: 127, unit: fc.integer({ min: 1, max: 0x7e }).map((c) => String.fromCharCode(c)) }),
  options: fc.record(
    {
      messageType: fc.integer({ min: 1, max: 8 }),
      requestedIp: ipArb,
      serverId: ipArb,
      leaseTime: fc.nat(0xffffffff),
      maxMessageSize: fc.integer({ min: 576, max: 0xffff }),
      parameterRequestList: fc.array(fc.integer({ min: 1, max: 254 }), { minLength: 1, maxLength: 60 }),
      vendorClass: strArb,
      hostname: strArb,
      userClass: fc.array(strArb, { minLength: 1, maxLength: 3 }),
      clientArch: fc.array(fc.nat(0xffff), { minLength: 1, maxLength: 3 }),
      clientNdi: fc.record({ type: fc.nat(255), major: fc.nat(255), minor: fc.nat(255) }),
      uuid: fc.uuid(),
      routers: fc.array(ipArb, { minLength: 1, maxLength: 3 }),
      bootfileName: fc.string({ minLength: 1, maxLength: 600 }).map((s) => s.replace(/[^\x20-\x7e]/g, 'a') || 'a'),
    },
    { requiredKeys: [] },
  ),
});

describe('dhcp codec fuzz', () => {
  it('round-trips arbitrary packets', () => {
    fc.assert(
      fc.property(packetArb, (p) => {
        const q = roundTrip(p);
        expect({ ...q, raw: undefined, options: { ...q.options, userClassFormat: undefined } }).toEqual({
          ...p,
          raw: undefined,
          options: { ...p.options, userClassFormat: undefined },
        });
      }),
      { numRuns: 3000 },
    );
  });

  it('random datagrams throw only DhcpDecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (a) => onlyTypedErrors(Buffer.from(a))),
      { numRuns: 5000 },
    );
  });

  it('random option areas behind a valid header throw only DhcpDecodeError', () => {
    const head = realPackets[0].subarray(0, 240);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (a) => onlyTypedErrors(Buffer.concat([head, Buffer.from(a)]))),
      { numRuns: 10000 },
    );
  });

  it('every truncation of real PXE/iPXE packets throws only DhcpDecodeError', () => {
    let n = 0;
    for (const p of realPackets) {
      for (let len = 0; len <= p.length; len++) {
        onlyTypedErrors(p.subarray(0, len));
        n++;
      }
    }
    expect(n).toBeGreaterThan(1000);
  });

  it('byte-mutated real PXE/iPXE packets (options 50/60/93/94/97/77/55) throw only DhcpDecodeError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...realPackets),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 12 }),
        fc.option(fc.nat(), { nil: undefined }),
        (p, edits, cut) => {
          const b = Buffer.from(p);
          for (const [pos, val] of edits) b[240 + (pos % (b.length - 240))] = val;
          onlyTypedErrors(cut === undefined ? b : b.subarray(0, cut % (b.length + 1)));
        },
      ),
      { numRuns: 10000 },
    );
  });
});
