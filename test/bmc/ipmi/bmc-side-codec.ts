// Test peer codec: the BMC side of RMCP+ (decoding requests, encoding setup replies and IPMI responses), which
// rackhand never needs; the fake BMC and the codec tests use it. Built on the console-side codec's primitives.
import {
  IpmiDecodeError, RMCP_CLASS_ASF, RMCP_CLASS_IPMI, RMCP_SEQ_NO_ACK, RMCP_VERSION, getU32, putU32,
  type AlgorithmSet, type IpmiRequest, type IpmiResponse, type OpenSessionRequest, type OpenSessionResponse, type Rakp1,
  type Rakp2, type Rakp3, type Rakp4,
} from '../../../src/bmc/ipmi/ipmi-codec.js';

const ASF_IANA = 4542;
export const ASF_PRESENCE_PING = 0x80;

function need(buf: Buffer, len: number, what: string): void {
  if (buf.length < len) throw new IpmiDecodeError(`${what}: ${buf.length} bytes, need ${len}`);
}

function checksum(buf: Buffer, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s = (s + buf[i]) & 0xff;
  return (0x100 - s) & 0xff;
}

function decodeAlgRecords(b: Buffer, o: number): AlgorithmSet {
  const out = [0, 0, 0];
  for (let i = 0; i < 3; i++) {
    if (b[o + i * 8] !== i) throw new IpmiDecodeError(`algorithm record ${i} type ${b[o + i * 8]}`);
    out[i] = b[o + i * 8 + 4] & 0x3f;
  }
  return { auth: out[0], integrity: out[1], confidentiality: out[2] };
}

export function encodeRmcp(body: Buffer, messageClass = RMCP_CLASS_IPMI, sequence = RMCP_SEQ_NO_ACK): Buffer {
  const h = Buffer.from([RMCP_VERSION, 0x00, sequence & 0xff, messageClass & 0x1f]);
  return Buffer.concat([h, body]);
}

export function encodeAsfPing(tag: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(ASF_IANA, 0);
  b[4] = ASF_PRESENCE_PING;
  b[5] = tag & 0xff;
  b[6] = 0;
  b[7] = 0; // data length
  return encodeRmcp(b, RMCP_CLASS_ASF, 0x00);
}

function decodeFrame(buf: Buffer, what: string): { a: number; netFn: number; lunA: number; b: number; seq: number; lunB: number; cmd: number; data: Buffer } {
  need(buf, 7, what);
  if (checksum(buf, 0, 2) !== buf[2]) throw new IpmiDecodeError(`${what}: header checksum`);
  if (checksum(buf, 3, buf.length - 1) !== buf[buf.length - 1]) throw new IpmiDecodeError(`${what}: data checksum`);
  return {
    a: buf[0],
    netFn: buf[1] >> 2,
    lunA: buf[1] & 0x03,
    b: buf[3],
    seq: buf[4] >> 2,
    lunB: buf[4] & 0x03,
    cmd: buf[5],
    data: Buffer.from(buf.subarray(6, buf.length - 1)),
  };
}

export function decodeIpmiRequest(buf: Buffer): IpmiRequest {
  const f = decodeFrame(buf, 'IPMI request');
  if (f.netFn & 1) throw new IpmiDecodeError('IPMI request with a response netFn');
  return { rsAddr: f.a, netFn: f.netFn, rsLun: f.lunA, rqAddr: f.b, rqSeq: f.seq, rqLun: f.lunB, cmd: f.cmd, data: f.data };
}

export function encodeIpmiResponse(r: IpmiResponse): Buffer {
  const b = Buffer.alloc(8 + r.data.length);
  b[0] = r.rqAddr & 0xff;
  b[1] = ((r.netFn & 0x3f) << 2) | (r.rqLun & 0x03);
  b[2] = checksum(b, 0, 2);
  b[3] = r.rsAddr & 0xff;
  b[4] = ((r.rqSeq & 0x3f) << 2) | (r.rsLun & 0x03);
  b[5] = r.cmd & 0xff;
  b[6] = r.completionCode & 0xff;
  b.set(r.data, 7);
  b[b.length - 1] = checksum(b, 3, b.length - 1);
  return b;
}

function algRecord(type: number, alg: number): Buffer {
  return Buffer.from([type, 0, 0, 0x08, alg & 0x3f, 0, 0, 0]);
}

export function decodeOpenSessionRequest(b: Buffer): OpenSessionRequest {
  need(b, 32, 'Open Session Request');
  return { tag: b[0], privilege: b[1] & 0x0f, consoleSessionId: getU32(b, 4), algorithms: decodeAlgRecords(b, 8) };
}

export function encodeOpenSessionResponse(r: OpenSessionResponse): Buffer {
  const b = Buffer.alloc(r.status === 0 ? 12 : 8);
  b[0] = r.tag;
  b[1] = r.status;
  b[2] = r.privilege;
  putU32(b, 4, r.consoleSessionId);
  if (r.status !== 0) return b;
  putU32(b, 8, r.bmcSessionId);
  const a = r.algorithms ?? { auth: 0, integrity: 0, confidentiality: 0 };
  return Buffer.concat([b, algRecord(0, a.auth), algRecord(1, a.integrity), algRecord(2, a.confidentiality)]);
}

export function decodeRakp1(b: Buffer): Rakp1 {
  need(b, 28, 'RAKP 1');
  const ulen = b[27];
  if (ulen > 16) throw new IpmiDecodeError('RAKP 1 user name length');
  need(b, 28 + ulen, 'RAKP 1 user name');
  return {
    tag: b[0],
    bmcSessionId: getU32(b, 4),
    consoleRandom: Buffer.from(b.subarray(8, 24)),
    role: b[24],
    username: Buffer.from(b.subarray(28, 28 + ulen)),
  };
}

export function encodeRakp2(r: Rakp2): Buffer {
  const b = Buffer.alloc(8);
  b[0] = r.tag;
  b[1] = r.status;
  putU32(b, 4, r.consoleSessionId);
  if (r.status !== 0) return b;
  return Buffer.concat([b, r.bmcRandom, r.bmcGuid, r.authCode]);
}

export function decodeRakp3(b: Buffer): Rakp3 {
  need(b, 8, 'RAKP 3');
  return { tag: b[0], status: b[1], bmcSessionId: getU32(b, 4), authCode: Buffer.from(b.subarray(8)) };
}

export function encodeRakp4(r: Rakp4): Buffer {
  const b = Buffer.alloc(8);
  b[0] = r.tag;
  b[1] = r.status;
  putU32(b, 4, r.consoleSessionId);
  return Buffer.concat([b, r.icv]);
}
