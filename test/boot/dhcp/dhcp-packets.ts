// Test fixtures: DHCP client requests shaped like the ones real PXE firmware and iPXE send.

import { macToChaddr, serializeDhcpPacket, type DhcpOptions, type DhcpPacket } from '../../../src/boot/dhcp/dhcp-codec.js';

/** Intel PXE 2.1 ROM (PXE-era parameter request list, incl. 128-135 PXE options). */
export const PXE_ROM_PRL = [1, 2, 3, 4, 5, 6, 11, 12, 13, 15, 16, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135];
/** iPXE's parameter request list. */
export const IPXE_PRL = [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203];

export function request(mac: string, options: DhcpOptions, over: Partial<DhcpPacket> = {}): DhcpPacket {
  return {
    op: 1,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 0x1234abcd,
    secs: 4,
    flags: 0x8000,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr: macToChaddr(mac),
    sname: '',
    file: '',
    options,
    ...over,
  };
}

/** A BIOS firmware PXE DISCOVER (arch 0, UNDI 2.1, no user-class). */
export function pxeBiosDiscover(mac: string, extra: DhcpOptions = {}): DhcpPacket {
  return request(mac, {
    messageType: 1,
    maxMessageSize: 1260,
    parameterRequestList: PXE_ROM_PRL,
    clientArch: [0],
    clientNdi: { type: 1, major: 2, minor: 1 },
    vendorClass: 'PXEClient:Arch:00000:UNDI:002001',
    uuid: '4c4c4544-0042-3510-8052-b4c04f4b4d32',
    ...extra,
  });
}

/** OVMF's own PXE (arch 7, UNDI 3.0). */
export function uefiFirmwareDiscover(mac: string, extra: DhcpOptions = {}): DhcpPacket {
  return request(mac, {
    messageType: 1,
    maxMessageSize: 1472,
    parameterRequestList: [1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135],
    clientArch: [7],
    clientNdi: { type: 1, major: 3, minor: 0 },
    vendorClass: 'PXEClient:Arch:00007:UNDI:003000',
    uuid: '00000000-0000-4000-8000-525400000002',
    ...extra,
  });
}

/** OVMF's UEFI HTTP boot (arch 16, vendor class HTTPClient), as captured from Debian 12's OVMF with PXE disabled. */
export function uefiHttpDiscover(mac: string, extra: DhcpOptions = {}): DhcpPacket {
  return request(mac, {
    messageType: 1,
    maxMessageSize: 1472,
    parameterRequestList: [1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 235, 67, 97],
    clientArch: [16],
    clientNdi: { type: 1, major: 3, minor: 0 },
    vendorClass: 'HTTPClient:Arch:00016:UNDI:003000',
    uuid: '00000000-0000-4000-8000-525400000003',
    ...extra,
  });
}

/** iPXE (BIOS e1000 ROM): plain user-class "iPXE", encapsulated 175 feature flags, client-id. */
export function ipxeDiscover(mac: string, extra: DhcpOptions = {}): DhcpPacket {
  return request(mac, {
    messageType: 1,
    maxMessageSize: 1472,
    parameterRequestList: IPXE_PRL,
    clientArch: [0],
    clientNdi: { type: 1, major: 2, minor: 1 },
    vendorClass: 'PXEClient:Arch:00000:UNDI:002001',
    userClass: ['iPXE'],
    userClassFormat: 'plain',
    clientId: Buffer.concat([Buffer.from([1]), macToChaddr(mac).subarray(0, 6)]),
    ipxe: new Map([
      [177, Buffer.from([1, 0x80, 0x86, 0x10, 0x0e])], // bus id
      [16, Buffer.from([1])], // PXE extension
      [19, Buffer.from([1])], // HTTP
      [21, Buffer.from([1])], // bzImage
      [235, Buffer.from([1, 21, 1])], // version 1.21.1
    ]),
    uuid: '00000000-0000-4000-8000-525400000001',
    ...extra,
  });
}

export function bytes(p: DhcpPacket): Buffer {
  return serializeDhcpPacket(p);
}
