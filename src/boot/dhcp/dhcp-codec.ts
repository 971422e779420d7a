// DHCP/BOOTP wire format (RFC 2131/2132, RFC 3004, RFC 3396, RFC 4578, PXE and iPXE options): pure parse and serialize.

import { RackhandError } from '../../errors.js';

export const DHCP_MAGIC_COOKIE = 0x63825363;
/** Fixed BOOTP header (236) + magic cookie (4). */
export const DHCP_HEADER_LENGTH = 240;
/** RFC 1542: some relays and old clients drop anything shorter. */
export const DHCP_MIN_PACKET_LENGTH = 300;

export const DhcpMessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type DhcpMessageTypeName = keyof typeof DhcpMessageType;

/** Option codes this codec understands by name. */
export const DhcpOption = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTERS: 3,
  DNS_SERVERS: 6,
  HOSTNAME: 12,
  DOMAIN_NAME: 15,
  VENDOR_SPECIFIC: 43,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER_NAME: 66,
  BOOTFILE_NAME: 67,
  USER_CLASS: 77,
  CLIENT_ARCH: 93,
  CLIENT_NDI: 94,
  CLIENT_UUID: 97,
  IPXE_ENCAP: 175,
  END: 255,
} as const;

/** iPXE encapsulated option 175 sub-option that tells iPXE not to wait for proxyDHCP. */
export const IPXE_NO_PXEDHCP = 176;
/** PXE vendor option 43 sub-option: discovery control (bit 3 = boot file in this packet, just download it). */
export const PXE_DISCOVERY_CONTROL = 6;

/** Every `decode` failure: callers catch exactly this (a bad datagram is counted and dropped). */
export class DhcpDecodeError extends RackhandError {
  constructor(reason: string, offset?: number) {
    super('INVALID_INPUT', `malformed DHCP packet: ${reason}`, offset === undefined ? { reason } : { reason, offset });
    this.name = 'DhcpDecodeError';
  }
}

export interface DhcpOptions {
  messageType?: number; // 53
  subnetMask?: string; // 1
  routers?: string[]; // 3
  dnsServers?: string[]; // 6
  hostname?: string; // 12
  domainName?: string; // 15
  vendorSpecific?: Buffer; // 43, raw (used on encode when `pxe` is absent)
  pxe?: Map<number, Buffer>; // 43 as PXE sub-options, when it parses as TLVs
  requestedIp?: string; // 50
  leaseTime?: number; // 51, seconds
  overload?: number; // 52 (sname/file carrying options is not decoded)
  serverId?: string; // 54
  parameterRequestList?: number[]; // 55
  message?: string; // 56
  maxMessageSize?: number; // 57
  renewalTime?: number; // 58
  rebindingTime?: number; // 59
  vendorClass?: string; // 60
  clientId?: Buffer; // 61
  tftpServerName?: string; // 66
  bootfileName?: string; // 67
  userClass?: string[]; // 77
  /** 77 as iPXE sends it (the bare string) instead of RFC 3004 length-prefixed instances. */
  userClassFormat?: 'rfc3004' | 'plain';
  clientArch?: number[]; // 93, RFC 4578 architecture types
  clientNdi?: { type: number; major: number; minor: number }; // 94
  uuid?: string; // 97 (type 0): a GUID, first three fields little-endian on the wire; shown as dmidecode/the BMC show it
  ipxe?: Map<number, Buffer>; // 175 encapsulated iPXE options
  /** Options not listed above, in order, written as-is on encode. */
  extra?: Array<[number, Buffer]>;
}

export interface DhcpPacket {
  op: number; // 1 BOOTREQUEST, 2 BOOTREPLY
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number; // bit 15 = broadcast
  ciaddr: string;
  yiaddr: string;
  siaddr: string; // next-server
  giaddr: string; // relay agent
  chaddr: Buffer; // 16 bytes
  sname: string;
  file: string;
  options: DhcpOptions;
  /** Decoded packets only: every option as received (RFC 3396 concatenated), for logging and tests. */
  raw?: Map<number, Buffer>;
}

export const BROADCAST_FLAG = 0x8000;

/** chaddr as aa:bb:cc:dd:ee:ff (hlen bytes, lower-case). */
export function macOf(p: Pick<DhcpPacket, 'chaddr' | 'hlen'>): string {
  const n = Math.min(p.hlen, 16);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(p.chaddr[i].toString(16).padStart(2, '0'));
  return parts.join(':');
}

export function macToChaddr(mac: string): Buffer {
  const b = Buffer.alloc(16);
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || parts.some((x) => !/^[0-9a-fA-F]{2}$/.test(x))) {
    throw new RackhandError('INVALID_INPUT', `bad MAC address ${JSON.stringify(mac)}`);
  }
  parts.forEach((x, i) => (b[i] = parseInt(x, 16)));
  return b;
}

// ---------------------------------------------------------------- decode

function ipAt(buf: Buffer, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/** NUL-terminated (or full-width) latin1 field. */
function cString(buf: Buffer, start: number, end: number): string {
  let stop = start;
  while (stop < end && buf[stop] !== 0) stop++;
  return buf.toString('latin1', start, stop);
}

/** Option strings: some firmware NUL-terminates them; the NUL is not part of the value. */
function optString(v: Buffer): string {
  let end = v.length;
  while (end > 0 && v[end - 1] === 0) end--;
  return v.toString('latin1', 0, end);
}

function need(code: number, v: Buffer, ok: boolean, what: string): void {
  if (!ok) throw new DhcpDecodeError(`option ${code}: ${what}, got ${v.length} bytes`);
}

function ipOpt(code: number, v: Buffer): string {
  need(code, v, v.length === 4, 'want 4 bytes');
  return ipAt(v, 0);
}

function ipListOpt(code: number, v: Buffer): string[] {
  need(code, v, v.length > 0 && v.length % 4 === 0, 'want a multiple of 4 bytes');
  const out: string[] = [];
  for (let i = 0; i < v.length; i += 4) out.push(ipAt(v, i));
  return out;
}

function u8Opt(code: number, v: Buffer): number {
  need(code, v, v.length === 1, 'want 1 byte');
  return v[0];
}

function u16Opt(code: number, v: Buffer): number {
  need(code, v, v.length === 2, 'want 2 bytes');
  return v.readUInt16BE(0);
}

function u32Opt(code: number, v: Buffer): number {
  need(code, v, v.length === 4, 'want 4 bytes');
  return v.readUInt32BE(0);
}

/** Encapsulated TLVs (43, 175); undefined when the bytes are not a clean TLV list (vendor-defined content). */
function parseSubOptions(v: Buffer): Map<number, Buffer> | undefined {
  const out = new Map<number, Buffer>();
  let i = 0;
  while (i < v.length) {
    const code = v[i];
    if (code === 0) {
      i++;
      continue;
    }
    if (code === 255) return out;
    if (i + 1 >= v.length) return undefined;
    const len = v[i + 1];
    if (i + 2 + len > v.length) return undefined;
    out.set(code, Buffer.from(v.subarray(i + 2, i + 2 + len)));
    i += 2 + len;
  }
  return out;
}

/** RFC 3004 instances when the length bytes tile the value exactly; otherwise iPXE's bare string. */
function parseUserClass(v: Buffer): { classes: string[]; format: 'rfc3004' | 'plain' } {
  const classes: string[] = [];
  let i = 0;
  while (i < v.length) {
    const len = v[i];
    if (len === 0 || i + 1 + len > v.length) return { classes: [optString(v)], format: 'plain' };
    classes.push(v.toString('latin1', i + 1, i + 1 + len));
    i += 1 + len;
  }
  if (classes.length === 0) return { classes: [], format: 'plain' };
  return { classes, format: 'rfc3004' };
}

/** Swap the GUID's first three fields between wire (little-endian) and display order; its own inverse. */
function swapGuid(b: Buffer): Buffer {
  const o = Buffer.from(b);
  o.subarray(0, 4).reverse();
  o.subarray(4, 6).reverse();
  o.subarray(6, 8).reverse();
  return o;
}

function formatUuid(wire: Buffer): string {
  const h = swapGuid(wire).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function decodeOptions(raw: Map<number, Buffer>): DhcpOptions {
  const o: DhcpOptions = {};
  const extra: Array<[number, Buffer]> = [];
  for (const [code, v] of raw) {
    switch (code) {
      case DhcpOption.SUBNET_MASK: o.subnetMask = ipOpt(code, v); break;
      case DhcpOption.ROUTERS: o.routers = ipListOpt(code, v); break;
      case DhcpOption.DNS_SERVERS: o.dnsServers = ipListOpt(code, v); break;
      case DhcpOption.HOSTNAME: o.hostname = optString(v); break;
      case DhcpOption.DOMAIN_NAME: o.domainName = optString(v); break;
      case DhcpOption.VENDOR_SPECIFIC: {
        o.vendorSpecific = v;
        const sub = parseSubOptions(v);
        if (sub) o.pxe = sub;
        break;
      }
      case DhcpOption.REQUESTED_IP: o.requestedIp = ipOpt(code, v); break;
      case DhcpOption.LEASE_TIME: o.leaseTime = u32Opt(code, v); break;
      case DhcpOption.OVERLOAD: o.overload = u8Opt(code, v); break;
      case DhcpOption.MESSAGE_TYPE: o.messageType = u8Opt(code, v); break;
      case DhcpOption.SERVER_ID: o.serverId = ipOpt(code, v); break;
      case DhcpOption.PARAMETER_REQUEST_LIST: o.parameterRequestList = [...v]; break;
      case DhcpOption.MESSAGE: o.message = optString(v); break;
      case DhcpOption.MAX_MESSAGE_SIZE: o.maxMessageSize = u16Opt(code, v); break;
      case DhcpOption.RENEWAL_TIME: o.renewalTime = u32Opt(code, v); break;
      case DhcpOption.REBINDING_TIME: o.rebindingTime = u32Opt(code, v); break;
      case DhcpOption.VENDOR_CLASS: o.vendorClass = optString(v); break;
      case DhcpOption.CLIENT_ID:
        need(code, v, v.length >= 1, 'want at least 1 byte');
        o.clientId = v;
        break;
      case DhcpOption.TFTP_SERVER_NAME: o.tftpServerName = optString(v); break;
      case DhcpOption.BOOTFILE_NAME: o.bootfileName = optString(v); break;
      case DhcpOption.USER_CLASS: {
        const uc = parseUserClass(v);
        o.userClass = uc.classes;
        o.userClassFormat = uc.format;
        break;
      }
      case DhcpOption.CLIENT_ARCH: {
        need(code, v, v.length >= 2 && v.length % 2 === 0, 'want a non-empty list of 16-bit types');
        const arch: number[] = [];
        for (let i = 0; i < v.length; i += 2) arch.push(v.readUInt16BE(i));
        o.clientArch = arch;
        break;
      }
      case DhcpOption.CLIENT_NDI:
        need(code, v, v.length === 3, 'want 3 bytes');
        o.clientNdi = { type: v[0], major: v[1], minor: v[2] };
        break;
      case DhcpOption.CLIENT_UUID:
        // RFC 4578: type 0 + 16 bytes. Anything else stays in `raw` only: firmware quirks are not fatal.
        if (v.length === 17 && v[0] === 0) o.uuid = formatUuid(v.subarray(1));
        break;
      case DhcpOption.IPXE_ENCAP: {
        const sub = parseSubOptions(v);
        if (sub) o.ipxe = sub;
        break;
      }
      default:
        extra.push([code, v]);
    }
  }
  if (extra.length) o.extra = extra;
  return o;
}

/** Decode one datagram. Throws only DhcpDecodeError. */
export function parseDhcpPacket(buf: Buffer): DhcpPacket {
  if (!Buffer.isBuffer(buf)) throw new DhcpDecodeError('not a buffer');
  if (buf.length < DHCP_HEADER_LENGTH) throw new DhcpDecodeError(`too short (${buf.length} bytes)`, buf.length);
  if (buf.readUInt32BE(236) !== DHCP_MAGIC_COOKIE) throw new DhcpDecodeError('bad magic cookie', 236);
  const hlen = buf[2];
  if (hlen > 16) throw new DhcpDecodeError(`hlen ${hlen} > 16`, 2);

  const raw = new Map<number, Buffer>();
  let i = DHCP_HEADER_LENGTH;
  while (i < buf.length) {
    const code = buf[i];
    if (code === DhcpOption.PAD) {
      i++;
      continue;
    }
    if (code === DhcpOption.END) break;
    if (i + 1 >= buf.length) throw new DhcpDecodeError(`option ${code} has no length byte`, i);
    const len = buf[i + 1];
    if (i + 2 + len > buf.length) throw new DhcpDecodeError(`option ${code} (length ${len}) runs past the end`, i);
    const v = buf.subarray(i + 2, i + 2 + len);
    const prev = raw.get(code);
    // RFC 3396: repeated instances of one option are one value, concatenated.
    raw.set(code, prev ? Buffer.concat([prev, v]) : Buffer.from(v));
    i += 2 + len;
  }

  return {
    op: buf[0],
    htype: buf[1],
    hlen,
    hops: buf[3],
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags: buf.readUInt16BE(10),
    ciaddr: ipAt(buf, 12),
    yiaddr: ipAt(buf, 16),
    siaddr: ipAt(buf, 20),
    giaddr: ipAt(buf, 24),
    chaddr: Buffer.from(buf.subarray(28, 44)),
    sname: cString(buf, 44, 108),
    file: cString(buf, 108, 236),
    options: decodeOptions(raw),
    raw,
  };
}

// ---------------------------------------------------------------- encode

function ipBytes(ip: string): Buffer {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new RackhandError('INVALID_INPUT', `bad IPv4 address ${JSON.stringify(ip)}`);
  const b = Buffer.alloc(4);
  parts.forEach((x, i) => {
    const n = Number(x);
    if (!/^\d{1,3}$/.test(x) || n > 255) throw new RackhandError('INVALID_INPUT', `bad IPv4 address ${JSON.stringify(ip)}`);
    b[i] = n;
  });
  return b;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function encodeSubOptions(m: Map<number, Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [code, v] of m) {
    if (v.length > 255) throw new RackhandError('INVALID_INPUT', `sub-option ${code} longer than 255 bytes`);
    parts.push(Buffer.from([code, v.length]), v);
  }
  parts.push(Buffer.from([255]));
  return Buffer.concat(parts);
}

function encodeUserClass(classes: string[], format: 'rfc3004' | 'plain' | undefined): Buffer {
  if (format === 'plain') return Buffer.from(classes.join(''), 'latin1');
  return Buffer.concat(
    classes.map((c) => {
      const b = Buffer.from(c, 'latin1');
      if (b.length === 0 || b.length > 255) throw new RackhandError('INVALID_INPUT', 'user class must be 1..255 bytes');
      return Buffer.concat([Buffer.from([b.length]), b]);
    }),
  );
}

/** Option values in the order they are written (message type first, as clients expect). */
function optionList(o: DhcpOptions): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  const put = (code: number, v: Buffer | undefined) => {
    if (v !== undefined) out.push([code, v]);
  };
  const str = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, 'latin1'));
  const ips = (l: string[] | undefined) => (l === undefined ? undefined : Buffer.concat(l.map(ipBytes)));
  const opt = <T>(v: T | undefined, f: (x: T) => Buffer) => (v === undefined ? undefined : f(v));

  put(DhcpOption.MESSAGE_TYPE, opt(o.messageType, (n) => Buffer.from([n])));
  put(DhcpOption.SERVER_ID, opt(o.serverId, ipBytes));
  put(DhcpOption.LEASE_TIME, opt(o.leaseTime, u32));
  put(DhcpOption.RENEWAL_TIME, opt(o.renewalTime, u32));
  put(DhcpOption.REBINDING_TIME, opt(o.rebindingTime, u32));
  put(DhcpOption.SUBNET_MASK, opt(o.subnetMask, ipBytes));
  put(DhcpOption.ROUTERS, ips(o.routers));
  put(DhcpOption.DNS_SERVERS, ips(o.dnsServers));
  put(DhcpOption.HOSTNAME, str(o.hostname));
  put(DhcpOption.DOMAIN_NAME, str(o.domainName));
  put(DhcpOption.REQUESTED_IP, opt(o.requestedIp, ipBytes));
  put(DhcpOption.OVERLOAD, opt(o.overload, (n) => Buffer.from([n])));
  put(DhcpOption.PARAMETER_REQUEST_LIST, opt(o.parameterRequestList, (l) => Buffer.from(l)));
  put(DhcpOption.MESSAGE, str(o.message));
  put(DhcpOption.MAX_MESSAGE_SIZE, opt(o.maxMessageSize, u16));
  put(DhcpOption.VENDOR_CLASS, str(o.vendorClass));
  put(DhcpOption.CLIENT_ID, o.clientId);
  put(DhcpOption.TFTP_SERVER_NAME, str(o.tftpServerName));
  put(DhcpOption.BOOTFILE_NAME, str(o.bootfileName));
  put(DhcpOption.USER_CLASS, opt(o.userClass, (l) => encodeUserClass(l, o.userClassFormat)));
  put(DhcpOption.CLIENT_ARCH, opt(o.clientArch, (l) => Buffer.concat(l.map(u16))));
  put(DhcpOption.CLIENT_NDI, opt(o.clientNdi, (n) => Buffer.from([n.type, n.major, n.minor])));
  put(DhcpOption.CLIENT_UUID, opt(o.uuid, (u) => {
    const hex = u.replace(/-/g, '');
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RackhandError('INVALID_INPUT', `bad UUID ${JSON.stringify(u)}`);
    return Buffer.concat([Buffer.from([0]), swapGuid(Buffer.from(hex, 'hex'))]);
  }));
  put(DhcpOption.VENDOR_SPECIFIC, o.pxe ? encodeSubOptions(o.pxe) : o.vendorSpecific);
  put(DhcpOption.IPXE_ENCAP, opt(o.ipxe, encodeSubOptions));
  for (const [code, v] of o.extra ?? []) put(code, v);
  return out;
}

function fixedString(s: string, width: number, field: string): Buffer {
  const b = Buffer.alloc(width);
  const v = Buffer.from(s, 'latin1');
  // One byte stays for the terminating NUL.
  if (v.length >= width) throw new RackhandError('INVALID_INPUT', `${field} longer than ${width - 1} bytes`);
  v.copy(b);
  return b;
}

/** Encode a packet, padded to at least 300 bytes. Throws RackhandError(INVALID_INPUT) for unencodable values. */
export function serializeDhcpPacket(p: DhcpPacket): Buffer {
  const head = Buffer.alloc(DHCP_HEADER_LENGTH);
  head[0] = p.op;
  head[1] = p.htype;
  head[2] = p.hlen;
  head[3] = p.hops;
  head.writeUInt32BE(p.xid >>> 0, 4);
  head.writeUInt16BE(p.secs, 8);
  head.writeUInt16BE(p.flags, 10);
  ipBytes(p.ciaddr).copy(head, 12);
  ipBytes(p.yiaddr).copy(head, 16);
  ipBytes(p.siaddr).copy(head, 20);
  ipBytes(p.giaddr).copy(head, 24);
  p.chaddr.copy(head, 28, 0, Math.min(16, p.chaddr.length));
  fixedString(p.sname, 64, 'sname').copy(head, 44);
  fixedString(p.file, 128, 'file').copy(head, 108);
  head.writeUInt32BE(DHCP_MAGIC_COOKIE, 236);

  const parts: Buffer[] = [head];
  for (const [code, v] of optionList(p.options)) {
    if (code === DhcpOption.PAD || code === DhcpOption.END) continue;
    if (v.length === 0) {
      parts.push(Buffer.from([code, 0]));
      continue;
    }
    // RFC 3396: values over 255 bytes go out as consecutive instances.
    for (let off = 0; off < v.length; off += 255) {
      const chunk = v.subarray(off, off + 255);
      parts.push(Buffer.from([code, chunk.length]), chunk);
    }
  }
  parts.push(Buffer.from([DhcpOption.END]));
  let out = Buffer.concat(parts);
  if (out.length < DHCP_MIN_PACKET_LENGTH) out = Buffer.concat([out, Buffer.alloc(DHCP_MIN_PACKET_LENGTH - out.length)]);
  return out;
}

export function messageTypeName(t: number | undefined): string {
  const hit = Object.entries(DhcpMessageType).find(([, v]) => v === t);
  return hit ? hit[0] : `type-${t ?? 'none'}`;
}
