// Pure encoders/decoders for the console side of RMCP, ASF pong, the IPMI 1.5 and 2.0 (RMCP+) session wrappers,
// RMCP+ session setup payloads and IPMI LAN message framing. Decoders throw only IpmiDecodeError. (The BMC side,
// which only tests play, is in test/bmc/ipmi/bmc-side-codec.ts.)

/** The one error a decoder may throw; sessions catch it and drop the datagram. */
export class IpmiDecodeError extends Error {
  constructor(readonly reason: string) {
    super(`IPMI decode: ${reason}`);
    this.name = 'IpmiDecodeError';
  }
}

/**
 * Little-endian integer access without Buffer's checked accessors, which run as slow interpreted JS until the
 * JIT warms up (the first fan-out of a fresh process). Callers check bounds first (need()).
 */
export function getU32(b: Buffer, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

export function getU16(b: Buffer, o: number): number {
  return b[o] | (b[o + 1] << 8);
}

export function putU32(b: Buffer, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}

export function putU16(b: Buffer, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
}

/** A zero-filled buffer from node's small-buffer pool (Buffer.alloc makes a fresh ArrayBuffer every time). */
function zeroed(n: number): Buffer {
  return Buffer.allocUnsafe(n).fill(0);
}

function need(buf: Buffer, len: number, what: string): void {
  if (buf.length < len) throw new IpmiDecodeError(`${what}: ${buf.length} bytes, need ${len}`);
}

// ---------------------------------------------------------------------------------------------- RMCP

export const RMCP_VERSION = 0x06;
export const RMCP_CLASS_ASF = 0x06;
export const RMCP_CLASS_IPMI = 0x07;
/** RMCP sequence 0xff: no RMCP ACK wanted (always so for IPMI). */
export const RMCP_SEQ_NO_ACK = 0xff;

export interface RmcpHeader {
  version: number; // byte 0, 0x06 = RMCP 1.0
  sequence: number; // byte 2, 0xff for IPMI
  messageClass: number; // byte 3 bits 4:0 (0x06 ASF, 0x07 IPMI); bit 7 = ACK
  ack: boolean;
}

export function decodeRmcp(buf: Buffer): { header: RmcpHeader; body: Buffer } {
  need(buf, 4, 'RMCP header');
  const version = buf[0];
  if (version !== RMCP_VERSION) throw new IpmiDecodeError(`RMCP version 0x${version.toString(16)}`);
  const header: RmcpHeader = {
    version,
    sequence: buf[2],
    messageClass: buf[3] & 0x1f,
    ack: (buf[3] & 0x80) !== 0,
  };
  return { header, body: buf.subarray(4) };
}

// ------------------------------------------------------------------------------------ ASF presence ping

const ASF_IANA = 4542;
export const ASF_PRESENCE_PONG = 0x40;

export interface AsfPong {
  tag: number;
  iana: number; // enterprise of the OEM fields
  oem: number;
  supportsIpmi: boolean; // supported entities bit 7
  supportedInteractions: number;
}

/** Decodes an ASF body (after the RMCP header) carrying a Presence Pong. */
export function decodeAsfPong(body: Buffer): AsfPong {
  need(body, 8, 'ASF header');
  if (body.readUInt32BE(0) !== ASF_IANA) throw new IpmiDecodeError('ASF IANA');
  if (body[4] !== ASF_PRESENCE_PONG) throw new IpmiDecodeError(`ASF type 0x${body[4].toString(16)}`);
  const len = body[7];
  need(body, 8 + len, 'ASF pong data');
  if (len < 16) throw new IpmiDecodeError('ASF pong data too short');
  return {
    tag: body[5],
    iana: body.readUInt32BE(8),
    oem: body.readUInt32BE(12),
    supportsIpmi: (body[16] & 0x80) !== 0,
    supportedInteractions: body[17],
  };
}

// ------------------------------------------------------------------------------- IPMI 1.5 session wrapper

export const AUTH_TYPE_NONE = 0x00;
export const AUTH_TYPE_RMCPPLUS = 0x06;

export interface Ipmi15Session {
  authType: number; // 0 none, 1 MD2, 2 MD5, 4 straight password, 5 OEM
  sequence: number; // session sequence number (LE u32)
  sessionId: number; // LE u32, 0 outside a session
  authCode?: Buffer; // 16 bytes when authType != 0
  message: Buffer; // the IPMI message (length byte on the wire)
}

export function encodeIpmi15Session(s: Ipmi15Session): Buffer {
  const auth = s.authType !== AUTH_TYPE_NONE;
  if (s.message.length > 255) throw new RangeError('IPMI 1.5 message longer than 255 bytes');
  const o = 4 + 9 + (auth ? 16 : 0);
  const b = zeroed(o + 1 + s.message.length);
  b[0] = RMCP_VERSION;
  b[2] = RMCP_SEQ_NO_ACK;
  b[3] = RMCP_CLASS_IPMI;
  b[4] = s.authType;
  putU32(b, 5, s.sequence);
  putU32(b, 9, s.sessionId);
  if (auth) s.authCode?.copy(b, 13, 0, 16);
  b[o] = s.message.length;
  b.set(s.message, o + 1);
  return b;
}

/** Decodes the session part (after the RMCP header) of an IPMI 1.5 packet. */
export function decodeIpmi15Session(body: Buffer): Ipmi15Session {
  need(body, 10, 'IPMI 1.5 session header');
  const authType = body[0] & 0x0f;
  if (authType === AUTH_TYPE_RMCPPLUS) throw new IpmiDecodeError('RMCP+ packet given to the 1.5 decoder');
  const sequence = getU32(body, 1);
  const sessionId = getU32(body, 5);
  let o = 9;
  let authCode: Buffer | undefined;
  if (authType !== AUTH_TYPE_NONE) {
    need(body, 9 + 16 + 1, 'IPMI 1.5 auth code');
    authCode = Buffer.from(body.subarray(9, 25));
    o = 25;
  }
  const len = body[o];
  need(body, o + 1 + len, 'IPMI 1.5 message');
  return { authType, sequence, sessionId, authCode, message: Buffer.from(body.subarray(o + 1, o + 1 + len)) };
}

// ------------------------------------------------------------------------------ IPMI 2.0 / RMCP+ wrapper

export const PAYLOAD_IPMI = 0x00;
export const PAYLOAD_SOL = 0x01;
export const PAYLOAD_OEM = 0x02;
export const PAYLOAD_OPEN_SESSION_REQ = 0x10;
export const PAYLOAD_OPEN_SESSION_RESP = 0x11;
export const PAYLOAD_RAKP1 = 0x12;
export const PAYLOAD_RAKP2 = 0x13;
export const PAYLOAD_RAKP3 = 0x14;
export const PAYLOAD_RAKP4 = 0x15;

const NEXT_HEADER_IPMI = 0x07;

export interface Ipmi20Packet {
  payloadType: number; // byte 1 bits 5:0
  encrypted: boolean; // byte 1 bit 7
  authenticated: boolean; // byte 1 bit 6
  oemIana?: number; // only for payload type 0x02
  oemPayloadId?: number;
  sessionId: number; // LE u32: the receiver's session id
  sequence: number; // LE u32
  payload: Buffer; // as on the wire (still encrypted when `encrypted`)
  /** Present when authenticated: the covered bytes (auth type .. next header) and the received code. */
  integrity?: { covered: Buffer; authCode: Buffer; padLength: number; nextHeader: number };
}

export interface Ipmi20Encode {
  payloadType: number;
  encrypted: boolean;
  sessionId: number;
  sequence: number;
  payload: Buffer; // already encrypted when `encrypted`
  oemIana?: number;
  oemPayloadId?: number;
  /** When given, the packet is authenticated: integrity(covered bytes) gives the auth code. */
  integrity?: (covered: Buffer) => Buffer;
  /** Length integrity() returns, when known: the packet is then built in one buffer without a final copy. */
  authCodeLength?: number;
}

/** The whole datagram, RMCP header included, built in one allocation (sessions send thousands of these). */
export function encodeIpmi20Session(p: Ipmi20Encode): Buffer {
  const authenticated = p.integrity !== undefined;
  const oem = p.payloadType === PAYLOAD_OEM;
  const hdrLen = oem ? 18 : 12;
  if (p.payload.length > 0xffff) throw new RangeError('RMCP+ payload longer than 65535 bytes');
  // Pad so that auth type .. next header is a multiple of 4 bytes.
  const padLength = authenticated ? (4 - ((hdrLen + p.payload.length + 2) % 4)) % 4 : 0;
  const coveredLen = hdrLen + p.payload.length + (authenticated ? padLength + 2 : 0);
  const codeRoom = authenticated ? p.authCodeLength ?? 0 : 0;
  const b = Buffer.allocUnsafe(4 + coveredLen + codeRoom);
  b[0] = RMCP_VERSION;
  b[1] = 0x00;
  b[2] = RMCP_SEQ_NO_ACK;
  b[3] = RMCP_CLASS_IPMI;
  b[4] = AUTH_TYPE_RMCPPLUS;
  b[5] = (p.encrypted ? 0x80 : 0) | (authenticated ? 0x40 : 0) | (p.payloadType & 0x3f);
  let o = 6;
  if (oem) {
    putU32(b, 6, (p.oemIana ?? 0));
    putU16(b, 10, (p.oemPayloadId ?? 0) & 0xffff);
    o = 12;
  }
  putU32(b, o, p.sessionId);
  putU32(b, o + 4, p.sequence);
  putU16(b, o + 8, p.payload.length);
  o += 10;
  b.set(p.payload, o);
  o += p.payload.length;
  if (!p.integrity) return b;
  for (let i = 0; i < padLength; i++) b[o++] = 0xff;
  b[o++] = padLength;
  b[o++] = NEXT_HEADER_IPMI;
  const code = p.integrity(b.subarray(4, o));
  if (code.length === codeRoom) {
    b.set(code, o);
    return b;
  }
  return Buffer.concat([b.subarray(0, o), code]);
}

/**
 * Decodes the session part (after the RMCP header) of an RMCP+ packet. `authCodeLength` is the integrity
 * algorithm's code length (12 or 16; 0 when the session has none); it is used only for authenticated packets.
 */
export function decodeIpmi20Session(body: Buffer, authCodeLength: number): Ipmi20Packet {
  need(body, 12, 'RMCP+ session header');
  if ((body[0] & 0x0f) !== AUTH_TYPE_RMCPPLUS) throw new IpmiDecodeError('not an RMCP+ packet');
  const encrypted = (body[1] & 0x80) !== 0;
  const authenticated = (body[1] & 0x40) !== 0;
  const payloadType = body[1] & 0x3f;
  let o = 2;
  let oemIana: number | undefined;
  let oemPayloadId: number | undefined;
  if (payloadType === PAYLOAD_OEM) {
    need(body, 18, 'RMCP+ OEM session header');
    oemIana = getU32(body, 2);
    oemPayloadId = getU16(body, 6);
    o = 8;
  }
  const sessionId = getU32(body, o);
  const sequence = getU32(body, o + 4);
  const len = getU16(body, o + 8);
  const start = o + 10;
  need(body, start + len, 'RMCP+ payload');
  // Views into the datagram, not copies: a received datagram is never reused by node:dgram.
  const payload = body.subarray(start, start + len);
  const pkt: Ipmi20Packet = { payloadType, encrypted, authenticated, oemIana, oemPayloadId, sessionId, sequence, payload };
  if (!authenticated) return pkt;
  if (authCodeLength <= 0) throw new IpmiDecodeError('authenticated packet but no integrity algorithm');
  // Trailer: pad (0..3 bytes of 0xff), pad length, next header, auth code.
  const trailerEnd = body.length - authCodeLength;
  if (trailerEnd < start + len + 2) throw new IpmiDecodeError('RMCP+ trailer truncated');
  const padLength = body[trailerEnd - 2];
  const nextHeader = body[trailerEnd - 1];
  if (padLength > 3 || trailerEnd - 2 - padLength !== start + len) throw new IpmiDecodeError('RMCP+ pad length');
  if (nextHeader !== NEXT_HEADER_IPMI) throw new IpmiDecodeError('RMCP+ next header');
  if (trailerEnd % 4 !== 0) throw new IpmiDecodeError('RMCP+ integrity data not 4-byte aligned');
  pkt.integrity = {
    covered: body.subarray(0, trailerEnd),
    authCode: body.subarray(trailerEnd),
    padLength,
    nextHeader,
  };
  return pkt;
}

/** Either session format, told apart by the auth type byte. */
export type SessionPacket = { kind: 'ipmi15'; session: Ipmi15Session } | { kind: 'ipmi20'; packet: Ipmi20Packet } | { kind: 'asf'; pong: AsfPong };

export function decodePacket(buf: Buffer, authCodeLength: number): SessionPacket {
  const { header, body } = decodeRmcp(buf);
  if (header.messageClass === RMCP_CLASS_ASF) return { kind: 'asf', pong: decodeAsfPong(body) };
  if (header.messageClass !== RMCP_CLASS_IPMI) throw new IpmiDecodeError(`RMCP class 0x${header.messageClass.toString(16)}`);
  need(body, 1, 'session auth type');
  if ((body[0] & 0x0f) === AUTH_TYPE_RMCPPLUS) return { kind: 'ipmi20', packet: decodeIpmi20Session(body, authCodeLength) };
  return { kind: 'ipmi15', session: decodeIpmi15Session(body) };
}

// --------------------------------------------------------------------------------- IPMI LAN message

export const BMC_SLAVE_ADDR = 0x20;
export const REMOTE_SWID = 0x81;

function checksum(buf: Buffer, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s = (s + buf[i]) & 0xff;
  return (0x100 - s) & 0xff;
}

export interface IpmiRequest {
  rsAddr: number; // responder slave address, 0x20 = BMC
  netFn: number; // even (request) network function
  rsLun: number;
  rqAddr: number; // requester software id, 0x81 = remote console
  rqSeq: number; // 6-bit request sequence that pairs the response
  rqLun: number;
  cmd: number;
  data: Buffer;
}

export interface IpmiResponse {
  rqAddr: number;
  netFn: number; // odd (response) network function
  rqLun: number;
  rsAddr: number;
  rqSeq: number;
  rsLun: number;
  cmd: number;
  completionCode: number;
  data: Buffer; // after the completion code
}

export function encodeIpmiRequest(r: IpmiRequest): Buffer {
  const b = Buffer.alloc(7 + r.data.length);
  b[0] = r.rsAddr & 0xff;
  b[1] = ((r.netFn & 0x3f) << 2) | (r.rsLun & 0x03);
  b[2] = checksum(b, 0, 2);
  b[3] = r.rqAddr & 0xff;
  b[4] = ((r.rqSeq & 0x3f) << 2) | (r.rqLun & 0x03);
  b[5] = r.cmd & 0xff;
  b.set(r.data, 6);
  b[b.length - 1] = checksum(b, 3, b.length - 1);
  return b;
}

export function decodeIpmiResponse(buf: Buffer): IpmiResponse {
  // Inlined frame decode: this runs for every answer, and `data` stays a view into `buf` (one copy fewer).
  need(buf, 7, 'IPMI response');
  if (checksum(buf, 0, 2) !== buf[2]) throw new IpmiDecodeError('IPMI response: header checksum');
  const end = buf.length - 1;
  if (checksum(buf, 3, end) !== buf[end]) throw new IpmiDecodeError('IPMI response: data checksum');
  if (end < 7) throw new IpmiDecodeError('IPMI response without completion code');
  const netFn = buf[1] >> 2;
  if ((netFn & 1) === 0) throw new IpmiDecodeError('IPMI response with a request netFn');
  return {
    rqAddr: buf[0],
    netFn,
    rqLun: buf[1] & 0x03,
    rsAddr: buf[3],
    rqSeq: buf[4] >> 2,
    rsLun: buf[4] & 0x03,
    cmd: buf[5],
    completionCode: buf[6],
    data: buf.subarray(7, end),
  };
}

// ------------------------------------------------------------------- Get Channel Authentication Capabilities

export interface AuthCapabilities {
  channel: number;
  authTypes: number; // bit mask: 0 none, 1 MD2, 2 MD5, 4 straight, 5 OEM
  ipmi20Extended: boolean; // byte 2 bit 7: extended capabilities present
  kgNonZero: boolean; // byte 3 bit 5: BMC key (Kg) is set
  perMessageAuthDisabled: boolean;
  userLevelAuthDisabled: boolean;
  nonNullUsers: boolean;
  nullUsers: boolean;
  anonymousLogin: boolean;
  supportsIpmi15: boolean; // byte 4 bit 0
  supportsIpmi20: boolean; // byte 4 bit 1
  oemId: number;
  oemAux: number;
}

/** Data after the completion code of Get Channel Authentication Capabilities (App 0x38). */
export function decodeAuthCapabilities(d: Buffer): AuthCapabilities {
  need(d, 8, 'auth capabilities');
  const ext = (d[1] & 0x80) !== 0;
  return {
    channel: d[0] & 0x0f,
    authTypes: d[1] & 0x3f,
    ipmi20Extended: ext,
    kgNonZero: (d[2] & 0x20) !== 0,
    perMessageAuthDisabled: (d[2] & 0x10) !== 0,
    userLevelAuthDisabled: (d[2] & 0x08) !== 0,
    nonNullUsers: (d[2] & 0x04) !== 0,
    nullUsers: (d[2] & 0x02) !== 0,
    anonymousLogin: (d[2] & 0x01) !== 0,
    supportsIpmi15: ext ? (d[3] & 0x01) !== 0 : true,
    supportsIpmi20: ext && (d[3] & 0x02) !== 0,
    oemId: d[4] | (d[5] << 8) | (d[6] << 16),
    oemAux: d[7],
  };
}

// ------------------------------------------------------------------------ RMCP+ session setup payloads

export interface AlgorithmSet {
  auth: number; // 0 none, 1 RAKP-HMAC-SHA1, 2 RAKP-HMAC-MD5, 3 RAKP-HMAC-SHA256
  integrity: number; // 0 none, 1 HMAC-SHA1-96, 2 HMAC-MD5-128, 3 MD5-128, 4 HMAC-SHA256-128
  confidentiality: number; // 0 none, 1 AES-CBC-128
}

export interface OpenSessionRequest {
  tag: number;
  privilege: number; // requested maximum privilege (0 = highest the user may have)
  consoleSessionId: number; // our session id, used by the BMC in every packet to us
  algorithms: AlgorithmSet;
}

function putAlgRecords(b: Buffer, o: number, a: AlgorithmSet): void {
  const algs = [a.auth, a.integrity, a.confidentiality];
  for (let i = 0; i < 3; i++, o += 8) {
    b[o] = i;
    b[o + 3] = 0x08;
    b[o + 4] = algs[i] & 0x3f;
  }
}

export function encodeOpenSessionRequest(r: OpenSessionRequest): Buffer {
  const b = zeroed(32);
  b[0] = r.tag & 0xff;
  b[1] = r.privilege & 0x0f;
  putU32(b, 4, r.consoleSessionId);
  putAlgRecords(b, 8, r.algorithms);
  return b;
}

function decodeAlgRecords(b: Buffer, o: number): AlgorithmSet {
  const out = [0, 0, 0];
  for (let i = 0; i < 3; i++) {
    const r = b.subarray(o + i * 8, o + i * 8 + 8);
    if (r[0] !== i) throw new IpmiDecodeError(`algorithm record ${i} type ${r[0]}`);
    out[i] = r[4] & 0x3f;
  }
  return { auth: out[0], integrity: out[1], confidentiality: out[2] };
}

export interface OpenSessionResponse {
  tag: number;
  status: number; // RMCP+ status code
  privilege: number; // maximum privilege granted
  consoleSessionId: number;
  bmcSessionId: number; // 0 on error
  algorithms?: AlgorithmSet; // absent on error
}

export function decodeOpenSessionResponse(b: Buffer): OpenSessionResponse {
  need(b, 2, 'Open Session Response');
  const tag = b[0];
  const status = b[1];
  if (status !== 0) {
    return { tag, status, privilege: b.length > 2 ? b[2] : 0, consoleSessionId: b.length >= 8 ? getU32(b, 4) : 0, bmcSessionId: 0 };
  }
  need(b, 36, 'Open Session Response');
  return {
    tag,
    status,
    privilege: b[2] & 0x0f,
    consoleSessionId: getU32(b, 4),
    bmcSessionId: getU32(b, 8),
    algorithms: decodeAlgRecords(b, 12),
  };
}

export interface Rakp1 {
  tag: number;
  bmcSessionId: number;
  consoleRandom: Buffer; // Rm, 16 bytes
  role: number; // requested privilege | 0x10 for name-only lookup (ROLEm)
  username: Buffer; // 0..16 bytes
}

export function encodeRakp1(r: Rakp1): Buffer {
  if (r.consoleRandom.length !== 16) throw new RangeError('Rm must be 16 bytes');
  if (r.username.length > 16) throw new RangeError('user name longer than 16 bytes');
  const b = zeroed(28 + r.username.length);
  b[0] = r.tag;
  putU32(b, 4, r.bmcSessionId);
  b.set(r.consoleRandom, 8);
  b[24] = r.role;
  b[27] = r.username.length;
  b.set(r.username, 28);
  return b;
}

export interface Rakp2 {
  tag: number;
  status: number;
  consoleSessionId: number;
  bmcRandom: Buffer; // Rc, 16 bytes (zero-length on error)
  bmcGuid: Buffer; // GUIDc, 16 bytes (zero-length on error)
  authCode: Buffer; // key exchange auth code (20 for SHA1, 32 for SHA256)
}

export function decodeRakp2(b: Buffer): Rakp2 {
  need(b, 2, 'RAKP 2');
  const tag = b[0];
  const status = b[1];
  if (status !== 0) {
    return { tag, status, consoleSessionId: b.length >= 8 ? getU32(b, 4) : 0, bmcRandom: Buffer.alloc(0), bmcGuid: Buffer.alloc(0), authCode: Buffer.alloc(0) };
  }
  need(b, 40, 'RAKP 2');
  return {
    tag,
    status,
    consoleSessionId: getU32(b, 4),
    bmcRandom: b.subarray(8, 24), // views: the payload is the caller's, never reused by node:dgram
    bmcGuid: b.subarray(24, 40),
    authCode: b.subarray(40),
  };
}

export interface Rakp3 {
  tag: number;
  status: number; // we send 0; a non-zero value tells the BMC we abort
  bmcSessionId: number;
  authCode: Buffer;
}

export function encodeRakp3(r: Rakp3): Buffer {
  const b = zeroed(8 + r.authCode.length);
  b[0] = r.tag;
  b[1] = r.status;
  putU32(b, 4, r.bmcSessionId);
  b.set(r.authCode, 8);
  return b;
}

export interface Rakp4 {
  tag: number;
  status: number;
  consoleSessionId: number;
  icv: Buffer; // integrity check value (12 for SHA1, 16 for SHA256)
}

export function decodeRakp4(b: Buffer): Rakp4 {
  need(b, 2, 'RAKP 4');
  const tag = b[0];
  const status = b[1];
  if (status !== 0) return { tag, status, consoleSessionId: b.length >= 8 ? getU32(b, 4) : 0, icv: Buffer.alloc(0) };
  need(b, 8, 'RAKP 4');
  return { tag, status, consoleSessionId: getU32(b, 4), icv: b.subarray(8) };
}
