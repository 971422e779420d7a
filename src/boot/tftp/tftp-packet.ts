// TFTP wire format (RFC 1350, 2347 OACK): pure parse/serialize; the only thing parse throws is TftpDecodeError.

import { RackhandError } from '../../errors.js';

export const TFTP_OPCODE = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

/** RFC 1350 §5 error codes, plus 8 from RFC 2347. */
export const TFTP_ERROR = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;

export interface TftpRequest {
  op: 'RRQ' | 'WRQ';
  filename: string; // raw bytes as latin1, so no byte is lost or invented by UTF-8 decoding
  mode: string; // lower-cased: netascii | octet | mail (anything else is rejected by parse)
  /** RFC 2347 options, names lower-cased, in arrival order; a repeated name keeps its first value. */
  options: Map<string, string>;
}
export interface TftpData { op: 'DATA'; block: number; data: Buffer }
export interface TftpAck { op: 'ACK'; block: number }
export interface TftpErrorPacket { op: 'ERROR'; code: number; message: string }
export interface TftpOack { op: 'OACK'; options: Map<string, string> }
export type TftpPacket = TftpRequest | TftpData | TftpAck | TftpErrorPacket | TftpOack;

/** A datagram that is not a well-formed TFTP packet. */
export class TftpDecodeError extends RackhandError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('INVALID_INPUT', `TFTP decode: ${message}`, details);
    this.name = 'TftpDecodeError';
  }
}

/** Largest DATA payload RFC 2348 allows; a datagram beyond this plus header cannot be TFTP. */
export const TFTP_MAX_BLKSIZE = 65464;
const MAX_STRING = 1024 * 8;
const MODES = new Set(['netascii', 'octet', 'mail']);

/** Reads NUL-terminated strings; each must end before the buffer does. */
function readStrings(buf: Buffer, start: number): string[] {
  const out: string[] = [];
  let pos = start;
  while (pos < buf.length) {
    const end = buf.indexOf(0, pos);
    if (end < 0) throw new TftpDecodeError('unterminated string', { offset: pos });
    if (end - pos > MAX_STRING) throw new TftpDecodeError('string too long', { offset: pos });
    out.push(buf.toString('latin1', pos, end));
    pos = end + 1;
  }
  return out;
}

function readOptions(strings: string[], from: number): Map<string, string> {
  const pairs = strings.length - from;
  if (pairs % 2 !== 0) throw new TftpDecodeError('option without value');
  const options = new Map<string, string>();
  for (let i = from; i < strings.length; i += 2) {
    const name = strings[i].toLowerCase();
    if (name.length === 0) throw new TftpDecodeError('empty option name');
    if (!options.has(name)) options.set(name, strings[i + 1]);
  }
  return options;
}

export function parseTftpPacket(buf: Buffer): TftpPacket {
  if (buf.length < 2) throw new TftpDecodeError('datagram shorter than an opcode', { length: buf.length });
  const opcode = buf.readUInt16BE(0);
  switch (opcode) {
    case TFTP_OPCODE.RRQ:
    case TFTP_OPCODE.WRQ: {
      const strings = readStrings(buf, 2);
      if (strings.length < 2) throw new TftpDecodeError('request without filename and mode');
      const mode = strings[1].toLowerCase();
      if (!MODES.has(mode)) throw new TftpDecodeError('unknown transfer mode', { mode: strings[1].slice(0, 32) });
      return {
        op: opcode === TFTP_OPCODE.RRQ ? 'RRQ' : 'WRQ',
        filename: strings[0],
        mode,
        options: readOptions(strings, 2),
      };
    }
    case TFTP_OPCODE.DATA: {
      if (buf.length < 4) throw new TftpDecodeError('DATA without block number');
      if (buf.length - 4 > TFTP_MAX_BLKSIZE) throw new TftpDecodeError('DATA larger than any block size');
      return { op: 'DATA', block: buf.readUInt16BE(2), data: buf.subarray(4) };
    }
    case TFTP_OPCODE.ACK: {
      // Some clients pad ACKs; the block number is all that matters.
      if (buf.length < 4) throw new TftpDecodeError('ACK without block number');
      return { op: 'ACK', block: buf.readUInt16BE(2) };
    }
    case TFTP_OPCODE.ERROR: {
      if (buf.length < 4) throw new TftpDecodeError('ERROR without code');
      const code = buf.readUInt16BE(2);
      // A missing terminator is tolerated: the message is only ever logged.
      let end = buf.indexOf(0, 4);
      if (end < 0) end = buf.length;
      return { op: 'ERROR', code, message: buf.toString('latin1', 4, Math.min(end, 4 + 512)) };
    }
    case TFTP_OPCODE.OACK:
      return { op: 'OACK', options: readOptions(readStrings(buf, 2), 0) };
    default:
      throw new TftpDecodeError('unknown opcode', { opcode });
  }
}

function strings(parts: string[]): Buffer[] {
  const out: Buffer[] = [];
  for (const p of parts) {
    out.push(Buffer.from(p, 'latin1'), Buffer.alloc(1));
  }
  return out;
}

function header(opcode: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt16BE(opcode, 0);
  b.writeUInt16BE(n & 0xffff, 2);
  return b;
}

export function serializeRequest(req: Omit<TftpRequest, 'options'> & { options?: Map<string, string> }): Buffer {
  const op = Buffer.alloc(2);
  op.writeUInt16BE(req.op === 'RRQ' ? TFTP_OPCODE.RRQ : TFTP_OPCODE.WRQ, 0);
  const opts = [...(req.options ?? new Map<string, string>())].flat();
  return Buffer.concat([op, ...strings([req.filename, req.mode, ...opts])]);
}

/** DATA header and payload in one buffer; block is taken modulo 65536 (rollover). */
export function serializeData(block: number, data: Buffer): Buffer {
  const b = Buffer.allocUnsafe(4 + data.length);
  b.writeUInt16BE(TFTP_OPCODE.DATA, 0);
  b.writeUInt16BE(block & 0xffff, 2);
  data.copy(b, 4);
  return b;
}

export function serializeAck(block: number): Buffer {
  return header(TFTP_OPCODE.ACK, block);
}

export function serializeError(code: number, message: string): Buffer {
  return Buffer.concat([header(TFTP_OPCODE.ERROR, code), ...strings([message])]);
}

export function serializeOack(options: Map<string, string>): Buffer {
  const op = Buffer.alloc(2);
  op.writeUInt16BE(TFTP_OPCODE.OACK, 0);
  return Buffer.concat([op, ...strings([...options].flat())]);
}

export function serializeTftpPacket(p: TftpPacket): Buffer {
  switch (p.op) {
    case 'RRQ':
    case 'WRQ':
      return serializeRequest(p);
    case 'DATA':
      return serializeData(p.block, p.data);
    case 'ACK':
      return serializeAck(p.block);
    case 'ERROR':
      return serializeError(p.code, p.message);
    case 'OACK':
      return serializeOack(p.options);
  }
}
